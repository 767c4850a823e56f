"""BatchWriteItem with the retry of UnprocessedItems (the kit's one definition): unprocessed
requests are sent again after a growing delay, until written or, with a bounded policy, until
the calls run out; at most 25 requests a call."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from algoitny_shared import batch_write
from algoitny_shared.aws import AsyncDynamoDB
from algoitny_shared.batch_write import MAX_BATCH_WRITE, Retry, UnprocessedItemsError


class FakeDynamo:
    """Leaves the first request of each call unprocessed for the first ``refusals`` calls."""

    def __init__(self, refusals: int) -> None:
        self.refusals = refusals
        self.calls: list[list[Any]] = []
        self.written: list[Any] = []

    def batch_write_item(self, RequestItems: dict[str, list[Any]]) -> dict[str, Any]:
        [(table, requests)] = RequestItems.items()
        assert table == "t" and 0 < len(requests) <= MAX_BATCH_WRITE
        self.calls.append(list(requests))
        if len(self.calls) <= self.refusals:
            self.written.extend(requests[1:])
            return {"UnprocessedItems": {table: requests[:1]}}
        self.written.extend(requests)
        return {"UnprocessedItems": {}}


def puts(n: int) -> list[dict[str, Any]]:
    return [{"PutRequest": {"Item": {"id": {"S": str(i)}}}} for i in range(n)]


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The delays the module waits, recorded instead of waited (async and blocking)."""
    waited: list[float] = []

    async def fake_async_sleep(delay: float) -> None:
        waited.append(delay)

    monkeypatch.setattr(batch_write.asyncio, "sleep", fake_async_sleep)
    monkeypatch.setattr(batch_write.time, "sleep", waited.append)
    return waited


def test_unprocessed_items_are_sent_again_with_a_doubling_delay_until_written(sleeps: list[float]) -> None:
    db = FakeDynamo(refusals=7)
    asyncio.run(batch_write.write(AsyncDynamoDB(db), "t", puts(10)))  # type: ignore[arg-type]
    assert len(db.calls) == 8 and [len(c) for c in db.calls[1:]] == [1] * 7
    assert sorted(str(r) for r in db.written) == sorted(str(r) for r in puts(10))
    assert sleeps == [0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 2.0]  # the default: without end, capped at 2 s


def test_the_blocking_variant_follows_the_same_policy(sleeps: list[float]) -> None:
    db = FakeDynamo(refusals=3)
    assert batch_write.write_all_sync(db, "t", puts(60)) == 60  # type: ignore[arg-type]
    assert [len(c) for c in db.calls] == [25, 1, 1, 1, 25, 10]  # chunk by chunk, in order
    assert len(db.written) == 60 and sleeps == [0.05, 0.1, 0.2]


def test_a_bounded_policy_raises_when_items_stay_unprocessed(sleeps: list[float]) -> None:
    db = FakeDynamo(refusals=100)
    retry = Retry(attempts=4, first_delay_s=0.02, max_delay_s=1.0, jitter=True)
    with pytest.raises(UnprocessedItemsError, match="1 items stayed unprocessed"):
        asyncio.run(batch_write.write(AsyncDynamoDB(db), "t", puts(3), retry))  # type: ignore[arg-type]
    assert len(db.calls) == 4 and len(sleeps) == 3  # no wait after the last call
    assert all(0.5 * full <= got <= full for got, full in zip(sleeps, [0.02, 0.04, 0.08], strict=True))


def test_at_most_25_requests_a_call_and_nothing_sent_for_none(sleeps: list[float]) -> None:
    db = FakeDynamo(refusals=0)
    with pytest.raises(ValueError, match="at most 25"):
        asyncio.run(batch_write.write(AsyncDynamoDB(db), "t", puts(26)))  # type: ignore[arg-type]
    asyncio.run(batch_write.write(AsyncDynamoDB(db), "t", []))  # type: ignore[arg-type]
    assert db.calls == [] and [len(c) for c in batch_write.chunks(puts(51))] == [25, 25, 1]
