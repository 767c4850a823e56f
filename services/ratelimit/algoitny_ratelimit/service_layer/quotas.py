"""Use cases: check-and-consume, refund, today's usage; plan administration; plan users from events."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from algoitny_ratelimit.adapters.plan_repository import PlanRepository
from algoitny_ratelimit.adapters.usage_repository import UsageRepository
from algoitny_ratelimit.adapters.user_plan_repository import UserPlanRepository, UserPlanState
from algoitny_ratelimit.domain.plans import NewPlan, Plan, PlanPatch
from algoitny_ratelimit.domain.quota import (
    ACTIONS,
    UNLIMITED,
    Clock,
    ConsumeRequest,
    ConsumeResult,
    RefundRequest,
    RefundResult,
    SettleRequest,
    SettleResult,
    UsageView,
    day_of,
    reset_at,
    state,
    utc_now,
)
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.events import REGISTRY, EventEnvelope
from algoitny_shared.events.catalog import (
    ExecutionCompleted,
    PlanCreated,
    PlanDeleted,
    PlanUpdated,
    UsageConsumed,
    UsageRefunded,
    UserDeactivated,
    UserPlanChanged,
    UserReactivated,
    UserRegistered,
)
from algoitny_shared.inbox import Inbox
from algoitny_shared.plan_ids import DEFAULT_PLAN, SYSTEM_PLANS
from algoitny_shared.uow import CONFLICT_RETRY, TransactionConflict, UnitOfWork, any_conflict

log = logging.getLogger(__name__)
PRODUCER = "ratelimit"
CONSUMER = "ratelimit"


def _charge_id(user_id: str, action: str, request_id: str) -> str:
    return f"{user_id}/{action}/{request_id}"


async def _commit_retrying(make_uow: Callable[[], UnitOfWork], fill: Callable[[UnitOfWork], None]) -> None:
    """Commit, retrying transactions cancelled only by contention (the kit's one policy)."""
    uow = make_uow()
    fill(uow)
    await uow.commit(retry=CONFLICT_RETRY)


class QuotaService:
    def __init__(
        self,
        plans: PlanRepository,
        usage: UsageRepository,
        user_plans: UserPlanRepository,
        uow_factory: Callable[[], UnitOfWork],
        clock: Clock = utc_now,
    ) -> None:
        self._plans = plans
        self._usage = usage
        self._user_plans = user_plans
        self._uow = uow_factory
        self._clock = clock

    async def _plan_for(self, user_id: str, hint: str | None) -> Plan:
        plan_id = await self._user_plans.plan_of(user_id) or hint or DEFAULT_PLAN
        plan = await self._plans.get(plan_id) or await self._plans.get(DEFAULT_PLAN)
        if plan is None:
            raise AppError(ErrorCode.UPSTREAM_UNAVAILABLE, "No plans are configured")
        return plan

    async def consume(self, req: ConsumeRequest) -> ConsumeResult:
        """Check and consume one unit of today's quota; with an idempotency claim, claim the key in
        the same transaction (a key claimed already is charged nothing: its record is returned)."""
        for _ in range(3):
            result = await self._consume_once(req)
            if result is not None:
                return result
        # The key was claimed, then released or expired while we looked: it is contended.
        raise AppError(
            ErrorCode.CONFLICT,
            "A request with this Idempotency-Key is still being processed; retry shortly",
            headers={"Retry-After": "1"},
        )

    async def _consume_once(self, req: ConsumeRequest) -> ConsumeResult | None:
        now = self._clock()
        day = day_of(now)
        claim = (
            self._usage.idempotency.claim(req.user_id, req.idempotency, req.request_id, int(now.timestamp()))
            if req.idempotency
            else None
        )
        if not req.metered:
            if claim is None:
                raise AppError(ErrorCode.BAD_REQUEST, "An unmetered call only claims an Idempotency-Key")
            try:
                await _commit_retrying(self._uow, lambda uow: uow.add(claim))
            except TransactionConflict as exc:
                if exc.reasons[:1] != ["ConditionalCheckFailed"]:
                    raise
                return await self._claimed(req, UNLIMITED, now, "")
            quota = state(req.action, UNLIMITED, 0, now)
            return ConsumeResult(**quota.model_dump(), admitted=True, plan_id="")
        plan = await self._plan_for(req.user_id, req.plan_hint)
        limit = plan.limit_for(req.action)
        event = REGISTRY.envelope(
            UsageConsumed(
                user_id=req.user_id, action=req.action, request_id=req.request_id, day=day, at=now, plan_id=plan.plan_id
            ),
            producer=PRODUCER,
            aggregate_id=_charge_id(req.user_id, req.action, req.request_id),
            aggregate_version=1,
        )

        def fill(uow: UnitOfWork) -> None:
            if claim is not None:
                uow.add(claim)
            for item in self._usage.consume_items(
                user_id=req.user_id,
                day=day,
                action=req.action,
                request_id=req.request_id,
                limit=limit,
                now=now,
                plan_id=plan.plan_id,
            ):
                uow.add(item)
            uow.publish(event)

        replayed = False
        try:
            await _commit_retrying(self._uow, fill)
        except TransactionConflict as exc:
            reasons = [*exc.reasons, "None", "None", "None"]
            if claim is not None:
                if reasons[0] == "ConditionalCheckFailed":
                    # The key is held: the request was made before (or is in flight). A replay
                    # is answered from the record even when today's quota is used up meanwhile.
                    return await self._claimed(req, limit, now, plan.plan_id)
                reasons = reasons[1:]
            counter_failed, guard_failed = reasons[:2]
            if guard_failed == "ConditionalCheckFailed":
                replayed = True  # this request id was charged before: not again
            elif counter_failed == "ConditionalCheckFailed":
                used = (await self._usage.used(req.user_id, day, (req.action,)))[req.action]
                reset = reset_at(now)
                raise AppError(
                    ErrorCode.RATE_LIMITED,
                    f"Daily {req.action} quota of the {plan.name} plan is used up ({limit}); it resets at 00:00 UTC",
                    limit=limit,
                    used=used,
                    remaining=0,
                    reset_at=reset.isoformat(),
                    retry_after=max(1, int((reset - now).total_seconds())),
                    plan_id=plan.plan_id,
                ) from exc
            else:
                raise
        used = (await self._usage.used(req.user_id, day, (req.action,)))[req.action]
        quota = state(req.action, limit, used, now)
        return ConsumeResult(**quota.model_dump(), admitted=True, replayed=replayed, plan_id=plan.plan_id)

    async def _claimed(self, req: ConsumeRequest, limit: int, now: datetime, plan_id: str) -> ConsumeResult | None:
        """The answer for a request whose key is held: the record, nothing charged (None: the
        record went away meanwhile, try the claim again)."""
        assert req.idempotency is not None
        record = await self._usage.idempotency_record(req.user_id, req.idempotency.key, int(now.timestamp()))
        if record is None:
            return None
        day = day_of(now)
        used = (await self._usage.used(req.user_id, day, (req.action,)))[req.action] if req.metered else 0
        quota = state(req.action, limit, used, now)
        return ConsumeResult(**quota.model_dump(), admitted=False, replayed=True, plan_id=plan_id, idempotent=record)

    async def settle(self, req: SettleRequest) -> SettleResult:
        """Store the answer of a request that claimed an idempotency key, or release the key."""
        settled = await self._usage.settle_idempotency(req.user_id, req.key, req.request_id, req.response)
        if not settled:
            log.warning("idempotency key no longer held by this attempt", extra={"user_id": req.user_id})
        return SettleResult(settled=settled)

    async def refund(self, req: RefundRequest) -> RefundResult:
        now = self._clock()
        event = REGISTRY.envelope(
            UsageRefunded(
                user_id=req.user_id,
                action=req.action,
                request_id=req.request_id,
                day=req.day,
                at=now,
                reason=req.reason,
            ),
            producer=PRODUCER,
            aggregate_id=_charge_id(req.user_id, req.action, req.request_id),
            aggregate_version=2,
        )

        def fill(uow: UnitOfWork) -> None:
            for item in self._usage.refund_items(
                user_id=req.user_id, day=req.day, action=req.action, request_id=req.request_id, now=now
            ):
                uow.add(item)
            uow.publish(event)

        try:
            await _commit_retrying(self._uow, fill)
        except TransactionConflict as exc:
            charge = await self._usage.charge(req.user_id, req.day, req.action, req.request_id)
            if charge is None:
                raise AppError(ErrorCode.NOT_FOUND, "No such charge to refund") from exc
            if "refunded_at" in charge:
                return RefundResult(refunded=False, already_refunded=True)
            raise
        return RefundResult(refunded=True)

    async def usage(self, user_id: str, plan_hint: str | None) -> UsageView:
        now = self._clock()
        # Independent reads: the user's plan and today's counters, at the same time.
        plan, used = await asyncio.gather(
            self._plan_for(user_id, plan_hint), self._usage.used(user_id, day_of(now), ACTIONS)
        )
        return UsageView(
            user_id=user_id,
            plan_id=plan.plan_id,
            day=day_of(now),
            reset_at=reset_at(now),
            actions=[state(a, plan.limit_for(a), used[a], now) for a in ACTIONS],
        )


def _snapshot(plan: Plan) -> dict[str, Any]:
    return plan.model_dump(
        include={
            "plan_id",
            "name",
            "daily_limits",
            "may_register_problems",
            "may_view_all_problems",
            "max_registered_problems",
            "active",
        }
    )


class PlanService:
    def __init__(self, plans: PlanRepository, uow_factory: Callable[[], UnitOfWork]) -> None:
        self._plans = plans
        self._uow = uow_factory

    async def list(self, *, include_inactive: bool) -> list[Plan]:
        plans = await self._plans.all()
        return [p for p in plans if include_inactive or (p.active and p.plan_id != "admin")]

    async def get(self, plan_id: str) -> Plan:
        plan = await self._plans.get(plan_id, fresh=True)
        if plan is None:
            raise AppError(ErrorCode.NOT_FOUND, f"Plan {plan_id} does not exist")
        return plan

    async def create(self, cmd: NewPlan) -> Plan:
        plan = Plan(**cmd.model_dump())
        uow = self._uow()
        for item in self._plans.put_new(plan):
            uow.add(item)
        uow.publish(
            REGISTRY.envelope(
                PlanCreated(**_snapshot(plan)), producer=PRODUCER, aggregate_id=plan.plan_id, aggregate_version=1
            )
        )
        try:
            await uow.commit()
        except TransactionConflict as exc:
            what = "id" if exc.reasons[0] == "ConditionalCheckFailed" else "name"
            raise AppError(ErrorCode.ALREADY_EXISTS, f"A plan with this {what} already exists") from exc
        return plan

    async def update(self, plan_id: str, patch: PlanPatch) -> Plan:
        before = await self.get(plan_id)
        changes = patch.model_dump(exclude_none=True)
        after = Plan.model_validate({**before.model_dump(), **changes, "version": before.version + 1})
        uow = self._uow()
        for item in self._plans.replace(before, after):
            uow.add(item)
        uow.publish(
            REGISTRY.envelope(
                PlanUpdated(**_snapshot(after)),
                producer=PRODUCER,
                aggregate_id=plan_id,
                aggregate_version=after.version,
            )
        )
        try:
            await uow.commit()
        except TransactionConflict as exc:
            if len(exc.reasons) > 1 and exc.reasons[1] == "ConditionalCheckFailed":
                raise AppError(ErrorCode.ALREADY_EXISTS, "A plan with this name already exists") from exc
            raise AppError(ErrorCode.CONFLICT, "The plan changed meanwhile; read it again and retry") from exc
        self._plans.forget(plan_id)
        return after

    async def delete(self, plan_id: str) -> None:
        plan = await self.get(plan_id)
        if plan_id in SYSTEM_PLANS:
            raise AppError(
                ErrorCode.CONFLICT,
                f"Plan {plan_id} cannot be deleted: accounts put every new user (or seeded admin) on it; "
                "change its limits instead",
            )
        uow = self._uow()
        for item in self._plans.delete(plan):
            uow.add(item)
        uow.publish(
            REGISTRY.envelope(
                PlanDeleted(plan_id=plan_id),
                producer=PRODUCER,
                aggregate_id=plan_id,
                aggregate_version=plan.version + 1,
            )
        )
        try:
            await uow.commit()
        except TransactionConflict as exc:
            raise AppError(
                ErrorCode.CONFLICT, f"Plan {plan_id} still has {plan.active_users} users; move them first"
            ) from exc
        self._plans.forget(plan_id)

    async def seed(self, plans: tuple[NewPlan, ...]) -> int:
        created = 0
        for cmd in plans:
            try:
                await self.create(cmd)
                created += 1
            except AppError:
                pass
        return created


def _already_applied(exc: TransactionConflict) -> bool:
    return exc.reasons[:1] == ["ConditionalCheckFailed"]


class PlanMembership:
    """Keeps UserPlans and each plan's ``active_users`` exact from accounts events.

    Every event is applied in one TransactWriteItems: the inbox mark (so a redelivered event
    has no second effect), the user's new UserPlans state (conditioned on the revision read,
    so concurrent deliveries cannot both apply), and the counter moves: -1 on the plan that
    counted the user, +1 on the plan that counts them now. A user is counted only while active
    and only in a plan that exists; the +1 is conditioned on the plan existing, and a plan is
    deleted only while its counter is 0, so a delete and a move can never both succeed.
    """

    def __init__(
        self, plans: PlanRepository, user_plans: UserPlanRepository, inbox: Inbox, uow: Callable[[], UnitOfWork]
    ) -> None:
        self._plans = plans
        self._user_plans = user_plans
        self._inbox = inbox
        self._uow = uow

    async def _apply(
        self,
        envelope: EventEnvelope,
        user_id: str,
        change: Callable[[UserPlanState | None], tuple[str, bool] | None],
    ) -> None:
        """Apply ``change`` (current state -> new plan and active flag, or None for no change)."""
        await self.apply_change(
            user_id, envelope.aggregate_version, change, [self._inbox.put_request(CONSUMER, str(envelope.event_id))]
        )

    async def apply_change(
        self,
        user_id: str,
        version: int,
        change: Callable[[UserPlanState | None], tuple[str, bool] | None],
        first: list[dict[str, Any]],
    ) -> None:
        """Apply ``change`` as of accounts' user ``version`` together with ``first`` (transaction items
        whose first one fails its condition when this was applied already: the inbox mark of an event)."""
        touched: set[str] = set()

        async def attempt() -> None:
            items, moved = await self.change_items(user_id, version, change)
            touched.clear()
            touched.update(moved)
            work = self._uow()
            for item in [*first, *items]:
                work.add(item)
            await work.commit()

        # The first item refused: applied already. Any other failed condition (the state or a counter)
        # means another delivery moved it: read again.
        try:
            await CONFLICT_RETRY.run(attempt, retry_if=lambda exc: not _already_applied(exc) and any_conflict(exc))
        except TransactionConflict as exc:
            if _already_applied(exc):
                log.info("change already applied", extra={"user_id": user_id})
                return
            raise
        for plan_id in touched:
            self._plans.forget(plan_id)

    async def change_items(
        self, user_id: str, version: int, change: Callable[[UserPlanState | None], tuple[str, bool] | None]
    ) -> tuple[list[dict[str, Any]], set[str]]:
        """The transaction items that apply ``change`` as of accounts' user ``version`` to the state
        read now (the new UserPlans state, conditioned on the revision read, and the counter moves),
        and the plans whose counters they touch. The legacy import (``service_layer/legacy_import``)
        adds them to its own transaction at version 0: only while ratelimit has heard nothing from
        accounts of the user (accounts' events own the fact)."""
        current = await self._user_plans.state(user_id)
        target = None if current and current.event_version > version else change(current)
        touched = {str(t) for t in (current.counted_in if current else None, target[0] if target else None) if t}
        items: list[dict[str, Any]] = []
        if target is not None:
            plan_id, active = target
            counted = plan_id if active and await self._plans.get(plan_id, fresh=True) else None
            new = UserPlanState(
                user_id=user_id,
                plan_id=plan_id,
                active=active,
                counted_in=counted,
                event_version=version,
                rev=(current.rev if current else 0) + 1,
            )
            items.append(self._user_plans.put_state(new, current))
            before = current.counted_in if current else None
            if before != counted:
                if before is not None:
                    items.append(self._plans.add_users(before, -1))
                if counted is not None:
                    items.append(self._plans.add_users(counted, 1))
        return items, touched

    async def on_user_registered(self, envelope: EventEnvelope, payload: UserRegistered) -> None:
        await self._apply(envelope, payload.user_id, lambda cur: (payload.plan_id, True) if cur is None else None)

    async def on_user_plan_changed(self, envelope: EventEnvelope, payload: UserPlanChanged) -> None:
        await self._apply(envelope, payload.user_id, lambda cur: (payload.plan_id, cur.active if cur else True))

    async def on_user_deactivated(self, envelope: EventEnvelope, payload: UserDeactivated) -> None:
        if await self._user_plans.state(payload.user_id) is None:
            log.warning("deactivation of a user never seen registering", extra={"user_id": payload.user_id})
        await self._apply(envelope, payload.user_id, lambda cur: (cur.plan_id, False) if cur else None)

    async def on_user_reactivated(self, envelope: EventEnvelope, payload: UserReactivated) -> None:
        await self._apply(envelope, payload.user_id, lambda cur: (cur.plan_id, True) if cur else None)

    def handlers(self) -> dict[str, Any]:
        return {
            "accounts.UserRegistered": self.on_user_registered,
            "accounts.UserPlanChanged": self.on_user_plan_changed,
            "accounts.UserDeactivated": self.on_user_deactivated,
            "accounts.UserReactivated": self.on_user_reactivated,
        }


class ExecutionRefunds:
    """Gives back the charge of an execution the judge could not judge (verdict IE).

    The gateway refunds what fails while it waits (5xx, unreachable); an IE found later by a
    judge worker arrives here as an ``executions.ExecutionCompleted`` event carrying the
    charge the gateway made. A refund happens at most once (the charge item remembers it),
    so a redelivered event is harmless.
    """

    def __init__(self, quotas: QuotaService) -> None:
        self._quotas = quotas

    async def on_execution_completed(self, envelope: EventEnvelope, payload: ExecutionCompleted) -> None:
        if payload.verdict != "IE" or payload.charge is None or payload.user_id is None:
            return
        try:
            await self._quotas.refund(
                RefundRequest(
                    user_id=payload.user_id,
                    action="execution",
                    request_id=payload.charge.request_id,
                    day=payload.charge.day,
                    reason=f"internal error judging execution {payload.execution_id}"[:200],
                )
            )
        except AppError as exc:
            if exc.code != ErrorCode.NOT_FOUND:
                raise
            log.warning("no charge to refund for execution %s", payload.execution_id)

    def handlers(self) -> dict[str, Any]:
        return {"executions.ExecutionCompleted": self.on_execution_completed}
