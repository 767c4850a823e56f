"""``python -m algoitny_accounts.entrypoints.legacy_import``: the accounts service's legacy importer
(legacy ``users`` rows), its own process beside the API.

It consumes ``<ALGOITNY_LEGACY_TOPIC_PREFIX>.public.users`` in consumer group
``<namespace>.legacy-import.accounts`` (apart from ratelimit's importer of the same topic), writes
through accounts' own units of work and outbox, and serves the internal routes of
``algoitny_shared.legacy.api`` on ``ALGOITNY_LEGACY_IMPORT_PORT`` (admin identity; never routed by
the gateway)."""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import Field

from algoitny_accounts.adapters.tables import ACCOUNTS_LEGACY, ACCOUNTS_QUARANTINE
from algoitny_accounts.bootstrap import Container, build
from algoitny_accounts.service_layer.legacy_import import AccountsLegacyHandler
from algoitny_accounts.settings import AccountsSettings
from algoitny_shared.legacy.runner import ImporterParts, ImporterSettings, importer_cli, importer_parts


class AccountsLegacySettings(AccountsSettings, ImporterSettings):
    legacy_import_port: int = Field(default=8101, description="Port of the accounts importer's internal API.")


LegacyContainer = ImporterParts[AccountsLegacySettings, Container]


def build_importer(settings: AccountsLegacySettings | None = None) -> LegacyContainer:
    return importer_parts(
        settings or AccountsLegacySettings(),
        build,
        (ACCOUNTS_LEGACY, ACCOUNTS_QUARANTINE),
        lambda c, _: AccountsLegacyHandler(c.users, c.accounts.writes.with_plan),
    )


def make_app(lc: LegacyContainer | None = None) -> FastAPI:
    return (lc or build_importer()).app()


main = importer_cli("algoitny_accounts.entrypoints.legacy_import", AccountsLegacySettings, build_importer)

if __name__ == "__main__":
    main()
