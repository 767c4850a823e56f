"""Transactional outbox on DynamoDB and the relays that publish it to Kafka, sharded.

A use case writes its state change and the outbox item in one TransactWriteItems. A relay
publishes pending items in write order and then deletes them (Kafka is the record of what was
published), so a crash between the commit and the publish delays an event but never loses it. A
crash between publish and delete republishes it: consumers are idempotent (inbox, external
versions). The table therefore holds only the unpublished events and the leases item.

Scaling out (docs/outbox.md): the sparse ``PendingIndex`` is keyed by ``pending``, which holds
the event's shard, ``crc32(aggregate id) % SHARDS``, not one constant. Every write and every
delete after publishing of one shard lands on its own index partition, so the outbox's write ceiling is
``SHARDS`` partitions' worth, not one. An aggregate always maps to the same shard, and a shard
is published by one relay at a time, oldest first, so events keep their order per aggregate.
Relays own shards by lease (items ``shard#<n>`` in the outbox table, outside the index): each
relay beats in the ``relays`` item, takes free or expired shards up to its fair share
(``ceil(SHARDS / live relays)``), gives back what is above it, and renews what it keeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import uuid
import zlib
from collections.abc import Iterable
from typing import Any, Protocol

from algoitny_shared import batch_write, tracing
from algoitny_shared.aws import AsyncDynamoDB
from algoitny_shared.dynamo import from_item, to_item
from algoitny_shared.events import REGISTRY, EventEnvelope
from algoitny_shared.metrics import OUTBOX_PENDING
from algoitny_shared.tables import TableSpec

log = logging.getLogger(__name__)

# Part of the data layout: every writer and relay of a table must agree on it. A shard is
# published one event at a time (~100-150 events/s with acks=all), so 32 shards carry the
# executions outbox at 10x (3,000 events/s); the index partitions allow far more (DynamoDB:
# 1,000 write units/s each, two index writes per event). See docs/outbox.md.
SHARDS = 32
LEASE_S = 10  # a shard's lease, renewed at every balance
BALANCE_EVERY_S = 2.5
SWEEP_SHARDS = 4  # an idle relay looks at this many of its shards per poll interval, in turn
MIN_LEFT_S = 3.0  # a shard is published from only while this much of its lease is left
LEASES_KEY = {"event_id": {"S": "leases"}}  # the relays' heartbeats and the shard leases, one item


class Publisher(Protocol):
    async def publish(self, envelope: EventEnvelope, topic: str) -> None: ...


def _seq(envelope: EventEnvelope) -> str:
    return f"{envelope.occurred_at.strftime('%Y%m%dT%H%M%S.%f')}#{envelope.aggregate_version:012d}#{envelope.event_id}"


def shard_of(aggregate_id: str) -> str:
    """The outbox shard of an aggregate (stable across processes and versions)."""
    return str(zlib.crc32(aggregate_id.encode()) % SHARDS)


class Outbox:
    def __init__(self, client: Any, spec: TableSpec, namespace: str) -> None:
        self._client = AsyncDynamoDB(client)
        self._namespace = namespace
        self.table = spec.physical(namespace)
        self._wake = asyncio.Event()
        self._dirty: set[str] = set()
        self._everything = False

    def put_request(self, envelope: EventEnvelope) -> dict[str, Any]:
        topic = REGISTRY.spec_for(envelope.event_type).topic.physical(self._namespace)
        item = {
            "event_id": str(envelope.event_id),
            "pending": shard_of(envelope.aggregate_id),
            "seq": _seq(envelope),
            "topic": topic,
            "event_type": envelope.event_type,
            "aggregate_id": envelope.aggregate_id,
            "envelope": envelope.model_dump_json(),
            "created_at": int(time.time()),
        }
        traceparent = tracing.current_traceparent()
        if traceparent:  # the relay publishes under a span that continues this trace
            item["traceparent"] = traceparent
        return {
            "Put": {
                "TableName": self.table,
                "Item": to_item(item),
                "ConditionExpression": "attribute_not_exists(event_id)",
            }
        }

    def notify(self, shards: Iterable[str] | None = None) -> None:
        """Wake the relay now instead of at its next poll, for ``shards`` (default: all)."""
        if shards is None:
            self._everything = True
        else:
            self._dirty.update(shards)
        self._wake.set()

    async def wait(self, timeout: float) -> set[str] | None:
        """Until notified or ``timeout``: the shards committed to since, None when told to look
        at all of them, an empty set when the time ran out."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)
        self._wake.clear()
        dirty, everything = self._dirty, self._everything
        self._dirty, self._everything = set(), False
        return None if everything else dirty


