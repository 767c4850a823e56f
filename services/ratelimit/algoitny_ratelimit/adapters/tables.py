"""The DynamoDB tables of the ratelimit service, declared once (the service's own): its adapters
use them; provisioning, backup and the infrastructure code find them through the
``algoitny.tables`` entry point in the service's pyproject.toml (algoitny_shared.tables.all_tables).
"""

from __future__ import annotations

from algoitny_shared.tables import (
    Index,
    TableSpec,
    inbox_table,
    legacy_quarantine_table,
    legacy_row_import_table,
    outbox_table,
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
RATELIMIT_LEGACY = legacy_row_import_table("ratelimit")
RATELIMIT_QUARANTINE = legacy_quarantine_table("ratelimit")

TABLES: tuple[TableSpec, ...] = (
    SUBSCRIPTION_PLANS,
    USAGE_LOGS,
    USER_PLANS,
    RATELIMIT_OUTBOX,
    RATELIMIT_INBOX,
    RATELIMIT_LEGACY,
    RATELIMIT_QUARANTINE,
)
