"""SearchHistory on DynamoDB: one item per execution, three newest-first indexes.

Every read is a GetItem or a Query on a key or index (no Scan). Lists query with
``execution_id < :before`` (the cursor) and ScanIndexForward=False.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

from algoitny_executions.adapters.tables import SEARCH_HISTORY
from algoitny_shared.aws import AsyncDynamoDB
from algoitny_shared.dynamo import from_item, put_if_absent, to_value


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    data = from_item(item)
    for key in ("code_z", "tests_z", "legacy_z"):
        value = data.get(key)
        if value is not None and not isinstance(value, bytes):
            data[key] = bytes(getattr(value, "value", value))
    return data


class HistoryRepository:
    def __init__(self, client: Any, namespace: str) -> None:
        self._client = AsyncDynamoDB(client)
        self.table = SEARCH_HISTORY.physical(namespace)

    # -- writes ------------------------------------------------------------------------

    def put_new(self, item: dict[str, Any]) -> dict[str, Any]:
        """A transaction item: the new execution (the id must be new)."""
        return put_if_absent(self.table, "execution_id", item)

    def complete(self, execution_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        """A transaction item: the final result, once (a redelivered job finds it completed)."""
        names = {f"#f{i}": k for i, k in enumerate(fields)}
        values = {f":v{i}": to_value(v) for i, v in enumerate(fields.values())}
        sets = ", ".join(f"#f{i} = :v{i}" for i in range(len(fields)))
        return {
            "Update": {
                "TableName": self.table,
                "Key": {"execution_id": {"S": execution_id}},
                "UpdateExpression": f"SET {sets}",
                "ConditionExpression": "attribute_exists(execution_id) AND #st <> :completed",
                "ExpressionAttributeNames": {**names, "#st": "status"},
                "ExpressionAttributeValues": {**values, ":completed": {"S": "completed"}},
            }
        }

    def set_visibility(self, execution_id: str, public: bool, shard: str, changes: int) -> dict[str, Any]:
        """A transaction item: ``public`` and the sparse ``public_shard`` (PublicHistoryIndex) together,
        on an existing item whose ``visibility_changes`` is still ``changes`` (no concurrent change)."""
        update = "SET #p = :p, #vc = :next" + (", #ps = :shard" if public else " REMOVE #ps")
        values: dict[str, Any] = {
            ":p": {"BOOL": public},
            ":next": {"N": str(changes + 1)},
            ":prev": {"N": str(changes)},
        }
        if public:
            values[":shard"] = {"S": shard}
        return {
            "Update": {
                "TableName": self.table,
                "Key": {"execution_id": {"S": execution_id}},
                "UpdateExpression": update,
                "ConditionExpression": "attribute_exists(execution_id) AND (attribute_not_exists(#vc) OR #vc = :prev)",
                "ExpressionAttributeNames": {"#p": "public", "#ps": "public_shard", "#vc": "visibility_changes"},
                "ExpressionAttributeValues": values,
            }
        }

    async def update(self, execution_id: str, fields: dict[str, Any], *, unless_completed: bool = True) -> bool:
        """Progress and status while judging; False when the execution was already completed."""
        names = {f"#f{i}": k for i, k in enumerate(fields)}
        values = {f":v{i}": to_value(v) for i, v in enumerate(fields.values())}
        request: dict[str, Any] = {
            "TableName": self.table,
            "Key": {"execution_id": {"S": execution_id}},
            "UpdateExpression": "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields))),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        if unless_completed:
            request["ConditionExpression"] = "attribute_exists(execution_id) AND #st <> :completed"
            request["ExpressionAttributeNames"]["#st"] = "status"
            request["ExpressionAttributeValues"][":completed"] = {"S": "completed"}
        try:
            await self._client.update_item(**request)
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    async def claim(self, execution_id: str, owner: str, lease_s: float, fields: dict[str, Any]) -> str:
        """Take (or renew) the judging lease: "claimed", or "held" (another worker's lease is
        live), "completed" or "missing". A job redelivered while its first worker still judges
        (a rebalance after Kafka's poll interval) is thereby never judged twice."""
        now = time.time()
        sets = {**fields, "lease_owner": owner, "lease_until": Decimal(str(round(now + lease_s, 3)))}
        names = {f"#f{i}": k for i, k in enumerate(sets)}
        values = {f":v{i}": to_value(v) for i, v in enumerate(sets.values())}
        try:
            await self._client.update_item(
                TableName=self.table,
                Key={"execution_id": {"S": execution_id}},
                UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(sets))),
                ConditionExpression="attribute_exists(execution_id) AND #st <> :completed AND "
                "(attribute_not_exists(#lu) OR #lu < :now OR #lo = :me)",
                ExpressionAttributeNames={**names, "#st": "status", "#lu": "lease_until", "#lo": "lease_owner"},
                ExpressionAttributeValues={
                    **values,
                    ":completed": {"S": "completed"},
                    ":now": to_value(Decimal(str(round(now, 3)))),
                    ":me": {"S": owner},
                },
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            item = await self.get(execution_id, consistent=True)
            if item is None:
                return "missing"
            return "completed" if item.get("status") == "completed" else "held"
        return "claimed"

    # -- reads -------------------------------------------------------------------------

    async def get(self, execution_id: str, *, consistent: bool = False) -> dict[str, Any] | None:
        resp = await self._client.get_item(
            TableName=self.table,
            Key={"execution_id": {"S": execution_id}},
            ConsistentRead=consistent,
        )
        item = resp.get("Item")
        return _plain(item) if item else None

    async def get_many(self, execution_ids: list[str], *, consistent: bool = False) -> dict[str, dict[str, Any]]:
        """The items of these executions that exist (``BatchGetItem``, 100 keys a request)."""
        wanted = list(dict.fromkeys(execution_ids))
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(wanted), 100):
            request: dict[str, Any] = {
                self.table: {
                    "Keys": [{"execution_id": {"S": e}} for e in wanted[start : start + 100]],
                    "ConsistentRead": consistent,
                }
            }
            for attempt in range(10):
                resp = await self._client.batch_get_item(RequestItems=request)
                for raw in resp.get("Responses", {}).get(self.table, []):
                    item = _plain(raw)
                    found[item["execution_id"]] = item
                request = dict(resp.get("UnprocessedKeys") or {})
                if not request:
                    break
                await asyncio.sleep(0.02 * 2**attempt)
            else:
                raise TimeoutError("history items still unprocessed after 10 tries")
        return found

    async def query_index(
        self, index: str, hash_name: str, hash_value: str, *, before: str | None, limit: int
    ) -> list[dict[str, Any]]:
        """Up to ``limit`` items of one index partition, newest first, strictly before ``before``."""
        condition = "#h = :h"
        values: dict[str, Any] = {":h": {"S": hash_value}}
        if before:
            condition += " AND execution_id < :before"
            values[":before"] = {"S": before}
        items: list[dict[str, Any]] = []
        start: dict[str, Any] | None = None
        while len(items) < limit:
            request: dict[str, Any] = {
                "TableName": self.table,
                "IndexName": index,
                "KeyConditionExpression": condition,
                "ExpressionAttributeNames": {"#h": hash_name},
                "ExpressionAttributeValues": values,
                "ScanIndexForward": False,
                "Limit": limit - len(items),
            }
            if start:
                request["ExclusiveStartKey"] = start
            resp = await self._client.query(**request)
            items.extend(_plain(i) for i in resp.get("Items", []))
            start = resp.get("LastEvaluatedKey")
            if not start:
                break
        return items

    async def by_user(self, user_id: str, *, before: str | None, limit: int) -> list[dict[str, Any]]:
        return await self.query_index("UserHistoryIndex", "user_id", user_id, before=before, limit=limit)

    async def by_public_shard(self, shard: str, *, before: str | None, limit: int) -> list[dict[str, Any]]:
        return await self.query_index("PublicHistoryIndex", "public_shard", shard, before=before, limit=limit)

    async def by_problem(self, key: str, *, before: str | None, limit: int) -> list[dict[str, Any]]:
        return await self.query_index("ProblemHistoryIndex", "problem_key", key, before=before, limit=limit)
