"""Consumer lag of a live consumer group over one or more topics, exported as a Prometheus gauge.

Lag per partition = the topic's end offset - the group's committed offset (a partition the
group never committed counts from the beginning). Polled in the background. The offsets come
from ``offsets.KafkaOffsets`` (Kafka's offset API; FastStream has none, see there).
"""

from __future__ import annotations

import asyncio
import logging

from algoitny_shared.metrics import CONSUMER_LAG
from algoitny_shared.offsets import KafkaOffsets

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
        async with KafkaOffsets(self._bootstrap, request_timeout_ms=5000) as offsets:
            found = await offsets.lag(self._group_id, topic)
        lag = found[0] if found is not None else {}  # a topic not created yet: nothing to lag behind
        for partition, behind in lag.items():
            CONSUMER_LAG.labels(self._label, topic, str(partition)).set(behind)
        return lag

    async def run(self, interval_s: float) -> None:
        while True:
            try:
                await self.measure()
            except Exception as exc:  # Kafka away: keep the last figures, try again
                log.warning("consumer lag not measured: %s", exc)
            await asyncio.sleep(interval_s)
