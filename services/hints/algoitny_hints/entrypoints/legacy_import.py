"""``python -m algoitny_hints.entrypoints.legacy_import``: the hints service's legacy importer
(the ``hints`` lists of legacy ``search_history``), its own process beside the API.

It consumes ``<ALGOITNY_LEGACY_TOPIC_PREFIX>.public.search_history`` in consumer group
``<namespace>.legacy-import.hints`` (apart from the executions importer's) and serves the
internal routes of ``algoitny_shared.legacy.api`` on ``ALGOITNY_LEGACY_IMPORT_PORT`` (admin
identity; never routed by the gateway)."""

from __future__ import annotations

from pydantic import Field

from algoitny_hints.adapters.tables import HINTS, HINTS_LEGACY, HINTS_QUARANTINE
from algoitny_hints.bootstrap import build
from algoitny_hints.service_layer.legacy_import import HintsLegacyHandler
from algoitny_hints.settings import HintsSettings
from algoitny_shared.legacy.runner import ImporterEntrypoint, ImporterSettings


class HintsLegacySettings(HintsSettings, ImporterSettings):
    legacy_import_port: int = Field(default=8106, description="Port of the hints importer's internal API.")


entrypoint = ImporterEntrypoint(
    "algoitny_hints.entrypoints.legacy_import",
    HintsLegacySettings,
    build,
    (HINTS_LEGACY, HINTS_QUARANTINE),
    lambda c, _: HintsLegacyHandler(c.dynamodb, HINTS.physical(c.settings.namespace)),
)
build_importer, make_app, main = entrypoint.build_importer, entrypoint.make_app, entrypoint.main

if __name__ == "__main__":
    main()
