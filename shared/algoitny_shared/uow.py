"""Units of work: state changes and their events commit in one transaction, and the one
conflict-retry policy every service uses.

* ``UnitOfWork``: what use cases see (``add`` a transaction item, ``publish`` an event,
  ``commit``); ``size`` tells how many items are in it (to line up cancellation reasons).
* ``DynamoUnitOfWork``: one ``TransactWriteItems`` with the outbox rows of the events.
* ``InMemoryUnitOfWork``: the same contract in memory, for use-case tests (no moto, no Kafka):
  it records what each commit wrote and can be told to cancel a commit with given reasons.
* ``ConflictRetry`` / ``CONFLICT_RETRY``: retry a cancelled transaction (by default only when
  it was cancelled by contention, never by a failed condition), with jittered exponential
  back-off. ``commit(retry=CONFLICT_RETRY)`` resends the same items; ``CONFLICT_RETRY.run``
  runs a whole attempt again (read, decide, commit) for optimistic updates.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from algoitny_shared.aws import AsyncDynamoDB
from algoitny_shared.events import EventEnvelope
from algoitny_shared.faults import CRASH_AFTER_COMMIT, crash_point
from algoitny_shared.outbox import Outbox, shard_of

MAX_TRANSACTION_ITEMS = 100
T = TypeVar("T")


class TransactionConflict(Exception):
    """A condition in the transaction failed; ``reasons`` lines up with the items."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(", ".join(reasons))
        self.reasons = reasons


def contention_only(exc: TransactionConflict) -> bool:
    """Cancelled because another transaction touched the same items, no condition failed."""
    return "TransactionConflict" in exc.reasons and "ConditionalCheckFailed" not in exc.reasons


def any_conflict(exc: TransactionConflict) -> bool:
    """Contention or a failed condition: for attempts that read again before they write."""
    return bool({"TransactionConflict", "ConditionalCheckFailed"} & set(exc.reasons))


@dataclass(frozen=True)
class ConflictRetry:
    """The one conflict-retry policy: ``attempts`` tries, jittered exponential back-off."""

    attempts: int = 8
    base_delay_s: float = 0.01
    max_delay_s: float = 0.5

    async def backoff(self, attempt: int) -> None:
        await asyncio.sleep(random.uniform(0, min(self.max_delay_s, self.base_delay_s * 2**attempt)))

    async def run(
        self,
        attempt: Callable[[], Awaitable[T]],
        retry_if: Callable[[TransactionConflict], bool] = contention_only,
    ) -> T:
        """``attempt()`` until it returns; a ``TransactionConflict`` that ``retry_if`` accepts is
        retried after a back-off, any other (or the last) is raised."""
        for n in range(self.attempts):
            try:
                return await attempt()
            except TransactionConflict as exc:
                if not retry_if(exc) or n == self.attempts - 1:
                    raise
                await self.backoff(n)
        raise AssertionError("unreachable")


CONFLICT_RETRY = ConflictRetry()


class UnitOfWork(Protocol):
    events: list[EventEnvelope]

    @property
    def size(self) -> int: ...

    def add(self, transact_item: dict[str, Any]) -> None: ...

    def publish(self, envelope: EventEnvelope) -> None: ...

    async def commit(self, retry: ConflictRetry | None = None) -> None: ...


class _CollectingUnitOfWork:
    """What every unit of work shares: items and events collected, then sent in one go."""

    def __init__(self) -> None:
        self._items: list[dict[str, Any]] = []
        self._pending: list[EventEnvelope] = []
        self.events: list[EventEnvelope] = []

    @property
    def size(self) -> int:
        return len(self._items)

    def add(self, transact_item: dict[str, Any]) -> None:
        self._items.append(transact_item)

    def publish(self, envelope: EventEnvelope) -> None:
        self.events.append(envelope)
        self._pending.append(envelope)
        self._items.append(self._outbox_item(envelope))

    def take(self) -> tuple[list[dict[str, Any]], list[EventEnvelope]]:
        """The items (outbox rows included) and events added since the last commit, taken out:
        to commit them with other units of work's in one transaction (:meth:`extend`)."""
        items, self._items = self._items, []
        events, self._pending = self._pending, []
        return items, events

    def extend(self, items: list[dict[str, Any]], events: list[EventEnvelope]) -> None:
        """Add what :meth:`take` took from another unit of work of the same outbox."""
        self._items.extend(items)
        self._pending.extend(events)
        self.events.extend(events)

    def _outbox_item(self, envelope: EventEnvelope) -> dict[str, Any]:
        raise NotImplementedError

    async def _send(self, items: list[dict[str, Any]], events: list[EventEnvelope]) -> None:
        raise NotImplementedError

    async def commit(self, retry: ConflictRetry | None = None) -> None:
        """Everything added since the last commit, as one transaction; with ``retry``, the same
        items again after contention. The items are gone afterwards, committed or not."""
        items, self._items = self._items, []
        events, self._pending = self._pending, []
        if not items:
            return
        if len(items) > MAX_TRANSACTION_ITEMS:
            raise ValueError(f"a transaction takes at most {MAX_TRANSACTION_ITEMS} items, got {len(items)}")
        await (retry.run(lambda: self._send(items, events)) if retry else self._send(items, events))


class DynamoUnitOfWork(_CollectingUnitOfWork):
    """One TransactWriteItems with the outbox rows of the events; wakes the relay for their shards."""

    def __init__(self, client: Any, outbox: Outbox, fault_points: frozenset[str] = frozenset()) -> None:
        super().__init__()
        self._client = AsyncDynamoDB(client)
        self._outbox = outbox
        self._faults = fault_points

    def _outbox_item(self, envelope: EventEnvelope) -> dict[str, Any]:
        return self._outbox.put_request(envelope)

    async def _send(self, items: list[dict[str, Any]], events: list[EventEnvelope]) -> None:
        try:
            await self._client.transact_write_items(TransactItems=items)
        except self._client.exceptions.TransactionCanceledException as exc:
            reasons = [r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])]
            raise TransactionConflict(reasons) from exc
        crash_point(CRASH_AFTER_COMMIT, self._faults)
        if events:
            self._outbox.notify({shard_of(e.aggregate_id) for e in events})


class InMemoryUnitOfWork(_CollectingUnitOfWork):
    """The unit-of-work contract in memory, for use-case tests. ``committed`` holds each
    commit's items, ``published`` the events committed; ``cancel`` (items -> reasons, or None)
    cancels a commit as DynamoDB would (``TransactionConflict``, one reason per item)."""

    def __init__(self, cancel: Callable[[list[dict[str, Any]]], list[str] | None] | None = None) -> None:
        super().__init__()
        self.cancel = cancel
        self.committed: list[list[dict[str, Any]]] = []
        self.published: list[EventEnvelope] = []

    def _outbox_item(self, envelope: EventEnvelope) -> dict[str, Any]:
        return {"Put": {"TableName": "outbox", "Item": {"event_id": {"S": str(envelope.event_id)}}}}

    async def _send(self, items: list[dict[str, Any]], events: list[EventEnvelope]) -> None:
        reasons = self.cancel(items) if self.cancel else None
        if reasons:
            raise TransactionConflict(reasons)
        self.committed.append(items)
        self.published.extend(events)
