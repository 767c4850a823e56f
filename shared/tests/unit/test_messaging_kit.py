"""The messaging kit on the in-memory unit of work: the one conflict-retry policy and the one
idempotent-handler wrapper (inbox record in the handler's own transaction)."""

from __future__ import annotations

from typing import Any

import pytest

from algoitny_shared.inbox import Inbox, handle_once
from algoitny_shared.tables import TableSpec
from algoitny_shared.uow import (
    ConflictRetry,
    InMemoryUnitOfWork,
    TransactionConflict,
    UnitOfWork,
    any_conflict,
    contention_only,
)

FAST = ConflictRetry(attempts=4, base_delay_s=0.0)
INBOX = Inbox(None, TableSpec(owner="t", name="Inbox", hash_key="pk"), "ns")


class Envelope:
    def __init__(self, event_id: str) -> None:
        self.event_id = event_id


class Applied:
    """An in-memory store of applied events: the inbox condition and a state condition."""

    def __init__(self) -> None:
        self.inbox: set[str] = set()
        self.contention = 0  # cancel this many commits by contention first
        self.stale = 0  # cancel this many commits by the state's condition first
        self.uows: list[InMemoryUnitOfWork] = []

    def cancel(self, items: list[dict[str, Any]]) -> list[str] | None:
        pk = items[0]["Put"]["Item"]["pk"]["S"]
        if pk in self.inbox:
            return ["ConditionalCheckFailed"] + ["None"] * (len(items) - 1)
        if self.contention:
            self.contention -= 1
            return ["None"] + ["TransactionConflict"] * (len(items) - 1)
        if self.stale:
            self.stale -= 1
            return ["None"] + ["ConditionalCheckFailed"] * (len(items) - 1)
        self.inbox.add(pk)
        return None

    def uow(self) -> UnitOfWork:
        work = InMemoryUnitOfWork(cancel=self.cancel)
        self.uows.append(work)
        return work


async def test_the_inbox_record_commits_with_the_handlers_writes_and_a_redelivery_is_a_no_op() -> None:
    store = Applied()
    reads = []

    async def fill(uow: UnitOfWork) -> None:
        reads.append(1)
        uow.add({"Update": {"TableName": "state"}})

    assert await handle_once(INBOX, "c", Envelope("e1"), store.uow, fill, policy=FAST) is True  # type: ignore[arg-type]
    assert [len(t) for t in store.uows[0].committed] == [2]  # inbox + the handler's write, together
    assert await handle_once(INBOX, "c", Envelope("e1"), store.uow, fill, policy=FAST) is False  # type: ignore[arg-type]
    assert sum(len(u.committed) for u in store.uows) == 1


async def test_contention_is_retried_a_failed_condition_only_when_asked() -> None:
    store = Applied()

    async def fill(uow: UnitOfWork) -> None:
        uow.add({"Update": {"TableName": "state"}})

    store.contention = 2
    assert await handle_once(INBOX, "c", Envelope("e2"), store.uow, fill, policy=FAST) is True  # type: ignore[arg-type]
    assert len(store.uows) == 3  # read and decided again each time
    store.stale = 1
    with pytest.raises(TransactionConflict) as caught:
        await handle_once(INBOX, "c", Envelope("e3"), store.uow, fill, policy=FAST)  # type: ignore[arg-type]
    assert caught.value.reasons[1:] == ["ConditionalCheckFailed"]
    store.stale = 1
    ok = await handle_once(INBOX, "c", Envelope("e3"), store.uow, fill, policy=FAST, retry_if=any_conflict)  # type: ignore[arg-type]
    assert ok is True


async def test_commit_with_the_policy_resends_the_same_items_and_gives_up_after_its_attempts() -> None:
    calls = []

    def cancel(items: list[dict[str, Any]]) -> list[str] | None:
        calls.append(list(items))
        return ["TransactionConflict"] if len(calls) < 3 else None

    uow = InMemoryUnitOfWork(cancel=cancel)
    uow.add({"Put": {"TableName": "x"}})
    assert uow.size == 1
    await uow.commit(retry=FAST)
    assert len(calls) == 3 and all(c == calls[0] for c in calls) and uow.committed == [calls[0]] and uow.size == 0

    always = InMemoryUnitOfWork(cancel=lambda items: ["TransactionConflict"])
    always.add({"Put": {"TableName": "x"}})
    with pytest.raises(TransactionConflict):
        await always.commit(retry=FAST)
    assert contention_only(TransactionConflict(["TransactionConflict", "ConditionalCheckFailed"])) is False
