"""``python -m algoitny_migration reverse-writer``: the reverse writer's process (issue 16).

A FastStream consumer (group ``<namespace>.migration-reverse``) of the platform's domain topics,
with /healthz, /readyz and /metrics (``algoitny_consumer_lag{consumer="migration-reverse"}`` per
topic and partition, ``algoitny_reverse_writes_total``) on ``ALGOITNY_REVERSE_WRITER_PORT``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI

from algoitny_migration.adapters.phase_store import DynamoPhaseStore
from algoitny_migration.adapters.platform_api import ServiceUnavailable
from algoitny_migration.adapters.reverse_store import NotYetKnown, ReverseStore
from algoitny_migration.bootstrap import build
from algoitny_migration.service_layer.reverse_writer import ReverseWriter
from algoitny_migration.settings import MigrationSettings
from algoitny_shared.kafka import default_is_transient, ensure_topics
from algoitny_shared.kit.app_factory import service_app
from algoitny_shared.kit.composition import event_parts
from algoitny_shared.lag import LagMonitor
from algoitny_shared.runtime import serve
from algoitny_shared.topics import (
    ACCOUNT_EVENTS,
    EXECUTION_EVENTS,
    HINT_EVENTS,
    PROBLEM_EVENTS,
    RATELIMIT_EVENTS,
    REVERSE_WRITER_GROUP,
    dead_letter_topic,
)

REVERSE_TOPICS = (ACCOUNT_EVENTS, PROBLEM_EVENTS, EXECUTION_EVENTS, HINT_EVENTS, RATELIMIT_EVENTS)


def is_transient(exc: BaseException) -> bool:
    import psycopg

    return default_is_transient(exc) or isinstance(exc, NotYetKnown | ServiceUnavailable | psycopg.OperationalError)


class PlatformReader:
    """GETs on the platform's services with the signed operator identity; None for a 404."""

    def __init__(self, m: Any) -> None:
        self.api = m.platform

    async def get(self, service: str, path: str, params: dict[str, Any] | None = None) -> Any | None:
        return await self.api.fetch(service, path, params)


def make_app(settings: MigrationSettings | None = None) -> FastAPI:
    s = settings or MigrationSettings()
    m = build(s)
    store = ReverseStore(s.legacy_dsn.get_secret_value())
    kit = event_parts(s)
    phases = DynamoPhaseStore(kit.dynamodb, s.namespace, s.kafka_bootstrap_servers)
    writer = ReverseWriter(store, PlatformReader(m), phases)
    kit.consume(REVERSE_WRITER_GROUP, REVERSE_TOPICS, writer.handlers, is_transient=is_transient, max_poll_records=20)
    lag = LagMonitor(
        s.kafka_bootstrap_servers,
        [t.physical(s.namespace) for t in REVERSE_TOPICS],
        s.reverse_group(),
        REVERSE_WRITER_GROUP,
    )

    async def prepare() -> None:
        await asyncio.to_thread(store.ensure_schema)
        await ensure_topics(s, [dead_letter_topic(REVERSE_WRITER_GROUP)])  # not one of the platform's groups

    async def legacy_database() -> None:
        await asyncio.to_thread(store.counts)

    app = service_app(
        s,
        title="AlgoItny migration reverse writer",
        broker=kit.broker,
        readiness=[legacy_database],
        tasks={"consumer-lag": lambda: lag.run(s.reverse_lag_poll_s)},
        on_start=[prepare],
        on_stop=[phases.close, m.close],
    )

    @app.get("/reverse/status", tags=["migration"])
    async def status() -> dict[str, Any]:
        """What the reverse writer has written back (mapped rows per kind, events applied)."""
        return await asyncio.to_thread(store.counts)

    return app


def run() -> None:
    s = MigrationSettings()
    s = s.model_copy(update={"port": s.reverse_writer_port})
    serve(make_app(s), s)
