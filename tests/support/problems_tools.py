"""Helpers for tests of the problems service on moto: a container, a Scan guard, outbox reads."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from algoitny_shared.events import EventEnvelope
from support.outbox_tools import CommittedOutbox


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
        self._attached = [*getattr(self, "_attached", []), (client, service)]

    def detach(self) -> None:
        """Unhook from the clients: they are process-wide (cached), other tests use them too."""
        for client, service in getattr(self, "_attached", []):
            client.meta.events.unregister(f"before-call.{service}", self.before_call)
            if service == "dynamodb":
                client.meta.events.unregister("before-call.dynamodb.Scan", self.on_scan)
        self._attached = []

    @contextmanager
    def window(self) -> Iterator[Counter[str]]:
        """The operations issued inside the block."""
        before = Counter(self.calls)
        seen: Counter[str] = Counter()
        try:
            yield seen
        finally:
            seen.update(self.calls - before)


class OutboxSpy:
    """The envelopes a container committed to its outbox (its client's successful
    ``TransactWriteItems``: support.outbox_tools), whether or not a relay (e.g. the e2e
    platform's, same namespace) has published and deleted them since. ``detach`` when done."""

    def __init__(self, outbox: Any, client: Any) -> None:
        self._committed = CommittedOutbox(outbox.table).attach(client)

    def detach(self) -> None:
        self._committed.detach()

    async def events(self, client: Any, aggregate_id: str) -> list[EventEnvelope]:
        found = [
            EventEnvelope.model_validate_json(item["envelope"])
            for item in self._committed.items
            if item["aggregate_id"] == aggregate_id
        ]
        return sorted(found, key=lambda e: (e.aggregate_version, e.occurred_at))
