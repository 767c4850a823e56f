"""The DynamoDB tables of the hints service, declared once (the service's own): its adapters
use them; provisioning, backup and the infrastructure code find them through the
``algoitny.tables`` entry point in the service's pyproject.toml (algoitny_shared.tables.all_tables).
"""

from __future__ import annotations

from algoitny_shared.tables import (
    TableSpec,
    legacy_quarantine_table,
    legacy_row_import_table,
    outbox_table,
)

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
HINTS_LEGACY = legacy_row_import_table("hints")
HINTS_QUARANTINE = legacy_quarantine_table("hints")

TABLES: tuple[TableSpec, ...] = (
    HINTS,
    HINTS_OUTBOX,
    HINTS_LEGACY,
    HINTS_QUARANTINE,
)
