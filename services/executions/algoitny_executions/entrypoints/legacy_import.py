"""``python -m algoitny_executions.entrypoints.legacy_import``: the executions service's legacy
importer (legacy ``search_history`` -> history items), its own process beside the API.

It consumes ``<ALGOITNY_LEGACY_TOPIC_PREFIX>.public.search_history`` in consumer group
``<namespace>.legacy-import.executions``, writes items and ``ExecutionCompleted`` through the
service's outbox (and runs the outbox relay), never judges and never charges, and serves the
internal routes of ``algoitny_shared.legacy.api`` on ``ALGOITNY_LEGACY_IMPORT_PORT`` (admin
identity; never routed by the gateway)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI
from pydantic import Field

from algoitny_executions.adapters.tables import EXECUTIONS_LEGACY, EXECUTIONS_QUARANTINE
from algoitny_executions.bootstrap import Container, build
from algoitny_executions.service_layer.legacy_import import ExecutionsLegacyHandler
from algoitny_executions.settings import ExecutionsSettings
from algoitny_shared.legacy.row_importer import LegacyImporter, LegacyStore
from algoitny_shared.legacy.runner import LegacyImportSettings, importer_app, legacy_group
from algoitny_shared.logging import configure_logging
from algoitny_shared.runtime import serve
from algoitny_shared.uow import DynamoUnitOfWork


class ExecutionsLegacySettings(ExecutionsSettings, LegacyImportSettings):
    legacy_import_port: int = Field(default=8103, description="Port of the executions importer's internal API.")


@dataclass
class LegacyContainer:
    settings: ExecutionsLegacySettings
    service: Container
    store: LegacyStore
    importer: LegacyImporter


def build_importer(settings: ExecutionsLegacySettings | None = None) -> LegacyContainer:
    settings = settings or ExecutionsLegacySettings()
    # No judge, no workers, no hint consumer here: imported runs are never judged.
    c = build(settings.model_copy(update={"consumers_enabled": False, "worker_enabled": False, "judge_enabled": False}))
    store = legacy_store(c.dynamodb, settings.namespace)

    def uow() -> DynamoUnitOfWork:
        return DynamoUnitOfWork(c.dynamodb, c.outbox, settings.fault_points)

    importer = LegacyImporter(
        store,
        ExecutionsLegacyHandler(c.history),
        uow,
        max_attempts=settings.legacy_max_attempts,
        retry_backoff_s=settings.consumer_retry_backoff_s,
    )
    importer.register(
        c.broker, prefix=settings.legacy_topic_prefix, group_id=legacy_group(settings.namespace, "executions")
    )
    return LegacyContainer(settings, c, store, importer)


def legacy_store(client: object, namespace: str) -> LegacyStore:
    return LegacyStore(client, EXECUTIONS_LEGACY.physical(namespace), EXECUTIONS_QUARANTINE.physical(namespace))


def make_app(lc: LegacyContainer | None = None) -> FastAPI:
    lc = lc or build_importer()
    return importer_app(
        lc.settings,
        lc.importer,
        broker=lc.service.broker,
        relay=lc.service.relay,
        dynamodb=lc.service.dynamodb,
        prefix=lc.settings.legacy_topic_prefix,
    )


def main() -> None:
    settings = ExecutionsLegacySettings()
    configure_logging(f"{settings.service_name}-legacy-import", settings.log_level)
    serve(make_app(build_importer(settings)), settings.model_copy(update={"port": settings.legacy_import_port}))


if __name__ == "__main__":
    main()
