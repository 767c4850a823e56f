"""What a test's code committed to an outbox, whether or not a relay has published it since.

A relay deletes an outbox item once it has published the event (algoitny_shared.outbox), and in a
session with the e2e platform (same namespace) the platform's relays publish the items a test's
own container commits. So a test does not read its events back from the table: it watches the
client's ``TransactWriteItems`` calls (botocore event hooks) and keeps the outbox items of those
that succeeded.
"""

from __future__ import annotations

from typing import Any

from algoitny_shared.dynamo import from_item


class CommittedOutbox:
    """The items put into the outbox table ``table`` by the ``TransactWriteItems`` calls of the
    clients it is attached to that succeeded, in commit order (plain values: ``from_item``)."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.items: list[dict[str, Any]] = []
        self._attached: list[Any] = []

    def _before(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["committed_outbox"] = [
            entry["Put"]["Item"]
            for entry in params.get("TransactItems", [])
            if "Put" in entry and entry["Put"].get("TableName") == self.table
        ]

    def _after(self, http_response: Any, context: dict[str, Any], **_: Any) -> None:
        if http_response.status_code == 200:
            self.items.extend(from_item(item) for item in context.get("committed_outbox", []))

    def attach(self, client: Any) -> CommittedOutbox:
        client.meta.events.register("before-parameter-build.dynamodb.TransactWriteItems", self._before)
        client.meta.events.register("after-call.dynamodb.TransactWriteItems", self._after)
        self._attached.append(client)
        return self

    def detach(self) -> None:
        """Unhook from the clients: they are process-wide (cached), other tests use them too."""
        for client in self._attached:
            client.meta.events.unregister("before-parameter-build.dynamodb.TransactWriteItems", self._before)
            client.meta.events.unregister("after-call.dynamodb.TransactWriteItems", self._after)
        self._attached = []

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [item for item in self.items if item["event_type"] == event_type]
