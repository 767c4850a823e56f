"""Composition root: the migration tool's parts from its settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from algoitny_migration.adapters.connect import ConnectClient, connector_config
from algoitny_migration.adapters.legacy_db import LegacyDatabase
from algoitny_migration.adapters.platform_api import PlatformApi
from algoitny_migration.settings import MigrationSettings
from algoitny_shared.identity import IdentitySigner
from algoitny_shared.lag import LagMonitor
from algoitny_shared.legacy.tables import BY_NAME, LEGACY_TABLES

IMPORTING_SERVICES = tuple(sorted({s for t in LEGACY_TABLES for s in t.importers}))


def importer_group(namespace: str, service: str) -> str:
    """The consumer group of a service's legacy importer (algoitny_shared.legacy.importer)."""
    return f"{namespace}.{service}.legacy"


@dataclass
class Migration:
    settings: MigrationSettings
    legacy: LegacyDatabase
    connect: ConnectClient
    platform: PlatformApi

    def connector_config(self) -> dict[str, str]:
        s = self.settings
        return connector_config(
            dsn=s.legacy_dsn.get_secret_value(),
            topic_prefix=s.legacy_topic_prefix,
            slot_name=s.slot_name(),
            publication_name=s.publication_name(),
            partitions=s.connect_topic_partitions,
        )

    def register_connector(self) -> dict[str, Any]:
        self.legacy.ensure_publication(self.settings.publication_name())
        return self.connect.put_config(self.settings.connector_name(), self.connector_config())

    def delete_connector(self, *, drop_slot: bool = True) -> None:
        self.connect.delete(self.settings.connector_name())
        if drop_slot:
            self.legacy.drop_publication_and_slot(self.settings.publication_name(), self.settings.slot_name())

    # ---- StatusSources
    def legacy_counts(self) -> dict[str, int]:
        return self.legacy.counts()

    def connector_status(self) -> dict[str, Any] | None:
        return self.connect.status(self.settings.connector_name())

    def slot_lag_bytes(self) -> int | None:
        return self.legacy.slot_lag_bytes(self.settings.slot_name())

    async def import_status(self, service: str) -> Any:
        return await self.platform.import_status(service)

    async def consumer_lag(self, service: str, table: str) -> int | None:
        topic = BY_NAME[table].topic(self.settings.legacy_topic_prefix)
        monitor = LagMonitor(
            self.settings.kafka_bootstrap_servers, topic, importer_group(self.settings.namespace, service), "legacy"
        )
        lag = await monitor.measure()
        return sum(lag.values()) if lag else None

    async def close(self) -> None:
        self.connect.close()
        await self.platform.close()


def build(settings: MigrationSettings | None = None) -> Migration:
    s = settings or MigrationSettings()
    urls = {
        "accounts": s.accounts_url,
        "problems": s.problems_url,
        "executions": s.executions_url,
        "ratelimit": s.ratelimit_url,
        "hints": s.hints_url,
        "stats": s.stats_url,
    }
    return Migration(
        settings=s,
        legacy=LegacyDatabase(s.legacy_dsn.get_secret_value()),
        connect=ConnectClient(s.connect_url, s.http_timeout_s),
        platform=PlatformApi(
            urls, s.gateway_url, IdentitySigner(s.internal_secret.get_secret_value()), s.http_timeout_s
        ),
    )
