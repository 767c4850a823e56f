"""Consumer lag of a live consumer group over one or more topics, exported as a Prometheus gauge.

Lag per partition = the topic's end offset - the group's committed offset (a partition the
group never committed counts from the beginning). Polled in the background.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from algoitny_shared.metrics import CONSUMER_LAG

log = logging.getLogger(__name__)


class LagMonitor:
    def __init__(self, bootstrap: str, topic: str | list[str], group_id: str, consumer_label: str) -> None:
        self._bootstrap = bootstrap
        self._topics = [topic] if isinstance(topic, str) else list(topic)
        self._group_id = group_id
        self._label = consumer_label
        self.last: dict[int, int] = {}
        self.by_topic: dict[str, dict[int, int]] = {}

    async def measure(self) -> dict[int, int]:
        """Lag per partition of the first topic (all topics' figures in ``by_topic`` and the gauge)."""
        for topic in self._topics:
            self.by_topic[topic] = await self._measure(topic)
        self.last = self.by_topic[self._topics[0]]
        return self.last

    async def _measure(self, topic: str) -> dict[int, int]:
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap, request_timeout_ms=5000)
        consumer = AIOKafkaConsumer(bootstrap_servers=self._bootstrap, group_id=None, enable_auto_commit=False)
        await admin.start()
        await consumer.start()
        try:
            partitions = consumer.partitions_for_topic(topic)
            if not partitions:  # metadata of topics we do not subscribe to comes on request
                await consumer._client.force_metadata_update()
                partitions = consumer.partitions_for_topic(topic) or set()
            tps = [TopicPartition(topic, p) for p in sorted(partitions)]
            ends = await consumer.end_offsets(tps) if tps else {}
            starts = await consumer.beginning_offsets(tps) if tps else {}
            committed = await admin.list_consumer_group_offsets(self._group_id, partitions=tps)
        finally:
            await consumer.stop()
            await admin.close()
        lag: dict[int, int] = {}
        for tp in tps:
            meta = committed.get(tp)
            position = meta.offset if meta is not None and meta.offset >= 0 else starts[tp]
            lag[tp.partition] = max(0, ends[tp] - position)
            CONSUMER_LAG.labels(self._label, topic, str(tp.partition)).set(lag[tp.partition])
        return lag

    async def run(self, interval_s: float) -> None:
        while True:
            try:
                await self.measure()
            except Exception as exc:  # Kafka away: keep the last figures, try again
                log.warning("consumer lag not measured: %s", exc)
            await asyncio.sleep(interval_s)
