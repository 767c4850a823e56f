"""DynamoDB tables of every service, declared once: used by table creation, tests and docs.

A table belongs to exactly one service (``owner``); no other service reads it.
Physical names are ``<namespace>-<owner>-<name>``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

KeyType = Literal["S", "N", "B"]


@dataclass(frozen=True)
class Index:
    name: str
    hash_key: str
    range_key: str | None = None
    projection: Literal["ALL", "KEYS_ONLY", "INCLUDE"] = "ALL"
    non_key_attributes: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableSpec:
    owner: str
    name: str
    hash_key: str
    range_key: str | None = None
    attributes: dict[str, KeyType] = field(default_factory=dict)
    indexes: tuple[Index, ...] = ()
    ttl_attribute: str | None = None
    stream: Literal["NEW_AND_OLD_IMAGES", "NEW_IMAGE", "KEYS_ONLY"] | None = None
    description: str = ""

    def physical(self, namespace: str) -> str:
        return f"{namespace}-{self.owner}-{self.name}"

    def create_request(self, namespace: str) -> dict[str, Any]:
        def key_schema(hash_key: str, range_key: str | None) -> list[dict[str, str]]:
            schema = [{"AttributeName": hash_key, "KeyType": "HASH"}]
            if range_key:
                schema.append({"AttributeName": range_key, "KeyType": "RANGE"})
            return schema

        request: dict[str, Any] = {
            "TableName": self.physical(namespace),
            "KeySchema": key_schema(self.hash_key, self.range_key),
            "AttributeDefinitions": [{"AttributeName": n, "AttributeType": t} for n, t in self.attributes.items()],
            "BillingMode": "PAY_PER_REQUEST",
        }
        if self.indexes:
            gsis = []
            for index in self.indexes:
                projection: dict[str, Any] = {"ProjectionType": index.projection}
                if index.non_key_attributes:
                    projection["NonKeyAttributes"] = list(index.non_key_attributes)
                gsis.append(
                    {
                        "IndexName": index.name,
                        "KeySchema": key_schema(index.hash_key, index.range_key),
                        "Projection": projection,
                    }
                )
            request["GlobalSecondaryIndexes"] = gsis
        if self.stream:
            request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": self.stream}
        return request


def outbox_table(owner: str) -> TableSpec:
    """The transactional outbox of a service: events written in the same transaction as state.

    ``pending`` is present only until the relay has published the event, so
    ``PendingIndex`` is sparse and holds exactly the unpublished events in write order.
    """
    return TableSpec(
        owner=owner,
        name="Outbox",
        hash_key="event_id",
        attributes={"event_id": "S", "pending": "S", "seq": "S"},
        indexes=(Index("PendingIndex", "pending", "seq"),),
        ttl_attribute="expires_at",
        description="Transactional outbox; sent events expire after 7 days.",
    )


def legacy_import_table(owner: str) -> TableSpec:
    """A service's record of its legacy import (algoitny_shared.legacy.importer): per imported
    legacy row, the last source position applied and the item it made; the quarantine; the
    import's counters and its pause switch."""
    return TableSpec(
        owner=owner,
        name="LegacyImport",
        hash_key="pk",
        attributes={"pk": "S", "ltable": "S", "lkey": "S", "qtable": "S"},
        indexes=(Index("RowIndex", "ltable", "lkey"), Index("QuarantineIndex", "qtable", "lkey")),
        description="ROW#<table>#<key>: the legacy row's last applied source position (LSN), whether it "
        "was deleted, and the key of the item it made (RowIndex by table, key order); Q#<table>#<key>: a "
        "row that could not be imported, with the reason, first/last seen and attempts (QuarantineIndex); "
        "COUNT#<table>: imported/deleted counters; STATE: the importer's pause switch.",
    )


def inbox_table(owner: str) -> TableSpec:
    """Idempotent consumption: one item per (consumer, event id), written with a conditional put."""
    return TableSpec(
        owner=owner,
        name="Inbox",
        hash_key="pk",
        attributes={"pk": "S"},
        ttl_attribute="expires_at",
        description="Processed event ids per consumer; expire after 14 days.",
    )


