"""Reading a topic from the beginning for a rebuild, outside any consumer group (search reindex, stats rebuild).

The replayer assigns itself every partition by hand (no group, no commits), so it never
disturbs the live consumer group's offsets, and reads up to end offsets taken as a snapshot.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from aiokafka import AIOKafkaConsumer, TopicPartition

Offsets = dict[int, int]


async def topic_partitions(consumer: AIOKafkaConsumer, topic: str, timeout_s: float = 20.0) -> list[TopicPartition]:
    """Every partition of ``topic``, waiting (metadata refreshes) until the topic exists."""
    deadline = time.monotonic() + timeout_s
    partitions = consumer.partitions_for_topic(topic)
    while not partitions:
        if time.monotonic() > deadline:
            raise RuntimeError(f"topic {topic} not found")
        await consumer._client.force_metadata_update()
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            await asyncio.sleep(0.2)
    return [TopicPartition(topic, p) for p in sorted(partitions)]


class TopicReplayer:
    def __init__(self, bootstrap: str, topic: str, *, max_records: int = 500) -> None:
        self._bootstrap = bootstrap
        self.topic = topic
        self._max_records = max_records
        self._consumer: AIOKafkaConsumer | None = None
        self._tps: list[TopicPartition] = []

    async def start(self, timeout_s: float = 20.0) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self._max_records,
        )
        await consumer.start()
        try:
            self._tps = await topic_partitions(consumer, self.topic, timeout_s)
        except RuntimeError:
            await consumer.stop()
            raise
        consumer.assign(self._tps)
        self._consumer = consumer

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    def _require(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            raise RuntimeError("the replayer is not started")
        return self._consumer

    async def end_offsets(self) -> Offsets:
        ends = await self._require().end_offsets(self._tps)
        return {tp.partition: int(off) for tp, off in ends.items()}

    async def beginning_offsets(self) -> Offsets:
        starts = await self._require().beginning_offsets(self._tps)
        return {tp.partition: int(off) for tp, off in starts.items()}

    async def read(self, start: Offsets, end: Offsets) -> AsyncIterator[list[bytes]]:
        """Batches of message values from ``start`` (inclusive) to ``end`` (exclusive) per partition."""
        consumer = self._require()
        todo = {tp for tp in self._tps if start.get(tp.partition, 0) < end.get(tp.partition, 0)}
        for tp in todo:
            consumer.seek(tp, start.get(tp.partition, 0))
        while todo:
            batch = await consumer.getmany(*todo, timeout_ms=1000, max_records=self._max_records)
            values: list[bytes] = []
            for tp, records in batch.items():
                stop = end[tp.partition]
                values.extend(r.value for r in records if r.offset < stop and r.value is not None)
                if await consumer.position(tp) >= stop:
                    todo.discard(tp)
            if values:
                yield values
