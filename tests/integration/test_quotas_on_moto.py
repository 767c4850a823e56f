"""Check-and-consume on the moto server with the DynamoDB unit of work: exact under concurrency (200
parallel consumes, one outbox row per admitted charge).

The quota use cases themselves (a request id charged and refunded once, the reset at 00:00 UTC,
plan administration with its user counts, refunds of executions judged IE, idempotency keys) are
tested on the in-memory unit of work: services/ratelimit/tests/unit/test_quota_use_cases.py."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from algoitny_ratelimit.bootstrap import Container, build
from algoitny_ratelimit.domain.plans import DEFAULT_PLANS, NewPlan
from algoitny_ratelimit.domain.quota import ConsumeRequest
from algoitny_ratelimit.settings import RatelimitSettings
from algoitny_shared.dynamo import from_item
from algoitny_shared.errors import AppError, ErrorCode

pytestmark = pytest.mark.integration


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def setup(provisioned: dict[str, Any]) -> tuple[Container, FixedClock]:
    clock = FixedClock(datetime(2026, 5, 1, 23, 59, 30, tzinfo=UTC))
    container = build(RatelimitSettings(consumers_enabled=False), clock=clock)
    await container.plan_admin.seed(DEFAULT_PLANS)
    return container, clock


def _outbox_events(c: Container, event_type: str, user_id: str) -> list[dict[str, Any]]:
    """Every outbox item of the user, published or not (a test may scan; services never do)."""
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "TableName": c.outbox.table,
        "FilterExpression": "event_type = :t AND begins_with(aggregate_id, :u)",
        "ExpressionAttributeValues": {":t": {"S": event_type}, ":u": {"S": f"{user_id}/"}},
    }
    while True:
        resp = c.dynamodb.scan(**kwargs)
        items.extend(resp["Items"])
        if "LastEvaluatedKey" not in resp:
            return [from_item(i) for i in items]
        kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


async def test_concurrent_consumes_admit_exactly_the_limit(setup: tuple[Container, FixedClock]) -> None:
    c, _clock = setup
    user = f"u{uuid.uuid4().hex[:8]}"
    await c.plan_admin.create(
        NewPlan(plan_id=f"p{user}", name=f"Tight {user}", daily_limits={"execution": 50, "hint": 1})
    )

    async def one(i: int) -> bool:
        try:
            await c.quotas.consume(
                ConsumeRequest(user_id=user, action="execution", request_id=f"req-{i:04d}", plan_hint=f"p{user}")
            )
            return True
        except AppError as err:
            assert err.code is ErrorCode.RATE_LIMITED
            return False

    results = await asyncio.gather(*(one(i) for i in range(200)))
    assert sum(results) == 50
    day = "2026-05-01"
    assert (await c.usage.used(user, day, ("execution",)))["execution"] == 50
    logs = await c.usage.entries(user, day)
    assert len([i for i in logs if i["kind"]["S"] == "consume"]) == 50
    assert len(_outbox_events(c, "ratelimit.UsageConsumed", user)) == 50
