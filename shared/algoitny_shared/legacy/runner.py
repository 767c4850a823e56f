"""Running a service's legacy importer as its own process: the FastStream consumer of the legacy
topics (one consumer group per service), the service's outbox relay, the importer's background
tasks and a small HTTP app with the internal routes (:mod:`algoitny_shared.legacy.api`) and the
health routes. Each service's ``entrypoints/legacy_import.py`` declares only what is its own (its
settings with the importer's port, its ``build``, its tables and row handler) in one
:class:`ImporterEntrypoint`, which gives it ``build_importer``, ``make_app`` and ``main``."""

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
from algoitny_shared.legacy.batches import DEFAULT_CONCURRENCY, DEFAULT_MAX_RECORDS
from algoitny_shared.legacy.row_importer import LegacyHandler, LegacyImporter, LegacyStore, legacy_router
from algoitny_shared.legacy.tables import DEFAULT_TOPIC_PREFIX, legacy_group
from algoitny_shared.settings import ServiceSettings
from algoitny_shared.tables import TableSpec

log = logging.getLogger(__name__)

__all__ = ["ImporterEntrypoint", "LegacyImportSettings", "ensure_legacy_topics", "importer_app", "legacy_group"]


class LegacyImportSettings(ServiceSettings):
    """Settings of a legacy importer process (mixed into the service's own settings)."""

    legacy_topic_prefix: str = Field(
        default=DEFAULT_TOPIC_PREFIX,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$",
        description="Debezium's topic.prefix: the importer reads <prefix>.public.<table>.",
    )
    legacy_max_attempts: int = Field(default=3, ge=1, le=20, description="Tries of one row before it is quarantined.")
    legacy_batch_max_records: int = Field(
        default=DEFAULT_MAX_RECORDS,
        ge=1,
        le=5000,
        description="Records consumed as one batch (offsets committed after the whole batch).",
    )
    legacy_relay_linger_s: float = Field(
        default=1.0,
        ge=0,
        le=30,
        description="The importer's outbox relay, woken by a commit, waits this long for more before it "
        "queries (one query per shard for many rows' events).",
    )
    legacy_concurrency: int = Field(
        default=DEFAULT_CONCURRENCY,
        ge=1,
        le=256,
        description="Rows of a batch applied at the same time (the records of one row always in order).",
    )


class ImporterSettings(LegacyImportSettings):
    """What :func:`importer_cli` needs: the port of the importer's internal API (each service's own)."""

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
        concurrency=settings.legacy_concurrency,
    )
    c.relay.linger_s = settings.legacy_relay_linger_s
    importer.register(
        c.broker,
        prefix=settings.legacy_topic_prefix,
        group_id=legacy_group(settings.namespace, rows.service),
        max_poll_records=settings.legacy_batch_max_records,
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


@dataclass(frozen=True)
class ImporterEntrypoint(Generic[S, C]):
    """A service's ``entrypoints/legacy_import.py``, declared: what differs between services (the
    settings class with the importer's port, the service's ``build``, the two tables, the row
    handler, and ``extend`` for what else runs beside the importer), and the module-level names
    the process, the dev stack and the tests use (``build_importer``, ``make_app``, ``main``)."""

    module: str
    settings: Callable[[], S]
    build: Callable[[S], C]
    tables: tuple[TableSpec, TableSpec]
    handler: Callable[[C, LegacyStore], LegacyHandler]
    extend: Callable[[ImporterParts[S, C]], None] | None = None

    def build_importer(self, settings: S | None = None) -> ImporterParts[S, C]:
        parts = importer_parts(settings or self.settings(), self.build, self.tables, self.handler)
        if self.extend is not None:
            self.extend(parts)
        return parts

    def make_app(self, parts: ImporterParts[S, C] | None = None) -> FastAPI:
        return (parts or self.build_importer()).app()

    def main(self, argv: list[str] | None = None) -> None:
        importer_cli(self.module, self.settings, self.build_importer)(argv)
