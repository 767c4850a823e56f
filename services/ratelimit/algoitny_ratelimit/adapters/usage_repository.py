"""Daily usage in DynamoDB: a counter per user, day and action, charge guards and an audit log.

Check-and-consume is one TransactWriteItems: the counter's conditional increment (fails
at the limit), the charge guard keyed by request id (fails on a retry), the log entry and
the outbox event. Either all of it happens or none of it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from algoitny_ratelimit.adapters.tables import USAGE_LOGS
from algoitny_ratelimit.domain.quota import UNLIMITED
from algoitny_shared.aws import AsyncDynamoDB
from algoitny_shared.dynamo import batch_get, put_if_absent, to_item
from algoitny_shared.idempotency import IdempotencyItems, IdempotencyRecord, StoredResponse

RETENTION_S = 30 * 24 * 3600


def partition(user_id: str, day: str) -> str:
    return f"USER#{user_id}#{day}"


class UsageRepository:
    def __init__(self, client: Any, namespace: str) -> None:
        self._client = AsyncDynamoDB(client)
        self.table = USAGE_LOGS.physical(namespace)
        # Idempotency records of metered requests (partition IDEM#<user id>), claimed in the
        # check-and-consume transaction.
        self.idempotency = IdempotencyItems(self.table)

    def consume_items(
        self, *, user_id: str, day: str, action: str, request_id: str, limit: int, now: datetime, plan_id: str
    ) -> list[dict[str, Any]]:
        pk = partition(user_id, day)
        expires = int(now.timestamp()) + RETENTION_S
        counter: dict[str, Any] = {
            "TableName": self.table,
            "Key": {"pk": {"S": pk}, "sk": {"S": f"COUNTER#{action}"}},
            "UpdateExpression": "SET expires_at = :exp ADD used :one",
            "ExpressionAttributeValues": {":one": {"N": "1"}, ":exp": {"N": str(expires)}},
        }
        if limit != UNLIMITED:
            counter["ConditionExpression"] = "attribute_not_exists(used) OR used < :limit"
            counter["ExpressionAttributeValues"][":limit"] = {"N": str(limit)}
        return [
            {"Update": counter},
            put_if_absent(
                self.table,
                "sk",
                {
                    "pk": pk,
                    "sk": f"REQ#{action}#{request_id}",
                    "charged_at": now.isoformat(),
                    "plan_id": plan_id,
                    "expires_at": expires,
                },
            ),
            self._log(pk, now, action, request_id, "consume", expires),
        ]

    def refund_items(
        self, *, user_id: str, day: str, action: str, request_id: str, now: datetime
    ) -> list[dict[str, Any]]:
        pk = partition(user_id, day)
        expires = int(now.timestamp()) + RETENTION_S
        return [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": {"pk": {"S": pk}, "sk": {"S": f"REQ#{action}#{request_id}"}},
                    "UpdateExpression": "SET refunded_at = :now",
                    "ConditionExpression": "attribute_exists(sk) AND attribute_not_exists(refunded_at)",
                    "ExpressionAttributeValues": {":now": {"S": now.isoformat()}},
                }
            },
            {
                "Update": {
                    "TableName": self.table,
                    "Key": {"pk": {"S": pk}, "sk": {"S": f"COUNTER#{action}"}},
                    "UpdateExpression": "ADD used :minus",
                    "ConditionExpression": "used > :zero",
                    "ExpressionAttributeValues": {":minus": {"N": "-1"}, ":zero": {"N": "0"}},
                }
            },
            self._log(pk, now, action, request_id, "refund", expires),
        ]

    def _log(self, pk: str, now: datetime, action: str, request_id: str, kind: str, expires: int) -> dict[str, Any]:
        return put_if_absent(
            self.table,
            "sk",
            {
                "pk": pk,
                "sk": f"LOG#{now.isoformat()}#{action}#{request_id}#{kind}",
                "kind": kind,
                "action": action,
                "request_id": request_id,
                "at": now.isoformat(),
                "expires_at": expires,
            },
        )

    async def used(self, user_id: str, day: str, actions: tuple[str, ...]) -> dict[str, int]:
        """Today's counters for the given actions (one BatchGetItem, strongly consistent; keys it
        leaves unprocessed are asked again, not read as unused)."""
        keys = [{"pk": {"S": partition(user_id, day)}, "sk": {"S": f"COUNTER#{a}"}} for a in actions]
        items = await batch_get(self._client, self.table, keys)
        found = {i["sk"]["S"].split("#", 1)[1]: int(i.get("used", {"N": "0"})["N"]) for i in items}
        return {a: found.get(a, 0) for a in actions}

    async def charge(self, user_id: str, day: str, action: str, request_id: str) -> dict[str, Any] | None:
        resp = await self._client.get_item(
            TableName=self.table,
            Key={"pk": {"S": partition(user_id, day)}, "sk": {"S": f"REQ#{action}#{request_id}"}},
            ConsistentRead=True,
        )
        return resp.get("Item")

    async def entries(self, user_id: str, day: str) -> list[dict[str, Any]]:
        """The day's audit log (a key-range query on the user's day partition)."""
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :log)",
            "ExpressionAttributeValues": {":pk": {"S": partition(user_id, day)}, ":log": {"S": "LOG#"}},
        }
        while True:
            resp = await self._client.query(**kwargs)
            items.extend(resp.get("Items", []))
            if "LastEvaluatedKey" not in resp:
                return items
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    async def idempotency_record(self, user_id: str, key: str, now: int) -> IdempotencyRecord | None:
        resp = await self._client.get_item(
            TableName=self.table, Key=self.idempotency.key(user_id, key), ConsistentRead=True
        )
        return self.idempotency.record_of(resp.get("Item"), now)

    async def settle_idempotency(self, user_id: str, key: str, attempt: str, response: StoredResponse | None) -> bool:
        """Store the answer of the attempt holding the key (or release the key without one);
        False when the attempt no longer holds it."""
        try:
            if response is not None:
                await self._client.update_item(**self.idempotency.complete(user_id, key, attempt, response))
            else:
                await self._client.delete_item(**self.idempotency.release(user_id, key, attempt))
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    # -- imported legacy usage logs ------------------------------------------------------
    def legacy_log_key(self, user_id: str, day: str, at: datetime, action: str, request_id: str) -> dict[str, Any]:
        return {"pk": {"S": partition(user_id, day)}, "sk": {"S": f"LOG#{at.isoformat()}#{action}#{request_id}#legacy"}}

    def legacy_log_put(
        self, key: dict[str, Any], *, action: str, request_id: str, at: datetime, legacy: dict[str, Any]
    ) -> dict[str, Any]:
        """An audit-log entry imported from the legacy ``usage_logs`` (kept: no expiry)."""
        item = {
            **key,
            **to_item(
                {
                    "kind": "legacy",
                    "action": action,
                    "request_id": request_id,
                    "at": at.isoformat(),
                    **{f"legacy_{k}": v for k, v in legacy.items()},
                }
            ),
        }
        return {"Put": {"TableName": self.table, "Item": item}}

    def delete_item(self, key: dict[str, Any]) -> dict[str, Any]:
        return {"Delete": {"TableName": self.table, "Key": key}}

    def counter_add(self, user_id: str, day: str, action: str, delta: int, expires: int) -> dict[str, Any]:
        """Move a day's counter by ``delta`` with no limit (imported usage happened already)."""
        return {
            "Update": {
                "TableName": self.table,
                "Key": {"pk": {"S": partition(user_id, day)}, "sk": {"S": f"COUNTER#{action}"}},
                "UpdateExpression": "SET expires_at = :exp ADD used :d",
                "ExpressionAttributeValues": {":d": {"N": str(delta)}, ":exp": {"N": str(expires)}},
            }
        }

    async def items(self, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The items of ``keys`` (BatchGetItem, strongly consistent), in no particular order."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(keys), 100):
            request: dict[str, Any] = {self.table: {"Keys": keys[start : start + 100], "ConsistentRead": True}}
            while request:
                resp = await self._client.batch_get_item(RequestItems=request)
                found.extend(resp["Responses"].get(self.table, []))
                request = resp.get("UnprocessedKeys") or {}
        return found
