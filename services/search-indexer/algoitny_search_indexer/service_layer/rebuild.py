"""Rebuilding the search index without downtime.

A rebuild writes a NEW physical index while the alias keeps pointing at the old one, so
searches and live consumption go on undisturbed; then it moves the alias in one atomic call.

Events arriving during the rebuild: the live consumer keeps writing them through the alias
(into the old index). The rebuild replays the topic up to a snapshot of its end offsets,
then catches up again to fresh snapshots until a pass finds (almost) nothing new, switches
the alias, and replays once more from where it stopped to the end offsets taken *after* the
switch. Every event the live consumer handled before the switch was produced before that
last snapshot, so it reaches the new index too; every event handled after the switch goes
to the new index through the alias. External versions make the overlap harmless: whichever
path writes first, the newest version wins.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

from pydantic import ValidationError

from algoitny_search_indexer.adapters.metrics import SEARCH_REINDEX_DOCUMENTS
from algoitny_search_indexer.adapters.opensearch_index import ProblemIndex
from algoitny_search_indexer.service_layer.indexing import PROBLEM_EVENT_TYPES, Write, write_of
from algoitny_shared.events import REGISTRY, EventEnvelope, UnknownEventType
from algoitny_shared.events.catalog import ProblemSnapshot

log = logging.getLogger(__name__)

Offsets = dict[int, int]
MAX_VERSION = 2**63 - 1


class Replayer(Protocol):
    async def end_offsets(self) -> Offsets: ...

    async def beginning_offsets(self) -> Offsets: ...

    def read(self, start: Offsets, end: Offsets) -> AsyncIterator[list[bytes]]: ...


class ProblemSource(Protocol):
    def problems(self) -> AsyncIterator[dict[str, object]]: ...


@dataclass
class RebuildReport:
    source: str
    new_index: str
    old_indices: list[str]
    events_read: int = 0
    events_skipped: int = 0
    writes_applied: int = 0
    writes_stale: int = 0
    writes_rejected: int = 0
    catch_up_passes: int = 0
    documents: int = 0
    seconds: float = 0.0
    positions: dict[int, int] = field(default_factory=dict)


def writes_of(values: list[bytes]) -> tuple[list[Write], int]:
    """Decode a batch of problem-topic messages into index writes; returns (writes, skipped)."""
    writes: list[Write] = []
    skipped = 0
    for raw in values:
        try:
            envelope = EventEnvelope.from_bytes(raw)
            if envelope.event_type not in PROBLEM_EVENT_TYPES:
                skipped += 1
                continue
            payload = REGISTRY.decode(envelope)
        except (ValidationError, ValueError, UnknownEventType):
            skipped += 1  # the live consumer dead-letters these; a rebuild just passes them by
            continue
        if not 1 <= envelope.aggregate_version <= MAX_VERSION:
            skipped += 1  # OpenSearch versions are Java longs; the live consumer dead-letters these
            continue
        assert isinstance(payload, ProblemSnapshot)
        writes.append(write_of(envelope, payload))
    return writes, skipped


class Rebuilder:
    def __init__(self, index: ProblemIndex, *, max_catch_up_passes: int = 5, settle_events: int = 0) -> None:
        self._index = index
        self._max_passes = max_catch_up_passes
        self._settle = settle_events

    async def _replay(self, replayer: Replayer, target: str, positions: Offsets, report: RebuildReport) -> int:
        """Apply events from ``positions`` up to the current end offsets; advances ``positions``."""
        end = await replayer.end_offsets()
        start = {p: positions.get(p, 0) for p in end}
        read = 0
        async for values in replayer.read(start, end):
            writes, skipped = writes_of(values)
            applied, stale, rejected = await self._index.bulk_upsert(writes, target)
            read += len(values)
            report.writes_rejected += rejected
            report.events_skipped += skipped
            report.writes_applied += applied
            report.writes_stale += stale
        positions.update(end)
        report.events_read += read
        return read

    async def from_topic(self, replayer: Replayer, *, drop_old: bool = False) -> RebuildReport:
        started = time.monotonic()
        target = await self._index.create_physical()
        report = RebuildReport(source="topic", new_index=target, old_indices=[])
        positions = await replayer.beginning_offsets()
        await self._replay(replayer, target, positions, report)
        for _ in range(self._max_passes):
            report.catch_up_passes += 1
            if await self._replay(replayer, target, positions, report) <= self._settle:
                break
        await self._switch(target, report)
        # Events the live consumer wrote only to the old index between the last pass and the switch.
        await self._replay(replayer, target, positions, report)
        await self._index.refresh(target)
        report.positions = dict(positions)
        return await self._finish(report, started, drop_old)

    async def from_problems_service(
        self, source: ProblemSource, replayer: Replayer | None = None, *, drop_old: bool = False
    ) -> RebuildReport:
        """The fallback when the topic cannot be replayed (e.g. history lost): read every problem
        from the problems service's list API. If Kafka is reachable, events published while the
        scan ran are replayed after the switch (from the end offsets taken before the scan)."""
        from algoitny_search_indexer.adapters.problems_client import write_of_problem

        started = time.monotonic()
        positions = await replayer.end_offsets() if replayer else {}
        target = await self._index.create_physical()
        report = RebuildReport(source="problems-service", new_index=target, old_indices=[])
        batch: list[Write] = []

        async def flush() -> None:
            applied, stale, rejected = await self._index.bulk_upsert(batch, target)
            report.writes_rejected += rejected
            report.writes_applied += applied
            report.writes_stale += stale
            batch.clear()

        async for problem in source.problems():
            batch.append(write_of_problem(problem))
            if len(batch) >= 200:
                await flush()
        await flush()
        await self._switch(target, report)
        if replayer:
            await self._replay(replayer, target, positions, report)
        await self._index.refresh(target)
        report.positions = dict(positions)
        return await self._finish(report, started, drop_old)

    async def _switch(self, target: str, report: RebuildReport) -> None:
        await self._index.refresh(target)
        report.old_indices = await self._index.switch_alias(target)
        log.info("alias %s now points at %s (was %s)", self._index.alias, target, report.old_indices)

    async def _finish(self, report: RebuildReport, started: float, drop_old: bool) -> RebuildReport:
        report.documents = await self._index.count(report.new_index)
        report.seconds = round(time.monotonic() - started, 3)
        SEARCH_REINDEX_DOCUMENTS.labels(report.source).set(report.documents)
        if drop_old:
            for old in report.old_indices:
                await self._index.drop(old)
        return report
