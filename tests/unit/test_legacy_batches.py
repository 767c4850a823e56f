"""Batched legacy import on fakes: per-row order inside a batch, rows applied concurrently, the
states read together, redelivery (inside a batch and of a whole batch) changing nothing, and
quarantine and outages confined to their row."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import pytest

from algoitny_shared.dynamo import batch_get
from algoitny_shared.legacy.batches import per_key
from algoitny_shared.legacy.changes import LegacyChange
from algoitny_shared.legacy.row_importer import (
    ImportTx,
    LegacyImporter,
    Quarantined,
    RowState,
)
from algoitny_shared.uow import InMemoryUnitOfWork


class FakeClient:
    class exceptions:
        class TransactionCanceledException(Exception):
            pass

    def __init__(self, store: FakeStore) -> None:
        self._store = store

    async def transact_write_items(self, TransactItems: list[dict[str, Any]]) -> None:
        self._store.write(TransactItems)

    async def update_item(self, **kwargs: Any) -> None:
        self._store.write([{"Update": kwargs}])


class FakeStore:
    """The row importer's store in memory: states with their conditional put, the quarantine."""

    table = "state"

    def __init__(self) -> None:
        self.states: dict[tuple[str, str], RowState] = {}
        self.quarantined: dict[tuple[str, str], str] = {}
        self.batch_reads = 0
        self.transactions: list[int] = []
        self.counters: dict[str, int] = {}
        self.single_reads = 0
        self._client = FakeClient(self)

    async def paused(self, max_age_s: float = 1.0) -> bool:
        return False

    async def get_state(self, table: str, key: str) -> RowState | None:
        self.single_reads += 1
        return self.states.get((table, key))

    async def get_states(self, table: str, keys: Sequence[str]) -> dict[str, RowState]:
        self.batch_reads += 1
        return {k: self.states[(table, k)] for k in keys if (table, k) in self.states}

    async def key_names(self, table: str) -> tuple[str, ...]:
        return ("pk", "sk")

    # Items shaped as DynamoDB's (the group commit reads their keys), what they do beside.
    def put_state(self, state: RowState, prior: RowState | None) -> dict[str, Any]:
        item = {"pk": {"S": f"ROW#{state.table}"}, "sk": {"S": state.key}}
        return {"Put": {"TableName": self.table, "Item": item, "_state": (state, prior.hash if prior else None)}}

    def count(self, table: str, before: str | None, after: str, ts: int | None) -> dict[str, Any]:
        return self.counts(table, {after: 1, **({before: -1} if before else {})}, ts)

    def counts(self, table: str, moves: dict[str, int], ts: int | None) -> dict[str, Any]:
        return {"Update": {"TableName": self.table, "Key": {"pk": {"S": "COUNT"}, "sk": {"S": table}}, "_moves": moves}}

    def unquarantine(self, table: str, key: str) -> dict[str, Any]:
        return {"Delete": {"TableName": "quar", "Key": {"pk": {"S": "QUAR"}, "sk": {"S": key}}, "_un": (table, key)}}

    def quarantine_put(self, table: str, key: str, op: str, reason: str, row: Any) -> dict[str, Any]:
        return {
            "Update": {"TableName": "quar", "Key": {"pk": {"S": "QUAR"}, "sk": {"S": key}}, "_q": (table, key, reason)}
        }

    def conflicts(self, items: list[dict[str, Any]]) -> list[str] | None:
        reasons = []
        for item in items:
            body = next(iter(item.values()))
            if "_state" in body:
                state, prior_hash = body["_state"]
                now = self.states.get((state.table, state.key))
                reasons.append("None" if (now.hash if now else None) == prior_hash else "ConditionalCheckFailed")
            else:
                reasons.append("None")
        return reasons if "ConditionalCheckFailed" in reasons else None

    def write(self, items: list[dict[str, Any]]) -> None:
        self.transactions.append(len(items))
        if self.conflicts(items):
            raise FakeClient.exceptions.TransactionCanceledException()
        for item in items:
            body = next(iter(item.values()))
            if "_state" in body:
                state = body["_state"][0]
                self.states[(state.table, state.key)] = state
            elif "_q" in body:
                table, key, reason = body["_q"]
                self.quarantined[(table, key)] = reason
            elif "_un" in body:
                self.quarantined.pop(body["_un"], None)
            elif "_moves" in body:
                for status, delta in body["_moves"].items():
                    self.counters[status] = self.counters.get(status, 0) + delta


