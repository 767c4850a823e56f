"""``python -m algoitny_executions.entrypoints.legacy_import``: the executions service's legacy
importer (legacy ``search_history`` -> history items), its own process beside the API.

It consumes ``<ALGOITNY_LEGACY_TOPIC_PREFIX>.public.search_history`` in consumer group
``<namespace>.legacy-import.executions``, writes items and ``ExecutionCompleted`` through the
service's outbox (and runs the outbox relay), never judges and never charges, and serves the
internal routes of ``algoitny_shared.legacy.api`` on ``ALGOITNY_LEGACY_IMPORT_PORT`` (admin
identity; never routed by the gateway)."""

from __future__ import annotations

from pydantic import Field

from algoitny_executions.adapters.tables import EXECUTIONS_LEGACY, EXECUTIONS_QUARANTINE
from algoitny_executions.bootstrap import build
from algoitny_executions.service_layer.legacy_import import ExecutionsLegacyHandler
from algoitny_executions.settings import ExecutionsSettings
from algoitny_shared.legacy.runner import ImporterEntrypoint, ImporterSettings


class ExecutionsLegacySettings(ExecutionsSettings, ImporterSettings):
    legacy_import_port: int = Field(default=8103, description="Port of the executions importer's internal API.")


entrypoint = ImporterEntrypoint(
    "algoitny_executions.entrypoints.legacy_import",
    ExecutionsLegacySettings,
    # No judge, no workers, no hint consumer here: imported runs are never judged.
    lambda s: build(s.model_copy(update={"worker_enabled": False, "judge_enabled": False})),
    (EXECUTIONS_LEGACY, EXECUTIONS_QUARANTINE),
    lambda c, _: ExecutionsLegacyHandler(c.history),
)
build_importer, make_app, main = entrypoint.build_importer, entrypoint.make_app, entrypoint.main

if __name__ == "__main__":
    main()
