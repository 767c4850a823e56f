"""Every Kafka topic of the platform, declared once.

Physical names carry the namespace (``<namespace>.<name>``) so parallel test runs and
environments never share a topic.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TopicSpec:
    name: str
    description: str
    config: dict[str, str] = field(default_factory=dict)
    partitions: int = 6
    """Partitions in production (the infrastructure code creates them; deploy/infra, deploy/k8s). A
    consumer group never runs more replicas than the fewest partitions of its topics, so this is
    its scaling ceiling (docs/capacity.md). Local and test runs use ALGOITNY_KAFKA_TOPIC_PARTITIONS."""

    def physical(self, namespace: str) -> str:
        return f"{namespace}.{self.name}"


# Domain topics keep their whole history so derived views can be rebuilt by replay.
KEEP_FOREVER = {"retention.ms": "-1", "cleanup.policy": "delete"}
# Dead letters are kept for 30 days, long enough to inspect and replay.
DEAD_LETTER_RETENTION = {"retention.ms": str(30 * 24 * 3600 * 1000)}

# Planned partitions (10x today's load, docs/capacity.md): a topic's partitions bound the replicas
# of each consumer group reading it; adding partitions later reshuffles keys (per-aggregate order
# breaks across the change), so they are planned ahead.
PROBLEM_EVENTS = TopicSpec("problems.events", "Lifecycle of problems and their test sets.", KEEP_FOREVER, partitions=24)

ACCOUNT_EVENTS = TopicSpec("accounts.events", "Users registered and their plan changes.", KEEP_FOREVER, partitions=24)

RATELIMIT_EVENTS = TopicSpec(
    "ratelimit.events", "Plan changes and metered usage (charges and refunds).", KEEP_FOREVER, partitions=24
)

EXECUTION_JOBS = TopicSpec(
    "executions.jobs",
    "Executions submitted for judging (the judge workers' work queue, one consumer group).",
    KEEP_FOREVER,
    # One judge worker per partition at most, each judging one job at a time (docs/capacity.md).
    partitions=512,
)

EXECUTION_EVENTS = TopicSpec(
    "executions.events",
    "Judged runs of user code: verdicts and timings (and refunds due on IE).",
    KEEP_FOREVER,
    partitions=24,
)

HINT_EVENTS = TopicSpec("hints.events", "Hint requests and the hints generated for them.", KEEP_FOREVER, partitions=24)

# The migration's phase (algoitny_shared.migration_phase): few events, read from the start by every
# gateway replica (writes to legacy-owned data are refused while the legacy database owns it).
MIGRATION_EVENTS = TopicSpec(
    "migration.events", "The migration's phase changes (migrating, cut over, rolled back).", KEEP_FOREVER
)

DOMAIN_TOPICS: tuple[TopicSpec, ...] = (
    PROBLEM_EVENTS,
    ACCOUNT_EVENTS,
    RATELIMIT_EVENTS,
    EXECUTION_JOBS,
    EXECUTION_EVENTS,
    HINT_EVENTS,
    MIGRATION_EVENTS,
)


def dead_letter_topic(consumer_group: str) -> TopicSpec:
    """One dead-letter topic per consumer group: a failure belongs to the consumer that hit it."""
    return TopicSpec(
        f"{consumer_group}.dlq",
        f"Events the {consumer_group} consumer could not process, with the reason in headers.",
        DEAD_LETTER_RETENTION,
        partitions=3,
    )


# Every consumer group of the platform; each gets its own dead-letter topic.
SEARCH_INDEXER_GROUP = "search-indexer"
RATELIMIT_GROUP = "ratelimit"
# The problems service keeps each problem's execution count from executions events.
PROBLEMS_GROUP = "problems"
# The problems service's generation process files sandbox answers and picks up created jobs.
PROBLEMS_GENERATION_GROUP = "problems-generation"
# The hints worker turns HintRequested events into hints.
HINTS_GROUP = "hints"
ACCOUNTS_GROUP = "accounts"
JUDGE_WORKER_GROUP = "judge-workers"
# The executions service attaches generated hints to history items.
EXECUTIONS_GROUP = "executions"
# The stats service aggregates execution, hint, usage, account and problem events.
STATS_GROUP = "stats"
# The migration's reverse writer (issue 16) writes platform events back into the legacy database. A
# migration-time consumer, not one of the platform's (no deployment, no autoscaler): not in
# CONSUMER_GROUPS; it creates its dead-letter topic itself when it starts.
REVERSE_WRITER_GROUP = "migration-reverse"
CONSUMER_GROUPS: tuple[str, ...] = (
    SEARCH_INDEXER_GROUP,
    RATELIMIT_GROUP,
    PROBLEMS_GROUP,
    PROBLEMS_GENERATION_GROUP,
    ACCOUNTS_GROUP,
    JUDGE_WORKER_GROUP,
    HINTS_GROUP,
    EXECUTIONS_GROUP,
    STATS_GROUP,
)


def all_topics() -> list[TopicSpec]:
    return [*DOMAIN_TOPICS, *(dead_letter_topic(g) for g in CONSUMER_GROUPS)]
