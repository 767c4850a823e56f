"""``python -m algoitny_problems.entrypoints.legacy_import``: the problems service's legacy importer
(legacy ``problems``, ``test_cases``, ``script_generation_jobs``), its own process beside the API.

It consumes ``<ALGOITNY_LEGACY_TOPIC_PREFIX>.public.<table>`` in consumer group
``<namespace>.legacy-import.problems``, writes through the service's write path and outbox (and
runs the outbox relay), builds test sets from staged legacy cases, and serves the internal routes
of ``algoitny_shared.legacy.api`` on ``ALGOITNY_LEGACY_IMPORT_PORT`` (admin identity; never routed
by the gateway)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI
from pydantic import Field

from algoitny_problems.bootstrap import Container, build
from algoitny_problems.generation.adapters.jobs import GenerationJobRepository
from algoitny_problems.service_layer.legacy_import import LegacyTestSetFlusher, ProblemsLegacyHandler
from algoitny_problems.settings import ProblemsSettings
from algoitny_shared.legacy.row_importer import LegacyImporter, LegacyStore
from algoitny_shared.legacy.runner import LegacyImportSettings, importer_app, legacy_group
from algoitny_shared.logging import configure_logging
from algoitny_shared.runtime import serve
from algoitny_shared.tables import PROBLEMS_LEGACY, PROBLEMS_QUARANTINE
from algoitny_shared.uow import DynamoUnitOfWork


class ProblemsLegacySettings(ProblemsSettings, LegacyImportSettings):
    legacy_import_port: int = Field(default=8102, description="Port of the problems importer's internal API.")
    legacy_flush_interval_s: float = Field(
        default=0.5, gt=0, description="How often staged legacy test cases are looked at when idle."
    )
    legacy_orphan_grace_s: float = Field(
        default=600.0,
        ge=0,
        description="How long legacy test cases wait for their problem before they are quarantined as a broken "
        "reference (they stay staged and are imported if it comes later).",
    )


@dataclass
class LegacyContainer:
    settings: ProblemsLegacySettings
    service: Container
    store: LegacyStore
    handler: ProblemsLegacyHandler
    importer: LegacyImporter
    flusher: LegacyTestSetFlusher


def build_importer(settings: ProblemsLegacySettings | None = None) -> LegacyContainer:
    settings = settings or ProblemsLegacySettings()
    # The service's own parts, without its API-side consumers and workers (the API process runs them).
    c = build(settings.model_copy(update={"consumers_enabled": False}))
    store = LegacyStore(
        c.dynamodb, PROBLEMS_LEGACY.physical(settings.namespace), PROBLEMS_QUARANTINE.physical(settings.namespace)
    )
    jobs = GenerationJobRepository(c.dynamodb, settings.namespace)
    handler = ProblemsLegacyHandler(c.dynamodb, c.repo, c.service, store, c.store, jobs, c.control)

    def uow() -> DynamoUnitOfWork:
        return DynamoUnitOfWork(c.dynamodb, c.outbox, settings.fault_points)

    importer = LegacyImporter(
        store,
        handler,
        uow,
        max_attempts=settings.legacy_max_attempts,
        retry_backoff_s=settings.consumer_retry_backoff_s,
    )
    importer.register(
        c.broker,
        prefix=settings.legacy_topic_prefix,
        group_id=legacy_group(settings.namespace, handler.service),
    )
    flusher = LegacyTestSetFlusher(
        c.dynamodb,
        handler,
        importer,
        c.test_sets,
        c.repo,
        interval_s=settings.legacy_flush_interval_s,
        orphan_grace_s=settings.legacy_orphan_grace_s,
    )
    return LegacyContainer(settings, c, store, handler, importer, flusher)


def make_app(lc: LegacyContainer | None = None) -> FastAPI:
    lc = lc or build_importer()
    return importer_app(
        lc.settings,
        lc.importer,
        broker=lc.service.broker,
        relay=lc.service.relay,
        dynamodb=lc.service.dynamodb,
        prefix=lc.settings.legacy_topic_prefix,
        tasks={"legacy-test-sets": lc.flusher.run_forever},
    )


def main() -> None:
    settings = ProblemsLegacySettings()
    configure_logging(f"{settings.service_name}-legacy-import", settings.log_level)
    serve(make_app(build_importer(settings)), settings.model_copy(update={"port": settings.legacy_import_port}))


if __name__ == "__main__":
    main()
