"""A DynamoDB unit of work: state changes and their events commit in one TransactWriteItems."""

from __future__ import annotations

from typing import Any

from algoitny_shared.aws import AsyncDynamoDB
from algoitny_shared.events import EventEnvelope
from algoitny_shared.faults import CRASH_AFTER_COMMIT, crash_point
from algoitny_shared.outbox import Outbox

MAX_TRANSACTION_ITEMS = 100


class TransactionConflict(Exception):
    """A condition in the transaction failed; ``reasons`` lines up with the items."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(", ".join(reasons))
        self.reasons = reasons


class DynamoUnitOfWork:
    def __init__(self, client: Any, outbox: Outbox, fault_points: frozenset[str] = frozenset()) -> None:
        self._client = AsyncDynamoDB(client)
        self._outbox = outbox
        self._faults = fault_points
        self._items: list[dict[str, Any]] = []
        self.events: list[EventEnvelope] = []

    def add(self, transact_item: dict[str, Any]) -> None:
        self._items.append(transact_item)

    def publish(self, envelope: EventEnvelope) -> None:
        self.events.append(envelope)
        self._items.append(self._outbox.put_request(envelope))

    async def commit(self) -> None:
        if not self._items:
            return
        if len(self._items) > MAX_TRANSACTION_ITEMS:
            raise ValueError(f"a transaction takes at most {MAX_TRANSACTION_ITEMS} items, got {len(self._items)}")
        try:
            await self._client.transact_write_items(TransactItems=self._items)
        except self._client.exceptions.TransactionCanceledException as exc:
            reasons = [r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])]
            raise TransactionConflict(reasons) from exc
        finally:
            self._items = []
        crash_point(CRASH_AFTER_COMMIT, self._faults)
        self._outbox.notify()
