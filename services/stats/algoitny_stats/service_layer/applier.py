"""Applying a batch of events to the statistics exactly once.

A batch is cut into chunks that fit one transaction. For each chunk: read (strongly
consistent, one BatchGetItem) the inbox items of its events and the state items they depend
on; drop events already applied; fold the rest; then write, in ONE TransactWriteItems, an
inbox item per event (condition: not there yet), the changed state items (condition: the
version read), the counter deltas (ADD) and, for the live consumer, a check that the
generation it writes is still the active one. Either all of it lands or none; a redelivered
event finds its inbox item and changes nothing; a conflict (a concurrent consumer, a
concurrent duplicate, a rebuild switching generations) cancels the transaction and the chunk
is read and folded again.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass, field
from typing import Any

from algoitny_shared.events import EventEnvelope
from algoitny_stats.adapters.metrics import STATS_BATCHES
from algoitny_stats.adapters.store import MAX_TRANSACTION_ITEMS, StatsStore, TransactionFailed
from algoitny_stats.domain.aggregation import STATS_EVENT_TYPES, Fold, chunk_events, inbox_key, state_keys

log = logging.getLogger(__name__)

Event = tuple[EventEnvelope, Any]


@dataclass
class ApplyReport:
    applied: int = 0
    duplicates: int = 0
    skipped: int = 0
    transactions: int = 0
    retries: int = 0
    applied_ids: set[str] = field(default_factory=set)

    def merge(self, other: ApplyReport) -> None:
        self.applied_ids |= other.applied_ids
        self.applied += other.applied
        self.duplicates += other.duplicates
        self.skipped += other.skipped
        self.transactions += other.transactions
        self.retries += other.retries


class Applier:
    def __init__(self, store: StatsStore, *, max_items: int = MAX_TRANSACTION_ITEMS, max_attempts: int = 30) -> None:
        self._store = store
        self._max_items = max_items
        self._max_attempts = max_attempts

    async def apply(self, events: list[Event], generation: int | None = None) -> ApplyReport:
        """Apply to ``generation`` (a rebuild), or to the active generation with a check that it
        stays active until the commit (``None``: the live consumer)."""
        report = ApplyReport()
        seen: set[str] = set()
        relevant: list[Event] = []
        for envelope, payload in events:
            event_id = str(envelope.event_id)
            if envelope.event_type not in STATS_EVENT_TYPES:
                report.skipped += 1
            elif event_id in seen:
                report.duplicates += 1
            else:
                seen.add(event_id)
                relevant.append((envelope, payload))
        budget = self._max_items - (1 if generation is None else 0)
        for chunk in chunk_events(relevant, budget):
            report.merge(await self._apply_chunk(chunk, generation))
        return report

    async def _apply_chunk(self, chunk: list[Event], fixed: int | None) -> ApplyReport:
        report = ApplyReport()
        for attempt in range(1, self._max_attempts + 1):
            generation = fixed if fixed is not None else await self._store.active_generation()
            wanted = [inbox_key(e) for e, _ in chunk]
            for envelope, payload in chunk:
                wanted.extend(state_keys(envelope, payload))
            read = await self._store.get_many(generation, wanted)
            todo = [(e, p) for e, p in chunk if str(e.event_id) not in set(read.get(inbox_key(e), {}).get("ids", ()))]
            if not todo:
                report.duplicates += len(chunk)
                return report
            states: dict[Any, dict[str, Any] | None] = {}
            for envelope, payload in todo:
                for key in state_keys(envelope, payload):
                    states[key] = read.get(key)
            fold = Fold(states=states)
            for envelope, payload in todo:
                fold.apply(envelope, payload)
            inbox: dict[Any, list[str]] = {}
            for envelope, _ in todo:
                inbox.setdefault(inbox_key(envelope), []).append(str(envelope.event_id))
            items = [self._store.inbox_add(generation, key, ids) for key, ids in inbox.items()]
            for key, (item, version) in fold.state_writes().items():
                items.append(self._store.state_put(generation, key, item, version))
            for key, deltas in fold.counter_updates().items():
                items.append(self._store.counter_update(generation, key, deltas))
            if fixed is None:
                items.append(self._store.active_is(generation))
            try:
                await self._store.transact(items)
            except TransactionFailed as exc:
                report.retries += 1
                STATS_BATCHES.labels("retried").inc()
                log.info("stats transaction cancelled (%s); attempt %d", exc, attempt)
                await asyncio.sleep(min(1.0, 0.01 * 2**attempt) * random.random())
                continue
            STATS_BATCHES.labels("committed").inc()
            report.transactions += 1
            report.applied += len(todo)
            report.applied_ids.update(str(e.event_id) for e, _ in todo)
            report.duplicates += len(chunk) - len(todo)
            return report
        raise RuntimeError(f"stats batch of {len(chunk)} events not applied after {self._max_attempts} attempts")
