"""HTTP API of the hints service (reached through the gateway under /api/v1)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import FastAPI, Header, Path

from algoitny_hints.bootstrap import Container, build
from algoitny_hints.domain.models import HintRequestView, HintsView
from algoitny_hints.service_layer.hints import charge_of
from algoitny_shared.charges import CHARGE_HEADER
from algoitny_shared.http import REQUEST_ID_HEADER
from algoitny_shared.identity import CurrentIdentity
from algoitny_shared.kit.app_factory import parts_app
from algoitny_shared.platforms import PLATFORM_PATTERN, PROBLEM_ID_PATTERN

ExecutionIdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:-]{1,128}$")]
PlatformPath = Annotated[str, Path(pattern=PLATFORM_PATTERN)]
ProblemIdPath = Annotated[str, Path(pattern=PROBLEM_ID_PATTERN)]
ChargeHeader = Annotated[str | None, Header(alias=CHARGE_HEADER, include_in_schema=False)]
RequestIdHeader = Annotated[str | None, Header(alias=REQUEST_ID_HEADER, include_in_schema=False)]


def make_app(container: Container | None = None) -> FastAPI:
    c = container or build()

    app = parts_app(
        c,
        title="AlgoItny hints service",
        description="Progressive hints on failed executions and on problems: Gemini, or an offline fallback.",
        table=c.store.table,
        on_stop=[c.close],
    )
    app.state.container = c
    svc = c.service

    @app.post(
        "/executions/{execution_id}/hints",
        status_code=202,
        response_model=HintRequestView,
        tags=["hints"],
        summary="Ask for hints on one of your failed executions (charged one hint)",
    )
    async def request_execution_hints(
        execution_id: ExecutionIdPath,
        identity: CurrentIdentity,
        charge: ChargeHeader = None,
        rid: RequestIdHeader = None,
    ) -> Any:
        return await svc.request_execution_hints(execution_id, identity, charge_of(charge), _rid(rid))

    @app.get(
        "/executions/{execution_id}/hints",
        response_model=HintsView,
        tags=["hints"],
        summary="The hints of one of your executions (status pending until generated)",
    )
    async def execution_hints(execution_id: ExecutionIdPath, identity: CurrentIdentity) -> HintsView:
        return await svc.execution_hints(execution_id, identity)

    @app.post(
        "/problems/{platform}/{problem_id}/hints",
        status_code=202,
        response_model=HintRequestView,
        tags=["hints"],
        summary="Generate a problem's hints (admins)",
    )
    async def request_problem_hints(
        platform: PlatformPath, problem_id: ProblemIdPath, identity: CurrentIdentity
    ) -> Any:
        return await svc.request_problem_hints(platform, problem_id, identity)

    @app.get(
        "/problems/{platform}/{problem_id}/hints",
        response_model=HintsView,
        tags=["hints"],
        summary="A problem's hints (charged once per problem per day)",
    )
    async def problem_hints(
        platform: PlatformPath, problem_id: ProblemIdPath, identity: CurrentIdentity, charge: ChargeHeader = None
    ) -> HintsView:
        return await svc.problem_hints(platform, problem_id, identity, charge_of(charge))

    return app


def _rid(value: str | None) -> str | None:
    return value if value and re.fullmatch(r"[A-Za-z0-9_.:-]{8,128}", value) else None
