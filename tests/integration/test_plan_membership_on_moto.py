"""Ratelimit's plan membership on moto: accounts' plan changes and (de)activations move each
plan's ``active_users`` counter exactly once, under redelivery, stale events, concurrency and a
racing plan delete; a user's quota follows the plan change with no call to accounts."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from algoitny_ratelimit.adapters.tables import RATELIMIT_INBOX
from algoitny_ratelimit.adapters.user_plan_repository import UserPlanRepository
from algoitny_ratelimit.bootstrap import Container, build
from algoitny_ratelimit.domain.plans import NewPlan
from algoitny_ratelimit.domain.quota import ConsumeRequest
from algoitny_ratelimit.service_layer.membership import PlanMembership
from algoitny_ratelimit.settings import RatelimitSettings
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.events import REGISTRY, EventEnvelope
from algoitny_shared.events.catalog import UserDeactivated, UserPlanChanged, UserReactivated, UserRegistered
from algoitny_shared.inbox import Inbox
from algoitny_shared.uow import DynamoUnitOfWork

pytestmark = pytest.mark.integration
NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def rig(provisioned: dict[str, Any]) -> tuple[Container, PlanMembership, UserPlanRepository]:
    c = build(RatelimitSettings(consumers_enabled=False))
    user_plans = UserPlanRepository(c.dynamodb, c.settings.namespace)
    membership = PlanMembership(
        c.plans,
        user_plans,
        Inbox(c.dynamodb, RATELIMIT_INBOX, c.settings.namespace),
        lambda: DynamoUnitOfWork(c.dynamodb, c.outbox),
    )
    return c, membership, user_plans


async def _plan(c: Container, executions: int = 10) -> str:
    pid = f"p{uuid.uuid4().hex[:8]}"
    await c.plan_admin.create(NewPlan(plan_id=pid, name=f"Plan {pid}", daily_limits={"execution": executions}))
    return pid


async def _users(c: Container, pid: str) -> int:
    return (await c.plan_admin.get(pid)).active_users


def _env(payload: Any, user: str, version: int) -> EventEnvelope:
    return REGISTRY.envelope(payload, producer="accounts", aggregate_id=user, aggregate_version=version)


def _registered(user: str, pid: str) -> EventEnvelope:
    return _env(UserRegistered(user_id=user, role="user", plan_id=pid, registered_at=NOW), user, 1)


def _moved(user: str, to: str, frm: str, version: int) -> EventEnvelope:
    return _env(UserPlanChanged(user_id=user, plan_id=to, previous_plan_id=frm, changed_at=NOW), user, version)


async def _deliver(m: PlanMembership, envelope: EventEnvelope) -> None:
    await m.handlers()[envelope.event_type](envelope, REGISTRY.decode(envelope))


async def test_plan_change_moves_the_counter_once_and_the_quota_follows(
    rig: tuple[Container, PlanMembership, UserPlanRepository],
) -> None:
    c, m, user_plans = rig
    small, big = await _plan(c, 3), await _plan(c, 7)
    user = f"u{uuid.uuid4().hex[:8]}"
    await _deliver(m, _registered(user, small))
    assert (await _users(c, small), await _users(c, big)) == (1, 0)

    move = _moved(user, big, small, 2)
    for _ in range(3):  # redelivered: applied once
        await _deliver(m, move)
    assert (await _users(c, small), await _users(c, big)) == (0, 1)
    state = await user_plans.state(user)
    assert state is not None and state.plan_id == big and state.counted_in == big and state.event_version == 2

    # The quota follows the new plan without asking accounts (and without a plan hint).
    c.plans.forget(big)
    result = await c.quotas.consume(ConsumeRequest(user_id=user, action="execution", request_id="request-0001"))
    assert result.plan_id == big and result.limit == 7

    # An older event arriving late changes nothing.
    await _deliver(m, _moved(user, small, big, 1))
    assert (await _users(c, small), await _users(c, big)) == (0, 1)

    # Deleting the plan with an active user is refused; the emptied one may go.
    with pytest.raises(AppError) as in_use:
        await c.plan_admin.delete(big)
    assert in_use.value.code is ErrorCode.CONFLICT
    await c.plan_admin.delete(small)


async def test_deactivation_and_reactivation_are_reflected_in_active_users(
    rig: tuple[Container, PlanMembership, UserPlanRepository],
) -> None:
    c, m, user_plans = rig
    pid, other = await _plan(c), await _plan(c)
    user = f"u{uuid.uuid4().hex[:8]}"
    await _deliver(m, _registered(user, pid))
    off = _env(UserDeactivated(user_id=user, deactivated_at=NOW), user, 2)
    await _deliver(m, off)
    await _deliver(m, off)
    assert await _users(c, pid) == 0
    # A deactivated user moved to another plan is counted nowhere ...
    await _deliver(m, _moved(user, other, pid, 3))
    assert (await _users(c, pid), await _users(c, other)) == (0, 0)
    state = await user_plans.state(user)
    assert state is not None and state.plan_id == other and not state.active and state.counted_in is None
    # ... until reactivated, then in the plan they are on.
    on = _env(UserReactivated(user_id=user, reactivated_at=NOW), user, 4)
    await _deliver(m, on)
    await _deliver(m, on)
    assert (await _users(c, pid), await _users(c, other)) == (0, 1)
    # One transaction may carry a plan change and a deactivation with the same version: both apply.
    both_move = _moved(user, pid, other, 5)
    both_off = _env(UserDeactivated(user_id=user, deactivated_at=NOW), user, 5)
    await _deliver(m, both_move)
    await _deliver(m, both_off)
    assert (await _users(c, pid), await _users(c, other)) == (0, 0)


async def test_moves_to_unknown_plans_count_nowhere_and_concurrent_deliveries_stay_exact(
    rig: tuple[Container, PlanMembership, UserPlanRepository],
) -> None:
    c, m, user_plans = rig
    a, b = await _plan(c), await _plan(c)
    users = [f"u{uuid.uuid4().hex[:8]}" for _ in range(12)]
    await asyncio.gather(*(_deliver(m, _registered(u, a)) for u in users))
    assert await _users(c, a) == 12
    # Every user moves to b; each move is delivered three times at once (rebalance duplicates).
    moves = [_moved(u, b, a, 2) for u in users]
    await asyncio.gather(*(_deliver(m, e) for e in moves for _ in range(3)))
    assert (await _users(c, a), await _users(c, b)) == (0, 12)

    # A plan accounts named but ratelimit does not have: not counted, quota falls back to the default.
    ghost = f"ghost{uuid.uuid4().hex[:6]}"
    await _deliver(m, _moved(users[0], ghost, b, 3))
    assert await _users(c, b) == 11
    state = await user_plans.state(users[0])
    assert state is not None and state.plan_id == ghost and state.counted_in is None


async def test_a_move_racing_a_plan_delete_never_leaves_a_user_on_a_deleted_plans_counter(
    rig: tuple[Container, PlanMembership, UserPlanRepository],
) -> None:
    c, m, user_plans = rig
    for _ in range(5):
        home, target = await _plan(c), await _plan(c)
        user = f"u{uuid.uuid4().hex[:8]}"
        await _deliver(m, _registered(user, home))

        async def delete(target: str = target) -> bool:
            try:
                await c.plan_admin.delete(target)
                return True
            except AppError as err:
                assert err.code is ErrorCode.CONFLICT
                return False

        deleted, _ = await asyncio.gather(delete(), _deliver(m, _moved(user, target, home, 2)))
        state = await user_plans.state(user)
        assert state is not None and state.plan_id == target
        if deleted:
            assert state.counted_in is None
        else:
            assert state.counted_in == target and await _users(c, target) == 1
        assert await _users(c, home) == 0
