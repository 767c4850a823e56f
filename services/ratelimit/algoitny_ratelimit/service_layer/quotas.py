"""Quota use cases: check-and-consume, settle, refund and today's usage of one user."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from algoitny_ratelimit.adapters.plan_repository import PlanRepository
from algoitny_ratelimit.adapters.usage_repository import UsageRepository
from algoitny_ratelimit.adapters.user_plan_repository import UserPlanRepository
from algoitny_ratelimit.domain.plans import Plan
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
from algoitny_shared.events import REGISTRY
from algoitny_shared.events.catalog import UsageConsumed, UsageRefunded
from algoitny_shared.plan_ids import DEFAULT_PLAN
from algoitny_shared.uow import CONFLICT_RETRY, TransactionConflict, UnitOfWork

log = logging.getLogger(__name__)
PRODUCER = "ratelimit"


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
