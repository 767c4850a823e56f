"""Rebuilding the statistics by replaying every topic from the beginning into a new generation.

The live consumer keeps applying events to the active generation meanwhile. The rebuild fills
generation N+1 from each topic up to a snapshot of its end offsets, catches up to fresh
snapshots until a pass finds (almost) nothing new, then switches CONTROL/ACTIVE to N+1 (only
if N is still active), and replays once more from where it stopped to end offsets taken
*after* the switch.

Why nothing is lost or doubled: the live consumer's every transaction checks that the
generation it writes is still active, so a batch committed before the switch went to N and
its events were produced before the post-switch snapshot (the final pass replays them into
N+1), and a batch committed after the switch went to N+1. An event that reaches N+1 both ways
is applied once: each generation has its own inbox items, written in the same transaction as
the counters.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import ValidationError

from algoitny_shared.events import REGISTRY, EventEnvelope, UnknownEventType
from algoitny_stats.adapters.store import StatsStore
from algoitny_stats.domain.aggregation import STATS_EVENT_TYPES
from algoitny_stats.service_layer.applier import Applier, ApplyReport, Event

log = logging.getLogger(__name__)

Offsets = dict[int, int]


class Replayer(Protocol):
    topic: str

    async def end_offsets(self) -> Offsets: ...

    async def beginning_offsets(self) -> Offsets: ...

    def read(self, start: Offsets, end: Offsets) -> AsyncIterator[list[bytes]]: ...


@dataclass
class RebuildReport:
    previous_generation: int
    generation: int
    events_read: int = 0
    events_undecodable: int = 0
    applied: int = 0
    duplicates: int = 0
    skipped: int = 0
    transactions: int = 0
    catch_up_passes: int = 0
    seconds: float = 0.0
    positions: dict[str, dict[int, int]] = field(default_factory=dict)


def decode(values: list[bytes]) -> tuple[list[Event], int]:
    """Stats events of a batch of messages; returns (events, undecodable). Events the live
    consumer would dead-letter are passed by (they never changed the live counters either)."""
    events: list[Event] = []
    bad = 0
    for raw in values:
        try:
            envelope = EventEnvelope.from_bytes(raw)
            if envelope.event_type not in STATS_EVENT_TYPES:
                continue
            events.append((envelope, REGISTRY.decode(envelope)))
        except (ValidationError, ValueError, UnknownEventType):
            bad += 1
    return events, bad


class Rebuilder:
    def __init__(self, store: StatsStore, applier: Applier, *, max_catch_up_passes: int = 5, settle_events: int = 0):
        self._store = store
        self._applier = applier
        self._max_passes = max_catch_up_passes
        self._settle = settle_events

    async def _replay(
        self, replayers: list[Replayer], generation: int, positions: dict[str, Offsets], report: RebuildReport
    ) -> int:
        read = 0
        for replayer in replayers:
            end = await replayer.end_offsets()
            mine = positions.setdefault(replayer.topic, {})
            start = {p: mine.get(p, 0) for p in end}
            async for values in replayer.read(start, end):
                events, bad = decode(values)
                applied: ApplyReport = await self._applier.apply(events, generation)
                read += len(values)
                report.events_undecodable += bad
                report.applied += applied.applied
                report.duplicates += applied.duplicates
                report.skipped += applied.skipped + (len(values) - len(events) - bad)
                report.transactions += applied.transactions
            mine.update(end)
        report.events_read += read
        return read

    async def run(self, replayers: list[Replayer], *, on_switch: Callable[[int], Any] | None = None) -> RebuildReport:
        started = time.monotonic()
        active = await self._store.ensure_control()
        generation = max(active, await self._store.building_generation()) + 1
        await self._store.claim_building(generation, active)
        report = RebuildReport(previous_generation=active, generation=generation)
        positions: dict[str, Offsets] = {}
        for replayer in replayers:
            positions[replayer.topic] = await replayer.beginning_offsets()
        await self._replay(replayers, generation, positions, report)
        for _ in range(self._max_passes):
            report.catch_up_passes += 1
            if await self._replay(replayers, generation, positions, report) <= self._settle:
                break
        await self._store.switch(active, generation)
        log.info("statistics generation %d is active (was %d)", generation, active)
        if on_switch is not None:
            on_switch(generation)
        # Events the live consumer applied only to the old generation before the switch.
        await self._replay(replayers, generation, positions, report)
        report.positions = {t: dict(p) for t, p in positions.items()}
        report.seconds = round(time.monotonic() - started, 3)
        return report
