"""Composition root: the migration tool's parts from its settings."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from typing import Any

import httpx

from algoitny_migration.adapters.connect import ConnectClient, connector_config
from algoitny_migration.adapters.legacy_db import LegacyDatabase
from algoitny_migration.adapters.platform_api import PlatformApi
from algoitny_migration.settings import MigrationSettings
from algoitny_shared.identity import IdentitySigner
from algoitny_shared.lag import LagMonitor
from algoitny_shared.legacy.tables import BY_NAME, LEGACY_TABLES, legacy_group
from algoitny_shared.topics import (
    ACCOUNT_EVENTS,
    EXECUTION_EVENTS,
    HINT_EVENTS,
    PROBLEM_EVENTS,
    RATELIMIT_EVENTS,
    SEARCH_INDEXER_GROUP,
    STATS_GROUP,
)

# The derived views verify reads (stats' aggregates, search's documents), by consumer group, and
# the platform's domain event topics they may read.
VIEW_GROUPS = (STATS_GROUP, SEARCH_INDEXER_GROUP)
DOMAIN_EVENT_TOPICS = (PROBLEM_EVENTS, ACCOUNT_EVENTS, RATELIMIT_EVENTS, EXECUTION_EVENTS, HINT_EVENTS)
IMPORTING_SERVICES = tuple(sorted({s for t in LEGACY_TABLES for s in t.importers}))


def importer_groups(namespace: str, service: str) -> tuple[str, ...]:
    """The consumer group of a service's legacy importer (one name for every importer)."""
    return (legacy_group(namespace, service),)


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
            from algoitny_shared.offsets import KafkaOffsets

            async with KafkaOffsets(self.settings.kafka_bootstrap_servers, request_timeout_ms=5000) as offsets:
                self._groups = set(await offsets.groups())
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
        "accounts": s.accounts_legacy_url,
        "ratelimit": s.ratelimit_legacy_url,
        "problems": s.problems_legacy_url,
        "executions": s.executions_legacy_url,
        "hints": s.hints_legacy_url,
    }
    signer = IdentitySigner(s.internal_secret.get_secret_value())
    platform = PlatformApi(urls, s.gateway_url, signer, s.http_timeout_s, legacy_urls=legacy_urls)
    platform.gateway_token = s.gateway_admin_token.get_secret_value()
    return Migration(
        settings=s,
        legacy=LegacyDatabase(s.legacy_dsn.get_secret_value()),
        connect=ConnectClient(s.connect_url, s.http_timeout_s),
        platform=platform,
    )


# ---- cutover, rollback and the reverse writer (issue 16)