class StoreUnitOfWork(InMemoryUnitOfWork):
    """Commits into the fake store, refusing a state put whose prior moved (as DynamoDB would)."""

    def __init__(self, store: FakeStore) -> None:
        super().__init__(cancel=store.conflicts)
        self._store = store

    async def _send(self, items: list[dict[str, Any]], events: list[Any]) -> None:
        await super()._send(items, events)
        self._store.write(items)
        self._store.transactions.pop()  # counted once (by write)


class FakeHandler:
    """Records what it applied; ``bad`` names are refused, ``flaky`` keys fail with an outage."""

    service = "accounts"
    tables: tuple[str, ...] = ("users",)

    def __init__(self) -> None:
        self.applied: list[tuple[str, int]] = []
        self.flaky: dict[str, int] = {}
        self.running = 0
        self.most_at_once = 0

    async def apply(self, change: LegacyChange, prior: RowState | None, tx: ImportTx) -> None:
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            await asyncio.sleep(0.005)  # a round trip: other rows go on meanwhile
            if self.flaky.get(change.key, 0) > 0:
                self.flaky[change.key] -= 1
                raise ConnectionError("store away")
            if change.row and change.row.get("name") == "bad":
                raise Quarantined("the name is bad")
            self.applied.append((change.key, change.position))
        finally:
            self.running -= 1

    async def columns(self, table: str, states: Sequence[RowState]) -> dict[str, dict[str, Any]]:
        return {}


def rec(key: int, lsn: int, name: str = "n", *, deleted: bool = False) -> tuple[str, bytes, bytes]:
    body: dict[str, Any] = {"id": key, "name": name, "__op": "d" if deleted else "u", "__lsn": lsn}
    if deleted:
        body["__deleted"] = "true"
    return "users", json.dumps({"id": key}).encode(), json.dumps(body).encode()


def importer(store: FakeStore, handler: FakeHandler, **kwargs: Any) -> LegacyImporter:
    return LegacyImporter(
        store,  # type: ignore[arg-type]
        handler,
        lambda: StoreUnitOfWork(store),  # type: ignore[arg-type,return-value]
        retry_backoff_s=0,
        **kwargs,
    )


async def test_per_key_keeps_each_keys_order_and_runs_keys_at_the_same_time() -> None:
    seen: list[tuple[str, int]] = []
    running = most = 0

    async def apply(i: int, item: tuple[str, int]) -> int:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.001 * (3 - item[1] % 3))  # later items of a key would finish first
        seen.append(item)
        running -= 1
        return i

    items = [(k, n) for n in range(5) for k in "abcd"]
    assert await per_key(items, lambda _, it: it[0], apply, concurrency=3) == list(range(20))
    for k in "abcd":
        assert [n for kk, n in seen if kk == k] == [0, 1, 2, 3, 4]
    assert most == 3


async def test_a_batch_applies_each_row_in_order_once_and_rows_concurrently() -> None:
    store, handler = FakeStore(), FakeHandler()
    imp = importer(store, handler)
    batch = [
        rec(1, 100, "a"),
        rec(2, 100),
        rec(1, 110, "b"),
        rec(3, 100),
        rec(1, 110, "b"),  # redelivered inside the batch
        rec(1, 105, "late"),  # older than what was applied
        rec(2, 120, deleted=True),
    ]
    outcomes = await imp.handle_batch(batch)
    assert outcomes == ["imported", "imported", "imported", "imported", "duplicate", "stale", "deleted"]
    assert [p for k, p in handler.applied if k == "1"] == [100, 110]
    assert [p for k, p in handler.applied if k == "2"] == [100, 120]
    assert handler.most_at_once > 1
    assert store.batch_reads == 1  # the rows' states read together
    assert store.single_reads == 4  # only the later changes of a row (3 of row 1, 1 of row 2) read again
    assert store.states[("users", "1")].position == 110
    assert store.states[("users", "2")].status == "deleted"
    assert store.counters == {"imported": 2, "deleted": 1}  # rows 1 and 3 imported, row 2 deleted
    assert len(store.transactions) < 6  # rows committed together, not one transaction each
    # The whole batch redelivered (a crash before the offsets were committed): nothing changes.
    applied = list(handler.applied)
    again = await imp.handle_batch(batch)
    assert handler.applied == applied
    assert set(again) <= {"duplicate", "stale"}


