"""``python -m algoitny_ratelimit.entrypoints.legacy_import``: the ratelimit service's legacy importer
(legacy ``subscription_plans``, users' plans and ``usage_logs`` rows), its own process beside the API.

It consumes ``<ALGOITNY_LEGACY_TOPIC_PREFIX>.public.<table>`` of those tables in consumer group
``<namespace>.legacy-import.ratelimit`` (apart from accounts' importer of ``users``), writes through
ratelimit's own units of work and outbox, and serves the internal routes of
``algoitny_shared.legacy.api`` on ``ALGOITNY_LEGACY_IMPORT_PORT`` (admin identity; never routed by
the gateway)."""

from __future__ import annotations

from pydantic import Field

from algoitny_ratelimit.adapters.tables import RATELIMIT_LEGACY, RATELIMIT_QUARANTINE
from algoitny_ratelimit.bootstrap import build
from algoitny_ratelimit.service_layer.legacy_import import RatelimitLegacyHandler
from algoitny_ratelimit.settings import RatelimitSettings
from algoitny_shared.legacy.runner import ImporterEntrypoint, ImporterSettings


class RatelimitLegacySettings(RatelimitSettings, ImporterSettings):
    legacy_import_port: int = Field(default=8104, description="Port of the ratelimit importer's internal API.")


entrypoint = ImporterEntrypoint(
    "algoitny_ratelimit.entrypoints.legacy_import",
    RatelimitLegacySettings,
    build,
    (RATELIMIT_LEGACY, RATELIMIT_QUARANTINE),
    lambda c, _: RatelimitLegacyHandler(c.plans, c.usage, c.user_plans, c.membership),
)
build_importer, make_app, main = entrypoint.build_importer, entrypoint.make_app, entrypoint.main

if __name__ == "__main__":
    main()
