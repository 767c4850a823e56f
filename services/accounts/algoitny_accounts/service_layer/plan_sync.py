"""Keeps the plans accounts knows, and the limits users copy from them, current from ratelimit's
plan events (``ratelimit.PlanCreated`` / ``PlanUpdated`` / ``PlanDeleted``).

Idempotent and order-safe: the copy stores the version of the plan event it holds and refuses
older ones; each user's copy is set only if older than the event (``plan_rev``), so a
redelivered or replayed event changes nothing, and a crash half-way through the fan-out is
finished by the redelivery. So it needs no inbox (an inbox mark could not share one
transaction with a fan-out over every user on the plan anyway).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from algoitny_accounts.adapters.plan_copies import PlanCopyRepository
from algoitny_accounts.adapters.user_repository import UserRepository
from algoitny_accounts.domain.plans import PlanCopy
from algoitny_shared.events import EventEnvelope
from algoitny_shared.events.catalog import PlanCreated, PlanDeleted, PlanSnapshot, PlanUpdated

log = logging.getLogger(__name__)
FANOUT_CONCURRENCY = 16


# (user id, deleted plan id) -> moved: puts the user back on the default plan, with its event.
LeaveDeletedPlan = Callable[[str, str], Awaitable[bool]]


class PlanSync:
    def __init__(
        self, plans: PlanCopyRepository, users: UserRepository, leave_deleted_plan: LeaveDeletedPlan | None = None
    ) -> None:
        self._plans = plans
        self._users = users
        self.leave_deleted_plan = leave_deleted_plan

    async def _apply(self, envelope: EventEnvelope, payload: PlanSnapshot, *, created: bool) -> None:
        plan = PlanCopy(**payload.model_dump(), rev=envelope.aggregate_version)
        if not await self._plans.save(plan, revives=created):
            log.info("stale plan event ignored", extra={"plan_id": plan.plan_id})
            return
        await self.fan_out(plan)

    async def fan_out(self, plan: PlanCopy) -> int:
        """Copy the plan's limits into every user on it; returns how many users changed."""
        limits = plan.limits()
        gate = asyncio.Semaphore(FANOUT_CONCURRENCY)

        async def one(user_id: str) -> bool:
            async with gate:
                return await self._users.copy_plan_limits(user_id, plan.plan_id, limits, plan.rev)

        changed = await asyncio.gather(*(one(u) for u in await self._users.ids_on_plan(plan.plan_id)))
        return sum(changed)

    async def on_plan_created(self, envelope: EventEnvelope, payload: PlanCreated) -> None:
        await self._apply(envelope, payload, created=True)

    async def on_plan_updated(self, envelope: EventEnvelope, payload: PlanUpdated) -> None:
        await self._apply(envelope, payload, created=False)

    async def on_plan_deleted(self, envelope: EventEnvelope, payload: PlanDeleted) -> None:
        # A tombstone: no user can be moved onto the plan any more, and an older event cannot revive it.
        before = await self._plans.get(payload.plan_id, fresh=True)
        base = before.model_dump() if before else {"plan_id": payload.plan_id}
        await self._plans.save(
            PlanCopy(**{**base, "deleted": True, "active": False, "rev": envelope.aggregate_version})
        )
        # Users moved onto the plan just before ratelimit deleted it (ratelimit had not counted them
        # yet, so the delete won) are charged by the default plan there: put them on it here too, so
        # no token carries the deleted plan's rights. Sign-in and refresh catch any the index missed.
        if self.leave_deleted_plan is not None:
            gate = asyncio.Semaphore(FANOUT_CONCURRENCY)
            leave = self.leave_deleted_plan

            async def one(user_id: str) -> bool:
                async with gate:
                    return await leave(user_id, payload.plan_id)

            moved = await asyncio.gather(*(one(u) for u in await self._users.ids_on_plan(payload.plan_id)))
            if any(moved):
                log.info("users moved off a deleted plan", extra={"plan_id": payload.plan_id, "moved": sum(moved)})

    def handlers(self) -> dict[str, Any]:
        return {
            "ratelimit.PlanCreated": self.on_plan_created,
            "ratelimit.PlanUpdated": self.on_plan_updated,
            "ratelimit.PlanDeleted": self.on_plan_deleted,
        }
