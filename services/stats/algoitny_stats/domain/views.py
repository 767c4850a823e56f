"""What the stats API answers (pydantic models) and the rules that turn items into them (no I/O)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from pydantic import BaseModel, Field

from algoitny_stats.domain.aggregation import current_streak, median_from_histogram, rate, total_of

MAX_RANGE_DAYS = 366
TOP_USERS = 10


class SolvedProblem(BaseModel):
    platform: str
    problem_id: str
    first_attempt_at: str
    first_solve_at: str


class PublicUserStats(BaseModel):
    """What anyone may see of a user: volume, verdicts, languages, problems and streaks."""

    user_id: str
    executions: int = 0
    accepted: int = 0
    acceptance_rate: float = 0.0
    by_verdict: dict[str, int] = Field(default_factory=dict)
    by_language: dict[str, int] = Field(default_factory=dict)
    problems_attempted: int = 0
    problems_solved: int = 0
    current_streak: int = Field(0, description="Consecutive UTC days with a judged run, ending today or yesterday")
    best_streak: int = 0
    last_active_day: str | None = None


class UserStats(PublicUserStats):
    """The owner's view adds hints, platforms and each solved problem's first-solve time."""

    by_platform: dict[str, int] = Field(default_factory=dict)
    hints_used: int = Field(0, description="Hints charged to the user (net of refunds)")
    hint_requests: int = 0
    solved: list[SolvedProblem] = Field(default_factory=list)
    solved_truncated: bool = False


class ProblemStats(BaseModel):
    platform: str
    problem_id: str
    attempts: int = 0
    accepted: int = 0
    acceptance_rate: float = Field(0.0, description="Accepted runs / runs")
    users: int = Field(0, description="Distinct users who ran it")
    solves: int = Field(0, description="Distinct users who got AC")
    solve_rate: float = Field(0.0, description="Users who solved / users who tried")
    by_language: dict[str, int] = Field(default_factory=dict)
    by_verdict: dict[str, int] = Field(default_factory=dict)
    median_accepted_time_ms: float | None = Field(None, description="Exact median run time of accepted runs")


class DayStats(BaseModel):
    day: str
    executions: int = 0
    accepted: int = 0
    hints: int = 0
    hint_requests: int = 0
    charged_executions: int = 0
    signups: int = 0
    active_users: int = 0
    by_language: dict[str, int] = Field(default_factory=dict)
    users_per_plan: dict[str, int] = Field(default_factory=dict, description="Active users per plan at the day's end")


class TopUser(BaseModel):
    user_id: str
    executions: int
    accepted: int


class PeriodTotals(BaseModel):
    executions: int = 0
    accepted: int = 0
    acceptance_rate: float = 0.0
    hints: int = 0
    hint_requests: int = 0
    charged_executions: int = 0
    signups: int = 0
    active_users: int = Field(0, description="Distinct users with a judged run in the period")
    by_language: dict[str, int] = Field(default_factory=dict)


class PlatformNow(BaseModel):
    """Current snapshot (all time)."""

    executions: int = 0
    accepted: int = 0
    users: int = 0
    active_users: int = Field(0, description="Users not deactivated (AG-08)")
    users_per_plan: dict[str, int] = Field(default_factory=dict, description="Active users per plan (AG-11)")
    all_users_per_plan: dict[str, int] = Field(default_factory=dict, description="All users per plan (AG-12)")
    problems: int = Field(0, description="Problems not deleted, drafts included (AG-09)")
    problems_per_platform: dict[str, int] = Field(default_factory=dict, description="Platforms in use (AG-18)")
    hints: int = 0


class AdminStats(BaseModel):
    from_day: str = Field(alias="from")
    to_day: str = Field(alias="to")
    days: list[DayStats]
    totals: PeriodTotals
    top_users: list[TopUser]
    platform: PlatformNow
    generation: int

    model_config = {"populate_by_name": True}


def _int(item: dict[str, Any], name: str) -> int:
    return int(item.get(name, 0) or 0)


def public_user(user_id: str, summary: dict[str, Any], days: dict[str, Any], today: date) -> PublicUserStats:
    return PublicUserStats(**_public_fields(user_id, summary, days, today))


def _public_fields(user_id: str, summary: dict[str, Any], days: dict[str, Any], today: date) -> dict[str, Any]:
    active = sorted(days.get("days", []))
    executions, accepted = _int(summary, "executions"), _int(summary, "accepted")
    return {
        "user_id": user_id,
        "executions": executions,
        "accepted": accepted,
        "acceptance_rate": rate(accepted, executions),
        "by_verdict": total_of(summary, "verdict"),
        "by_language": total_of(summary, "lang"),
        "problems_attempted": _int(summary, "problems_attempted"),
        "problems_solved": _int(summary, "problems_solved"),
        "current_streak": current_streak(active, today),
        "best_streak": _int(days, "best_streak"),
        "last_active_day": active[-1] if active else None,
    }


def own_user(
    user_id: str,
    summary: dict[str, Any],
    days: dict[str, Any],
    markers: list[dict[str, Any]],
    today: date,
    max_solved: int,
) -> UserStats:
    solved = [
        SolvedProblem(
            platform=str(m["platform"]),
            problem_id=str(m["problem_id"]),
            first_attempt_at=str(m.get("first_attempt_at", "")),
            first_solve_at=str(m["first_solve_at"]),
        )
        for m in markers
        if m.get("first_solve_at")
    ]
    solved.sort(key=lambda s: s.first_solve_at, reverse=True)
    return UserStats(
        **_public_fields(user_id, summary, days, today),
        by_platform=total_of(summary, "platform"),
        hints_used=_int(summary, "hints_used"),
        hint_requests=_int(summary, "hint_requests"),
        solved=solved[:max_solved],
        solved_truncated=len(solved) > max_solved,
    )


def problem_stats(platform: str, problem_id: str, summary: dict[str, Any], runtime: dict[str, Any]) -> ProblemStats:
    attempts, accepted = _int(summary, "executions"), _int(summary, "accepted")
    users, solves = _int(summary, "users"), _int(summary, "solves")
    histogram = {int(k): v for k, v in total_of(runtime, "ms").items()}
    return ProblemStats(
        platform=platform,
        problem_id=problem_id,
        attempts=attempts,
        accepted=accepted,
        acceptance_rate=rate(accepted, attempts),
        users=users,
        solves=solves,
        solve_rate=rate(solves, users),
        by_language=total_of(summary, "lang"),
        by_verdict=total_of(summary, "verdict"),
        median_accepted_time_ms=median_from_histogram(histogram),
    )


def day_range(start: date, end: date) -> list[str]:
    return [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]


def admin_stats(
    start: date,
    end: date,
    day_items: dict[str, dict[str, Any]],
    later_plan_deltas: dict[str, int],
    day_users: dict[str, dict[str, tuple[int, int]]],
    totals: dict[str, Any],
    generation: int,
) -> AdminStats:
    """``day_items``: DAYS items by day, from ``start`` through today (absent days missing);
    ``later_plan_deltas``: the plan deltas of days after ``end``; ``day_users``: per day in the
    range, user -> (executions, accepted); ``totals``: PLATFORM/TOTALS."""
    current_plans = total_of(totals, "plan")
    # Active users per plan at the end of ``end`` = now minus what changed afterwards; walking
    # back, the end of day d-1 = the end of day d minus day d's changes.
    at_end = {p: current_plans.get(p, 0) - later_plan_deltas.get(p, 0) for p in {*current_plans, *later_plan_deltas}}
    days: list[DayStats] = []
    period = PeriodTotals(active_users=0)
    languages: dict[str, int] = {}
    for day in reversed(day_range(start, end)):
        item = day_items.get(day, {})
        days.append(
            DayStats(
                day=day,
                executions=_int(item, "executions"),
                accepted=_int(item, "accepted"),
                hints=_int(item, "hints"),
                hint_requests=_int(item, "hint_requests"),
                charged_executions=_int(item, "charged_executions"),
                signups=_int(item, "signups"),
                active_users=_int(item, "active_users"),
                by_language=total_of(item, "lang"),
                users_per_plan={p: n for p, n in sorted(at_end.items()) if n},
            )
        )
        for plan, delta in total_of(item, "plan").items():
            at_end[plan] = at_end.get(plan, 0) - delta
        for lang, n in total_of(item, "lang").items():
            languages[lang] = languages.get(lang, 0) + n
    days.reverse()
    period.executions = sum(d.executions for d in days)
    period.accepted = sum(d.accepted for d in days)
    period.acceptance_rate = rate(period.accepted, period.executions)
    period.hints = sum(d.hints for d in days)
    period.hint_requests = sum(d.hint_requests for d in days)
    period.charged_executions = sum(d.charged_executions for d in days)
    period.signups = sum(d.signups for d in days)
    period.by_language = dict(sorted(languages.items()))
    per_user: dict[str, list[int]] = {}
    for users in day_users.values():
        for user, (runs, ac) in users.items():
            acc = per_user.setdefault(user, [0, 0])
            acc[0] += runs
            acc[1] += ac
    period.active_users = sum(1 for runs, _ in per_user.values() if runs > 0)
    ranked = sorted(per_user.items(), key=lambda kv: (-kv[1][0], -kv[1][1], kv[0]))
    top = [TopUser(user_id=u, executions=r, accepted=a) for u, (r, a) in ranked[:TOP_USERS] if r > 0]
    platform = PlatformNow(
        executions=_int(totals, "executions"),
        accepted=_int(totals, "accepted"),
        users=_int(totals, "users"),
        active_users=_int(totals, "active_users"),
        users_per_plan=current_plans,
        all_users_per_plan=total_of(totals, "plan_all"),
        problems=_int(totals, "problems"),
        problems_per_platform=total_of(totals, "problems"),
        hints=_int(totals, "hints"),
    )
    return AdminStats.model_validate(
        {
            "from": start.isoformat(),
            "to": end.isoformat(),
            "days": days,
            "totals": period,
            "top_users": top,
            "platform": platform,
            "generation": generation,
        }
    )
