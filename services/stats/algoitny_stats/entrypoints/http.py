"""Stats API (reached through the gateway): a user's own and public statistics, a problem's,
and the admins' platform dashboard. The consumer runs beside it (unless consumers are off)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import FastAPI, Path, Query

from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.identity import CurrentIdentity
from algoitny_shared.kit.app_factory import parts_app
from algoitny_shared.platforms import PLATFORM_PATTERN, PROBLEM_ID_PATTERN
from algoitny_stats.bootstrap import Container, build
from algoitny_stats.domain.views import AdminStats, ProblemStats, PublicUserStats, UserStats
from algoitny_stats.service_layer.queries import parse_range

# Path segments as the rest of the platform names them (ids, platforms): short, no separators.
UserId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
PlatformName = Annotated[str, Path(pattern=PLATFORM_PATTERN)]
ProblemId = Annotated[str, Path(pattern=PROBLEM_ID_PATTERN)]
Day = Annotated[str | None, Query(max_length=10, description="YYYY-MM-DD (UTC), inclusive")]


def make_app(container: Container | None = None) -> FastAPI:
    c = container or build()
    tasks: dict[str, Callable[[], Awaitable[object]]] = {}
    if c.settings.consumers_enabled:
        tasks["stats-consumer"] = c.consumer.run_forever
    if c.settings.lag_poll_interval_s > 0:
        tasks["consumer-lag"] = lambda: c.lag.run(c.settings.lag_poll_interval_s)
    app = parts_app(c, title="AlgoItny stats", table=c.store.table, tasks=tasks, on_start=[c.store.ensure_control])

    @app.get("/me/stats", response_model=UserStats, tags=["stats"], summary="The caller's statistics")
    async def my_stats(identity: CurrentIdentity) -> UserStats:
        if not identity.is_authenticated or not identity.user_id:
            raise AppError(ErrorCode.UNAUTHENTICATED, "Sign in to see your statistics")
        return await c.queries.user(identity.user_id)

    @app.get(
        "/users/{user_id}/stats",
        response_model=PublicUserStats,
        tags=["stats"],
        summary="A user's public statistics (no hints, no per-problem solve times)",
    )
    async def user_stats(user_id: UserId) -> PublicUserStats:
        return await c.queries.public_user(user_id)

    @app.get(
        "/problems/{platform}/{problem_id}/stats",
        response_model=ProblemStats,
        tags=["stats"],
        summary="A problem's statistics",
    )
    async def problem_stats(platform: PlatformName, problem_id: ProblemId) -> ProblemStats:
        return await c.queries.problem(platform, problem_id)

    @app.get(
        "/admin/stats",
        response_model=AdminStats,
        response_model_by_alias=True,
        tags=["stats"],
        summary="Platform statistics per UTC day (at most 366 days), totals and top users",
    )
    async def admin_stats(
        identity: CurrentIdentity,
        from_: Annotated[str | None, Query(alias="from", max_length=10, description="YYYY-MM-DD (UTC)")] = None,
        to: Day = None,
    ) -> AdminStats:
        identity.require_admin()
        start, end = parse_range(from_, to)
        return await c.queries.admin(start, end)

    return app
