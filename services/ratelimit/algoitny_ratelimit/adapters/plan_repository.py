"""Plans in DynamoDB: keyed by id, listed through PlanListIndex, names unique through guard items."""

from __future__ import annotations

import time
from typing import Any

from algoitny_ratelimit.adapters.tables import SUBSCRIPTION_PLANS
from algoitny_ratelimit.domain.plans import Plan
from algoitny_shared.aws import AsyncDynamoDB
from algoitny_shared.dynamo import from_item, put_if_absent, to_item

LISTED = "PLAN"
CACHE_TTL_S = 5.0


def _name_key(name: str) -> str:
    return " ".join(name.lower().split())


class PlanRepository:
    def __init__(self, client: Any, namespace: str) -> None:
        self._client = AsyncDynamoDB(client)
        self.table = SUBSCRIPTION_PLANS.physical(namespace)
        self._cache: dict[str, tuple[float, Plan | None]] = {}

    # -- reads -------------------------------------------------------------
    async def get(self, plan_id: str, *, fresh: bool = False) -> Plan | None:
        cached = self._cache.get(plan_id)
        if not fresh and cached and time.monotonic() - cached[0] < CACHE_TTL_S:
            return cached[1]
        resp = await self._client.get_item(TableName=self.table, Key={"plan_id": {"S": plan_id}}, ConsistentRead=fresh)
        item = resp.get("Item")
        plan = _plan(item) if item and item.get("listed") else None
        self._cache[plan_id] = (time.monotonic(), plan)
        return plan

    async def all(self) -> list[Plan]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": "PlanListIndex",
            "KeyConditionExpression": "listed = :p",
            "ExpressionAttributeValues": {":p": {"S": LISTED}},
        }
        while True:
            resp = await self._client.query(**kwargs)
            items.extend(resp.get("Items", []))
            if "LastEvaluatedKey" not in resp:
                return [_plan(i) for i in items]
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    async def name_owner(self, name: str) -> str | None:
        """The id of the plan holding ``name`` (names are unique regardless of case and spacing)."""
        resp = await self._client.get_item(
            TableName=self.table, Key={"plan_id": {"S": f"NAME#{_name_key(name)}"}}, ConsistentRead=True
        )
        item = resp.get("Item")
        return str(item["owner"]["S"]) if item else None

    # -- transaction items -------------------------------------------------
    async def raw(self, plan_id: str) -> dict[str, Any] | None:
        """The plan's item as stored (with the ``legacy_*`` attributes of an imported plan)."""
        resp = await self._client.get_item(TableName=self.table, Key={"plan_id": {"S": plan_id}}, ConsistentRead=True)
        item = resp.get("Item")
        return from_item(item) if item and item.get("listed") else None

    def put_new(self, plan: Plan, extra: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """``extra``: further attributes of the item (``legacy_*`` of an imported plan)."""
        item = {**(extra or {}), **plan.model_dump(), "listed": LISTED, "name_key": _name_key(plan.name)}
        return [put_if_absent(self.table, "plan_id", item), self._guard_put(plan.name, plan.plan_id)]

    def _guard_put(self, name: str, plan_id: str) -> dict[str, Any]:
        return put_if_absent(self.table, "plan_id", {"plan_id": f"NAME#{_name_key(name)}", "owner": plan_id})

    def replace(self, before: Plan, after: Plan, extra: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Optimistic update (version check); a renamed plan swaps its name guard."""
        # An update, not a Put: active_users is kept by the membership consumer (ADD), and a Put
        # of the value read here would overwrite a concurrent move of a user.
        fields = {
            **(extra or {}),
            **after.model_dump(exclude={"plan_id", "active_users"}),
            "name_key": _name_key(after.name),
        }
        names = {f"#f{i}": k for i, k in enumerate(fields)}
        values = {f":f{i}": v for i, v in enumerate(fields.values())}
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": {"plan_id": {"S": after.plan_id}},
                    "UpdateExpression": "SET " + ", ".join(f"#f{i} = :f{i}" for i in range(len(fields))),
                    "ConditionExpression": "attribute_exists(plan_id) AND #v = :expected",
                    "ExpressionAttributeNames": {**names, "#v": "version"},
                    "ExpressionAttributeValues": {
                        **to_item(values),
                        ":expected": {"N": str(before.version)},
                    },
                }
            }
        ]
        if _name_key(before.name) != _name_key(after.name):
            items.append(self._guard_put(after.name, after.plan_id))
            items.append(
                {"Delete": {"TableName": self.table, "Key": {"plan_id": {"S": f"NAME#{_name_key(before.name)}"}}}}
            )
        return items

    def delete(self, plan: Plan) -> list[dict[str, Any]]:
        return [
            {
                "Delete": {
                    "TableName": self.table,
                    "Key": {"plan_id": {"S": plan.plan_id}},
                    "ConditionExpression": "attribute_exists(plan_id) AND "
                    "(attribute_not_exists(active_users) OR active_users <= :zero)",
                    "ExpressionAttributeValues": {":zero": {"N": "0"}},
                }
            },
            {"Delete": {"TableName": self.table, "Key": {"plan_id": {"S": f"NAME#{_name_key(plan.name)}"}}}},
        ]

    def add_users(self, plan_id: str, delta: int) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self.table,
                "Key": {"plan_id": {"S": plan_id}},
                "UpdateExpression": "ADD active_users :d",
                "ConditionExpression": "attribute_exists(plan_id)",
                "ExpressionAttributeValues": {":d": {"N": str(delta)}},
            }
        }

    def forget(self, plan_id: str) -> None:
        self._cache.pop(plan_id, None)


def _plan(item: dict[str, Any]) -> Plan:
    data = from_item(item)
    data.pop("listed", None)
    data.pop("name_key", None)
    return Plan.model_validate({k: v for k, v in data.items() if not k.startswith("legacy_")})