class CutoverWiring:
    """What the cutover and rollback gates read (service_layer.cutover.CutoverSources)."""

    def __init__(self, m: Migration) -> None:
        self.m = m

    async def change_lag(self) -> dict[str, int | None]:
        out: dict[str, int | None] = {}
        for table in LEGACY_TABLES:
            for service in table.importers:
                out[f"{service}:{table.name}"] = await self.m.consumer_lag(service, table.name)
        return out

    async def views_lag(self) -> dict[str, int | None]:
        """Domain events the derived views' consumer groups have not read yet, per view (None: the
        group has committed nothing, e.g. not running). A view counts on the domain topics it
        has committed offsets on: which topics a view reads is its own choice, not a contract."""
        from algoitny_shared.offsets import KafkaOffsets

        s = self.m.settings
        out: dict[str, int | None] = {}
        async with KafkaOffsets(s.kafka_bootstrap_servers, request_timeout_ms=5000) as offsets:
            for view in VIEW_GROUPS:
                group, total, read_any = f"{s.namespace}.{view}", 0, False
                for spec in DOMAIN_EVENT_TOPICS:
                    found = await offsets.lag(group, spec.physical(s.namespace))
                    if found is None or not found[1]:
                        continue  # not created yet, or a topic this view does not read
                    read_any = True
                    total += sum(found[0].values())
                out[view] = total if read_any else None
        return out

    async def verify_ok(self) -> tuple[bool, int, list[str]]:
        from algoitny_migration.adapters.reverse_store import ReverseStore
        from algoitny_migration.service_layer.verify import Verifier

        originated = await asyncio.to_thread(
            ReverseStore(self.m.settings.legacy_dsn.get_secret_value()).platform_originated
        )
        report = await Verifier(self.m.legacy, self.m.platform, platform_originated=originated).run()
        first = [f"[{x.check}] {x.table} {x.key} ({x.service}): {x.detail}" for x in report.mismatches[:10]]
        return report.ok, report.mismatch_count, first

    async def reverse_lag(self) -> int | None:
        from algoitny_migration.entrypoints.reverse_writer import REVERSE_TOPICS

        s = self.m.settings
        topics = [t.physical(s.namespace) for t in REVERSE_TOPICS]
        monitor = LagMonitor(s.kafka_bootstrap_servers, topics, s.reverse_group(), "reverse")
        await monitor.measure()
        if not monitor.by_topic:
            return None
        return sum(sum(p.values()) for p in monitor.by_topic.values())

    async def reverse_verify(self) -> tuple[bool, int, list[str]]:
        from algoitny_migration.adapters.reverse_store import ReverseStore

        report = await asyncio.to_thread(ReverseStore(self.m.settings.legacy_dsn.get_secret_value()).verify)
        return report.ok, report.checked if report.ok else len(report.problems), report.problems[:10]

    async def captured(self, table: str, key: int, after_lsn: int) -> bool:
        """True when the legacy topic of ``table`` holds a change of row ``key`` at or after WAL
        position ``after_lsn`` (Debezium's ``__lsn``): the last records of each partition are read."""
        import json
        from contextlib import aclosing

        from algoitny_shared.offsets import KafkaOffsets
        from algoitny_shared.replay import read_records

        s = self.m.settings
        topic = BY_NAME[table].topic(s.legacy_topic_prefix)
        async with KafkaOffsets(s.kafka_bootstrap_servers) as offsets:
            await offsets.partitions(topic, timeout_s=10)
            ends = await offsets.ends(topic)
            firsts = await offsets.beginnings(topic)
        starts = {p: max(firsts[p], ends[p] - 200) for p in ends}
        async with aclosing(read_records(s.kafka_bootstrap_servers, topic, starts, ends)) as batches:
            async for records in batches:
                for r in records:
                    try:
                        k, v = json.loads(r.key or b"null"), json.loads(r.value or b"null")
                    except ValueError:
                        continue
                    mine = isinstance(k, dict) and k.get("id") == key and isinstance(v, dict)
                    if mine and int(v.get("__lsn") or 0) >= after_lsn:
                        return True
        return False

    async def gateway_phase(self) -> str | None:
        async with httpx.AsyncClient(timeout=5.0) as client:
            resp = await client.get(self.m.settings.gateway_url.rstrip("/") + "/api/v1/migration/phase")
            return str(resp.json().get("phase")) if resp.status_code == 200 else None


def build_cutover(m: Migration) -> tuple[Any, Any]:
    """The phase store and the cutover/rollback runner on ``m``'s settings."""
    from algoitny_migration.adapters.legacy_control import LegacyControl
    from algoitny_migration.adapters.phase_store import DynamoPhaseStore
    from algoitny_migration.service_layer.cutover import Cutover, GateSettings
    from algoitny_shared.dynamo import dynamodb

    s = m.settings
    store = DynamoPhaseStore(dynamodb(s), s.namespace, s.kafka_bootstrap_servers)
    control = LegacyControl(s.legacy_dsn.get_secret_value(), s.legacy_app_role)
    gates = GateSettings(
        slot=s.slot_name(),
        connector=s.connector_name(),
        window_s=s.cutover_window_s,
        timeout_s=s.cutover_gate_timeout_s,
        operator=os.environ.get("USER") or None,
    )
    return store, Cutover(store, control, m.connect, CutoverWiring(m), gates)
