"""The legacy importer kit with a fake store: order by source position, quarantine, no poison loop."""

from __future__ import annotations

import json
from typing import Any

import pytest

from algoitny_shared.legacy.changes import LegacyChange
from algoitny_shared.legacy.importer import AppliedRow, LegacyImporter, LegacyRowRefused, sort_key, trim


class FakeStore:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], AppliedRow] = {}
        self.quarantined: dict[tuple[str, str], dict[str, Any]] = {}
        self.pause = False

    async def applied(self, table: str, key: str) -> AppliedRow | None:
        return self.rows.get((table, key))

    async def quarantine(self, table: str, key: str, op: str, reason: str, row: dict[str, Any] | None) -> None:
        entry = self.quarantined.setdefault((table, key), {"attempts": 0})
        entry.update(reason=reason, op=op, row=row)
        entry["attempts"] += 1

    async def paused(self, *, fresh: bool = False) -> bool:
        return self.pause


def record(key: int, lsn: int, *, deleted: bool = False, **columns: Any) -> tuple[bytes, bytes]:
    body = {"id": key, **columns, "__op": "d" if deleted else "u", "__lsn": lsn, "__source_ts_ms": 1}
    if deleted:
        body["__deleted"] = "true"
    return json.dumps({"id": key}).encode(), json.dumps(body).encode()


def make(store: FakeStore, apply: Any, **kwargs: Any) -> LegacyImporter:
    return LegacyImporter(store, {"users": apply}, backoff_s=0, **kwargs)  # type: ignore[arg-type]


async def test_later_positions_win_and_redeliveries_change_nothing() -> None:
    store = FakeStore()
    seen: list[tuple[str, int]] = []

    async def apply(change: LegacyChange, previous: AppliedRow | None) -> bool:
        seen.append((change.op, change.position))
        store.rows[("users", change.key)] = AppliedRow("users", change.key, change.position, change.deleted)
        return True

    importer = make(store, apply)
    assert await importer.handle("users", *record(1, 100, name="a")) == "applied"
    assert await importer.handle("users", *record(1, 100, name="a")) == "stale"  # redelivered
    assert await importer.handle("users", *record(1, 90, name="old")) == "stale"  # older, late
    assert await importer.handle("users", *record(1, 120, deleted=True)) == "applied"
    assert await importer.handle("users", *record(1, 110, name="before delete")) == "stale"  # no resurrection
    assert seen == [("u", 100), ("d", 120)]
    assert await importer.handle("users", b'{"id": 1}', None) == "skipped"  # tombstone
    assert await importer.handle("problems", *record(1, 1)) == "skipped"  # not this service's table


async def test_bad_rows_are_quarantined_with_reason_and_counted_once_each_delivery() -> None:
    store = FakeStore()

    async def apply(change: LegacyChange, previous: AppliedRow | None) -> bool:
        if change.key == "2":
            raise LegacyRowRefused("duplicate e-mail")
        if change.key == "3":
            change.typed()  # a row missing NOT NULL columns
        if change.key == "4":
            raise RuntimeError("bug")
        return True

    importer = make(store, apply)
    assert await importer.handle("users", *record(2, 5)) == "quarantined"
    assert await importer.handle("users", *record(2, 5)) == "quarantined"  # redelivered: counted, no loop
    assert store.quarantined[("users", "2")]["reason"] == "duplicate e-mail"
    assert store.quarantined[("users", "2")]["attempts"] == 2
    assert await importer.handle("users", *record(3, 6)) == "quarantined"
    assert "does not fit the legacy schema" in store.quarantined[("users", "3")]["reason"]
    assert await importer.handle("users", *record(4, 7)) == "quarantined"
    assert "RuntimeError: bug" in store.quarantined[("users", "4")]["reason"]
    assert await importer.handle("users", b"{", b"{not json") == "quarantined"
    assert "not JSON" in store.quarantined[("users", "{")]["reason"]
    assert await importer.handle("users", b'{"id": 8}', b"{") == "quarantined"
    assert "not JSON" in store.quarantined[("users", "8")]["reason"]


async def test_an_outage_is_raised_for_redelivery_not_quarantined() -> None:
    store = FakeStore()

    async def apply(change: LegacyChange, previous: AppliedRow | None) -> bool:
        raise ConnectionError("dynamodb away")

    with pytest.raises(ConnectionError):
        await make(store, apply).handle("users", *record(5, 9))
    assert not store.quarantined


def test_keys_sort_numerically_and_big_columns_are_cut() -> None:
    assert sorted(["10", "9", "100"], key=sort_key) == ["9", "10", "100"]
    cut = trim({"input": "x" * 10_000, "n": 1})
    assert cut is not None and len(cut["input"]) < 600 and cut["n"] == 1
