"""Ratelimit's use cases on the in-memory unit of work (no moto server, no Kafka): check-and-consume,
refund, settle and usage (QuotaService), plan administration (PlanService), refunds of executions
judged IE (ExecutionRefunds). The repositories are the service's own, on an in-process DynamoDB."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from support.inprocess import Store, in_process_dynamo

from algoitny_ratelimit.adapters.plan_repository import PlanRepository
from algoitny_ratelimit.adapters.tables import RATELIMIT_INBOX
from algoitny_ratelimit.adapters.usage_repository import UsageRepository
from algoitny_ratelimit.adapters.user_plan_repository import UserPlanRepository
from algoitny_ratelimit.domain.plans import DEFAULT_PLANS, NewPlan, PlanPatch
from algoitny_ratelimit.domain.quota import ConsumeRequest, RefundRequest, SettleRequest
from algoitny_ratelimit.service_layer.membership import PlanMembership
from algoitny_ratelimit.service_layer.plans import PlanService
from algoitny_ratelimit.service_layer.quotas import QuotaService
from algoitny_ratelimit.service_layer.refunds import ExecutionRefunds
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.events import REGISTRY
from algoitny_shared.events.catalog import ChargeRef, ExecutionCompleted, UserRegistered
from algoitny_shared.idempotency import LEASE_S, IdempotencyClaim, StoredResponse
from algoitny_shared.inbox import Inbox


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 5, 1, 23, 59, 30, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class Ratelimit:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.clock = Clock()
        self.plans = PlanRepository(store.client, store.namespace)
        self.usage = UsageRepository(store.client, store.namespace)
        user_plans = UserPlanRepository(store.client, store.namespace)
        self.quotas = QuotaService(self.plans, self.usage, user_plans, store.uow, self.clock)
        self.admin = PlanService(self.plans, store.uow)
        self.membership = PlanMembership(
            self.plans, user_plans, Inbox(store.client, RATELIMIT_INBOX, store.namespace), store.uow
        )

    def consume(self, request_id: str, action: str = "hint", **kw: Any) -> Any:
        return self.quotas.consume(
            ConsumeRequest(user_id="u1", action=action, request_id=f"request-{request_id}", **kw)
        )  # type: ignore[arg-type]


@pytest.fixture
def store() -> Iterator[Store]:
    with in_process_dynamo("ratelimit") as found:
        yield found


@pytest.fixture
async def rl(store: Store) -> Ratelimit:
    rl = Ratelimit(store)
    assert await rl.admin.seed(DEFAULT_PLANS) == len(DEFAULT_PLANS)
    assert await rl.admin.seed(DEFAULT_PLANS) == 0  # seeding again creates nothing
    store.events.clear()
    return rl


async def test_consume_admits_up_to_the_limit_then_429_with_the_reset(rl: Ratelimit) -> None:
    for i in range(5):  # the free plan's 5 hints
        state = await rl.consume(f"h-{i}")
        assert state.admitted and state.used == i + 1 and state.remaining == 4 - i and state.plan_id == "free"
    with pytest.raises(AppError) as err:
        await rl.consume("h-x")
    assert err.value.code is ErrorCode.RATE_LIMITED
    assert err.value.extra["retry_after"] == 30 and err.value.extra["used"] == 5  # 23:59:30 -> 00:00:00
    assert len(rl.store.payloads("ratelimit.UsageConsumed")) == 5  # the refused one published nothing
    rl.clock.now += timedelta(seconds=31)
    fresh = await rl.consume("h-day2")
    assert fresh.day == "2026-05-02" and fresh.used == 1
    usage = await rl.quotas.usage("u1", None)
    assert usage.plan_id == "free" and {a.action: a.used for a in usage.actions} == {"execution": 0, "hint": 1}


async def test_a_request_id_is_charged_once_and_refunded_once(rl: Ratelimit) -> None:
    first, again = await rl.consume("retry-me"), await rl.consume("retry-me")
    assert first.used == 1 and not first.replayed
    assert again.used == 1 and again.replayed
    refund = RefundRequest(
        user_id="u1", action="hint", request_id="request-retry-me", day=first.day, reason="LLM outage"
    )
    assert (await rl.quotas.refund(refund)).refunded
    twice = await rl.quotas.refund(refund)
    assert not twice.refunded and twice.already_refunded
    assert (await rl.usage.used("u1", first.day, ("hint",)))["hint"] == 0
    assert len(rl.store.payloads("ratelimit.UsageRefunded")) == 1
    with pytest.raises(AppError) as err:
        await rl.quotas.refund(RefundRequest(user_id="u1", action="hint", request_id="request-never", day=first.day))
    assert err.value.code is ErrorCode.NOT_FOUND


async def test_unknown_plan_hint_falls_back_to_free_and_no_plans_is_503(rl: Ratelimit, store: Store) -> None:
    assert (await rl.consume("a-1", plan_hint="no-such-plan")).plan_id == "free"
    empty = Ratelimit.__new__(Ratelimit)
    with in_process_dynamo("ratelimit", namespace="empty") as bare:
        empty.__init__(bare)  # type: ignore[misc]
        with pytest.raises(AppError) as err:
            await empty.quotas.usage("u1", None)
    assert err.value.code is ErrorCode.UPSTREAM_UNAVAILABLE


async def test_idempotency_key_claimed_with_the_charge_settled_replayed_and_taken_over(rl: Ratelimit) -> None:
    claim = IdempotencyClaim(key="key-00000001", fingerprint="a" * 64)
    first = await rl.consume("attempt-1", "execution", idempotency=claim)
    assert first.admitted and first.idempotent is None and first.used == 1
    dupes = await asyncio.gather(*(rl.consume(f"attempt-d{i}", "execution", idempotency=claim) for i in range(3)))
    assert all(not d.admitted and d.replayed and d.idempotent and d.idempotent.state == "in_flight" for d in dupes)
    answer = StoredResponse.of(202, {"content-type": "application/json", "x-other": "dropped"}, b'{"id": 1}')
    settle = SettleRequest(user_id="u1", key=claim.key, request_id="request-attempt-d0", response=answer)
    assert not (await rl.quotas.settle(settle)).settled  # only the holder settles
    assert (await rl.quotas.settle(settle.model_copy(update={"request_id": "request-attempt-1"}))).settled
    replay = await rl.consume("attempt-3", "execution", idempotency=claim)
    assert replay.idempotent and replay.idempotent.response and replay.idempotent.response.body() == b'{"id": 1}'
    assert replay.idempotent.response.headers == {"content-type": "application/json"}
    assert (await rl.usage.used("u1", first.day, ("execution",)))["execution"] == 1
    # A released key (the attempt delivered nothing: refunded, settled without an answer) is a new
    # attempt, charged again; a held key whose holder died is taken over after its lease, and charged.
    other = IdempotencyClaim(key="key-00000002", fingerprint="c" * 64)
    assert (await rl.consume("attempt-r", "execution", idempotency=other)).idempotent is None
    refund = RefundRequest(user_id="u1", action="execution", request_id="request-attempt-r", day=first.day)
    await rl.quotas.refund(refund)
    release = SettleRequest(user_id="u1", key=other.key, request_id="request-attempt-r")
    assert (await rl.quotas.settle(release)).settled
    again = await rl.consume("attempt-4", "execution", idempotency=other)
    assert again.admitted and again.idempotent is None and again.used == 2
    rl.clock.now += timedelta(seconds=LEASE_S + 1)
    taken = await rl.consume("attempt-5", "execution", idempotency=other)
    assert taken.admitted and taken.idempotent is None


async def test_unmetered_callers_only_claim_keys(rl: Ratelimit) -> None:
    with pytest.raises(AppError) as err:
        await rl.consume("admin-0", "execution", metered=False)
    assert err.value.code is ErrorCode.BAD_REQUEST
    claim = IdempotencyClaim(key="key-00000003", fingerprint="d" * 64)
    admin = await rl.consume("admin-1", "execution", metered=False, idempotency=claim)
    assert admin.admitted and admin.limit == -1
    repeat = await rl.consume("admin-2", "execution", metered=False, idempotency=claim)
    assert not repeat.admitted and repeat.idempotent is not None
    assert rl.store.payloads("ratelimit.UsageConsumed") == []


async def test_plan_admin_create_update_list_delete(rl: Ratelimit) -> None:
    team = await rl.admin.create(NewPlan(plan_id="team", name="Team A", daily_limits={"execution": 10, "hint": 2}))
    assert rl.store.payloads("ratelimit.PlanCreated")[0].plan_id == "team"
    for dup, what in (
        (NewPlan(plan_id="team", name="Other", daily_limits={}), "id"),
        (NewPlan(plan_id="team2", name="  team   a ", daily_limits={}), "name"),
    ):
        with pytest.raises(AppError) as err:
            await rl.admin.create(dup)
        assert err.value.code is ErrorCode.ALREADY_EXISTS and what in str(err.value)
    updated = await rl.admin.update("team", PlanPatch(daily_limits={"execution": 20, "hint": 2}))
    assert updated.version == team.version + 1 and updated.limit_for("execution") == 20
    assert rl.store.payloads("ratelimit.PlanUpdated")[-1].daily_limits["execution"] == 20
    with pytest.raises(AppError) as clash:
        await rl.admin.update("team", PlanPatch(name="Free"))
    assert clash.value.code is ErrorCode.ALREADY_EXISTS
    with pytest.raises(AppError) as missing:
        await rl.admin.update("nope", PlanPatch(name="X"))
    assert missing.value.code is ErrorCode.NOT_FOUND
    await rl.admin.update("team", PlanPatch(active=False))
    assert "team" not in {p.plan_id for p in await rl.admin.list(include_inactive=False)}
    assert "team" in {p.plan_id for p in await rl.admin.list(include_inactive=True)}

    # A plan with users is not deleted; an empty one is, and frees its name.
    payload = UserRegistered(user_id="u9", role="user", plan_id="team", registered_at=rl.clock.now)
    registered = REGISTRY.envelope(payload, producer="accounts", aggregate_id="u9", aggregate_version=1)
    await rl.membership.on_user_registered(registered, payload)
    await rl.membership.on_user_registered(registered, payload)  # redelivered: no second effect
    assert (await rl.admin.get("team")).active_users == 1
    state = await rl.quotas.consume(ConsumeRequest(user_id="u9", action="execution", request_id="request-u9-0001"))
    assert state.limit == 20 and state.plan_id == "team"  # the user's plan drives their quota
    with pytest.raises(AppError) as in_use:
        await rl.admin.delete("team")
    assert in_use.value.code is ErrorCode.CONFLICT
    await rl.admin.create(NewPlan(plan_id="empty", name="Empty", daily_limits={}))
    await rl.admin.delete("empty")
    assert rl.store.payloads("ratelimit.PlanDeleted")[0].plan_id == "empty"
    with pytest.raises(AppError) as gone:
        await rl.admin.get("empty")
    assert gone.value.code is ErrorCode.NOT_FOUND
    await rl.admin.create(NewPlan(plan_id="empty2", name="Empty", daily_limits={}))


async def test_the_plans_new_users_and_admins_get_cannot_be_deleted(rl: Ratelimit) -> None:
    """Accounts put every new user on free and seeded admins on admin, without users on them
    yet these plans still must exist (a new user would otherwise have no limits at all)."""
    for plan_id in ("free", "admin"):
        with pytest.raises(AppError) as refused:
            await rl.admin.delete(plan_id)
        assert refused.value.code == ErrorCode.CONFLICT and "cannot be deleted" in refused.value.detail
        assert (await rl.admin.get(plan_id)).plan_id == plan_id


def _completed(verdict: str, charge: ChargeRef | None, user_id: str | None = "u1") -> ExecutionCompleted:
    at = datetime(2026, 5, 1, tzinfo=UTC)
    return ExecutionCompleted(
        execution_id="01JABCDEFGHJKMNPQRSTVWXYZ0",
        user_id=user_id,
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
        submitted_at=at,
        completed_at=at,
        judge_ms=5,
    )


async def test_an_execution_judged_ie_gets_its_charge_back_once(rl: Ratelimit) -> None:
    charged = await rl.consume("gw-req-0001", "execution")
    refunds = ExecutionRefunds(rl.quotas)
    handler = refunds.handlers()["executions.ExecutionCompleted"]
    charge = ChargeRef(request_id="request-gw-req-0001", day=charged.day)
    for payload in (_completed("WA", charge), _completed("IE", None), _completed("IE", charge, None)):
        await handler(REGISTRY.envelope(payload, producer="executions", aggregate_id="x", aggregate_version=2), payload)
    assert (await rl.usage.used("u1", charged.day, ("execution",)))["execution"] == 1
    ie = _completed("IE", charge)
    envelope = REGISTRY.envelope(ie, producer="executions", aggregate_id="x", aggregate_version=2)
    await handler(envelope, ie)
    await handler(envelope, ie)  # redelivered: no second refund
    assert (await rl.usage.used("u1", charged.day, ("execution",)))["execution"] == 0
    assert len(rl.store.payloads("ratelimit.UsageRefunded")) == 1
    unknown = _completed("IE", ChargeRef(request_id="never-charged", day=charged.day))
    await handler(envelope, unknown)  # admins are not charged: nothing to refund, no error


async def test_legacy_plans_users_and_usage_import_through_the_quota_write_path(rl: Ratelimit) -> None:
    """Debezium records handed to the importer as its consumer would (no Kafka, no Connect)."""
    from support.legacy_tools import plan_row, record, usage_row, user_row
    from support.legacy_unit import quarantined, unit_importer

    from algoitny_ratelimit.adapters.tables import RATELIMIT_LEGACY, RATELIMIT_QUARANTINE
    from algoitny_ratelimit.service_layer.legacy_import import RatelimitLegacyHandler
    from algoitny_shared.legacy.identity import legacy_user_id

    user_plans = UserPlanRepository(rl.store.client, rl.store.namespace)
    handler = RatelimitLegacyHandler(rl.plans, rl.usage, user_plans, rl.membership)
    imp = unit_importer(rl.store, handler, RATELIMIT_LEGACY, RATELIMIT_QUARANTINE)
    # Noon of today: the usage rows below, seconds before "now", must fall on the same UTC day
    # whenever the suite runs (a run just after midnight put them on yesterday).
    rl.clock.now = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    basic = record("subscription_plans", plan_row(1, "Basic", max_executions_per_day=3, max_hints_per_day=2))
    assert await imp.handle("subscription_plans", *basic) == "imported"
    assert await imp.handle("subscription_plans", *basic) == "duplicate"  # redelivered: nothing changes
    assert len(rl.store.payloads("ratelimit.PlanCreated")) == 1
    free = record("subscription_plans", plan_row(2, "Free", is_active=False))
    assert await imp.handle("subscription_plans", *free) == "imported"
    other = await rl.admin.get("legacy-2")
    assert other.name == "Free (legacy 2)" and not other.active  # the platform's "Free" keeps its name
    assert (
        await imp.handle("users", *record("users", user_row(11, "a@example.com", subscription_plan_id=1))) == "imported"
    )
    assert (await rl.admin.get("legacy-1")).active_users == 1
    now = rl.clock.now
    for row in (
        usage_row(101, 11, "execution", now - timedelta(seconds=30)),
        usage_row(102, 11, "execution", now - timedelta(seconds=20)),
        usage_row(104, 999, "hint", now - timedelta(seconds=10)),  # an orphan: kept
    ):
        assert await imp.handle("usage_logs", *record("usage_logs", row)) == "imported"
    refused = record("usage_logs", usage_row(105, 11, "search", now))
    assert await imp.handle("usage_logs", *refused) == "quarantined"
    assert await imp.handle("usage_logs", *refused) == "duplicate"  # the same bad row again: counted once
    assert "unknown action" in (await quarantined(imp))["usage_logs/105"]
    assert (await imp.status()).tables[2].quarantined == 1
    view = await rl.quotas.usage(legacy_user_id(11), None)
    assert view.plan_id == "legacy-1" and (view.actions[0].used, view.actions[0].remaining) == (2, 1)
    assert (await rl.usage.used(legacy_user_id(999), view.day, ("hint",)))["hint"] == 1
    gone = record("usage_logs", usage_row(102, 11, "execution", now - timedelta(seconds=20)), op="d")
    assert await imp.handle("usage_logs", *gone) == "deleted"
    assert (await rl.quotas.usage(legacy_user_id(11), None)).actions[0].used == 1


async def test_legacy_plan_deletes_user_deletes_plan_names_and_usage_changes(rl: Ratelimit) -> None:
    """The ratelimit legacy handler's other paths: a deleted plan users count on is deactivated (one
    nobody counts on is deleted), a deleted user stops counting, a user's plan set by accounts'
    events wins over the legacy row, a taken plan name imports as the fallback name, and a usage log
    whose action changed is refunded and counted under the new action."""
    from support.legacy_tools import plan_row, record, usage_row, user_row
    from support.legacy_unit import unit_importer

    from algoitny_ratelimit.adapters.tables import RATELIMIT_LEGACY, RATELIMIT_QUARANTINE
    from algoitny_ratelimit.service_layer.legacy_import import RatelimitLegacyHandler
    from algoitny_shared.legacy.identity import legacy_user_id

    user_plans = UserPlanRepository(rl.store.client, rl.store.namespace)
    handler = RatelimitLegacyHandler(rl.plans, rl.usage, user_plans, rl.membership)
    imp = unit_importer(rl.store, handler, RATELIMIT_LEGACY, RATELIMIT_QUARANTINE)
    rl.clock.now = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    basic = plan_row(1, "Basic")
    assert await imp.handle("subscription_plans", *record("subscription_plans", basic)) == "imported"
    assert await imp.handle("users", *record("users", user_row(11, "a@example.com", subscription_plan_id=1))) == (
        "imported"
    )
    assert (await rl.admin.get("legacy-1")).active_users == 1

    deleted_plan = record("subscription_plans", basic, op="d")
    assert await imp.handle("subscription_plans", *deleted_plan) == "deleted"
    kept = await rl.admin.get("legacy-1")
    assert not kept.active and kept.active_users == 1  # user 11 still counts on it: deactivated
    assert rl.store.payloads("ratelimit.PlanUpdated")[-1].active is False
    assert not rl.store.payloads("ratelimit.PlanDeleted")
    gone_user = record("users", user_row(11, "a@example.com", subscription_plan_id=1), op="d")
    assert await imp.handle("users", *gone_user) == "deleted"
    assert (await rl.admin.get("legacy-1")).active_users == 0

    pro = plan_row(3, "Pro")
    assert await imp.handle("subscription_plans", *record("subscription_plans", pro)) == "imported"
    assert await imp.handle("subscription_plans", *record("subscription_plans", pro, op="d")) == "deleted"
    with pytest.raises(AppError) as missing:
        await rl.admin.get("legacy-3")
    assert missing.value.code is ErrorCode.NOT_FOUND
    assert [p.plan_id for p in rl.store.payloads("ratelimit.PlanDeleted")] == ["legacy-3"]

    twin = plan_row(5, "Basic")  # "Basic" is still held by the deactivated legacy-1
    assert await imp.handle("subscription_plans", *record("subscription_plans", twin)) == "imported"
    assert (await rl.admin.get("legacy-5")).name == "Basic (legacy 5)"

    registered = REGISTRY.envelope(
        UserRegistered(user_id=legacy_user_id(12), role="user", plan_id="free", registered_at=rl.clock.now),
        producer="accounts",
        aggregate_id=legacy_user_id(12),
        aggregate_version=1,
    )
    await rl.membership.on_user_registered(registered, REGISTRY.decode(registered))  # type: ignore[arg-type]
    on_basic = record("users", user_row(12, "b@example.com", subscription_plan_id=5))
    assert await imp.handle("users", *on_basic) == "imported"
    assert await user_plans.plan_of(legacy_user_id(12)) == "free"  # accounts' events own the fact

    at = rl.clock.now - timedelta(seconds=30)
    log = usage_row(201, 12, "execution", at)
    assert await imp.handle("usage_logs", *record("usage_logs", log)) == "imported"
    moved = record("usage_logs", {**log, "action": "hint"}, op="u")
    assert await imp.handle("usage_logs", *moved) == "imported"
    day = rl.store.payloads("ratelimit.UsageConsumed")[-1].day
    assert await rl.usage.used(legacy_user_id(12), day, ("execution", "hint")) == {"execution": 0, "hint": 1}
    [refunded] = rl.store.payloads("ratelimit.UsageRefunded")
    assert refunded.action == "execution" and refunded.reason == "legacy usage log changed"
