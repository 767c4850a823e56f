"""Reading a topic outside any consumer group, through FastStream: the one "follow a topic from a
starting point until caught up" helper.

Two kinds of readers need every partition of a topic rather than a consumer group's share:
- broadcasts, where every process must see every event (the gateway's revocations and
  migration phase): ``TopicFollower`` reads from the beginning (or from a moment), reports
  ``caught_up`` once it has read up to the end offsets it saw on (re)start, and then follows
  the topic for ever;
- rebuilds (search reindex, stats rebuild): ``replay.TopicReplayer`` reads a range of offsets
  and stops.

Both read with ``PartitionReader``: a FastStream batch subscriber assigned the partitions by
hand (no group, nothing committed, so a live group's offsets are never disturbed), started
from given offsets. Where partitions begin and end comes from ``offsets.KafkaOffsets``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import TopicPartition as ClientTopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, TopicPartition
from faststream.kafka.annotations import KafkaMessage

from algoitny_shared.offsets import KafkaOffsets, Offsets

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Record:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int


BatchHandler = Callable[[list[Record]], Awaitable[None]]


class PartitionReader:
    """A FastStream batch subscriber on ``topic``'s partitions from ``starts`` (partition ->
    first offset to read), outside any group. ``on_batch`` gets the records in partition order;
    records before a partition's start (fetched before the seek took effect) are never passed
    on. ``positions`` is, per partition, the offset after the last record passed on."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        on_batch: BatchHandler,
        *,
        name: str,
        max_records: int = 500,
        batch_timeout_ms: int = 500,
    ) -> None:
        self._bootstrap = bootstrap
        self.topic = topic
        self._on_batch = on_batch
        self._name = name
        self._max_records = max_records
        self._batch_timeout_ms = batch_timeout_ms
        self._broker: KafkaBroker | None = None
        self.positions: Offsets = {}

    def reached(self, ends: Offsets) -> bool:
        """Whether every partition has been read up to ``ends`` (exclusive)."""
        return all(self.positions.get(p, 0) >= end for p, end in ends.items())

    async def start(self, starts: Offsets) -> None:
        self.positions = dict(starts)
        if not starts:
            return
        broker = KafkaBroker(
            self._bootstrap,
            client_id=self._name,
            consumer_only=True,
            allow_auto_create_topics=False,
            logger=logging.getLogger(f"faststream.{self._name}"),
            log_level=logging.DEBUG,
        )
        subscriber = broker.subscriber(
            partitions=[TopicPartition(self.topic, p, declare=False) for p in sorted(starts)],
            batch=True,
            group_id=None,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.MANUAL,  # nothing to commit without a group
            max_records=self._max_records,
            batch_timeout_ms=self._batch_timeout_ms,
            title=f"{self._name} reader",
        )

        async def on_message(msg: KafkaMessage) -> None:
            await self._receive(msg.raw_message)

        subscriber(on_message)
        await broker.start()
        self._broker = broker
        consumer = subscriber.consumer
        if consumer is not None:  # start where asked rather than at the beginning
            for partition, offset in starts.items():
                consumer.seek(ClientTopicPartition(self.topic, partition), offset)

    async def _receive(self, raw: Any) -> None:
        records = raw if isinstance(raw, tuple) else (raw,)
        batch: list[Record] = []
        for r in records:
            if r.offset < self.positions.get(r.partition, 0):
                continue
            self.positions[r.partition] = r.offset + 1
            batch.append(Record(r.partition, r.offset, r.key, r.value, r.timestamp))
        if batch:
            await self._on_batch(batch)

    async def stop(self) -> None:
        if self._broker is not None:
            broker, self._broker = self._broker, None
            await broker.stop()


class TopicFollower:
    """Follow ``topic`` for ever outside any group: every process reads every event (a
    broadcast). On each (re)start it reads from the beginning, or from ``since()`` (a Unix time)
    when given, and sets ``caught_up`` once it has read up to the end offsets it saw then; until
    then ``ready`` raises, so a readiness probe keeps a replica out of service. ``apply`` gets
    each record's value; ``after_batch`` (optional) runs after each batch. A start that fails
    (Kafka away, the topic not created yet) is tried again with backoff; once reading, FastStream
    reconnects by itself."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        apply: Callable[[bytes], object],
        *,
        name: str,
        since: Callable[[], float] | None = None,
        after_batch: Callable[[], None] | None = None,
        max_records: int = 500,
        topic_timeout_s: float = 30.0,
    ) -> None:
        self._bootstrap = bootstrap
        self.topic = topic
        self._apply = apply
        self._name = name
        self._since = since
        self._after_batch = after_batch
        self._max_records = max_records
        self._topic_timeout_s = topic_timeout_s
        self.caught_up = asyncio.Event()
        self._ends: Offsets = {}
        self._reader: PartitionReader | None = None

    async def ready(self) -> None:
        if not self.caught_up.is_set():
            raise ConnectionError(f"the {self._name} feed has not caught up with {self.topic} yet")

    async def _on_batch(self, records: list[Record]) -> None:
        for record in records:
            if record.value is not None:
                self._apply(record.value)
        if self._after_batch is not None:
            self._after_batch()
        if self._reader is not None and self._reader.reached(self._ends):
            self.caught_up.set()

    async def start(self) -> None:
        """Take the end offsets and start reading (raises when Kafka or the topic is not there)."""
        async with KafkaOffsets(self._bootstrap) as offsets:
            await offsets.partitions(self.topic, self._topic_timeout_s)
            self._ends = await offsets.ends(self.topic)
            if self._since is not None:
                starts = await offsets.at_time(self.topic, int(self._since() * 1000))
            else:
                starts = await offsets.beginnings(self.topic)
        reader = PartitionReader(
            self._bootstrap, self.topic, self._on_batch, name=self._name, max_records=self._max_records
        )
        self._reader = reader
        await reader.start(starts)
        if reader.reached(self._ends):
            self.caught_up.set()

    async def stop(self) -> None:
        if self._reader is not None:
            reader, self._reader = self._reader, None
            await reader.stop()

    async def run(self) -> None:
        """Start (retrying with backoff until it works), then follow until cancelled."""
        backoff = 0.5
        while True:
            try:
                await self.start()
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await self.stop()
                log.warning("%s feed not started (%s); retrying in %.1f s", self._name, exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop()
