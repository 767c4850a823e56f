"""Check-and-consume on moto: exact under concurrency, idempotent per request id, refunds once,
resets at 00:00 UTC; plans administered with their user counts kept from events."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from algoitny_ratelimit.bootstrap import Container, build
from algoitny_ratelimit.domain.plans import DEFAULT_PLANS, NewPlan, PlanPatch
from algoitny_ratelimit.domain.quota import ConsumeRequest, RefundRequest
from algoitny_ratelimit.settings import RatelimitSettings
from algoitny_shared.dynamo import from_item
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.events import REGISTRY, EventEnvelope
from algoitny_shared.events.catalog import UserRegistered

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


async def test_same_request_id_is_charged_once_and_refunded_once(setup: tuple[Container, FixedClock]) -> None:
    c, _ = setup
    user = f"u{uuid.uuid4().hex[:8]}"
    req = ConsumeRequest(user_id=user, action="hint", request_id="retry-me-1")
    first = await c.quotas.consume(req)
    again = await c.quotas.consume(req)
    assert first.used == 1 and not first.replayed
    assert again.used == 1 and again.replayed
    refund = RefundRequest(user_id=user, action="hint", request_id="retry-me-1", day=first.day, reason="LLM outage")
    assert (await c.quotas.refund(refund)).refunded
    twice = await c.quotas.refund(refund)
    assert not twice.refunded and twice.already_refunded
    assert (await c.usage.used(user, first.day, ("hint",)))["hint"] == 0
    assert len(_outbox_events(c, "ratelimit.UsageRefunded", user)) == 1
    with pytest.raises(AppError) as err:
        await c.quotas.refund(RefundRequest(user_id=user, action="hint", request_id="never-charged", day=first.day))
    assert err.value.code is ErrorCode.NOT_FOUND


async def test_quota_resets_at_midnight_utc(setup: tuple[Container, FixedClock]) -> None:
    c, clock = setup
    user = f"u{uuid.uuid4().hex[:8]}"
    for i in range(5):  # the free plan's 5 hints
        await c.quotas.consume(ConsumeRequest(user_id=user, action="hint", request_id=f"h-day1-{i}"))
    with pytest.raises(AppError) as err:
        await c.quotas.consume(ConsumeRequest(user_id=user, action="hint", request_id="h-day1-x"))
    assert err.value.extra["retry_after"] == 30  # 23:59:30 -> 00:00:00
    clock.now += timedelta(seconds=31)
    fresh = await c.quotas.consume(ConsumeRequest(user_id=user, action="hint", request_id="h-day2-0"))
    assert fresh.day == "2026-05-02" and fresh.used == 1 and fresh.remaining == 4
    usage = await c.quotas.usage(user, None)
    assert {a.action: a.used for a in usage.actions} == {"execution": 0, "hint": 1}


async def test_plan_admin_names_users_and_deletion(setup: tuple[Container, FixedClock]) -> None:
    c, _ = setup
    pid = f"t{uuid.uuid4().hex[:6]}"
    await c.plan_admin.create(NewPlan(plan_id=pid, name=f"Team {pid}", daily_limits={"execution": 10, "hint": 2}))
    with pytest.raises(AppError) as dup:
        await c.plan_admin.create(NewPlan(plan_id=f"{pid}b", name=f"team {pid}", daily_limits={}))
    assert dup.value.code is ErrorCode.ALREADY_EXISTS
    updated = await c.plan_admin.update(pid, PlanPatch(daily_limits={"execution": 20, "hint": 2}))
    assert updated.version == 2 and updated.limit_for("execution") == 20

    from algoitny_ratelimit.adapters.user_plan_repository import UserPlanRepository
    from algoitny_ratelimit.service_layer.membership import PlanMembership
    from algoitny_shared.inbox import Inbox
    from algoitny_shared.tables import RATELIMIT_INBOX
    from algoitny_shared.uow import DynamoUnitOfWork

    membership = PlanMembership(
        c.plans,
        UserPlanRepository(c.dynamodb, c.settings.namespace),
        Inbox(c.dynamodb, RATELIMIT_INBOX, c.settings.namespace),
        lambda: DynamoUnitOfWork(c.dynamodb, c.outbox),
    )
    user = f"u{uuid.uuid4().hex[:8]}"
    payload = UserRegistered(user_id=user, role="user", plan_id=pid, registered_at=datetime.now(UTC))
    envelope: EventEnvelope = REGISTRY.envelope(payload, producer="accounts", aggregate_id=user, aggregate_version=1)
    await membership.on_user_registered(envelope, payload)
    await membership.on_user_registered(envelope, payload)  # redelivered: no second effect
    plan = await c.plan_admin.get(pid)
    assert plan.active_users == 1
    with pytest.raises(AppError) as in_use:
        await c.plan_admin.delete(pid)
    assert in_use.value.code is ErrorCode.CONFLICT
    # The user's plan now drives their quota: 20 executions.
    state = await c.quotas.consume(ConsumeRequest(user_id=user, action="execution", request_id="exec-0001"))
    assert state.limit == 20 and state.plan_id == pid

    empty = f"e{uuid.uuid4().hex[:6]}"
    await c.plan_admin.create(NewPlan(plan_id=empty, name=f"Empty {empty}", daily_limits={}))
    await c.plan_admin.delete(empty)
    with pytest.raises(AppError) as gone:
        await c.plan_admin.get(empty)
    assert gone.value.code is ErrorCode.NOT_FOUND
    # Its name is free again.
    await c.plan_admin.create(NewPlan(plan_id=f"{empty}2", name=f"Empty {empty}", daily_limits={}))


async def test_an_execution_judged_ie_gets_its_charge_back_once(setup: tuple[Container, FixedClock]) -> None:
    """executions.ExecutionCompleted with verdict IE carries the gateway's charge: ratelimit refunds it."""
    from algoitny_ratelimit.service_layer.refunds import ExecutionRefunds
    from algoitny_shared.events.catalog import ChargeRef, ExecutionCompleted

    c, clock = setup
    user = f"u{uuid.uuid4().hex[:8]}"
    charged = await c.quotas.consume(ConsumeRequest(user_id=user, action="execution", request_id="gw-req-0001"))
    refunds = ExecutionRefunds(c.quotas)

    def completed(verdict: str, charge: ChargeRef | None) -> ExecutionCompleted:
        return ExecutionCompleted(
            execution_id="01JABCDEFGHJKMNPQRSTVWXYZ0",
            user_id=user,
            platform="p",
            problem_id="1",
            language="python3",
            public=False,
            verdict=verdict,
            passed_count=0,
            total_count=0,
            max_time_ms=0,
            max_memory_kb=0,
            charge=charge,
            submitted_at=clock.now,
            completed_at=clock.now,
            judge_ms=5,
        )

    charge = ChargeRef(request_id="gw-req-0001", day=charged.day)
    for payload in (completed("WA", charge), completed("IE", None)):
        await refunds.on_execution_completed(
            REGISTRY.envelope(payload, producer="executions", aggregate_id="x", aggregate_version=2), payload
        )
    assert (await c.usage.used(user, charged.day, ("execution",)))["execution"] == 1
    ie = completed("IE", charge)
    envelope = REGISTRY.envelope(ie, producer="executions", aggregate_id="x", aggregate_version=2)
    await refunds.on_execution_completed(envelope, ie)
    await refunds.on_execution_completed(envelope, ie)  # redelivered: no second refund
    assert (await c.usage.used(user, charged.day, ("execution",)))["execution"] == 0
    assert len(_outbox_events(c, "ratelimit.UsageRefunded", user)) == 1
    unknown = completed("IE", ChargeRef(request_id="never-charged", day=charged.day))
    await refunds.on_execution_completed(envelope, unknown)  # admins are not charged: nothing to refund, no error


