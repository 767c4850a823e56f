"""Plan administration: list, read, create, update, delete and seed plans (each change with its event)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from algoitny_ratelimit.adapters.plan_repository import PlanRepository
from algoitny_ratelimit.domain.plans import NewPlan, Plan, PlanPatch
from algoitny_ratelimit.service_layer.quotas import PRODUCER
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.events import REGISTRY
from algoitny_shared.events.catalog import PlanCreated, PlanDeleted, PlanUpdated
from algoitny_shared.plan_ids import SYSTEM_PLANS
from algoitny_shared.uow import TransactionConflict, UnitOfWork


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
