"""Each user's plan, from accounts events."""

from __future__ import annotations

import asyncio
from typing import Any

from algoitny_shared.dynamo import to_item
from algoitny_shared.tables import USER_PLANS


class UserPlanRepository:
    def __init__(self, client: Any, namespace: str) -> None:
        self._client = client
        self.table = USER_PLANS.physical(namespace)

    async def plan_of(self, user_id: str) -> str | None:
        resp = await asyncio.to_thread(self._client.get_item, TableName=self.table, Key={"user_id": {"S": user_id}})
        item = resp.get("Item")
        return item["plan_id"]["S"] if item else None

    def put_new(self, user_id: str, plan_id: str) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self.table,
                "Item": to_item({"user_id": user_id, "plan_id": plan_id}),
                "ConditionExpression": "attribute_not_exists(user_id)",
            }
        }
