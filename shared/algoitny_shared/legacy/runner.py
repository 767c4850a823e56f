"""Running a service's legacy importer as its own process: the FastStream consumer of the legacy
topics (one consumer group per service), the service's outbox relay, the importer's background
tasks and a small HTTP app with the internal routes (:mod:`algoitny_shared.legacy.api`) and the
health routes. Each service's ``entrypoints/legacy_import.py`` wires its handler into this."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from pydantic import Field

from algoitny_shared.http import create_app
from algoitny_shared.kafka import ensure_topic_names, kafka_readiness
from algoitny_shared.legacy.row_importer import LegacyImporter, legacy_router
from algoitny_shared.legacy.tables import DEFAULT_TOPIC_PREFIX, legacy_group
from algoitny_shared.runtime import dynamodb_readiness, event_runtime
from algoitny_shared.settings import ServiceSettings

log = logging.getLogger(__name__)

__all__ = ["LegacyImportSettings", "ensure_legacy_topics", "importer_app", "legacy_group"]


class LegacyImportSettings(ServiceSettings):
    """Settings of a legacy importer process (mixed into the service's own settings)."""

    legacy_topic_prefix: str = Field(
        default=DEFAULT_TOPIC_PREFIX,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$",
        description="Debezium's topic.prefix: the importer reads <prefix>.public.<table>.",
    )
    legacy_max_attempts: int = Field(default=3, ge=1, le=20, description="Tries of one row before it is quarantined.")


async def ensure_legacy_topics(settings: ServiceSettings, topics: list[str], timeout_s: float = 30.0) -> None:
    """Create the legacy topics that do not exist yet, so that the consumer can join before Debezium
    has written its first record (Debezium writes into existing topics as they are)."""
    await ensure_topic_names(settings, {name: {} for name in topics}, timeout_s)


def importer_app(
    settings: ServiceSettings,
    importer: LegacyImporter,
    *,
    broker: Any,
    relay: Any,
    dynamodb: Any,
    prefix: str,
    tasks: dict[str, Callable[[], Awaitable[Any]]] | None = None,
) -> FastAPI:
    """The importer process's app: internal routes, health, and everything running beside it."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await ensure_legacy_topics(settings, importer.topics(prefix))
        async with event_runtime(broker, relay, settings, tasks=tasks):
            yield

    app = create_app(
        settings,
        title=f"AlgoItny {importer.handler.service} legacy importer (internal)",
        readiness=[dynamodb_readiness(dynamodb, importer.store.table), kafka_readiness(broker)],
        lifespan=lifespan,
    )
    app.include_router(legacy_router(importer))
    return app