def legacy_row_import_table(owner: str) -> TableSpec:
    """A service's legacy-import state (algoitny_shared.legacy.row_importer): per imported legacy row
    ROW#<table>/<key> (log position, captured-row hash, status, refs to the items it made),
    COUNT/<table> (imported, deleted, quarantined counters), CONTROL/paused, and what the
    service's importer keeps aside (e.g. problems: TC#<legacy problem id> staged test cases)."""
    return TableSpec(
        owner=owner,
        name="LegacyImport",
        hash_key="pk",
        range_key="sk",
        attributes={"pk": "S", "sk": "S"},
        description="Legacy import state: ROW#<table>/<key> per legacy row (position, hash, status, item refs), "
        "COUNT/<table> counters, CONTROL/paused; service-specific staging (see the service README).",
    )


def legacy_quarantine_table(owner: str) -> TableSpec:
    """Legacy rows a service could not import: QUAR/<table>#<key> with reason, operation, first and
    last seen, attempts and the captured row (long text columns cut)."""
    return TableSpec(
        owner=owner,
        name="LegacyQuarantine",
        hash_key="pk",
        range_key="sk",
        attributes={"pk": "S", "sk": "S"},
        description="Quarantined legacy rows (QUAR/<table>#<key>): reason, op, first/last seen, attempts, "
        "the captured row trimmed.",
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
PROBLEMS_INBOX = inbox_table("problems")
SEARCH_INDEXER_INBOX = inbox_table("search-indexer")
USERS = TableSpec(
    owner="accounts",
    name="Users",
    hash_key="pk",
    attributes={
        "pk": "S",
        "email": "S",
        "google_id": "S",
        "plan_id": "S",
        "created_at": "S",
        "listed": "S",
        "name_key": "S",
    },
    indexes=(
        Index("EmailIndex", "email"),
        Index("GoogleIdIndex", "google_id"),
        Index("PlanIndex", "plan_id", "created_at"),
        Index("UserListIndex", "listed", "created_at"),
        Index("EmailPrefixIndex", "listed", "email"),
        Index("NamePrefixIndex", "listed", "name_key"),
    ),
    description="Users (pk USER#<id>) with guard items EMAIL#<email> and GOOGLE#<subject> (holding the "
    "user id) written in the same transaction, so e-mail and Google id stay unique; GSIs: EmailIndex and "
    "GoogleIdIndex (sign-in), PlanIndex (users of a plan, newest first), UserListIndex (all users, newest "
    "first; admin-only and low-rate, so its single partition is not a hot spot), EmailPrefixIndex and "
    "NamePrefixIndex (admin search by e-mail / lower-cased name prefix, begins_with on the sort key; same "
    "single low-rate partition). Guards carry none of the indexed attributes, so every index holds users only.",
)
REFRESH_TOKENS = TableSpec(
    owner="accounts",
    name="RefreshTokens",
    hash_key="pk",
    attributes={"pk": "S"},
    ttl_attribute="expires_at",
    description="Refresh tokens (pk TOKEN#<sha256 of the token>, never the token itself) and their "
    "families (pk FAMILY#<id>): a token is used once; reusing one revokes its family.",
)
SIGN_IN_ATTEMPTS = TableSpec(
    owner="accounts",
    name="SignInAttempts",
    hash_key="pk",
    attributes={"pk": "S"},
    ttl_attribute="expires_at",
    description="Failed sign-ins per account and per client address in fixed windows (pk "
    "<scope>#<key>#<window>), counted with atomic ADD; expire after the window.",
)
ACCOUNTS_OUTBOX = outbox_table("accounts")
ACCOUNTS_INBOX = inbox_table("accounts")
ACCOUNTS_LEGACY = legacy_import_table("accounts")
ACCOUNT_PLANS = TableSpec(
    owner="accounts",
    name="PlanCopies",
    hash_key="plan_id",
    attributes={"plan_id": "S"},
    description="The plans as accounts knows them from ratelimit's plan events (limits and flags, the "
    "event version applied; a deleted plan stays as a tombstone so an older event cannot revive it). "
    "Users copy their plan's limits from here.",
)
SUBSCRIPTION_PLANS = TableSpec(
    owner="ratelimit",
    name="SubscriptionPlans",
    hash_key="plan_id",
    attributes={"plan_id": "S", "listed": "S", "name_key": "S"},
    indexes=(Index("PlanListIndex", "listed", "name_key"),),
    description="Plans (listed='PLAN', in PlanListIndex by name) and name guards (plan_id NAME#<name>); "
    "each plan carries active_users, kept exact from accounts events.",
)
USAGE_LOGS = TableSpec(
    owner="ratelimit",
    name="UsageLogs",
    hash_key="pk",
    range_key="sk",
    attributes={"pk": "S", "sk": "S"},
    ttl_attribute="expires_at",
    description="Partition USER#<id>#<YYYY-MM-DD>: COUNTER#<action> (today's count), "
    "REQ#<action>#<request id> (charge guard), LOG#<time>#<action>#<request id> (audit). TTL 30 days. "
    "Partition IDEM#<id>: idempotency records by key (TTL 24 h).",
)
USER_PLANS = TableSpec(
    owner="ratelimit",
    name="UserPlans",
    hash_key="user_id",
    attributes={"user_id": "S"},
    description="Each user's plan, kept from accounts events (no call to accounts on the hot path).",
)
RATELIMIT_OUTBOX = outbox_table("ratelimit")
RATELIMIT_INBOX = inbox_table("ratelimit")
RATELIMIT_LEGACY = legacy_import_table("ratelimit")
# What a history list shows of each run: the attributes every SearchHistory index projects.
HISTORY_SUMMARY = (
    "platform",
    "problem_id",
    "problem_title",
    "language",
    "public",
    "status",
    "verdict",
    "passed",
    "total",
    "created_at",
    "finished_at",
    "user_name",
    "max_time_ms",
    "max_memory_kb",
)
# Every list of SearchHistory is newest first on the execution id (time-sortable, unique):
# the id is the range key of each index, so a cursor is simply the last id returned.
SEARCH_HISTORY = TableSpec(
    owner="executions",
    name="SearchHistory",
    hash_key="execution_id",
    attributes={
        "execution_id": "S",
        "user_id": "S",
        "public_shard": "S",
        "problem_key": "S",
    },
    indexes=(
        Index(
            "UserHistoryIndex",
            "user_id",
            "execution_id",
            "INCLUDE",
            HISTORY_SUMMARY,
        ),
        Index(
            "PublicHistoryIndex",
            "public_shard",
            "execution_id",
            "INCLUDE",
            ("user_id", *HISTORY_SUMMARY),
        ),
        Index(
            "ProblemHistoryIndex",
            "problem_key",
            "execution_id",
            "INCLUDE",
            ("user_id", *HISTORY_SUMMARY),
        ),
    ),
    description="One item per execution (id: 26-char time-sortable ULID). Code zlib-compressed (source "
    "<= 64 KB); per-test results compressed and truncated so an item stays far below 400 KB with 1,000 "
    "tests. GSIs (summary attributes only, never code): UserHistoryIndex (a user's runs, newest first), "
    "PublicHistoryIndex (public runs only: public_shard PUB#0..7 is set only when public, so the index is "
    "sparse and spread over 8 partitions), ProblemHistoryIndex (a problem's runs, newest first; admin).",
)
EXECUTIONS_OUTBOX = outbox_table("executions")
HINTS = TableSpec(
    owner="hints",
    name="Hints",
    hash_key="pk",
    range_key="sk",
    attributes={"pk": "S", "sk": "S"},
    ttl_attribute="expires_at",
    description="REQ#<request id>/REQ: one hint request and, once generated, its result (the idempotency "
    "record of the worker); EXEC#<execution id>/LATEST and PROB#<platform>#<problem id>/LATEST: the hints "
    "readers get; BUDGET#<YYYY-MM-DD>/USER#<id>|GLOBAL: LLM tokens spent that day (atomic ADD).",
)
HINTS_OUTBOX = outbox_table("hints")
HINTS_INBOX = inbox_table("hints")
PROBLEMS_LEGACY = legacy_row_import_table("problems")
PROBLEMS_QUARANTINE = legacy_quarantine_table("problems")
EXECUTIONS_LEGACY = legacy_row_import_table("executions")
EXECUTIONS_QUARANTINE = legacy_quarantine_table("executions")
HINTS_LEGACY = legacy_row_import_table("hints")
HINTS_QUARANTINE = legacy_quarantine_table("hints")
STATS = TableSpec(
    owner="stats",
    name="Stats",
    hash_key="pk",
    range_key="sk",
    attributes={"pk": "S", "sk": "S"},
    description="Precomputed statistics, every key prefixed by its generation G<n># (a rebuild fills a new "
    "generation, then CONTROL/ACTIVE names it): USER#<id> SUMMARY|DAYS|PROFILE|PROB#<platform>#<problem>, "
    "PROBLEM#<platform>#<problem> SUMMARY|RUNTIME|META, DAYS/<YYYY-MM-DD> (platform per UTC day), "
    "DAY#<YYYY-MM-DD>/USER#<id> (a user's runs that day), PLATFORM/TOTALS, and INBOX#<event id> (events "
    "applied, written in the same transaction as their counters). See services/stats/README.md.",
)

MIGRATION_STATE = TableSpec(
    owner="migration",
    name="State",
    hash_key="pk",
    attributes={"pk": "S"},
    description="PHASE: the migration's phase (algoitny_shared.migration_phase), its version, since when and "
    "who set it; STEP#<version>: what each cutover/rollback did and when (the command's record).",
)
MIGRATION_OUTBOX = outbox_table("migration")

ALL_TABLES: tuple[TableSpec, ...] = (
    PROBLEMS,
    TEST_CASES,
    PROBLEMS_CONTROL,
    SCRIPT_GENERATION_JOBS,
    PROBLEMS_OUTBOX,
    PROBLEMS_INBOX,
    SEARCH_INDEXER_INBOX,
    USERS,
    REFRESH_TOKENS,
    SIGN_IN_ATTEMPTS,
    ACCOUNTS_OUTBOX,
    ACCOUNTS_INBOX,
    ACCOUNT_PLANS,
    ACCOUNTS_LEGACY,
    SUBSCRIPTION_PLANS,
    USAGE_LOGS,
    USER_PLANS,
    RATELIMIT_OUTBOX,
    RATELIMIT_INBOX,
    RATELIMIT_LEGACY,
    SEARCH_HISTORY,
    EXECUTIONS_OUTBOX,
    HINTS,
    HINTS_OUTBOX,
    HINTS_INBOX,
    STATS,
    PROBLEMS_LEGACY,
    PROBLEMS_QUARANTINE,
    EXECUTIONS_LEGACY,
    EXECUTIONS_QUARANTINE,
    HINTS_LEGACY,
    HINTS_QUARANTINE,
    MIGRATION_STATE,
    MIGRATION_OUTBOX,
)


def tables_of(owner: str) -> tuple[TableSpec, ...]:
    return tuple(t for t in ALL_TABLES if t.owner == owner)


def ensure_tables(client: Any, namespace: str, specs: Iterable[TableSpec]) -> list[str]:
    """Create the tables that do not exist yet, and the declared indexes an existing table
    lacks (idempotent); returns what it created (``table`` or ``table/index``)."""
    created: list[str] = []
    existing = set()
    for page in client.get_paginator("list_tables").paginate():
        existing.update(page["TableNames"])
    for spec in specs:
        name = spec.physical(namespace)
        if name in existing:
            created.extend(f"{name}/{index}" for index in add_missing_indexes(client, namespace, spec))
            continue
        try:
            client.create_table(**spec.create_request(namespace))
        except client.exceptions.ResourceInUseException:
            continue
        client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        if spec.ttl_attribute:
            client.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute}
            )
        created.append(name)
    return created


