"""The migration's phase in its own DynamoDB table, each change with its event in one transaction
(algoitny_shared.uow + outbox), then published on the migration topic by a one-shot relay drain."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from faststream.kafka import KafkaBroker

from algoitny_migration.adapters.tables import MIGRATION_OUTBOX, MIGRATION_STATE
from algoitny_shared.aws import AsyncDynamoDB
from algoitny_shared.dynamo import from_item, to_item
from algoitny_shared.events import REGISTRY, EventEnvelope
from algoitny_shared.events.catalog import MigrationPhaseChanged
from algoitny_shared.migration_phase import DEFAULT_PHASE, may_move, writes_open
from algoitny_shared.outbox import Outbox, OutboxRelay
from algoitny_shared.uow import DynamoUnitOfWork, TransactionConflict

PHASE_KEY = "PHASE"


class PhaseConflict(Exception):
    """The phase moved meanwhile, or the move is not allowed from the current phase."""


@dataclass(frozen=True)
class PhaseRecord:
    phase: str = DEFAULT_PHASE
    version: int = 0
    since: str | None = None
    command: str | None = None
    changed_by: str | None = None
    note: str | None = None
    # When the platform took the data over (the last move to cut_over), kept through rolling_back
    # and rolled_back: the reverse writer writes back what occurred since then.
    cutover_at: str | None = None

    @property
    def writes_open(self) -> bool:
        return writes_open(self.phase)

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "writes_open": self.writes_open}


class KafkaEnvelopePublisher:
    """Publishes envelopes the way algoitny_shared.kafka.EventPublisher does (keyed by aggregate
    id, acks=all, idempotent), through a FastStream broker connected on first use, for a
    short-lived command."""

    def __init__(self, bootstrap: str) -> None:
        self._bootstrap = bootstrap
        self._broker: KafkaBroker | None = None

    async def publish(self, envelope: EventEnvelope, topic: str) -> None:
        if self._broker is None:
            broker = KafkaBroker(
                self._bootstrap,
                acks="all",
                enable_idempotence=True,
                request_timeout_ms=15000,
                allow_auto_create_topics=False,
            )
            await broker.connect()
            self._broker = broker
        headers = {
            "content-type": "application/json",
            "event-type": envelope.event_type,
            "event-id": str(envelope.event_id),
            "schema-version": str(envelope.schema_version),
        }
        await self._broker.publish(envelope.to_bytes(), topic=topic, key=envelope.key, headers=headers)

    async def close(self) -> None:
        if self._broker is not None:
            broker, self._broker = self._broker, None
            await broker.stop()


class DynamoPhaseStore:
    def __init__(self, client: Any, namespace: str, bootstrap: str) -> None:
        self._client = client
        self._db = AsyncDynamoDB(client)
        self.table = MIGRATION_STATE.physical(namespace)
        self._outbox = Outbox(client, MIGRATION_OUTBOX, namespace)
        self._publisher = KafkaEnvelopePublisher(bootstrap)
        self._relay = OutboxRelay(client, self._outbox, self._publisher, "migration", poll_interval_s=1.0)

    async def get(self) -> PhaseRecord:
        resp = await self._db.get_item(TableName=self.table, Key={"pk": {"S": PHASE_KEY}}, ConsistentRead=True)
        if "Item" not in resp:
            return PhaseRecord()
        item = from_item(resp["Item"])
        return PhaseRecord(
            phase=item["phase"],
            version=int(item["version"]),
            since=item.get("since"),
            command=item.get("command"),
            changed_by=item.get("changed_by"),
            note=item.get("note"),
            cutover_at=item.get("cutover_at"),
        )

    async def move(
        self,
        current: PhaseRecord,
        target: str,
        command: str,
        *,
        by: str | None,
        note: str | None,
        record: dict[str, Any],
    ) -> PhaseRecord:
        """Move from ``current`` (checked: nobody moved it meanwhile) to ``target``; the change, the
        step's record and the event commit together; the event is published before returning."""
        if not may_move(current.phase, target):
            raise PhaseConflict(f"the migration cannot move from {current.phase} to {target}")
        now = datetime.now(UTC).isoformat()
        cutover_at = (
            now if target == "cut_over" else (current.cutover_at if target in ("rolling_back", "rolled_back") else None)
        )
        new = PhaseRecord(
            phase=target,
            version=current.version + 1,
            since=now,
            command=command,
            changed_by=by,
            note=note,
            cutover_at=cutover_at,
        )
        item = {k: v for k, v in {"pk": PHASE_KEY, **new.__dict__}.items() if v is not None}
        uow = DynamoUnitOfWork(self._client, self._outbox)
        condition = "attribute_not_exists(pk)" if current.version == 0 else "version = :v"
        put: dict[str, Any] = {"TableName": self.table, "Item": to_item(item), "ConditionExpression": condition}
        if current.version:
            put["ExpressionAttributeValues"] = {":v": {"N": str(current.version)}}
        uow.add({"Put": put})
        step = {
            "pk": f"STEP#{new.version:06d}",
            "phase": target,
            "previous": current.phase,
            "command": command,
            "at": now,
            "record": record,
        }
        uow.add({"Put": {"TableName": self.table, "Item": to_item(step)}})
        payload = MigrationPhaseChanged(
            phase=target,
            previous_phase=current.phase,
            writes_open=writes_open(target),
            version=new.version,
            command=command,
            changed_by=by,
            changed_at=datetime.fromisoformat(now),
            note=note,
        )
        uow.publish(
            REGISTRY.envelope(payload, producer="migration", aggregate_id="migration", aggregate_version=new.version)
        )
        try:
            await uow.commit()
        except TransactionConflict as exc:
            raise PhaseConflict(f"the phase changed meanwhile ({exc})") from exc
        await self.publish_pending()
        return new

    async def publish_pending(self, timeout_s: float = 30.0) -> int:
        """Publish what the outbox holds, until it holds nothing (or ``timeout_s``: a move whose
        publish was interrupted is sent next time). One pass is not enough: this relay publishes only
        the shards it holds a lease on, and another relay of the migration (an earlier command's,
        the reverse writer's) may hold the shard of the phase's event until its lease runs out; a
        long command (a rollback under load) may also find its own lease too close to its end."""
        published = 0
        deadline = time.monotonic() + timeout_s
        while True:
            published += await self._relay.drain_once()
            if not await self._relay.pending(1) or time.monotonic() > deadline:
                return published
            await asyncio.sleep(0.5)

    async def steps(self) -> list[dict[str, Any]]:
        resp = await self._db.scan(
            TableName=self.table,
            FilterExpression="begins_with(pk, :s)",
            ExpressionAttributeValues={":s": {"S": "STEP#"}},
        )
        return sorted((from_item(i) for i in resp.get("Items", [])), key=lambda i: i["pk"])

    async def close(self) -> None:
        await self._publisher.close()
