"""Composition root of the stats service."""

from __future__ import annotations

from dataclasses import dataclass

from algoitny_shared.kafka import make_broker
from algoitny_shared.kit.composition import Parts, parts
from algoitny_shared.lag import LagMonitor
from algoitny_shared.topics import (
    ACCOUNT_EVENTS,
    EXECUTION_EVENTS,
    HINT_EVENTS,
    PROBLEM_EVENTS,
    RATELIMIT_EVENTS,
    STATS_GROUP,
    TopicSpec,
)
from algoitny_stats.adapters.consumer import StatsConsumer
from algoitny_stats.adapters.store import StatsStore
from algoitny_stats.service_layer.applier import Applier
from algoitny_stats.service_layer.queries import StatsQueries
from algoitny_stats.settings import StatsSettings

# Every topic whose events change statistics (all keep their history: a rebuild replays them).
STATS_TOPICS: tuple[TopicSpec, ...] = (EXECUTION_EVENTS, HINT_EVENTS, RATELIMIT_EVENTS, ACCOUNT_EVENTS, PROBLEM_EVENTS)


@dataclass
class Container(Parts[StatsSettings]):
    store: StatsStore
    applier: Applier
    consumer: StatsConsumer
    queries: StatsQueries
    lag: LagMonitor


def build(settings: StatsSettings | None = None) -> Container:
    """No outbox: stats writes no events; its own consumer (a FastStream batch subscriber on a broker of
    its own) reads the topics in batches."""
    settings = settings or StatsSettings()
    kit = parts(settings)
    store = StatsStore(kit.dynamodb, settings.namespace)
    applier = Applier(store)
    consumer = StatsConsumer(
        applier=applier,
        broker=make_broker(settings),
        namespace=settings.namespace,
        group=STATS_GROUP,
        topics=STATS_TOPICS,
        max_records=settings.stats_batch_max_records,
    )
    lag = LagMonitor(
        settings.kafka_bootstrap_servers,
        [t.physical(settings.namespace) for t in STATS_TOPICS],
        f"{settings.namespace}.{STATS_GROUP}",
        STATS_GROUP,
    )
    return Container(
        **kit.fields(), store=store, applier=applier, consumer=consumer, queries=StatsQueries(store), lag=lag
    )
