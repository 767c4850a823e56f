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
from support.outbox_tools import CommittedOutbox

from algoitny_ratelimit.bootstrap import Container, build
from algoitny_ratelimit.domain.plans import DEFAULT_PLANS, NewPlan
from algoitny_ratelimit.domain.quota import ConsumeRequest
from algoitny_ratelimit.settings import RatelimitSettings
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

    committed = CommittedOutbox(c.outbox.table).attach(c.dynamodb)  # published or not (a relay deletes)
    try:
        results = await asyncio.gather(*(one(i) for i in range(200)))
    finally:
        committed.detach()
    assert sum(results) == 50
    day = "2026-05-01"
    assert (await c.usage.used(user, day, ("execution",)))["execution"] == 50
    logs = await c.usage.entries(user, day)
    assert len([i for i in logs if i["kind"]["S"] == "consume"]) == 50
    mine = [e for e in committed.of_type("ratelimit.UsageConsumed") if e["aggregate_id"].startswith(f"{user}/")]
    assert len(mine) == 50