class OutboxRelay:
    def __init__(self, client: Any, outbox: Outbox, publisher: Publisher, service: str, poll_interval_s: float) -> None:
        # Woken by a commit, wait this long for more before querying (0: at once). A bulk writer
        # (a legacy importer) sets it: one query per shard then publishes many commits' events.
        self.linger_s = 0.0
        self._client = AsyncDynamoDB(client)
        self._outbox = outbox
        self._publisher = publisher
        self._service = service
        self._poll = poll_interval_s
        self._owner = uuid.uuid4().hex
        self._stopping = False
        self.owned: dict[str, float] = {}  # shard -> lease end (this relay's clock)
        self._balanced_at = 0.0
        self._sweep = 0

    async def run(self) -> None:
        shards: set[str] | None = None  # None: every shard this relay owns
        try:
            while not self._stopping:
                try:
                    await self.drain_once(shards)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("outbox relay pass failed; retrying")
                    await asyncio.sleep(self._poll)
                    shards = None
                    continue
                # Woken by a commit: its shards. At the poll interval (commits of other replicas,
                # or of a relay that died): the next SWEEP_SHARDS of the shards owned, in turn, so
                # an idle relay makes SWEEP_SHARDS queries per interval, not one per shard.
                woken = await self._outbox.wait(self._poll)
                if woken != set() and self.linger_s > 0:
                    await asyncio.sleep(self.linger_s)
                    more = await self._outbox.wait(0)
                    woken = None if woken is None or more is None else woken | more
                shards = self._next_sweep() if woken == set() else woken
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(self.release_all())

    def stop(self) -> None:
        self._stopping = True
        self._outbox.notify()

    # ------------------------------------------------------------------ shard leases

    async def _read_leases(self) -> tuple[int, dict[str, float], dict[str, tuple[str, float]]]:
        resp = await self._client.get_item(TableName=self._outbox.table, Key=LEASES_KEY, ConsistentRead=True)
        item = from_item(resp["Item"]) if "Item" in resp else {}
        relays = {owner: float(until) for owner, until in item.get("relays", {}).items()}
        shards = {
            shard: (str(lease["owner"]), float(lease["until"])) for shard, lease in item.get("shards", {}).items()
        }
        return int(item.get("v", 0)), relays, shards

    async def _write_leases(self, version: int, relays: dict[str, float], shards: dict[str, tuple[str, float]]) -> bool:
        """Replace the leases item if nobody wrote it since ``version`` was read."""
        item = {
            **{k: v["S"] for k, v in LEASES_KEY.items()},
            "v": version + 1,
            "relays": {owner: int(until) for owner, until in relays.items()},
            "shards": {shard: {"owner": owner, "until": int(until)} for shard, (owner, until) in shards.items()},
        }
        try:
            await self._client.put_item(
                TableName=self._outbox.table,
                Item=to_item(item),
                ConditionExpression="attribute_not_exists(v) OR v = :v",
                ExpressionAttributeValues={":v": {"N": str(version)}},
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    async def balance(self, now: float | None = None, *, leaving: bool = False) -> set[str]:
        """Beat, and hold this relay's fair share of the shards (``ceil(SHARDS / live relays)``):
        keep and renew its own up to the share, give back what is above it, take free or expired
        ones up to it. All of it one conditional write of the leases item (read again and
        redone when another relay wrote first). ``leaving``: give every shard back and go.
        Returns the shards owned."""
        for _ in range(5):
            now = now or time.time()
            version, relays, shards = await self._read_leases()
            relays = {o: u for o, u in relays.items() if u >= now - 10 * LEASE_S}  # forget the long silent
            if leaving:
                relays.pop(self._owner, None)
            else:
                relays[self._owner] = now + LEASE_S
            live = {o for o, u in relays.items() if u >= now} | ({self._owner} if not leaving else set())
            fair = 0 if leaving else math.ceil(SHARDS / len(live))
            mine = sorted((s for s, (o, u) in shards.items() if o == self._owner and u > now), key=int)
            free = [str(n) for n in range(SHARDS) if str(n) not in shards or shards[str(n)][1] < now]
            held = mine[:fair] + [s for s in free if s not in mine][: max(0, fair - len(mine))]
            for shard in mine[fair:]:
                shards[shard] = (self._owner, 0.0)
            for shard in held:
                shards[shard] = (self._owner, now + LEASE_S)
            if await self._write_leases(version, relays, shards):
                self.owned = dict.fromkeys(held, now + LEASE_S)
                self._balanced_at = now
                return set(held)
            now = None
        return set(self.owned)  # busy: keep what we have until the next pass

    async def release_all(self) -> None:
        """Leave (on stop): every shard given back and this relay's heartbeat removed, so the
        others take the shards at their next balance instead of after the leases run out."""
        self.owned = {}
        await self.balance(leaving=True)

    # ------------------------------------------------------------------ publishing

    async def pending(self, limit: int = 100, shards: list[str] | None = None) -> list[dict[str, Any]]:
        """Unpublished events of ``shards`` (default: all), oldest first within each shard."""
        out: list[dict[str, Any]] = []
        for shard in shards if shards is not None else [str(s) for s in range(SHARDS)]:
            resp = await self._client.query(
                TableName=self._outbox.table,
                IndexName="PendingIndex",
                KeyConditionExpression="pending = :p",
                ExpressionAttributeValues={":p": {"S": shard}},
                ScanIndexForward=True,
                Limit=limit,
            )
            out += [from_item(i) for i in resp.get("Items", [])]
            if len(out) >= limit:
                break
        return out[:limit]

    def _next_sweep(self) -> set[str]:
        owned = sorted(self.owned, key=int)
        if not owned:
            return set()
        step = min(SWEEP_SHARDS, len(owned))
        start = self._sweep % len(owned)
        self._sweep = start + step
        return set((owned + owned)[start : start + step])

    async def drain_once(self, shards: Iterable[str] | None = None) -> int:
        """Publish the pending events of the shards this relay owns (of ``shards`` only, if
        given), each shard oldest first, shards concurrently; returns how many were published."""
        now = time.time()
        if now - self._balanced_at > BALANCE_EVERY_S or not self.owned:
            before = set(self.owned)
            gained = await self.balance(now) - before
            if shards is not None:  # shards just taken over: what their last owner left
                shards = set(shards) | gained
        # A lease about to run out is not used: another relay may take it while we publish.
        owned = [s for s, until in self.owned.items() if until - now > MIN_LEFT_S]
        todo = owned if shards is None else [s for s in owned if s in set(shards)]
        counts = await asyncio.gather(*(self._drain_shard(s) for s in todo))
        if shards is None:
            OUTBOX_PENDING.labels(self._service).set(sum(seen for _, seen in counts))
        return sum(published for published, _ in counts)

    async def _drain_shard(self, shard: str, page: int = 100) -> tuple[int, int]:
        published = seen = 0
        while True:
            items = await self.pending(page, shards=[shard])
            seen += len(items)
            sent: list[str] = []
            try:
                for item in items:  # in order: one at a time
                    if self.owned.get(shard, 0) - time.time() < MIN_LEFT_S:
                        return published, seen  # renewed at the next pass, or another relay's now
                    envelope = EventEnvelope.model_validate_json(item["envelope"])
                    with tracing.producer_span(
                        item.get("traceparent"), item["topic"], envelope.event_type, item["event_id"]
                    ):
                        await self._publisher.publish(envelope, item["topic"])
                    sent.append(item["event_id"])
            finally:  # the deletes together, after the page (a crash before them republishes: at least once)
                await self._delete_sent(sent)
                published += len(sent)
            if len(items) < page:
                return published, seen

    async def _delete_sent(self, event_ids: list[str]) -> None:
        """Published events leave the table (and so the index): the outbox holds only what is
        still to publish, so a shard's query reads pending events only and nothing waits for a
        TTL. Kafka is the record of what was published. ``BatchWriteItem``, 25 deletes a call
        (a page of 100 events: 4 calls), unprocessed ones retried with backoff."""
        requests = [{"DeleteRequest": {"Key": {"event_id": {"S": e}}}} for e in event_ids]
        await asyncio.gather(
            *(batch_write.write(self._client, self._outbox.table, c) for c in batch_write.chunks(requests))
        )
