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


def importer_groups(namespace: str, service: str) -> tuple[str, ...]:
    """The consumer group a service's legacy importer may use: algoitny_shared.legacy.importer's
    (accounts, ratelimit) or algoitny_shared.legacy.runner's (problems, executions, hints)."""
    return (f"{namespace}.{service}.legacy", f"{namespace}.legacy-import.{service}")


@dataclass
class Migration:
    settings: MigrationSettings
    legacy: LegacyDatabase
    connect: ConnectClient
    platform: PlatformApi
    _groups: set[str] | None = None

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
        """Messages of the table's topic the service's importer has not consumed (None: no group yet)."""
        if self._groups is None:
            from aiokafka.admin import AIOKafkaAdminClient

            admin = AIOKafkaAdminClient(
                bootstrap_servers=self.settings.kafka_bootstrap_servers, request_timeout_ms=5000
            )
            await admin.start()
            try:
                self._groups = {g[0] for g in await admin.list_consumer_groups()}
            finally:
                await admin.close()
        group = next((g for g in importer_groups(self.settings.namespace, service) if g in self._groups), None)
        if group is None:
            return None
        topic = BY_NAME[table].topic(self.settings.legacy_topic_prefix)
        lag = await LagMonitor(self.settings.kafka_bootstrap_servers, topic, group, "legacy").measure()
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
    legacy_urls = {
        "accounts": s.accounts_url,
        "ratelimit": s.ratelimit_url,
        "problems": s.problems_legacy_url,
        "executions": s.executions_legacy_url,
        "hints": s.hints_legacy_url,
    }
    signer = IdentitySigner(s.internal_secret.get_secret_value())
    return Migration(
        settings=s,
        legacy=LegacyDatabase(s.legacy_dsn.get_secret_value()),
        connect=ConnectClient(s.connect_url, s.http_timeout_s),
        platform=PlatformApi(urls, s.gateway_url, signer, s.http_timeout_s, legacy_urls=legacy_urls),
    )
