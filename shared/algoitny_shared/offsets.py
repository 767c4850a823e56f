"""Kafka's offset API in one place: a topic's partitions, where each begins and ends, the offset of
a moment, and a consumer group's committed offsets.

Every service reads Kafka through FastStream subscribers (``kafka.EventConsumer``,
``follow.TopicFollower``, ``replay.TopicReplayer``, the stats batch subscriber). FastStream
(0.7) reads and commits but does not answer "where does this partition end now", "which
offset was written at that time" or "how far is that group" (nor does aiokafka's admin client:
it lists a group's offsets, not a partition's end). Those answers come from Kafka's ListOffsets
request, which only the client library's consumer sends. This module is the one place that asks
it, with a consumer that joins no group, is assigned nothing and fetches nothing; partitions and
committed offsets come from the admin client's public calls.
"""

from __future__ import annotations

import asyncio
import time
from types import TracebackType
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

Offsets = dict[int, int]


class KafkaOffsets:
    """``async with KafkaOffsets(bootstrap) as offsets: await offsets.ends(topic)``."""

    def __init__(self, bootstrap: str, *, request_timeout_ms: int = 10_000) -> None:
        self._bootstrap = bootstrap
        self._timeout_ms = request_timeout_ms
        self._admin: AIOKafkaAdminClient | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._partitions: dict[str, list[int]] = {}

    async def start(self) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap, request_timeout_ms=self._timeout_ms)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=None,
            enable_auto_commit=False,
            request_timeout_ms=self._timeout_ms,
        )
        try:
            await admin.start()
            await consumer.start()
        except BaseException:
            await consumer.stop()
            await admin.close()
            raise
        self._admin, self._consumer = admin, consumer

    async def close(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None
        if self._admin is not None:
            await self._admin.close()
            self._admin = None

    async def __aenter__(self) -> KafkaOffsets:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def _require(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        if self._admin is None or self._consumer is None:
            raise RuntimeError("KafkaOffsets is not started")
        return self._admin, self._consumer

    async def partitions(self, topic: str, timeout_s: float = 20.0) -> list[int]:
        """Every partition of ``topic``, waiting until the topic exists (RuntimeError after ``timeout_s``)."""
        if topic in self._partitions:
            return self._partitions[topic]
        admin, _ = self._require()
        deadline = time.monotonic() + timeout_s
        while True:
            found = _partition_ids(await admin.describe_topics([topic]), topic)
            if found:
                self._partitions[topic] = found
                return found
            if time.monotonic() > deadline:
                raise RuntimeError(f"topic {topic} not found")
            await asyncio.sleep(0.2)

    async def _tps(self, topic: str) -> list[TopicPartition]:
        return [TopicPartition(topic, p) for p in await self.partitions(topic)]

    async def ends(self, topic: str) -> Offsets:
        """The offset the next record of each partition will get (its end)."""
        tps = await self._tps(topic)
        ends = await self._require()[1].end_offsets(tps)
        return {tp.partition: int(off) for tp, off in ends.items()}

    async def beginnings(self, topic: str) -> Offsets:
        """The first offset still held in each partition (after retention)."""
        tps = await self._tps(topic)
        starts = await self._require()[1].beginning_offsets(tps)
        return {tp.partition: int(off) for tp, off in starts.items()}

    async def at_time(self, topic: str, since_ms: int) -> Offsets:
        """Per partition, the first offset written at or after ``since_ms`` (its end when none was)."""
        tps = await self._tps(topic)
        found = await self._require()[1].offsets_for_times({tp: since_ms for tp in tps})
        ends = await self.ends(topic)
        return {tp.partition: (int(hit.offset) if hit is not None else ends[tp.partition]) for tp, hit in found.items()}

    async def committed(self, group_id: str, topic: str) -> dict[int, int | None]:
        """The offsets ``group_id`` committed on ``topic`` (None where it never committed)."""
        tps = await self._tps(topic)
        raw = await self._require()[0].list_consumer_group_offsets(group_id, partitions=tps)
        out: dict[int, int | None] = {}
        for tp in tps:
            meta = raw.get(tp)
            out[tp.partition] = int(meta.offset) if meta is not None and meta.offset >= 0 else None
        return out

    async def lag(self, group_id: str, topic: str) -> tuple[Offsets, bool] | None:
        """Records ``group_id`` has not read yet, per partition of ``topic`` (end - committed; a
        partition it never committed counts from the first record still held), and whether it
        committed anything on the topic; None when the topic does not exist (yet)."""
        try:
            await self.partitions(topic, timeout_s=0)
        except RuntimeError:
            return None
        ends = await self.ends(topic)
        starts = await self.beginnings(topic)
        committed = await self.committed(group_id, topic)
        behind = {
            p: max(0, end - (pos if (pos := committed.get(p)) is not None else starts[p]))
            for p, end in sorted(ends.items())
        }
        return behind, any(v is not None for v in committed.values())

    async def groups(self) -> list[str]:
        """Every consumer group the cluster knows."""
        return sorted(str(g[0]) for g in await self._require()[0].list_consumer_groups())

    async def group_offsets(self, group_id: str) -> dict[str, Offsets]:
        """Every offset ``group_id`` committed: topic -> partition -> offset."""
        out: dict[str, Offsets] = {}
        for tp, meta in sorted((await self._require()[0].list_consumer_group_offsets(group_id)).items()):
            out.setdefault(tp.topic, {})[tp.partition] = int(meta.offset)
        return out


def _partition_ids(described: Any, topic: str) -> list[int]:
    for entry in described or []:
        if entry.get("topic") == topic and not entry.get("error_code"):
            return sorted(int(p["partition"]) for p in entry.get("partitions", []))
    return []
