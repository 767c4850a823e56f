"""The DynamoDB tables of the problems service, declared once (the service's own): its adapters
use them; provisioning, backup and the infrastructure code find them through the
``algoitny.tables`` entry point in the service's pyproject.toml (algoitny_shared.tables.all_tables).
"""

from __future__ import annotations

import dataclasses

from algoitny_shared.tables import (
    Index,
    TableSpec,
    inbox_table,
    legacy_quarantine_table,
    legacy_row_import_table,
    outbox_table,
)

PROBLEMS = TableSpec(
    owner="problems",
    name="Problems",
    hash_key="platform",
    range_key="problem_id",
    attributes={
        "platform": "S",
        "problem_id": "S",
        "id": "N",
        "status": "S",
        "created_at": "S",
        "language": "S",
        "status_created": "S",
    },
    indexes=(
        # AP-24: the platform-wide numeric id.
        Index("IdIndex", "id"),
        # AP-29: one platform, one status, newest first (range "<status>#<created_at>").
        Index("PlatformIndex", "platform", "status_created"),
        # AP-28, AP-32, AP-33: one status, newest first.
        Index("CompletionIndex", "status", "created_at"),
        # AP-31: one solution language, one status, newest first (sparse: only problems with a language).
        Index("LanguageIndex", "language", "status_created"),
    ),
    description="One item per problem, keyed by platform and problem id; counters and the current "
    "test-set version live on the item.",
)
TEST_CASES = TableSpec(
    owner="problems",
    name="TestCases",
    hash_key="problem_key",
    range_key="case_key",
    attributes={"problem_key": "S", "case_key": "S"},
    description="Test cases keyed by <platform>#<problem id>#<incarnation> and "
    "<test-set version>#<ordinal>; payloads over the inline limit sit gzipped in S3.",
)
PROBLEMS_CONTROL = TableSpec(
    owner="problems",
    name="Control",
    hash_key="pk",
    attributes={"pk": "S", "gc": "S", "gc_after": "S"},
    indexes=(
        # Sparse: only uploads, superseded test sets and purges that garbage collection must visit.
        Index("GcIndex", "gc", "gc_after"),
    ),
    ttl_attribute="expires_at",
    description="Control items of the problems service: id counter, idempotency keys of test-set "
    "uploads (expire after a day), upload/purge records for garbage collection, catalogue counters.",
)
# Every list of ScriptGenerationJobs is newest first on the job id (time-sortable ULID), so a
# cursor is the last id returned.
SCRIPT_GENERATION_JOBS = TableSpec(
    owner="problems",
    name="ScriptGenerationJobs",
    hash_key="job_id",
    attributes={"job_id": "S", "status": "S", "problem_key": "S", "platform": "S", "listed": "S"},
    indexes=(
        # AP-76: every job, newest first (listed='JOB' on all; registrar-only and low-rate, so the single
        # partition is not a hot spot).
        Index("AllJobsIndex", "listed", "job_id"),
        # AP-77 (and the workers' queue: pending jobs, running ones with an expired lease).
        Index("StatusIndex", "status", "job_id"),
        # AP-78 with a problem id: one problem's jobs, newest first.
        Index("ProblemIndex", "problem_key", "job_id"),
        # AP-76/AP-78: all jobs / one platform's jobs, newest first.
        Index("PlatformIndex", "platform", "job_id"),
    ),
    description="Test-case generation jobs (job id: 26-char ULID): problem, status (pending, running, "
    "succeeded, failed, cancelled), generator source/language/author, requested count per size class, "
    "seed, progress (cases done, the staged test-set version, input digests), attempts, error, lease "
    "holder and lease expiry. GSIs newest first: AllJobsIndex, StatusIndex, ProblemIndex "
    "(problem_key <platform>#<problem id>), PlatformIndex.",
)
PROBLEMS_OUTBOX = outbox_table("problems")
# The generation process's own outbox, relayed by that process: what it commits (sandbox run
# requests, job progress, test sets) is published at once by its own relay, instead of waiting for
# an API relay's sweep to reach the shard (up to SHARDS / SWEEP_SHARDS poll intervals per run).
GENERATION_OUTBOX = dataclasses.replace(
    PROBLEMS_OUTBOX,
    name="GenerationOutbox",
    description="Transactional outbox of the test-case generation process; published events are deleted by its relay.",
)
PROBLEMS_INBOX = inbox_table("problems")
PROBLEMS_LEGACY = legacy_row_import_table("problems")
PROBLEMS_QUARANTINE = legacy_quarantine_table("problems")

TABLES: tuple[TableSpec, ...] = (
    PROBLEMS,
    TEST_CASES,
    PROBLEMS_CONTROL,
    SCRIPT_GENERATION_JOBS,
    PROBLEMS_OUTBOX,
    GENERATION_OUTBOX,
    PROBLEMS_INBOX,
    PROBLEMS_LEGACY,
    PROBLEMS_QUARANTINE,
)
