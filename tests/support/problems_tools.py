"""Helpers for tests of the problems service on moto: a container, a Scan guard, outbox reads."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from algoitny_shared.dynamo import from_item
from algoitny_shared.events import EventEnvelope
from algoitny_shared.tables import PROBLEMS_OUTBOX


class CallRecorder:
    """Counts the AWS operations a client issues (botocore event hooks); a Scan fails the test."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.scans: list[dict[str, Any]] = []

    def before_call(self, event_name: str, params: dict[str, Any], **_: Any) -> None:
        operation = event_name.rsplit(".", 1)[-1]
        self.calls[operation] += 1

    def on_scan(self, params: dict[str, Any], **_: Any) -> None:
        self.scans.append(params)
        raise AssertionError(f"Scan issued on a problems path: {params.get('TableName')}")

    def attach(self, client: Any, service: str) -> None:
        client.meta.events.register(f"before-call.{service}", self.before_call)
        if service == "dynamodb":
            client.meta.events.register("before-call.dynamodb.Scan", self.on_scan)

    @contextmanager
    def window(self) -> Iterator[Counter[str]]:
        """The operations issued inside the block."""
        before = Counter(self.calls)
        seen: Counter[str] = Counter()
        try:
            yield seen
        finally:
            seen.update(self.calls - before)


async def outbox_events(client: Any, namespace: str, aggregate_id: str) -> list[EventEnvelope]:
    """Events of one aggregate still pending in the problems outbox (no relay runs in these
    tests), oldest first. A Query on the outbox's PendingIndex."""
    table = PROBLEMS_OUTBOX.physical(namespace)
    found: list[EventEnvelope] = []
    start: dict[str, Any] | None = None
    while True:
        kwargs: dict[str, Any] = {
            "TableName": table,
            "IndexName": "PendingIndex",
            "KeyConditionExpression": "pending = :p",
            "ExpressionAttributeValues": {":p": {"S": "1"}},
        }
        if start:
            kwargs["ExclusiveStartKey"] = start
        resp = await asyncio.to_thread(client.query, **kwargs)
        for item in resp.get("Items", []):
            data = from_item(item)
            if data.get("aggregate_id") == aggregate_id:
                found.append(EventEnvelope.model_validate_json(data["envelope"]))
        start = resp.get("LastEvaluatedKey")
        if not start:
            return sorted(found, key=lambda e: (e.aggregate_version, e.occurred_at))
