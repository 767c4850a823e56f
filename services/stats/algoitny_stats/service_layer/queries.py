"""Read use cases: every answer comes from precomputed items (GetItem / Query, never Scan)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

from algoitny_shared.errors import AppError, ErrorCode
from algoitny_stats.adapters.store import StatsStore
from algoitny_stats.domain.aggregation import (
    DAYS_PK,
    PLATFORM_TOTALS,
    day_users_pk,
    problem_runtime,
    problem_summary,
    total_of,
    user_days,
    user_summary,
)
from algoitny_stats.domain.views import (
    MAX_RANGE_DAYS,
    AdminStats,
    ProblemStats,
    PublicUserStats,
    UserStats,
    admin_stats,
    day_range,
    own_user,
    problem_stats,
    public_user,
)

MAX_SOLVED_LISTED = 1000
DEFAULT_RANGE_DAYS = 30
EARLIEST = date(2000, 1, 1)


def _today() -> date:
    return datetime.now(UTC).date()


def parse_range(start: str | None, end: str | None, today: date | None = None) -> tuple[date, date]:
    """``from``/``to`` as YYYY-MM-DD (inclusive); default the last 30 days; at most 366 days."""
    today = today or _today()

    def parse(name: str, value: str) -> date:
        try:
            parsed = date.fromisoformat(value)
        except ValueError:
            raise AppError(
                ErrorCode.VALIDATION_FAILED,
                f"{name} must be a date YYYY-MM-DD",
                errors=[{"loc": ["query", name], "msg": "not a date", "type": "value_error"}],
            ) from None
        if len(value) != 10 or not EARLIEST <= parsed <= today + timedelta(days=1):
            raise AppError(
                ErrorCode.VALIDATION_FAILED,
                f"{name} must be a date YYYY-MM-DD between {EARLIEST} and tomorrow",
                errors=[{"loc": ["query", name], "msg": "out of range", "type": "value_error"}],
            )
        return parsed

    last = parse("to", end) if end else today
    first = parse("from", start) if start else last - timedelta(days=DEFAULT_RANGE_DAYS - 1)
    if first > last:
        raise AppError(ErrorCode.VALIDATION_FAILED, "from must not be after to")
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        raise AppError(ErrorCode.VALIDATION_FAILED, f"The range spans at most {MAX_RANGE_DAYS} days")
    return first, last


class StatsQueries:
    def __init__(self, store: StatsStore, *, concurrency: int = 16) -> None:
        self._store = store
        self._limit = asyncio.Semaphore(concurrency)

    async def _get(self, generation: int, key: tuple[str, str]) -> dict[str, object]:
        async with self._limit:
            return await self._store.get(generation, key) or {}

    async def user(self, user_id: str) -> UserStats:
        generation = await self._store.active_generation()
        summary, days, markers = await asyncio.gather(
            self._get(generation, user_summary(user_id)),
            self._get(generation, user_days(user_id)),
            self._store.query(generation, f"USER#{user_id}", begins_with="PROB#"),
        )
        return own_user(user_id, summary, days, markers, _today(), MAX_SOLVED_LISTED)

    async def public_user(self, user_id: str) -> PublicUserStats:
        generation = await self._store.active_generation()
        summary, days = await asyncio.gather(
            self._get(generation, user_summary(user_id)), self._get(generation, user_days(user_id))
        )
        if not summary and not days:
            raise AppError(ErrorCode.NOT_FOUND, "No statistics for this user")
        return public_user(user_id, summary, days, _today())

    async def problem(self, platform: str, problem_id: str) -> ProblemStats:
        generation = await self._store.active_generation()
        summary, runtime = await asyncio.gather(
            self._get(generation, problem_summary(platform, problem_id)),
            self._get(generation, problem_runtime(platform, problem_id)),
        )
        return problem_stats(platform, problem_id, summary, runtime)

    async def admin(self, start: date, end: date) -> AdminStats:
        generation = await self._store.active_generation()
        horizon = max(end, _today())
        # One Query over the DAYS partition: the range and every later day (their plan changes).
        day_items_list, totals = await asyncio.gather(
            self._store.query(generation, DAYS_PK, between=(start.isoformat(), horizon.isoformat())),
            self._get(generation, PLATFORM_TOTALS),
        )
        day_items = {str(i["sk"]): i for i in day_items_list}
        later: dict[str, int] = {}
        for day, item in day_items.items():
            if day > end.isoformat():
                for plan, delta in total_of(item, "plan").items():
                    later[plan] = later.get(plan, 0) + delta

        async def users_of(day: str) -> tuple[str, dict[str, tuple[int, int]]]:
            if not int(day_items.get(day, {}).get("active_users", 0) or 0):
                return day, {}
            async with self._limit:
                items = await self._store.query(generation, day_users_pk(day), begins_with="USER#")
            return day, {
                str(i["sk"])[5:]: (int(i.get("executions", 0) or 0), int(i.get("accepted", 0) or 0)) for i in items
            }

        pairs = await asyncio.gather(*(users_of(d) for d in day_range(start, end)))
        return admin_stats(start, end, day_items, later, dict(pairs), totals, generation)