def add_missing_indexes(client: Any, namespace: str, spec: TableSpec, *, timeout_s: float = 600.0) -> list[str]:
    """Add the GSIs ``spec`` declares that the live table lacks, one at a time (DynamoDB allows
    one index creation per UpdateTable), waiting until each is ACTIVE (backfilled) so that code
    querying it never starts early. Indexes the table has but the spec no longer declares are
    left alone: dropping one is a deliberate, separate step."""
    name = spec.physical(namespace)
    request = spec.create_request(namespace)
    described = client.describe_table(TableName=name)["Table"]
    present = {g["IndexName"] for g in described.get("GlobalSecondaryIndexes", [])}
    added = []
    for gsi in request.get("GlobalSecondaryIndexes", []):
        if gsi["IndexName"] in present:
            continue
        client.update_table(
            TableName=name,
            AttributeDefinitions=request["AttributeDefinitions"],
            GlobalSecondaryIndexUpdates=[{"Create": gsi}],
        )
        deadline = time.monotonic() + timeout_s
        while True:
            indexes = client.describe_table(TableName=name)["Table"].get("GlobalSecondaryIndexes", [])
            status = next((g.get("IndexStatus") for g in indexes if g["IndexName"] == gsi["IndexName"]), None)
            if status == "ACTIVE":
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"index {gsi['IndexName']} of {name} not active after {timeout_s:.0f} s")
            time.sleep(1.0)
        added.append(gsi["IndexName"])
    return added
