"""The DynamoDB tables of the migration service, declared once (the service's own): its adapters
use them; provisioning, backup and the infrastructure code find them through the
``algoitny.tables`` entry point in the service's pyproject.toml (algoitny_shared.tables.all_tables).
"""

from __future__ import annotations

from algoitny_shared.tables import TableSpec, outbox_table

MIGRATION_STATE = TableSpec(
    owner="migration",
    name="State",
    hash_key="pk",
    attributes={"pk": "S"},
    description="PHASE: the migration's phase (algoitny_shared.migration_phase), its version, since when and "
    "who set it; STEP#<version>: what each cutover/rollback did and when (the command's record).",
)
MIGRATION_OUTBOX = outbox_table("migration")

TABLES: tuple[TableSpec, ...] = (
    MIGRATION_STATE,
    MIGRATION_OUTBOX,
)
