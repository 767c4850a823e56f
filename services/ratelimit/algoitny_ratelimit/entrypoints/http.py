"""HTTP app of the ratelimit service: plans (quotas come with the ratelimit issue)."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI
from pydantic import BaseModel

from algoitny_ratelimit.adapters.plan_repository import PlanRepository
from algoitny_ratelimit.domain.plans import Plan
from algoitny_ratelimit.settings import RatelimitSettings
from algoitny_shared.dynamo import dynamodb
from algoitny_shared.http import create_app


class PlanList(BaseModel):
    items: list[Plan]


def make_app(settings: RatelimitSettings | None = None) -> FastAPI:
    settings = settings or RatelimitSettings()
    client = dynamodb(settings)
    plans = PlanRepository(client, settings.namespace)

    async def dynamodb_ready() -> None:
        await asyncio.to_thread(client.describe_table, TableName=plans.table)

    app = create_app(settings, title="AlgoItny ratelimit service", readiness=[dynamodb_ready])

    @app.get("/plans", response_model=PlanList, tags=["plans"])
    async def list_plans() -> PlanList:
        return PlanList(items=await plans.all())

    return app