async def test_an_idempotency_key_is_claimed_with_the_charge_and_never_charged_twice(
    setup: tuple[Container, FixedClock],
) -> None:
    """Issue 23, item 1: a claimed key buys no second charge (nor run); the record tells why."""
    from algoitny_ratelimit.domain.quota import SettleRequest
    from algoitny_shared.idempotency import LEASE_S, IdempotencyClaim, StoredResponse

    c, clock = setup
    user = f"k{uuid.uuid4().hex[:8]}"
    claim = IdempotencyClaim(key="key-00000001", fingerprint="a" * 64)

    def consume(attempt: str, claim: IdempotencyClaim = claim) -> Any:
        return c.quotas.consume(ConsumeRequest(user_id=user, action="execution", request_id=attempt, idempotency=claim))

    first = await consume("attempt-1")
    assert first.admitted and first.idempotent is None and first.used == 1
    # Concurrent and later duplicates: nothing charged, the in-flight record comes back.
    dupes = await asyncio.gather(*(consume(f"attempt-d{i}") for i in range(5)))
    assert all(not d.admitted and d.replayed and d.idempotent is not None for d in dupes)
    assert {d.idempotent.state for d in dupes if d.idempotent} == {"in_flight"}
    assert (await c.usage.used(user, first.day, ("execution",)))["execution"] == 1

    # Only the attempt holding the key settles it; then its answer is what a replay gets.
    answer = StoredResponse.of(202, {"content-type": "application/json", "x-other": "dropped"}, b'{"id": 1}')
    settle = SettleRequest(user_id=user, key=claim.key, request_id="attempt-d0", response=answer)
    assert not (await c.quotas.settle(settle)).settled
    assert (await c.quotas.settle(settle.model_copy(update={"request_id": "attempt-1"}))).settled
    replay = await consume("attempt-2", IdempotencyClaim(key=claim.key, fingerprint="b" * 64))
    assert replay.idempotent is not None and replay.idempotent.fingerprint == "a" * 64
    stored = replay.idempotent.response
    assert stored is not None and stored.status == 202 and stored.body() == b'{"id": 1}'
    assert stored.headers == {"content-type": "application/json"}
    assert (await c.usage.used(user, first.day, ("execution",)))["execution"] == 1

    # A released key (the attempt delivered nothing, refunded) is a new attempt, charged again.
    other = IdempotencyClaim(key="key-00000002", fingerprint="c" * 64)
    assert (await consume("attempt-3", other)).idempotent is None
    await c.quotas.refund(RefundRequest(user_id=user, action="execution", request_id="attempt-3", day=first.day))
    assert (await c.quotas.settle(SettleRequest(user_id=user, key=other.key, request_id="attempt-3"))).settled
    again = await consume("attempt-4", other)
    assert again.admitted and again.idempotent is None and again.used == 2

    # An in-flight claim whose holder died is taken over after its lease (and charged).
    clock.now = clock.now + timedelta(seconds=LEASE_S + 1)
    taken = await consume("attempt-5", other)
    assert taken.admitted and taken.idempotent is None

    # Callers who are not metered (admins) claim keys all the same, and are charged nothing.
    admin = await c.quotas.consume(
        ConsumeRequest(
            user_id=user,
            action="execution",
            request_id="attempt-6",
            metered=False,
            idempotency=IdempotencyClaim(key="key-00000003", fingerprint="d" * 64),
        )
    )
    assert admin.admitted and admin.limit == -1
    repeat = await c.quotas.consume(
        ConsumeRequest(
            user_id=user,
            action="execution",
            request_id="attempt-7",
            metered=False,
            idempotency=IdempotencyClaim(key="key-00000003", fingerprint="d" * 64),
        )
    )
    assert repeat.idempotent is not None and not repeat.admitted
