"""Plan users from accounts events: who is on which plan, and each plan's ``active_users``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from algoitny_ratelimit.adapters.plan_repository import PlanRepository
from algoitny_ratelimit.adapters.user_plan_repository import UserPlanRepository, UserPlanState
from algoitny_shared.events import EventEnvelope
from algoitny_shared.events.catalog import UserDeactivated, UserPlanChanged, UserReactivated, UserRegistered
from algoitny_shared.inbox import Inbox
from algoitny_shared.uow import CONFLICT_RETRY, TransactionConflict, UnitOfWork, any_conflict

log = logging.getLogger(__name__)
CONSUMER = "ratelimit"


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
