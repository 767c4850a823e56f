"""Each user's plan, from accounts events.

An item holds the user's plan, whether the user is active, the plan whose ``active_users``
counter includes the user (``counted_in``, absent when none does: deactivated, or the plan
no longer exists), the version of the last accounts event applied (``event_version``) and a
revision (``rev``) that every write checks and bumps, so two writers never both apply.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from algoitny_ratelimit.adapters.tables import USER_PLANS
from algoitny_shared.aws import AsyncDynamoDB
from algoitny_shared.dynamo import batch_get, from_item, to_item


@dataclass(frozen=True)
class UserPlanState:
    user_id: str
    plan_id: str
    active: bool = True
    counted_in: str | None = None
    event_version: int = 0
    rev: int = 0


class UserPlanRepository:
    def __init__(self, client: Any, namespace: str) -> None:
        self._client = AsyncDynamoDB(client)
        self.table = USER_PLANS.physical(namespace)

    async def plan_of(self, user_id: str) -> str | None:
        resp = await self._client.get_item(TableName=self.table, Key={"user_id": {"S": user_id}})
        item = resp.get("Item")
        return item["plan_id"]["S"] if item else None

    async def plans_of(self, user_ids: list[str]) -> dict[str, str]:
        """user id -> plan id of the users of ``user_ids`` that have one (one BatchGetItem per 100)."""
        keys = [{"user_id": {"S": u}} for u in user_ids]
        return {i["user_id"]["S"]: i["plan_id"]["S"] for i in await batch_get(self._client, self.table, keys)}

    async def state(self, user_id: str) -> UserPlanState | None:
        resp = await self._client.get_item(TableName=self.table, Key={"user_id": {"S": user_id}}, ConsistentRead=True)
        item = resp.get("Item")
        if not item:
            return None
        data = from_item(item)
        # Items written before counted_in existed were counted in their plan (at registration).
        counted = data.get("counted_in", data["plan_id"]) if "rev" not in data else data.get("counted_in")
        return UserPlanState(
            user_id=user_id,
            plan_id=data["plan_id"],
            active=bool(data.get("active", True)),
            counted_in=counted,
            event_version=int(data.get("event_version", 0)),
            rev=int(data.get("rev", 0)),
        )

    def put_state(self, new: UserPlanState, previous: UserPlanState | None) -> dict[str, Any]:
        """A transaction item writing ``new``, only if the item is still ``previous`` (absent if None)."""
        record: dict[str, Any] = {
            "user_id": new.user_id,
            "plan_id": new.plan_id,
            "active": new.active,
            "event_version": new.event_version,
            "rev": new.rev,
        }
        if new.counted_in is not None:
            record["counted_in"] = new.counted_in
        put: dict[str, Any] = {"TableName": self.table, "Item": to_item(record)}
        if previous is None:
            put["ConditionExpression"] = "attribute_not_exists(user_id)"
        elif previous.rev == 0:
            put["ConditionExpression"] = "attribute_exists(user_id) AND attribute_not_exists(rev)"
        else:
            put["ConditionExpression"] = "rev = :rev"
            put["ExpressionAttributeValues"] = {":rev": {"N": str(previous.rev)}}
        return {"Put": put}
