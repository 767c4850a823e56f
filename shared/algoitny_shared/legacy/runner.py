"""Running a service's legacy importer as its own process: the FastStream consumer of the legacy
topics (one consumer group per service), the service's outbox relay, the importer's background
tasks and a small HTTP app with the internal routes (:mod:`algoitny_shared.legacy.api`) and the
health routes. Each service's ``entrypoints/legacy_import.py`` wires its handler into this."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from fastapi import FastAPI
from pydantic import Field

from algoitny_shared.kafka import ensure_topic_names
from algoitny_shared.kit.app_factory import service_app
from algoitny_shared.kit.cli import Main, service_cli
from algoitny_shared.kit.composition import OutboxParts
from algoitny_shared.legacy.row_importer import LegacyHandler, LegacyImporter, LegacyStore, legacy_router
from algoitny_shared.legacy.tables import DEFAULT_TOPIC_PREFIX, legacy_group
from algoitny_shared.settings import ServiceSettings
from algoitny_shared.tables import TableSpec

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


class ImporterSettings(LegacyImportSettings):
    """What :func:`importer_main` needs: the port of the importer's internal API (each service's own)."""

    legacy_import_port: int


S = TypeVar("S", bound=ImporterSettings)
C = TypeVar("C", bound=OutboxParts[Any])


async def ensure_legacy_topics(settings: ServiceSettings, topics: list[str], timeout_s: float = 30.0) -> None:
    """Create the legacy topics that do not exist yet, so that the consumer can join before Debezium
    has written its first record (Debezium writes into existing topics as they are)."""
    await ensure_topic_names(settings, {name: {} for name in topics}, timeout_s)


def importer_app(
    settings: LegacyImportSettings,
    importer: LegacyImporter,
    parts: OutboxParts[Any],
    *,
    tasks: dict[str, Callable[[], Awaitable[Any]]] | None = None,
) -> FastAPI:
    """The importer process's app: internal routes, health, and everything running beside it
    (the service's broker and outbox relay from ``parts``, and ``tasks``)."""

    async def topics() -> None:
        await ensure_legacy_topics(settings, importer.topics(settings.legacy_topic_prefix))

    app = service_app(
        settings,
        title=f"AlgoItny {importer.handler.service} legacy importer (internal)",
        dynamodb=parts.dynamodb,
        table=importer.store.table,
        broker=parts.broker,
        relay=parts.relay,
        tasks=tasks,
        on_start=[topics],
    )
    app.include_router(legacy_router(importer))
    return app


@dataclass
class ImporterParts(Generic[S, C]):
    """A service's importer process: its settings, the service's parts, the store and the importer."""

    settings: S
    service: C
    store: LegacyStore
    importer: LegacyImporter
    tasks: dict[str, Callable[[], Awaitable[Any]]] = field(default_factory=dict)
    """What runs beside the importer (name -> coroutine factory)."""

    def app(self) -> FastAPI:
        return importer_app(self.settings, self.importer, self.service, tasks=self.tasks)


def importer_parts(
    settings: S,
    build: Callable[[S], C],
    tables: tuple[TableSpec, TableSpec],
    handler: Callable[[C, LegacyStore], LegacyHandler],
) -> ImporterParts[S, C]:
    """A service's importer process: the service built by ``build`` without its own consumers
    (its API process runs them), the store on ``tables`` (applied rows, quarantine), and the
    importer of ``handler``'s rows (writing through the service's units of work) registered on
    the service's broker in the service's importer consumer group."""
    c = build(settings.model_copy(update={"consumers_enabled": False}))
    store = LegacyStore(c.dynamodb, tables[0].physical(settings.namespace), tables[1].physical(settings.namespace))
    rows = handler(c, store)
    importer = LegacyImporter(
        store,
        rows,
        c.uow,
        max_attempts=settings.legacy_max_attempts,
        retry_backoff_s=settings.consumer_retry_backoff_s,
    )
    importer.register(
        c.broker, prefix=settings.legacy_topic_prefix, group_id=legacy_group(settings.namespace, rows.service)
    )
    return ImporterParts(settings, c, store, importer)


def importer_cli(module: str, settings: Callable[[], S], build: Callable[[S], ImporterParts[S, Any]]) -> Main:
    """``main`` of a service's importer process (``python -m <module> [run]``): serves the
    importer's app on the importer's own port."""
    return service_cli(
        f"python -m {module}",
        settings,
        lambda parts: parts.app(),
        build=build,
        log_name=lambda s: f"{s.service_name}-legacy-import",
        serve_as=lambda s: s.model_copy(update={"port": s.legacy_import_port}),
        serve_command="run",  # ``python -m <module> run``, what the dev stack and the deployments start
    )
