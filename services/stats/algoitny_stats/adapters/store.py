"""The Stats table on DynamoDB: generations, batched reads, one transaction per batch, queries.

Every key is prefixed by its generation (``G<n>#``); ``CONTROL/ACTIVE`` names the active one.
Reads are GetItem, BatchGetItem and Query on keys; nothing here scans (except dropping an
old generation, an operator command).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from algoitny_shared import batch_write
from algoitny_shared.aws import AsyncDynamoDB, call
from algoitny_shared.dynamo import from_item, to_item
from algoitny_stats.adapters.tables import STATS
from algoitny_stats.domain.aggregation import Key

CONTROL_PK = "CONTROL"
ACTIVE_SK = "ACTIVE"
BUILDING_SK = "BUILDING"
MAX_TRANSACTION_ITEMS = 100


class TransactionFailed(Exception):
    """The transaction was cancelled; ``reasons`` lines up with the items (Code per item)."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(", ".join(reasons))
        self.reasons = reasons


def prefix(generation: int) -> str:
    return f"G{generation}#"


class StatsStore:
    def __init__(self, client: Any, namespace: str) -> None:
        self._client = AsyncDynamoDB(client)
        self.table = STATS.physical(namespace)

    # -- control ----------------------------------------------------------------------------

    async def active_generation(self) -> int:
        """The generation readers and the live consumer use (1 until a rebuild switched)."""
        resp = await self._client.get_item(
            TableName=self.table,
            Key={"pk": {"S": CONTROL_PK}, "sk": {"S": ACTIVE_SK}},
            ConsistentRead=True,
        )
        item = resp.get("Item")
        return int(item["generation"]["N"]) if item else 1

    async def ensure_control(self) -> int:
        """Create CONTROL/ACTIVE (generation 1) if absent, so consumers can condition on it."""
        with contextlib.suppress(self._client.exceptions.ConditionalCheckFailedException):
            await self._client.put_item(
                TableName=self.table,
                Item=to_item({"pk": CONTROL_PK, "sk": ACTIVE_SK, "generation": 1}),
                ConditionExpression="attribute_not_exists(pk)",
            )
        return await self.active_generation()

    def active_is(self, generation: int) -> dict[str, Any]:
        """A transaction item: the batch applies only while ``generation`` is still active."""
        return {
            "ConditionCheck": {
                "TableName": self.table,
                "Key": {"pk": {"S": CONTROL_PK}, "sk": {"S": ACTIVE_SK}},
                "ConditionExpression": "generation = :g",
                "ExpressionAttributeValues": {":g": {"N": str(generation)}},
            }
        }

    async def claim_building(self, generation: int, active: int) -> None:
        """Record the generation a rebuild fills (refused if another rebuild took it)."""
        await self._client.put_item(
            TableName=self.table,
            Item=to_item({"pk": CONTROL_PK, "sk": BUILDING_SK, "generation": generation, "from": active}),
            ConditionExpression="attribute_not_exists(pk) OR generation < :g",
            ExpressionAttributeValues={":g": {"N": str(generation)}},
        )

    async def building_generation(self) -> int:
        resp = await self._client.get_item(
            TableName=self.table,
            Key={"pk": {"S": CONTROL_PK}, "sk": {"S": BUILDING_SK}},
            ConsistentRead=True,
        )
        item = resp.get("Item")
        return int(item["generation"]["N"]) if item else 0

    async def switch(self, old: int, new: int) -> None:
        """Make ``new`` the active generation, only if ``old`` still is."""
        await self._client.put_item(
            TableName=self.table,
            Item=to_item({"pk": CONTROL_PK, "sk": ACTIVE_SK, "generation": new, "previous": old}),
            ConditionExpression="generation = :old",
            ExpressionAttributeValues={":old": {"N": str(old)}},
        )

    # -- batched reads and the transaction --------------------------------------------------

    async def get_many(self, generation: int, keys: list[Key]) -> dict[Key, dict[str, Any]]:
        """Strongly consistent BatchGetItem of up to 100 keys; absent keys are missing."""
        p = prefix(generation)
        found: dict[Key, dict[str, Any]] = {}
        pending: list[dict[str, Any]] = [{"pk": {"S": p + pk}, "sk": {"S": sk}} for pk, sk in dict.fromkeys(keys)]
        for start in range(0, len(pending), 100):
            request: dict[str, Any] = {self.table: {"Keys": pending[start : start + 100], "ConsistentRead": True}}
            while request:
                resp = await self._client.batch_get_item(RequestItems=request)
                for raw in resp.get("Responses", {}).get(self.table, []):
                    item = from_item(raw)
                    found[(str(item.pop("pk"))[len(p) :], str(item.pop("sk")))] = item
                request = resp.get("UnprocessedKeys") or {}
                if request:
                    await asyncio.sleep(0.05)
        return found

    def inbox_add(self, generation: int, key: Key, event_ids: list[str]) -> dict[str, Any]:
        """Record events in their inbox item, only if none of them is recorded yet."""
        values: dict[str, Any] = {":ids": {"SS": sorted(event_ids)}}
        clauses = []
        for i, event_id in enumerate(event_ids):
            values[f":e{i}"] = {"S": event_id}
            clauses.append(f"NOT contains(#ids, :e{i})")
        return {
            "Update": {
                "TableName": self.table,
                "Key": {"pk": {"S": prefix(generation) + key[0]}, "sk": {"S": key[1]}},
                "UpdateExpression": "ADD #ids :ids",
                "ConditionExpression": f"attribute_not_exists(#ids) OR ({' AND '.join(clauses)})",
                "ExpressionAttributeNames": {"#ids": "ids"},
                "ExpressionAttributeValues": values,
            }
        }

    def counter_update(self, generation: int, key: Key, deltas: dict[str, int]) -> dict[str, Any]:
        names = {f"#a{i}": a for i, a in enumerate(deltas)}
        values = {f":v{i}": {"N": str(d)} for i, d in enumerate(deltas.values())}
        return {
            "Update": {
                "TableName": self.table,
                "Key": {"pk": {"S": prefix(generation) + key[0]}, "sk": {"S": key[1]}},
                "UpdateExpression": "ADD " + ", ".join(f"#a{i} :v{i}" for i in range(len(deltas))),
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
        }

    def state_put(self, generation: int, key: Key, item: dict[str, Any], version: int | None) -> dict[str, Any]:
        body = {k: v for k, v in item.items() if k not in ("pk", "sk", "ver")}
        put: dict[str, Any] = {
            "TableName": self.table,
            "Item": to_item({**body, "pk": prefix(generation) + key[0], "sk": key[1], "ver": (version or 0) + 1}),
        }
        if version is None:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            put["ConditionExpression"] = "ver = :ver"
            put["ExpressionAttributeValues"] = {":ver": {"N": str(version)}}
        return {"Put": put}

    async def transact(self, items: list[dict[str, Any]]) -> None:
        if len(items) > MAX_TRANSACTION_ITEMS:
            raise ValueError(f"a transaction takes at most {MAX_TRANSACTION_ITEMS} items, got {len(items)}")
        try:
            await self._client.transact_write_items(TransactItems=items)
        except self._client.exceptions.TransactionCanceledException as exc:
            reasons = [r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])]
            raise TransactionFailed(reasons) from exc

    # -- reads for the API ------------------------------------------------------------------

    async def get(self, generation: int, key: Key) -> dict[str, Any] | None:
        resp = await self._client.get_item(
            TableName=self.table,
            Key={"pk": {"S": prefix(generation) + key[0]}, "sk": {"S": key[1]}},
        )
        item = resp.get("Item")
        return from_item(item) if item else None

    async def query(
        self,
        generation: int,
        pk: str,
        *,
        begins_with: str | None = None,
        between: tuple[str, str] | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Items of one partition in sort-key order (all pages, or the first ``limit``)."""
        condition = "pk = :pk"
        values: dict[str, Any] = {":pk": {"S": prefix(generation) + pk}}
        if begins_with is not None:
            condition += " AND begins_with(sk, :b)"
            values[":b"] = {"S": begins_with}
        elif between is not None:
            condition += " AND sk BETWEEN :lo AND :hi"
            values[":lo"], values[":hi"] = {"S": between[0]}, {"S": between[1]}
        items: list[dict[str, Any]] = []
        start: dict[str, Any] | None = None
        while True:
            request: dict[str, Any] = {
                "TableName": self.table,
                "KeyConditionExpression": condition,
                "ExpressionAttributeValues": values,
            }
            if limit is not None:
                request["Limit"] = limit - len(items)
            if start:
                request["ExclusiveStartKey"] = start
            resp = await self._client.query(**request)
            items.extend(from_item(i) for i in resp.get("Items", []))
            start = resp.get("LastEvaluatedKey")
            if not start or (limit is not None and len(items) >= limit):
                return items

    # -- operator commands ------------------------------------------------------------------

    async def drop_generation(self, generation: int) -> int:
        """Delete every item of an old generation (a Scan: an operator command, never a read path)."""
        p = prefix(generation)

        def run() -> int:
            deleted = 0
            paginator = self._client.client.get_paginator("scan")
            for page in paginator.paginate(
                TableName=self.table,
                FilterExpression="begins_with(pk, :p)",
                ExpressionAttributeValues={":p": {"S": p}},
                ProjectionExpression="pk, sk",
            ):
                requests = [{"DeleteRequest": {"Key": k}} for k in page.get("Items", [])]
                deleted += batch_write.write_all_sync(self._client.client, self.table, requests)
            return deleted

        return await call(run)
