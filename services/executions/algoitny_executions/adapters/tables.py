"""The DynamoDB tables of the executions service, declared once (the service's own): its adapters
use them; provisioning, backup and the infrastructure code find them through the
``algoitny.tables`` entry point in the service's pyproject.toml (algoitny_shared.tables.all_tables).
"""

from __future__ import annotations

from algoitny_shared.tables import Index, TableSpec, legacy_quarantine_table, legacy_row_import_table, outbox_table

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
EXECUTIONS_LEGACY = legacy_row_import_table("executions")
EXECUTIONS_QUARANTINE = legacy_quarantine_table("executions")

TABLES: tuple[TableSpec, ...] = (
    SEARCH_HISTORY,
    EXECUTIONS_OUTBOX,
    EXECUTIONS_LEGACY,
    EXECUTIONS_QUARANTINE,
)
