"""BatchWriteItem with the retry of ``UnprocessedItems``, written once (async and sync).

DynamoDB takes at most 25 requests a call and may leave some of them unprocessed (throttling,
a partition's limit): those are sent again, after an exponential backoff, until none is left.
What differs between callers is the policy (``Retry``): how many calls at most (``None``: until
every request is written, as the outbox relay and a restore want), the first and largest
delay, and whether the delay is jittered. ``write`` and ``write_sync`` take at most 25 requests
(one call's worth); ``chunks`` cuts a longer list, and the caller decides whether the chunks run
one after another or together.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from algoitny_shared.aws import AsyncDynamoDB

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

MAX_BATCH_WRITE = 25  # DynamoDB's limit of requests in one BatchWriteItem (moto accepts more)

Request = Mapping[str, Any]  # {"PutRequest": {"Item": ...}} or {"DeleteRequest": {"Key": ...}}


class UnprocessedItemsError(RuntimeError):
    """Requests still unprocessed when a bounded ``Retry`` ran out of calls."""


@dataclass(frozen=True)
class Retry:
    """How unprocessed requests are sent again: after ``min(max_delay_s, first_delay_s * 2**n)``
    seconds (times a random 0.5-1 with ``jitter``), for at most ``attempts`` calls in all
    (``None``: without end)."""

    attempts: int | None = None
    first_delay_s: float = 0.05
    max_delay_s: float = 2.0
    jitter: bool = False

    def delay(self, retry: int) -> float:
        delay = min(self.max_delay_s, self.first_delay_s * 2**retry)
        return delay * random.uniform(0.5, 1.0) if self.jitter else delay


UNTIL_WRITTEN = Retry()  # the default: every request is written in the end


def chunks(requests: Sequence[Request], size: int = MAX_BATCH_WRITE) -> Iterator[list[Request]]:
    """``requests`` in lists of at most ``size`` (one BatchWriteItem each)."""
    for start in range(0, len(requests), size):
        yield list(requests[start : start + size])


class _Batch:
    """One chunk's state between calls: what is still to send, and the wait before sending it."""

    def __init__(self, table: str, requests: Sequence[Request], retry: Retry) -> None:
        if len(requests) > MAX_BATCH_WRITE:
            raise ValueError(f"BatchWriteItem takes at most {MAX_BATCH_WRITE} items, got {len(requests)}")
        self.table = table
        self.pending: list[Request] = list(requests)
        self._retry = retry
        self._calls = 0

    def request_items(self) -> dict[str, list[Request]]:
        return {self.table: self.pending}

    def after(self, response: Mapping[str, Any]) -> float | None:
        """The delay before the next call, None when every request is written; raises
        ``UnprocessedItemsError`` when the policy's calls are used up."""
        self.pending = list(response.get("UnprocessedItems", {}).get(self.table, []))
        if not self.pending:
            return None
        self._calls += 1
        if self._retry.attempts is not None and self._calls >= self._retry.attempts:
            raise UnprocessedItemsError(f"{len(self.pending)} items stayed unprocessed after retries")
        return self._retry.delay(self._calls - 1)


async def write(db: AsyncDynamoDB, table: str, requests: Sequence[Request], retry: Retry = UNTIL_WRITTEN) -> None:
    """At most 25 put/delete requests to ``table``, unprocessed ones sent again per ``retry``."""
    batch = _Batch(table, requests, retry)
    while batch.pending:
        delay = batch.after(await db.batch_write_item(RequestItems=batch.request_items()))
        if delay is not None:
            await asyncio.sleep(delay)


def write_sync(client: DynamoDBClient, table: str, requests: Sequence[Request], retry: Retry = UNTIL_WRITTEN) -> None:
    """``write`` for a plain boto3 client in blocking code (a thread, a CLI)."""
    batch = _Batch(table, requests, retry)
    while batch.pending:
        delay = batch.after(client.batch_write_item(RequestItems=batch.request_items()))  # type: ignore[arg-type]
        if delay is not None:
            time.sleep(delay)


def write_all_sync(
    client: DynamoDBClient, table: str, requests: Sequence[Request], retry: Retry = UNTIL_WRITTEN
) -> int:
    """Any number of requests, 25 a call, one call after another; the number of requests."""
    for chunk in chunks(requests):
        write_sync(client, table, chunk, retry)
    return len(requests)
