"""Plans in DynamoDB. The table holds a handful of items, read whole and cached briefly."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from algoitny_ratelimit.domain.plans import Plan
from algoitny_shared.dynamo import from_item, to_item
from algoitny_shared.tables import PLANS

CACHE_TTL_S = 30.0


class PlanRepository:
    def __init__(self, client: Any, namespace: str) -> None:
        self._client = client
        self.table = PLANS.physical(namespace)
        self._cache: tuple[float, list[Plan]] | None = None

    async def all(self) -> list[Plan]:
        if self._cache and time.monotonic() - self._cache[0] < CACHE_TTL_S:
            return self._cache[1]
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": self.table}
        while True:  # a tiny, bounded table: the scan never leaves the first page in practice
            resp = await asyncio.to_thread(self._client.scan, **kwargs)
            items.extend(resp.get("Items", []))
            if "LastEvaluatedKey" not in resp:
                break
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
        plans = sorted((Plan.model_validate(from_item(i)) for i in items), key=lambda p: p.plan_id)
        self._cache = (time.monotonic(), plans)
        return plans

    def seed(self, plans: tuple[Plan, ...]) -> int:
        """Insert plans that do not exist yet (never overwrites an operator's edits)."""
        created = 0
        for plan in plans:
            try:
                self._client.put_item(
                    TableName=self.table,
                    Item=to_item(plan.model_dump()),
                    ConditionExpression="attribute_not_exists(plan_id)",
                )
                created += 1
            except self._client.exceptions.ConditionalCheckFailedException:
                pass
        return created
