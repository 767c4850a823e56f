"""HTTP app of the ratelimit service: plans, today's usage, and the internal quota calls
(`/quota/consume`, `/quota/refund`, `/quota/settle`) the gateway makes before and after metered requests."""

from __future__ import annotations

from typing import Annotated

from fastapi import FastAPI, Path, Response
from pydantic import BaseModel

from algoitny_ratelimit.bootstrap import Container, build
from algoitny_ratelimit.domain.plans import PLAN_ID_PATTERN, NewPlan, Plan, PlanPatch
from algoitny_ratelimit.domain.quota import (
    ConsumeRequest,
    ConsumeResult,
    RefundRequest,
    RefundResult,
    SettleRequest,
    SettleResult,
    UsageView,
)
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.identity import CurrentIdentity, Identity
from algoitny_shared.kit.app_factory import parts_app

PlanIdPath = Annotated[str, Path(pattern=PLAN_ID_PATTERN)]


class PlanList(BaseModel):
    items: list[Plan]


def _admin(identity: Identity) -> None:
    if not identity.is_admin:
        raise AppError(ErrorCode.FORBIDDEN, "Only admins manage plans")


def _same_user(identity: Identity, user_id: str) -> None:
    """Charges and refunds come from the gateway, signed with the user they are for."""
    if identity.user_id != user_id:
        raise AppError(ErrorCode.FORBIDDEN, "A quota call must carry the identity of the user it charges")


def make_app(container: Container | None = None) -> FastAPI:
    c = container or build()

    app = parts_app(c, title="AlgoItny ratelimit service", table=c.usage.table)

    @app.get("/plans", response_model=PlanList, tags=["plans"], summary="Plans users can pick (public)")
    async def list_plans() -> PlanList:
        return PlanList(items=await c.plan_admin.list(include_inactive=False))

    @app.get("/me/usage", response_model=UsageView, tags=["usage"], summary="Today's usage against the plan")
    async def my_usage(identity: CurrentIdentity) -> UsageView:
        if not identity.user_id:
            raise AppError(ErrorCode.UNAUTHENTICATED, "Sign in to see your usage")
        return await c.quotas.usage(identity.user_id, identity.plan)

    @app.get("/admin/plans", response_model=PlanList, tags=["plans"])
    async def admin_plans(identity: CurrentIdentity) -> PlanList:
        _admin(identity)
        return PlanList(items=await c.plan_admin.list(include_inactive=True))

    @app.post("/admin/plans", response_model=Plan, status_code=201, tags=["plans"])
    async def create_plan(body: NewPlan, identity: CurrentIdentity) -> Plan:
        _admin(identity)
        return await c.plan_admin.create(body)

    @app.patch("/admin/plans/{plan_id}", response_model=Plan, tags=["plans"])
    async def update_plan(plan_id: PlanIdPath, body: PlanPatch, identity: CurrentIdentity) -> Plan:
        _admin(identity)
        return await c.plan_admin.update(plan_id, body)

    @app.delete("/admin/plans/{plan_id}", status_code=204, tags=["plans"])
    async def delete_plan(plan_id: PlanIdPath, identity: CurrentIdentity) -> Response:
        _admin(identity)
        await c.plan_admin.delete(plan_id)
        return Response(status_code=204)

    @app.post("/quota/consume", response_model=ConsumeResult, tags=["internal"], summary="Check and consume (atomic)")
    async def consume(body: ConsumeRequest, identity: CurrentIdentity) -> ConsumeResult:
        _same_user(identity, body.user_id)
        if not body.metered and not identity.is_admin:
            raise AppError(ErrorCode.FORBIDDEN, "Only admins are not metered")
        return await c.quotas.consume(body)

    @app.post("/quota/refund", response_model=RefundResult, tags=["internal"], summary="Refund a charge (once)")
    async def refund(body: RefundRequest, identity: CurrentIdentity) -> RefundResult:
        _same_user(identity, body.user_id)
        return await c.quotas.refund(body)

    @app.post(
        "/quota/settle",
        response_model=SettleResult,
        tags=["internal"],
        summary="Store the answer of a request that claimed an Idempotency-Key (or release the key)",
    )
    async def settle(body: SettleRequest, identity: CurrentIdentity) -> SettleResult:
        _same_user(identity, body.user_id)
        return await c.quotas.settle(body)

    return app
