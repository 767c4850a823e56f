"""Idempotent consumption: remember processed event ids per consumer in DynamoDB."""

from __future__ import annotations

import time
from typing import Any

from algoitny_shared.aws import AsyncDynamoDB
from algoitny_shared.dynamo import to_item
from algoitny_shared.tables import TableSpec

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
