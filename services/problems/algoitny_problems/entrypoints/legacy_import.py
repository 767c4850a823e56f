"""``python -m algoitny_problems.entrypoints.legacy_import``: the problems service's legacy importer
(legacy ``problems``, ``test_cases``, ``script_generation_jobs``), its own process beside the API.

It consumes ``<ALGOITNY_LEGACY_TOPIC_PREFIX>.public.<table>`` in consumer group
``<namespace>.legacy-import.problems``, writes through the service's write path and outbox (and
runs the outbox relay), builds test sets from staged legacy cases, and serves the internal routes
of ``algoitny_shared.legacy.api`` on ``ALGOITNY_LEGACY_IMPORT_PORT`` (admin identity; never routed
by the gateway)."""

from __future__ import annotations

from pydantic import Field

from algoitny_problems.adapters.tables import PROBLEMS_LEGACY, PROBLEMS_QUARANTINE
from algoitny_problems.bootstrap import Container, build
from algoitny_problems.generation.adapters.jobs import GenerationJobRepository
from algoitny_problems.service_layer.legacy_import import LegacyTestSetFlusher, ProblemsLegacyHandler
from algoitny_problems.settings import ProblemsSettings
from algoitny_shared.legacy.row_importer import LegacyStore
from algoitny_shared.legacy.runner import ImporterEntrypoint, ImporterParts, ImporterSettings


class ProblemsLegacySettings(ProblemsSettings, ImporterSettings):
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


LegacyContainer = ImporterParts[ProblemsLegacySettings, Container]


def _handler(c: Container, store: LegacyStore) -> ProblemsLegacyHandler:
    jobs = GenerationJobRepository(c.dynamodb, c.settings.namespace)
    return ProblemsLegacyHandler(c.dynamodb, c.repo, c.service, store, c.store, jobs, c.control)


def _test_set_flusher(lc: LegacyContainer) -> None:
    """Builds test sets from staged legacy cases, beside the importer."""
    rows = lc.importer.handler
    assert isinstance(rows, ProblemsLegacyHandler)
    flusher = LegacyTestSetFlusher(
        lc.service.dynamodb,
        rows,
        lc.importer,
        lc.service.test_sets,
        lc.service.repo,
        interval_s=lc.settings.legacy_flush_interval_s,
        orphan_grace_s=lc.settings.legacy_orphan_grace_s,
    )
    lc.tasks["legacy-test-sets"] = flusher.run_forever


entrypoint = ImporterEntrypoint(
    "algoitny_problems.entrypoints.legacy_import",
    ProblemsLegacySettings,
    build,
    (PROBLEMS_LEGACY, PROBLEMS_QUARANTINE),
    _handler,
    extend=_test_set_flusher,
)
build_importer, make_app, main = entrypoint.build_importer, entrypoint.make_app, entrypoint.main

if __name__ == "__main__":
    main()
