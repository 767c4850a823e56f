"""Idempotency by event id: which events were already handled.

Delivery is at least once, so the same event (same ``event_id``) can arrive again: after a
consumer restart or rebalance, or when a producer republishes. A deduplicator remembers the ids
of handled events; the subscribe helper skips those and remembers new ones after the handler
returned. For an exactly-once *effect* the handler's own store should record the ids together
with its writes (as the analytics sink does with its Parquet files) and act as the deduplicator.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol
from uuid import UUID


class Deduplicator(Protocol):
    async def seen(self, event_ids: Iterable[UUID]) -> set[UUID]:
        """The ids among ``event_ids`` that were handled before."""
        ...

    async def remember(self, event_ids: Iterable[UUID]) -> None:
        """Record ids as handled."""
        ...


class MemoryDeduplicator:
    """The last ``capacity`` ids in memory: covers redelivery within one process's lifetime."""

    def __init__(self, capacity: int = 1_000_000) -> None:
        self._ids: OrderedDict[UUID, None] = OrderedDict()
        self._capacity = capacity

    async def seen(self, event_ids: Iterable[UUID]) -> set[UUID]:
        return {i for i in event_ids if i in self._ids}

    async def remember(self, event_ids: Iterable[UUID]) -> None:
        for event_id in event_ids:
            self._ids[event_id] = None
            self._ids.move_to_end(event_id)
        while len(self._ids) > self._capacity:
            self._ids.popitem(last=False)


class SqliteDeduplicator:
    """Handled ids in a SQLite file: survives restarts of the consumer."""

    def __init__(self, path: str | Path) -> None:
        self._path = str(path)
        Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(self._path) as db:
            db.execute("CREATE TABLE IF NOT EXISTS handled (event_id TEXT PRIMARY KEY)")

    def _seen(self, ids: list[str]) -> set[UUID]:
        found: set[UUID] = set()
        with sqlite3.connect(self._path) as db:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = db.execute(f"SELECT event_id FROM handled WHERE event_id IN ({marks})", chunk)
                found |= {UUID(r[0]) for r in rows}
        return found

    def _remember(self, ids: list[str]) -> None:
        with sqlite3.connect(self._path) as db:
            db.executemany("INSERT OR IGNORE INTO handled (event_id) VALUES (?)", [(i,) for i in ids])

    async def seen(self, event_ids: Iterable[UUID]) -> set[UUID]:
        return await asyncio.to_thread(self._seen, [str(i) for i in event_ids])

    async def remember(self, event_ids: Iterable[UUID]) -> None:
        await asyncio.to_thread(self._remember, [str(i) for i in event_ids])
