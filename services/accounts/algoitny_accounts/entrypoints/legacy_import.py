"""``python -m algoitny_accounts.entrypoints.legacy_import``: the accounts service's legacy importer
(legacy ``users`` rows), its own process beside the API.

It consumes ``<ALGOITNY_LEGACY_TOPIC_PREFIX>.public.users`` in consumer group
``<namespace>.legacy-import.accounts`` (apart from ratelimit's importer of the same topic), writes
through accounts' own units of work and outbox, and serves the internal routes of
``algoitny_shared.legacy.api`` on ``ALGOITNY_LEGACY_IMPORT_PORT`` (admin identity; never routed by
the gateway)."""

from __future__ import annotations

from pydantic import Field

from algoitny_accounts.adapters.tables import ACCOUNTS_LEGACY, ACCOUNTS_QUARANTINE
from algoitny_accounts.bootstrap import build
from algoitny_accounts.service_layer.legacy_import import AccountsLegacyHandler
from algoitny_accounts.settings import AccountsSettings
from algoitny_shared.legacy.runner import ImporterEntrypoint, ImporterSettings


class AccountsLegacySettings(AccountsSettings, ImporterSettings):
    legacy_import_port: int = Field(default=8101, description="Port of the accounts importer's internal API.")


entrypoint = ImporterEntrypoint(
    "algoitny_accounts.entrypoints.legacy_import",
    AccountsLegacySettings,
    build,
    (ACCOUNTS_LEGACY, ACCOUNTS_QUARANTINE),
    lambda c, _: AccountsLegacyHandler(c.users, c.accounts.writes.with_plan),
)
build_importer, make_app, main = entrypoint.build_importer, entrypoint.make_app, entrypoint.main

if __name__ == "__main__":
    main()
