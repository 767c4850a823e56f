"""``python -m algoitny_hints.entrypoints.legacy_import``: the hints service's legacy importer
(the ``hints`` lists of legacy ``search_history``), its own process beside the API.

It consumes ``<ALGOITNY_LEGACY_TOPIC_PREFIX>.public.search_history`` in consumer group
``<namespace>.legacy-import.hints`` (apart from the executions importer's) and serves the
internal routes of ``algoitny_shared.legacy.api`` on ``ALGOITNY_LEGACY_IMPORT_PORT`` (admin
identity; never routed by the gateway)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI
from pydantic import Field

from algoitny_hints.adapters.tables import HINTS, HINTS_LEGACY, HINTS_OUTBOX, HINTS_QUARANTINE
from algoitny_hints.bootstrap import Container, build
from algoitny_hints.service_layer.legacy_import import HintsLegacyHandler
from algoitny_hints.settings import HintsSettings
from algoitny_shared.legacy.row_importer import LegacyImporter, LegacyStore
from algoitny_shared.legacy.runner import LegacyImportSettings, importer_app, legacy_group
from algoitny_shared.logging import configure_logging
from algoitny_shared.outbox import Outbox
from algoitny_shared.runtime import serve
from algoitny_shared.uow import DynamoUnitOfWork


class HintsLegacySettings(HintsSettings, LegacyImportSettings):
    legacy_import_port: int = Field(default=8106, description="Port of the hints importer's internal API.")


@dataclass
class LegacyContainer:
    settings: HintsLegacySettings
    service: Container
    store: LegacyStore
    importer: LegacyImporter


def build_importer(settings: HintsLegacySettings | None = None) -> LegacyContainer:
    settings = settings or HintsLegacySettings()
    c = build(settings.model_copy(update={"consumers_enabled": False}))
    store = LegacyStore(
        c.dynamodb, HINTS_LEGACY.physical(settings.namespace), HINTS_QUARANTINE.physical(settings.namespace)
    )
    outbox = Outbox(c.dynamodb, HINTS_OUTBOX, settings.namespace)

    def uow() -> DynamoUnitOfWork:
        return DynamoUnitOfWork(c.dynamodb, outbox, settings.fault_points)

    importer = LegacyImporter(
        store,
        HintsLegacyHandler(c.dynamodb, HINTS.physical(settings.namespace)),
        uow,
        max_attempts=settings.legacy_max_attempts,
        retry_backoff_s=settings.consumer_retry_backoff_s,
    )
    importer.register(c.broker, prefix=settings.legacy_topic_prefix, group_id=legacy_group(settings.namespace, "hints"))
    return LegacyContainer(settings, c, store, importer)


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
    settings = HintsLegacySettings()
    configure_logging(f"{settings.service_name}-legacy-import", settings.log_level)
    serve(make_app(build_importer(settings)), settings.model_copy(update={"port": settings.legacy_import_port}))


if __name__ == "__main__":
    main()
