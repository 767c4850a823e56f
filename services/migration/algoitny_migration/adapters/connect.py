"""Kafka Connect's REST API: the Debezium PostgreSQL connector's config, state, pause and resume."""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from algoitny_shared.legacy.tables import LEGACY_TABLES, SCHEMA

CONNECTOR_CLASS = "io.debezium.connector.postgresql.PostgresConnector"


def connector_config(
    *,
    dsn: str,
    topic_prefix: str,
    slot_name: str,
    publication_name: str,
    partitions: int = 3,
) -> dict[str, str]:
    """The connector config the importers rely on (services/migration/README.md, MIGRATION.md)."""
    parts = urlsplit(dsn)
    if parts.scheme not in ("postgresql", "postgres") or not parts.hostname:
        raise ValueError("legacy DSN must be postgresql://user:password@host:port/database")
    return {
        "connector.class": CONNECTOR_CLASS,
        "tasks.max": "1",
        "plugin.name": "pgoutput",
        "database.hostname": parts.hostname,
        "database.port": str(parts.port or 5432),
        "database.user": parts.username or "",
        "database.password": parts.password or "",
        "database.dbname": parts.path.lstrip("/"),
        "topic.prefix": topic_prefix,
        "table.include.list": ",".join(f"{SCHEMA}.{t.name}" for t in LEGACY_TABLES),
        "slot.name": slot_name,
        "publication.name": publication_name,
        "publication.autocreate.mode": "disabled",  # created for exactly the 8 tables beforehand
        "snapshot.mode": "initial",
        "key.converter": "org.apache.kafka.connect.json.JsonConverter",
        "key.converter.schemas.enable": "false",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "false",
        "transforms": "unwrap",
        "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
        "transforms.unwrap.delete.tombstone.handling.mode": "rewrite",
        "transforms.unwrap.add.fields": "op,lsn,source.ts_ms",
        "time.precision.mode": "adaptive_time_microseconds",
        "decimal.handling.mode": "string",
        # The broker does not auto-create topics: Connect creates the legacy topics itself.
        "topic.creation.default.replication.factor": "-1",
        "topic.creation.default.partitions": str(partitions),
        "topic.creation.default.cleanup.policy": "delete",
        "topic.creation.default.retention.ms": "-1",
        # Snapshot and streaming batches sized for a small machine; heartbeats keep the slot moving
        # while the captured tables are quiet (WAL of other databases would otherwise pile up).
        "snapshot.fetch.size": "5000",
        "max.batch.size": "4096",
        "max.queue.size": "16384",
        "poll.interval.ms": "100",
        "heartbeat.interval.ms": "10000",
        "errors.retry.timeout": "-1",
        "status.update.interval.ms": "1000",
    }


class ConnectError(Exception):
    pass


class ConnectClient:
    def __init__(self, base_url: str, timeout_s: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout_s)

    def close(self) -> None:
        self._http.close()

    def _check(self, resp: httpx.Response) -> Any:
        if resp.status_code >= 400:
            raise ConnectError(
                f"Kafka Connect {resp.request.method} {resp.request.url.path}: {resp.status_code} {resp.text}"
            )
        return resp.json() if resp.content else None

    def put_config(self, name: str, config: dict[str, str]) -> dict[str, Any]:
        """Create or update (idempotent)."""
        return self._check(self._http.put(f"/connectors/{quote(name)}/config", json=config))

    def status(self, name: str) -> dict[str, Any] | None:
        resp = self._http.get(f"/connectors/{quote(name)}/status")
        if resp.status_code == 404:
            return None
        return self._check(resp)

    def pause(self, name: str) -> None:
        self._check(self._http.put(f"/connectors/{quote(name)}/pause"))

    def stop(self, name: str) -> None:
        """Stop the connector and its tasks (Connect 3.5+): its replication connection closes, so
        the slot is released (and can be advanced); ``resume`` starts it again from its offsets."""
        self._check(self._http.put(f"/connectors/{quote(name)}/stop"))

    def move_offsets(self, name: str, lsn: int) -> dict[str, Any]:
        """Set the stopped connector's source offset to WAL position ``lsn`` (Connect's offsets API,
        KIP-875), after its slot was advanced there: Debezium refuses to start from an offset older
        than its slot ("last recorded offset is no longer available"). Returns the new offsets."""
        current = self._check(self._http.get(f"/connectors/{quote(name)}/offsets"))
        offsets = []
        for entry in current.get("offsets", []):
            offset = dict(entry.get("offset") or {})
            offset.update({"lsn": lsn, "lsn_commit": lsn, "lsn_proc": lsn, "messageType": "COMMIT"})
            offsets.append({"partition": entry["partition"], "offset": offset})
        if offsets:
            self._check(self._http.patch(f"/connectors/{quote(name)}/offsets", json={"offsets": offsets}))
        return {"offsets": offsets}

    def resume(self, name: str) -> None:
        """Resume a paused or stopped connector; tasks that failed meanwhile are restarted too."""
        self._check(self._http.put(f"/connectors/{quote(name)}/resume"))
        with contextlib.suppress(ConnectError):
            self.restart_failed(name)

    def restart_failed(self, name: str) -> None:
        self._check(
            self._http.post(f"/connectors/{quote(name)}/restart", params={"includeTasks": "true", "onlyFailed": "true"})
        )

    def delete(self, name: str) -> None:
        resp = self._http.delete(f"/connectors/{quote(name)}")
        if resp.status_code != 404:
            self._check(resp)

    def connectors(self) -> list[str]:
        return self._check(self._http.get("/connectors"))
