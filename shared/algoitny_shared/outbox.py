"""Transactional outbox on DynamoDB and the relay that publishes it to Kafka.

A use case writes its state change and the outbox item in one TransactWriteItems. The
relay publishes pending items in write order and then marks them sent, so a crash
between the commit and the publish delays an event but never loses it. A crash between
publish and mark republishes it: consumers are idempotent (inbox, external versions).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from typing import Any, Protocol

from algoitny_shared.aws import AsyncDynamoDB
from algoitny_shared.dynamo import from_item, to_item
from algoitny_shared.events import REGISTRY, EventEnvelope
from algoitny_shared.metrics import OUTBOX_PENDING
from algoitny_shared.tables import TableSpec

log = logging.getLogger(__name__)

PENDING = "1"
SENT_TTL_S = 7 * 24 * 3600
LEASE_S = 30


class Publisher(Protocol):
    async def publish(self, envelope: EventEnvelope, topic: str) -> None: ...


def _seq(envelope: EventEnvelope) -> str:
    return f"{envelope.occurred_at.strftime('%Y%m%dT%H%M%S.%f')}#{envelope.aggregate_version:012d}#{envelope.event_id}"


class Outbox:
    def __init__(self, client: Any, spec: TableSpec, namespace: str) -> None:
        self._client = AsyncDynamoDB(client)
        self._namespace = namespace
        self.table = spec.physical(namespace)
        self._wake = asyncio.Event()

    def put_request(self, envelope: EventEnvelope) -> dict[str, Any]:
        topic = REGISTRY.spec_for(envelope.event_type).topic.physical(self._namespace)
        item = {
            "event_id": str(envelope.event_id),
            "pending": PENDING,
            "seq": _seq(envelope),
            "topic": topic,
            "event_type": envelope.event_type,
            "aggregate_id": envelope.aggregate_id,
            "envelope": envelope.model_dump_json(),
            "created_at": int(time.time()),
        }
        return {
            "Put": {
                "TableName": self.table,
                "Item": to_item(item),
                "ConditionExpression": "attribute_not_exists(event_id)",
            }
        }

    def notify(self) -> None:
        """Wake the relay now instead of at its next poll."""
        self._wake.set()

    async def wait(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)
        self._wake.clear()


class OutboxRelay:
    def __init__(self, client: Any, outbox: Outbox, publisher: Publisher, service: str, poll_interval_s: float) -> None:
        self._client = AsyncDynamoDB(client)
        self._outbox = outbox
        self._publisher = publisher
        self._service = service
        self._poll = poll_interval_s
        self._owner = uuid.uuid4().hex
        self._stopping = False

    async def run(self) -> None:
        while not self._stopping:
            try:
                published = await self.drain_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox relay pass failed; retrying")
                await asyncio.sleep(self._poll)
                continue
            if not published:
                await self._outbox.wait(self._poll)

    def stop(self) -> None:
        self._stopping = True
        self._outbox.notify()

    async def pending(self, limit: int = 100) -> list[dict[str, Any]]:
        resp = await self._client.query(
            TableName=self._outbox.table,
            IndexName="PendingIndex",
            KeyConditionExpression="pending = :p",
            ExpressionAttributeValues={":p": {"S": PENDING}},
            ScanIndexForward=True,
            Limit=limit,
        )
        return [from_item(i) for i in resp.get("Items", [])]

    async def drain_once(self) -> int:
        """Publish every pending event once, oldest first; returns how many were published."""
        items = await self.pending()
        OUTBOX_PENDING.labels(self._service).set(len(items))
        published = 0
        for item in items:
            if not await self._claim(item["event_id"]):
                continue
            envelope = EventEnvelope.model_validate_json(item["envelope"])
            await self._publisher.publish(envelope, item["topic"])
            await self._mark_sent(item["event_id"])
            published += 1
        return published

    async def _claim(self, event_id: str) -> bool:
        """Lease the item so that several relay replicas do not publish it concurrently."""
        now = int(time.time())
        try:
            await self._client.update_item(
                TableName=self._outbox.table,
                Key={"event_id": {"S": event_id}},
                UpdateExpression="SET lease_until = :until, lease_owner = :me",
                ConditionExpression="attribute_exists(pending) AND "
                "(attribute_not_exists(lease_until) OR lease_until < :now OR lease_owner = :me)",
                ExpressionAttributeValues={
                    ":until": {"N": str(now + LEASE_S)},
                    ":now": {"N": str(now)},
                    ":me": {"S": self._owner},
                },
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    async def _mark_sent(self, event_id: str) -> None:
        now = int(time.time())
        await self._client.update_item(
            TableName=self._outbox.table,
            Key={"event_id": {"S": event_id}},
            UpdateExpression="REMOVE pending, lease_until, lease_owner SET sent_at = :now, expires_at = :exp",
            ExpressionAttributeValues={":now": {"N": str(now)}, ":exp": {"N": str(now + SENT_TTL_S)}},
        )
