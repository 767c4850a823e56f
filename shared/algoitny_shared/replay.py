"""Reading a topic from the beginning for a rebuild, outside any consumer group (search reindex, stats rebuild).

Each ``read`` is a FastStream batch subscriber assigned the partitions by hand
(``follow.PartitionReader``: no group, no commits), so it never disturbs the live consumer
group's offsets; it reads up to end offsets taken as a snapshot (``offsets.KafkaOffsets``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing

from algoitny_shared.follow import PartitionReader, Record
from algoitny_shared.offsets import KafkaOffsets, Offsets

__all__ = ["Offsets", "TopicReplayer", "read_records"]


class TopicReplayer:
    def __init__(self, bootstrap: str, topic: str, *, max_records: int = 500) -> None:
        self._bootstrap = bootstrap
        self.topic = topic
        self._max_records = max_records
        self._offsets: KafkaOffsets | None = None

    async def start(self, timeout_s: float = 20.0) -> None:
        offsets = KafkaOffsets(self._bootstrap)
        await offsets.start()
        try:
            await offsets.partitions(self.topic, timeout_s)
        except BaseException:
            await offsets.close()
            raise
        self._offsets = offsets

    async def stop(self) -> None:
        if self._offsets is not None:
            offsets, self._offsets = self._offsets, None
            await offsets.close()

    def _require(self) -> KafkaOffsets:
        if self._offsets is None:
            raise RuntimeError("the replayer is not started")
        return self._offsets

    async def end_offsets(self) -> Offsets:
        return await self._require().ends(self.topic)

    async def beginning_offsets(self) -> Offsets:
        return await self._require().beginnings(self.topic)

    async def read(self, start: Offsets, end: Offsets) -> AsyncIterator[list[bytes]]:
        """Batches of message values from ``start`` (inclusive) to ``end`` (exclusive) per partition."""
        self._require()
        async with aclosing(read_records(self._bootstrap, self.topic, start, end, self._max_records)) as batches:
            async for records in batches:
                values = [r.value for r in records if r.value is not None]
                if values:
                    yield values


async def read_records(
    bootstrap: str, topic: str, start: Offsets, end: Offsets, max_records: int = 500
) -> AsyncGenerator[list[Record]]:
    """Batches of ``topic``'s records from ``start`` (inclusive) to ``end`` (exclusive) per
    partition, through a FastStream subscriber outside any group. Close it (``aclosing``) when
    leaving the loop early, so that the subscriber stops at once."""
    wanted = {p: start.get(p, 0) for p, stop in end.items() if start.get(p, 0) < stop}
    if not wanted:
        return
    bounds = {p: end[p] for p in wanted}
    batches: asyncio.Queue[list[Record]] = asyncio.Queue(maxsize=4)  # the subscriber waits for us

    async def on_batch(records: list[Record]) -> None:
        kept = [r for r in records if r.offset < bounds[r.partition]]
        if kept:
            await batches.put(kept)

    reader = PartitionReader(bootstrap, topic, on_batch, name=f"replay.{topic}", max_records=max_records)
    await reader.start(wanted)
    try:
        while True:
            try:
                batch: list[Record] | None = await asyncio.wait_for(batches.get(), timeout=0.2)
            except TimeoutError:
                batch = None
            if batch:
                yield batch
            if batches.empty() and reader.reached(bounds):
                break
    finally:
        await reader.stop()
