"""Parquet files partitioned by event type and UTC day, each event written once.

Layout: ``<root>/type=<event type>/day=<YYYY-MM-DD>/part-<uuid>.parquet`` (Hive partitioning;
the day is the UTC day of the envelope's ``occurred_at``). A batch's rows for one partition go to
one new file, written under a temporary name and renamed into place (atomic), so a crash leaves
either the whole file or nothing visible.

Compaction (``compact``, safe beside a running sink) merges a partition's files into one: the
merged file is written under a temporary name, a manifest naming it and its inputs is put in
place, the merged file is renamed into place, then the inputs and the manifest are deleted. A
store opening after a crash finishes or abandons what the manifest describes, so no event is ever
in two visible files for longer than that step (and the report reads each event id once anyway).

Idempotency: the store is the deduplicator. On start it reads the ``event_id`` column of every
file; an event whose id is there is not written again, whether it comes back because the process
died before committing its offsets, because of a rebalance, or because it was republished. Ids
are added to the in-memory set only after their file is in place.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC
from pathlib import Path
from typing import Any
from uuid import UUID

import pyarrow as pa
import pyarrow.parquet as pq

from algoitny_analytics.columns import table_of
from algoitny_events import Event, model_of

TMP_SUFFIX = ".tmp"
MANIFEST_GLOB = "compact-*.json"


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
        """Finish what a crash interrupted: a compaction whose merged file is in place loses its
        inputs, one whose merged file is not loses its manifest; temporary files go (they were
        never renamed, so never visible)."""
        for manifest in self.root.rglob(MANIFEST_GLOB):
            plan = json.loads(manifest.read_text())
            if (manifest.parent / plan["output"]).exists():
                for name in plan["inputs"]:
                    (manifest.parent / name).unlink(missing_ok=True)
            manifest.unlink()
            _fsync_dir(manifest.parent)
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
            _fsync_file(tmp)
            os.replace(tmp, final)
            _fsync_dir(directory)
            self._ids.update(e.event_id for e in group)
            self.files_written += 1
            written += len(group)
        self.rows_written += written
        return written

    def compact(self, min_files: int = 2) -> int:
        """Merge every partition with at least ``min_files`` files into one file; returns how
        many partitions were merged. Files the sink adds meanwhile are left for the next run."""
        merged = 0
        for directory in sorted({p.parent for p in self.files()}):
            inputs = sorted(directory.glob("part-*.parquet"))
            if len(inputs) < min_files:
                continue
            table = pa.concat_tables([pq.read_table(p) for p in inputs], promote_options="default")
            output = directory / f"part-{uuid.uuid4().hex}.parquet"
            tmp = output.with_name(output.name + TMP_SUFFIX)
            pq.write_table(table, tmp, compression="zstd")
            _fsync_file(tmp)
            manifest = directory / f"compact-{output.stem}.json"
            manifest_tmp = manifest.with_name(manifest.name + TMP_SUFFIX)
            manifest_tmp.write_text(json.dumps({"output": output.name, "inputs": [p.name for p in inputs]}))
            _fsync_file(manifest_tmp)
            os.replace(manifest_tmp, manifest)
            _fsync_dir(directory)
            os.replace(tmp, output)
            _fsync_dir(directory)
            for path in inputs:
                path.unlink(missing_ok=True)
            manifest.unlink()
            _fsync_dir(directory)
            merged += 1
        return merged


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
