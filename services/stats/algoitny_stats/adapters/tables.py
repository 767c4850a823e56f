"""The DynamoDB tables of the stats service, declared once (the service's own): its adapters
use them; provisioning, backup and the infrastructure code find them through the
``algoitny.tables`` entry point in the service's pyproject.toml (algoitny_shared.tables.all_tables).
"""

from __future__ import annotations

from algoitny_shared.tables import TableSpec

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

TABLES: tuple[TableSpec, ...] = (STATS,)
