"""Legacy tables, who imports them, and their change topics."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_TOPIC_PREFIX = "legacy"
SCHEMA = "public"


def legacy_group(namespace: str, service: str) -> str:
    """The consumer group of a service's legacy importer (offsets are per service), whichever kit
    it runs on: the one name the importers join and the migration tool's ``status`` looks up."""
    return f"{namespace}.legacy-import.{service}"


@dataclass(frozen=True)
class LegacyTable:
    name: str
    primary_key: str
    # Services that import entities from this table (each its own part, through its write path).
    importers: tuple[str, ...]
    # Why a table is captured but not imported (empty when it is imported).
    not_imported_because: str = ""

    def topic(self, prefix: str = DEFAULT_TOPIC_PREFIX) -> str:
        """Debezium's topic name for the table: ``<topic.prefix>.<schema>.<table>``."""
        return f"{prefix}.{SCHEMA}.{self.name}"


SUBSCRIPTION_PLANS = LegacyTable("subscription_plans", "id", ("ratelimit",))
USERS = LegacyTable("users", "id", ("accounts", "ratelimit"))
PROBLEMS = LegacyTable("problems", "id", ("problems",))
TEST_CASES = LegacyTable("test_cases", "id", ("problems",))
SEARCH_HISTORY = LegacyTable("search_history", "id", ("executions", "hints"))
USAGE_LOGS = LegacyTable("usage_logs", "id", ("ratelimit",))
SCRIPT_GENERATION_JOBS = LegacyTable("script_generation_jobs", "id", ("problems",))
TASK_RESULTS = LegacyTable(
    "task_results",
    "task_id",
    (),
    not_imported_because="defined but unused at runtime by the legacy application (no reader, no writer)",
)

LEGACY_TABLES: tuple[LegacyTable, ...] = (
    SUBSCRIPTION_PLANS,
    USERS,
    PROBLEMS,
    TEST_CASES,
    SEARCH_HISTORY,
    USAGE_LOGS,
    SCRIPT_GENERATION_JOBS,
    TASK_RESULTS,
)
BY_NAME = {t.name: t for t in LEGACY_TABLES}


def tables_imported_by(service: str) -> tuple[LegacyTable, ...]:
    return tuple(t for t in LEGACY_TABLES if service in t.importers)
