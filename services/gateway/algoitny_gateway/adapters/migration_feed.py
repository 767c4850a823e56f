"""Every gateway process follows the migration topic from its start, outside any consumer group.

The topic holds a handful of ``MigrationPhaseChanged`` events; each replica reads all of them
(a broadcast), keeps the highest version, and reports itself not ready until it has read up to
the end offsets it saw on start, so a restarted replica never opens writes the phase keeps closed.
No event at all (no migration configured) leaves the phase ``open``.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer
from pydantic import ValidationError

from algoitny_gateway.domain.migration import PhaseView
from algoitny_shared.events import REGISTRY, EventEnvelope
from algoitny_shared.events.catalog import MigrationPhaseChanged
from algoitny_shared.events.registry import UnknownEventType
from algoitny_shared.replay import topic_partitions

log = logging.getLogger(__name__)


def apply(view: PhaseView, raw: bytes) -> bool:
    try:
        payload = REGISTRY.decode(EventEnvelope.from_bytes(raw))
    except (UnknownEventType, ValidationError, ValueError):
        return False
    if not isinstance(payload, MigrationPhaseChanged):
        return False
    changed = view.apply(payload.phase, payload.version, payload.changed_at.isoformat())
    if changed:
        log.info(
            "migration phase %s (version %d): writes %s",
            payload.phase,
            payload.version,
            "open" if view.writes_open else "refused",
        )
    return changed


class MigrationPhaseFeed:
    def __init__(self, bootstrap: str, topic: str, view: PhaseView | None = None) -> None:
        self._bootstrap = bootstrap
        self.topic = topic
        self.view = view or PhaseView()
        self.caught_up = asyncio.Event()

    async def ready(self) -> None:
        if not self.caught_up.is_set():
            raise ConnectionError("the migration phase feed has not caught up with the migration topic yet")

    async def run(self) -> None:
        backoff = 0.5
        while True:
            try:
                await self._follow()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("migration phase feed interrupted (%s); reconnecting in %.1f s", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    async def _follow(self) -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=self._bootstrap, group_id=None, enable_auto_commit=False)
        await consumer.start()
        try:
            partitions = await topic_partitions(consumer, self.topic, timeout_s=30)
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
            pending = {tp for tp in partitions if await consumer.position(tp) < ends[tp]}
            if not pending:
                self.caught_up.set()
            while True:
                batch = await consumer.getmany(timeout_ms=500, max_records=100)
                for records in batch.values():
                    for record in records:
                        if record.value is not None:
                            apply(self.view, record.value)
                for tp in list(pending):
                    if await consumer.position(tp) >= ends[tp]:
                        pending.discard(tp)
                if not pending:
                    self.caught_up.set()
        finally:
            await consumer.stop()
