"""HTTP API of the executions service (reached through the gateway)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import FastAPI, Header, Path, Query, Response
from fastapi.responses import StreamingResponse

from algoitny_executions.adapters.tables import EXECUTIONS_LEGACY, EXECUTIONS_QUARANTINE, SEARCH_HISTORY
from algoitny_executions.bootstrap import Container, build
from algoitny_executions.domain.history import (
    EXECUTION_ID_PATTERN,
    PLATFORM_PATTERN,
    PROBLEM_ID_PATTERN,
    ExecutionView,
    HistoryPage,
    NewExecution,
    NewRun,
    RunResult,
    Scope,
    Submitted,
    VisibilityChange,
)
from algoitny_shared.charges import CHARGE_HEADER, parse_charge
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.events.catalog import ChargeRef
from algoitny_shared.http import event_stream_response
from algoitny_shared.identity import CurrentIdentity
from algoitny_shared.kit.app_factory import parts_app
from algoitny_shared.legacy.row_importer import LegacyStore

ExecutionIdPath = Annotated[str, Path(pattern=EXECUTION_ID_PATTERN, description="26-character execution id")]
Limit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[str | None, Query(max_length=4096)]


def charge_of(value: str | None) -> ChargeRef | None:
    """The gateway's charge for this request, so that an IE found later can be refunded."""
    parsed = parse_charge(value)
    return ChargeRef(day=parsed[0], request_id=parsed[1]) if parsed else None


def make_app(container: Container | None = None) -> FastAPI:
    c = container or build()

    async def start_judge() -> None:
        await asyncio.to_thread(c.judge.start)
        c.join_workers()

    async def close() -> None:
        for client in c.http_clients:
            await client.aclose()
        await asyncio.to_thread(c.judge.close)

    async def judge() -> None:
        await c.judge.readiness()

    app = parts_app(
        c,
        title="AlgoItny executions service",
        table=SEARCH_HISTORY.physical(c.settings.namespace),
        readiness=[judge],
        on_start=[start_judge],
        on_stop=[close],
    )

    @app.post("/executions", status_code=202, response_model=Submitted, tags=["executions"])
    async def submit(
        body: NewExecution,
        identity: CurrentIdentity,
        response: Response,
        charge: Annotated[str | None, Header(alias=CHARGE_HEADER, include_in_schema=False)] = None,
    ) -> Submitted:
        """Queue a judged run of `code` on a completed problem; follow it at `links.events`."""
        result = await c.executions.submit(body, identity, charge_of(charge))
        response.headers["Location"] = result.links["self"]
        return result

    legacy_rows = LegacyStore(
        c.dynamodb,
        EXECUTIONS_LEGACY.physical(c.settings.namespace),
        EXECUTIONS_QUARANTINE.physical(c.settings.namespace),
    )

    @app.get("/executions/legacy/{legacy_id}", response_model=ExecutionView, tags=["executions"])
    async def get_by_legacy_id(
        legacy_id: Annotated[int, Path(ge=1, le=2**63 - 1)], identity: CurrentIdentity
    ) -> ExecutionView:
        """A run migrated from the legacy history, by its legacy id (same visibility rules)."""
        state = await legacy_rows.get_state("search_history", str(legacy_id))
        if state is None or state.status != "imported" or "execution_id" not in state.refs:
            raise AppError(ErrorCode.NOT_FOUND, f"No execution was migrated from legacy run {legacy_id}")
        return await c.executions.get(state.refs["execution_id"], identity)

    @app.get("/executions/{execution_id}", response_model=ExecutionView, tags=["executions"])
    async def get_execution(execution_id: ExecutionIdPath, identity: CurrentIdentity) -> ExecutionView:
        """An execution with its per-test results; code only for its owner, admins, or when public."""
        return await c.executions.get(execution_id, identity)

    @app.patch("/executions/{execution_id}", response_model=ExecutionView, tags=["executions"])
    async def set_visibility(
        execution_id: ExecutionIdPath, body: VisibilityChange, identity: CurrentIdentity
    ) -> ExecutionView:
        """Make an execution public (`{"public": true}`) or private: its owner or an admin."""
        return await c.executions.set_visibility(execution_id, body, identity)

    @app.get(
        "/executions/{execution_id}/events",
        tags=["executions"],
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def execution_events(execution_id: ExecutionIdPath, identity: CurrentIdentity) -> StreamingResponse:
        """Server-sent events: `status` changes, one `test` per finished test, then `completed`."""
        # Visibility errors become problem+json before the stream starts.
        return await event_stream_response(c.executions.follow(execution_id, identity, max_s=c.settings.sse_max_s))

    @app.post("/runs", response_model=RunResult, tags=["runs"])
    async def run(body: NewRun, identity: CurrentIdentity) -> RunResult:
        """Run code once on custom stdin (synchronous); verdict OK, CE, TLE, MLE, OLE or RE."""
        return await c.runs.run(body, identity)

    @app.get("/history", response_model=HistoryPage, tags=["history"])
    async def history(
        identity: CurrentIdentity,
        scope: Scope = "feed",
        cursor: Cursor = None,
        limit: Limit = 20,
    ) -> HistoryPage:
        """`mine`: your executions; `public`: everyone's public ones; `feed`: both merged. Newest first."""
        if scope == "feed" and not identity.is_authenticated:
            scope = "public"  # anonymous visitors get the public feed (AP-55)
        return await c.executions.lists.list(identity, scope, cursor, limit)

    @app.get("/problems/{platform}/{problem_id}/history", response_model=HistoryPage, tags=["history"])
    async def problem_history(
        platform: Annotated[str, Path(pattern=PLATFORM_PATTERN)],
        problem_id: Annotated[str, Path(pattern=PROBLEM_ID_PATTERN)],
        identity: CurrentIdentity,
        cursor: Cursor = None,
        limit: Limit = 20,
    ) -> HistoryPage:
        """Every execution of one problem, newest first (admins)."""
        if not identity.is_admin:
            raise AppError(ErrorCode.FORBIDDEN, "Only admins list a problem's executions")
        return await c.executions.lists.by_problem(platform, problem_id, cursor, limit)

    return app


def main_app() -> FastAPI:
    from algoitny_executions.settings import ExecutionsSettings

    return make_app(build(ExecutionsSettings()))
