"""The DynamoDB tables of the accounts service, declared once (the service's own): its adapters
use them; provisioning, backup and the infrastructure code find them through the
``algoitny.tables`` entry point in the service's pyproject.toml (algoitny_shared.tables.all_tables).
"""

from __future__ import annotations

from algoitny_shared.tables import (
    Index,
    TableSpec,
    legacy_quarantine_table,
    legacy_row_import_table,
    outbox_table,
)

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
ACCOUNT_PLANS = TableSpec(
    owner="accounts",
    name="PlanCopies",
    hash_key="plan_id",
    attributes={"plan_id": "S"},
    description="The plans as accounts knows them from ratelimit's plan events (limits and flags, the "
    "event version applied; a deleted plan stays as a tombstone so an older event cannot revive it). "
    "Users copy their plan's limits from here.",
)
ACCOUNTS_LEGACY = legacy_row_import_table("accounts")
ACCOUNTS_QUARANTINE = legacy_quarantine_table("accounts")

TABLES: tuple[TableSpec, ...] = (
    USERS,
    REFRESH_TOKENS,
    SIGN_IN_ATTEMPTS,
    ACCOUNTS_OUTBOX,
    ACCOUNT_PLANS,
    ACCOUNTS_LEGACY,
    ACCOUNTS_QUARANTINE,
)