async def test_an_outage_of_one_row_redelivers_the_batch_and_the_rest_is_applied_once() -> None:
    store, handler = FakeStore(), FakeHandler()
    imp = importer(store, handler, max_attempts=2)
    handler.flaky["3"] = 2  # away for both tries
    batch = [rec(n, 100) for n in range(1, 7)] + [rec(3, 110, "after")]
    with pytest.raises(ConnectionError):
        await imp.handle_batch(batch)
    assert sorted(k for k, _ in handler.applied) == ["1", "2", "4", "5", "6"]  # row 3 stopped, in order
    assert ("users", "3") not in store.states
    outcomes = await imp.handle_batch(batch)  # redelivered: the outage is over
    assert outcomes == ["duplicate"] * 2 + ["imported"] + ["duplicate"] * 3 + ["imported"]
    assert [p for k, p in handler.applied if k == "3"] == [100, 110]
    assert len(handler.applied) == 7


async def test_bad_and_unparsable_rows_are_quarantined_with_reason_and_the_rest_goes_on() -> None:
    store, handler = FakeStore(), FakeHandler()
    imp = importer(store, handler)
    batch = [rec(1, 100), rec(2, 100, "bad"), ("users", b'{"id": 9}', b"{not json"), rec(3, 100)]
    outcomes = await imp.handle_batch(batch)
    assert outcomes == ["imported", "quarantined", "quarantined", "imported"]
    assert store.quarantined[("users", "2")] == "the name is bad"
    assert store.quarantined[("users", "9")].startswith("not a legacy change")
    # The bad row fixed in the legacy database: imported, out of the quarantine.
    assert await imp.handle_batch([rec(2, 130, "good")]) == ["imported"]
    assert ("users", "2") not in store.quarantined


async def test_a_state_moved_by_another_consumer_is_read_again_not_overwritten() -> None:
    store, handler = FakeStore(), FakeHandler()
    imp = importer(store, handler)
    real = store.get_states

    async def stale_read(table: str, keys: Sequence[str]) -> dict[str, RowState]:
        found = await real(table, keys)
        # Another replica applies row 1 (a newer change) right after this batch read the states.
        store.states[("users", "1")] = RowState("users", "1", "imported", 200, "other", {})
        return found

    store.get_states = stale_read  # type: ignore[method-assign]
    assert await imp.handle_batch([rec(1, 150)]) == ["stale"]  # decided again on the fresh state
    assert store.states[("users", "1")].position == 200


async def test_rows_linked_by_a_unique_value_keep_their_order_across_keys() -> None:
    order: list[int] = []

    async def apply(i: int, item: tuple[int, str]) -> None:
        await asyncio.sleep(0.002 if item[0] == 13 else 0)  # the earlier row is the slower one
        order.append(item[0])

    rows = [(13, "dup@example.com"), (14, "DUP@Example.com"), (15, "other@example.com")]
    await per_key(rows, lambda _, r: r[0], apply, links=lambda _, r: [r[1].casefold()])
    assert order.index(13) < order.index(14)  # the later one comes later: it is the one refused
    assert order[0] == 15  # unlinked rows go on meanwhile


async def test_batch_get_asks_each_key_once_and_pages_by_a_hundred() -> None:
    """BatchGetItem refuses a request that repeats a key: a page of rows naming one user twice
    (two usage rows of one user) must still be answered."""
    asked: list[list[str]] = []

    class Client:
        async def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
            keys = [k["pk"]["S"] for k in RequestItems["t"]["Keys"]]
            assert len(keys) == len(set(keys)), "a key repeated in one request"
            asked.append(keys)
            return {"Responses": {"t": [{"pk": {"S": k}} for k in keys if k != "u-missing"]}}

    keys = [{"pk": {"S": f"u{i}"}} for i in range(150)] + [{"pk": {"S": "u3"}}, {"pk": {"S": "u-missing"}}]
    found = await batch_get(Client(), "t", keys)

    assert [len(page) for page in asked] == [100, 51]
    assert sorted(item["pk"]["S"] for item in found) == sorted(f"u{i}" for i in range(150))
