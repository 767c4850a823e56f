"""HTTP API of the problems service (reached through the gateway)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import FastAPI, Path, Response

from algoitny_problems.bootstrap import Container, build
from algoitny_problems.domain.models import PLATFORM_PATTERN, PROBLEM_ID_PATTERN, NewProblem, ProblemView
from algoitny_problems.settings import ProblemsSettings
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.http import create_app
from algoitny_shared.identity import CurrentIdentity
from algoitny_shared.kafka import kafka_readiness
from algoitny_shared.logging import trace_id_var
from algoitny_shared.runtime import BackgroundTasks
from algoitny_shared.tables import PROBLEMS

PlatformPath = Annotated[str, Path(pattern=PLATFORM_PATTERN)]
ProblemIdPath = Annotated[str, Path(pattern=PROBLEM_ID_PATTERN)]


def make_app(container: Container | None = None) -> FastAPI:
    c = container or build()
    background = BackgroundTasks()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await c.broker.start()
        if c.settings.outbox_relay_enabled:
            background.start("outbox-relay", c.relay.run)
        try:
            yield
        finally:
            c.relay.stop()
            await background.stop()
            await c.broker.stop()

    async def dynamodb_ready() -> None:
        await asyncio.to_thread(c.dynamodb.describe_table, TableName=PROBLEMS.physical(c.settings.namespace))

    app = create_app(
        c.settings,
        title="AlgoItny problems service",
        readiness=[dynamodb_ready, kafka_readiness(c.broker)],
        lifespan=lifespan,
    )

    @app.post("/problems", status_code=201, response_model=ProblemView, tags=["problems"])
    async def create_problem(body: NewProblem, identity: CurrentIdentity, response: Response) -> ProblemView:
        if not identity.is_authenticated:
            raise AppError(ErrorCode.UNAUTHENTICATED, "Sign in to register problems")
        if not identity.may_register_problems:
            raise AppError(ErrorCode.FORBIDDEN, "Only admins and registrars can register problems")
        view = await c.service.create(body, identity.user_id, trace_id=trace_id_var.get())
        response.headers["Location"] = f"/api/v1/problems/{view.platform}/{view.problem_id}"
        return view

    @app.get("/problems/{platform}/{problem_id}", response_model=ProblemView, tags=["problems"])
    async def get_problem(platform: PlatformPath, problem_id: ProblemIdPath, identity: CurrentIdentity) -> ProblemView:
        return await c.service.get(platform, problem_id, identity.is_admin)

    return app


def main_app() -> FastAPI:
    return make_app(build(ProblemsSettings()))
