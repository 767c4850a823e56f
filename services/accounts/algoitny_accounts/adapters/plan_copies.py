"""Accounts' copy of the plans (table PlanCopies), written only from ratelimit's plan events."""

from __future__ import annotations

import time
from typing import Any

from algoitny_accounts.adapters.tables import ACCOUNT_PLANS
from algoitny_accounts.domain.plans import PlanCopy
from algoitny_shared.aws import AsyncDynamoDB
from algoitny_shared.dynamo import from_item, to_item

CACHE_TTL_S = 5.0


class PlanCopyRepository:
    def __init__(self, client: Any, namespace: str) -> None:
        self._client = AsyncDynamoDB(client)
        self.table = ACCOUNT_PLANS.physical(namespace)
        self._cache: dict[str, tuple[float, PlanCopy | None]] = {}

    async def get(self, plan_id: str, *, fresh: bool = False) -> PlanCopy | None:
        """The plan as last heard of (a tombstone if deleted), None if never heard of."""
        cached = self._cache.get(plan_id)
        if not fresh and cached and time.monotonic() - cached[0] < CACHE_TTL_S:
            return cached[1]
        resp = await self._client.get_item(TableName=self.table, Key={"plan_id": {"S": plan_id}}, ConsistentRead=True)
        item = resp.get("Item")
        plan = PlanCopy.model_validate(from_item(item)) if item else None
        self._cache[plan_id] = (time.monotonic(), plan)
        return plan

    def still_live(self, plan_id: str) -> dict[str, Any]:
        """Transaction item: the plan is known and not deleted when the transaction commits."""
        return {
            "ConditionCheck": {
                "TableName": self.table,
                "Key": {"plan_id": {"S": plan_id}},
                "ConditionExpression": "attribute_exists(plan_id) AND (attribute_not_exists(deleted) OR deleted = :no)",
                "ExpressionAttributeValues": {":no": {"BOOL": False}},
            }
        }

    async def save(self, plan: PlanCopy, *, revives: bool = False) -> bool:
        """Store the plan unless a newer event was applied already; False if it was (stale event).

        ``revives``: a creation replaces a tombstone whatever its version (a plan id deleted and
        created again starts its versions anew; events of one plan arrive in order).
        """
        condition = "attribute_not_exists(plan_id) OR #r <= :r"
        values: dict[str, Any] = {":r": {"N": str(plan.rev)}}
        if revives:
            condition += " OR deleted = :yes"
            values[":yes"] = {"BOOL": True}
        try:
            await self._client.put_item(
                TableName=self.table,
                Item=to_item(plan.model_dump()),
                ConditionExpression=condition,
                ExpressionAttributeNames={"#r": "rev"},
                ExpressionAttributeValues=values,
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        finally:
            self._cache.pop(plan.plan_id, None)
        return True
