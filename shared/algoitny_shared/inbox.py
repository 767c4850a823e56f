"""Idempotent consumption: remember processed event ids per consumer in DynamoDB.

``handle_once`` is the one idempotent-handler wrapper for handlers that write DynamoDB: the
consumer's inbox record is the first item of the handler's own transaction, so the effect and
the mark commit together (a crash between them can neither lose the effect nor apply it twice).

The consumer runtime (``kafka.EventConsumer``) keeps no inbox of its own: a handler either
applies its event through ``handle_once``, or its writes are idempotent by the event's version
or by the state they move and its docstring says so. Two consumers put ``Inbox.put_request``
into a transaction they build themselves, still as the first item (ratelimit's plan membership,
whose transaction also carries the legacy import's row record, and problems' judge health,
conditioned on the problem's version). The stats service batches many events into one
transaction and keeps its inbox items beside its counters, per counter key and per rebuild
generation (see ``algoitny_stats.service_layer.applier``): the same rule, inside the same
transaction, in the form a batch needs.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from algoitny_shared.aws import AsyncDynamoDB
from algoitny_shared.dynamo import to_item
from algoitny_shared.events import EventEnvelope
from algoitny_shared.tables import TableSpec
from algoitny_shared.uow import CONFLICT_RETRY, ConflictRetry, TransactionConflict, UnitOfWork, contention_only

INBOX_TTL_S = 14 * 24 * 3600


class Inbox:
    def __init__(self, client: Any, spec: TableSpec, namespace: str) -> None:
        self._client = AsyncDynamoDB(client)
        self.table = spec.physical(namespace)

    @staticmethod
    def _key(consumer: str, event_id: str) -> str:
        return f"{consumer}#{event_id}"

    async def seen(self, consumer: str, event_id: str) -> bool:
        resp = await self._client.get_item(
            TableName=self.table,
            Key={"pk": {"S": self._key(consumer, event_id)}},
            ConsistentRead=True,
        )
        item = resp.get("Item")
        return item is not None and int(item.get("expires_at", {"N": "0"})["N"]) > time.time()

    def put_request(self, consumer: str, event_id: str) -> dict[str, Any]:
        """A conditional Put for TransactWriteItems: fails if the event was already processed."""
        return {
            "Put": {
                "TableName": self.table,
                "Item": to_item(
                    {
                        "pk": self._key(consumer, event_id),
                        "processed_at": int(time.time()),
                        "expires_at": int(time.time()) + INBOX_TTL_S,
                    }
                ),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    async def mark(self, consumer: str, event_id: str) -> bool:
        """Record the event as processed; False if it already was (a concurrent duplicate)."""
        put = self.put_request(consumer, event_id)["Put"]
        try:
            await self._client.put_item(**put)
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True


def inbox_refused(exc: TransactionConflict) -> bool:
    """The transaction was cancelled by its inbox record (item 0): the event was applied before."""
    return bool(exc.reasons) and exc.reasons[0] == "ConditionalCheckFailed"


async def handle_once(
    inbox: Inbox,
    consumer: str,
    envelope: EventEnvelope,
    uow: Callable[[], UnitOfWork],
    fill: Callable[[UnitOfWork], Awaitable[None]],
    *,
    retry_if: Callable[[TransactionConflict], bool] = contention_only,
    policy: ConflictRetry = CONFLICT_RETRY,
) -> bool:
    """Apply ``envelope`` once for ``consumer``: a fresh unit of work gets the inbox record, then
    ``fill`` adds the handler's writes (it may read first), and it all commits as one. Returns
    False when the event had been applied already. A cancellation that ``retry_if`` accepts runs
    ``fill`` again on a new unit of work (``any_conflict`` for read-then-write handlers); any
    other is raised, ``TransactionConflict.reasons[1:]`` lining up with what ``fill`` added."""

    async def attempt() -> None:
        work = uow()
        work.add(inbox.put_request(consumer, str(envelope.event_id)))
        await fill(work)
        await work.commit()

    try:
        await policy.run(attempt, retry_if=lambda exc: not inbox_refused(exc) and retry_if(exc))
    except TransactionConflict as exc:
        if inbox_refused(exc):
            return False
        raise
    return True
