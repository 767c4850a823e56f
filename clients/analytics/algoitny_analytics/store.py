"""Parquet files partitioned by event type and UTC day, each event written once.

Layout: ``<root>/type=<event type>/day=<YYYY-MM-DD>/part-<uuid>.parquet`` (Hive partitioning;
the day is the UTC day of the envelope's ``occurred_at``). A batch's rows for one partition go to
one new file, written under a temporary name and renamed into place (atomic), so a crash leaves
either the whole file or nothing visible.

Idempotency: the store is the deduplicator. On start it reads the ``event_id`` column of every
file; an event whose id is there is not written again, whether it comes back because the process
died before committing its offsets, because of a rebalance, or because it was republished. Ids
are added to the in-memory set only after their file is in place.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC
from pathlib import Path
from typing import Any
from uuid import UUID

import pyarrow.parquet as pq

from algoitny_analytics.columns import table_of
from algoitny_events import Event, model_of

TMP_SUFFIX = ".tmp"


def partition_of(event: Event[Any]) -> tuple[str, str]:
    return event.event_type, event.occurred_at.astimezone(UTC).date().isoformat()


class ParquetStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._ids: set[UUID] = set()
        self.files_written = 0
        self.rows_written = 0
        self._cleanup()
        self._load_ids()

    def _cleanup(self) -> None:
        """Temporary files of a write a crash interrupted: never renamed, so never visible."""
        for tmp in self.root.rglob(f"*{TMP_SUFFIX}"):
            tmp.unlink(missing_ok=True)

    def files(self) -> list[Path]:
        return sorted(self.root.rglob("*.parquet"))

    def _load_ids(self) -> None:
        for path in self.files():
            column = pq.read_table(path, columns=["event_id"]).column("event_id")
            self._ids.update(UUID(v) for v in column.to_pylist())

    def __len__(self) -> int:
        return len(self._ids)

    # the Deduplicator protocol of algoitny_events
    async def seen(self, event_ids: Iterable[UUID]) -> set[UUID]:
        return {i for i in event_ids if i in self._ids}

    async def remember(self, event_ids: Iterable[UUID]) -> None:
        """Nothing to do: ``write`` recorded the ids together with the rows."""

    async def write(self, events: list[Event[Any]]) -> int:
        return await asyncio.to_thread(self.write_sync, events)

    def write_sync(self, events: list[Event[Any]]) -> int:
        """Write the events not yet stored; returns how many rows were written."""
        groups: dict[tuple[str, str], list[Event[Any]]] = defaultdict(list)
        batch: set[UUID] = set()
        for event in events:
            if event.event_id in self._ids or event.event_id in batch:
                continue
            batch.add(event.event_id)
            groups[partition_of(event)].append(event)
        written = 0
        for (event_type, day), group in sorted(groups.items()):
            directory = self.root / f"type={event_type}" / f"day={day}"
            directory.mkdir(parents=True, exist_ok=True)
            final = directory / f"part-{uuid.uuid4().hex}.parquet"
            tmp = final.with_name(final.name + TMP_SUFFIX)
            table = table_of(model_of(event_type), group)
            pq.write_table(table, tmp, compression="zstd")
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, final)
            _fsync_dir(directory)
            self._ids.update(e.event_id for e in group)
            self.files_written += 1
            written += len(group)
        self.rows_written += written
        return written


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
