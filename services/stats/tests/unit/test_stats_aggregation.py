"""The aggregation rules and the exactly-once applier, on an in-memory stand-in of the table."""

from __future__ import annotations

import asyncio
import copy
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from algoitny_shared.errors import AppError
from algoitny_shared.events import REGISTRY, EventEnvelope
from algoitny_shared.events.catalog import (
    ExecutionCompleted,
    HintRequested,
    ProblemCreated,
    ProblemDeleted,
    UsageConsumed,
    UsageRefunded,
    UserDeactivated,
    UserPlanChanged,
    UserReactivated,
    UserRegistered,
)
from algoitny_stats.adapters.store import TransactionFailed
from algoitny_stats.domain.aggregation import (
    PLATFORM_TOTALS,
    best_streak,
    chunk_events,
    current_streak,
    day_summary,
    keys_of,
    median_from_histogram,
    problem_runtime,
    problem_summary,
    state_keys,
    user_problem,
    user_summary,
)
from algoitny_stats.domain.views import admin_stats, own_user, problem_stats
from algoitny_stats.service_layer.applier import Applier
from algoitny_stats.service_layer.queries import parse_range

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def run(
    i: int, user: str | None, problem: str, verdict: str, *, at: datetime = T0, ms: int = 10, lang: str = "python3"
) -> tuple[EventEnvelope, Any]:
    payload = ExecutionCompleted(
        execution_id=f"e{i}",
        user_id=user,
        platform="cf",
        problem_id=problem,
        language=lang,
        verdict=verdict,
        completed_at=at,
        max_time_ms=ms,
    )
    return REGISTRY.envelope(payload, producer="executions", aggregate_id=f"e{i}", aggregate_version=2), payload


def account(payload: Any, version: int) -> tuple[EventEnvelope, Any]:
    return REGISTRY.envelope(
        payload, producer="accounts", aggregate_id=payload.user_id, aggregate_version=version
    ), payload


class FakeStore:
    """The StatsStore contract in memory: transactions apply all or nothing, conditions checked."""

    def __init__(self) -> None:
        self.items: dict[tuple[int, str, str], dict[str, Any]] = {}
        self.generation = 1
        self.transactions = 0
        self.fail_next: int = 0  # cancel this many transactions after checking (a crash stand-in)

    async def active_generation(self) -> int:
        return self.generation

    async def get_many(self, generation: int, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        return {k: copy.deepcopy(self.items[(generation, *k)]) for k in keys if (generation, *k) in self.items}

    def inbox_add(self, generation: int, key: tuple[str, str], ids: list[str]) -> Any:
        return ("inbox", generation, key, ids)

    def counter_update(self, generation: int, key: tuple[str, str], deltas: dict[str, int]) -> Any:
        return ("add", generation, key, deltas)

    def state_put(self, generation: int, key: tuple[str, str], item: dict[str, Any], version: int | None) -> Any:
        return ("put", generation, key, (item, version))

    def active_is(self, generation: int) -> Any:
        return ("active", generation, None, None)

    async def transact(self, ops: list[Any]) -> None:
        assert len(ops) <= 100
        reasons = []
        for kind, gen, key, arg in ops:
            current = self.items.get((gen, *key)) if key else None
            ok = True
            if kind == "inbox":
                ok = not set(arg) & set((current or {}).get("ids", ()))
            elif kind == "put":
                ok = (current is None) if arg[1] is None else (current is not None and current.get("ver") == arg[1])
            elif kind == "active":
                ok = self.generation == gen
            reasons.append("None" if ok else "ConditionalCheckFailed")
        if any(r != "None" for r in reasons):
            raise TransactionFailed(reasons)
        if self.fail_next:
            self.fail_next -= 1
            raise TransactionFailed(["TransactionConflict"] * len(ops))
        for kind, gen, key, arg in ops:
            full = (gen, *key) if key else None
            if kind == "inbox":
                self.items.setdefault(full, {}).setdefault("ids", set()).update(arg)
            elif kind == "add":
                item = self.items.setdefault(full, {})
                for attribute, delta in arg.items():
                    item[attribute] = item.get(attribute, 0) + delta
            elif kind == "put":
                self.items[full] = {**arg[0], "ver": (arg[1] or 0) + 1}
        self.transactions += 1

    def view(self, generation: int = 1) -> dict[tuple[str, str], dict[str, Any]]:
        """The data of a generation (``ver`` is the items' concurrency token, not data)."""
        return {
            (pk, sk): {k: v for k, v in item.items() if k != "ver"}
            for (g, pk, sk), item in self.items.items()
            if g == generation
        }


def apply_all(events: list[tuple[EventEnvelope, Any]], store: FakeStore | None = None, **kw: Any) -> FakeStore:
    store = store or FakeStore()
    asyncio.run(Applier(store, **kw).apply(events))  # type: ignore[arg-type]
    return store


def test_runs_count_by_verdict_language_and_distinct_problems() -> None:
    events = [
        run(1, "u1", "A", "WA"),
        run(2, "u1", "A", "AC", ms=30),
        run(3, "u1", "A", "AC", ms=10),
        run(4, "u1", "B", "TLE", lang="cpp17"),
        run(5, "u2", "A", "AC", ms=20),
    ]
    items = apply_all(events).view()
    u1 = items[user_summary("u1")]
    assert u1["executions"] == 4 and u1["accepted"] == 2
    assert u1["verdict#WA"] == 1 and u1["verdict#AC"] == 2 and u1["verdict#TLE"] == 1
    assert u1["lang#python3"] == 3 and u1["lang#cpp17"] == 1
    assert u1["problems_attempted"] == 2 and u1["problems_solved"] == 1
    a = items[problem_summary("cf", "A")]
    assert a["executions"] == 4 and a["accepted"] == 3 and a["users"] == 2 and a["solves"] == 2
    runtime = items[problem_runtime("cf", "A")]
    assert median_from_histogram({int(k[3:]): v for k, v in runtime.items() if k.startswith("ms#")}) == 20
    day = items[day_summary("2026-03-01")]
    assert day["executions"] == 5 and day["accepted"] == 3 and day["active_users"] == 2
    assert items[PLATFORM_TOTALS]["executions"] == 5


def test_first_solve_time_is_the_earliest_accepted_run_in_any_order() -> None:
    late, early = run(1, "u1", "A", "AC", at=T0 + timedelta(hours=2)), run(2, "u1", "A", "AC", at=T0)
    for order in ([late, early], [early, late]):
        items = apply_all(list(order)).view()
        marker = items[user_problem("u1", "cf", "A")]
        assert marker["first_solve_at"] == T0.isoformat()
        assert marker["first_solve_execution"] == "e2"
        assert items[user_summary("u1")]["problems_solved"] == 1


def test_redelivered_events_change_nothing_even_in_one_batch_or_after_a_failed_commit() -> None:
    events = [run(i, f"u{i % 3}", f"P{i % 4}", random.choice(["AC", "WA"])) for i in range(40)]
    once = apply_all(events).view()
    store = FakeStore()
    store.fail_next = 2  # two transactions cancelled (as by a conflict): retried from fresh state
    apply_all(events[:25], store)
    apply_all(events + events[10:30], store)  # everything again, some twice in one batch
    assert store.view() == once


def test_batches_stay_within_100_items_and_fold_many_events_per_transaction() -> None:
    events = [run(i, f"u{i % 50}", f"P{i % 60}", "AC", at=T0 + timedelta(days=i % 20)) for i in range(600)]
    for chunk in chunk_events(events, 99):
        keys: set[Any] = set()
        for envelope, payload in chunk:
            keys |= keys_of(envelope, payload)
        assert len(keys) <= 99
    store = apply_all(events)
    assert store.transactions < 600 // 5
    hot = [run(i, "u1", "P1", "WA") for i in range(300)]
    assert apply_all(hot).transactions == 3  # at most 100 events per transaction


def test_streaks_count_consecutive_utc_days() -> None:
    days = ["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-05", "2026-03-06"]
    assert best_streak(days) == 3
    assert current_streak(days, date(2026, 3, 6)) == 2
    assert current_streak(days, date(2026, 3, 7)) == 2  # today may still come
    assert current_streak(days, date(2026, 3, 8)) == 0
    events = [run(i, "u1", "A", "WA", at=T0 + timedelta(days=d)) for i, d in enumerate([4, 0, 1, 2, 2, 5])]
    store = apply_all(events)
    view = own_user("u1", store.view()[user_summary("u1")], store.view()[("USER#u1", "DAYS")], [], date(2026, 3, 7), 10)
    assert view.best_streak == 3 and view.current_streak == 2  # Mar 5-6; Mar 1-3 is the best


def test_median_is_exact() -> None:
    assert median_from_histogram({}) is None
    assert median_from_histogram({5: 1}) == 5
    assert median_from_histogram({1: 1, 3: 1}) == 2
    assert median_from_histogram({1: 2, 7: 1, 9: 1}) == 4
    values = [random.randrange(50) for _ in range(101)]
    histogram: dict[int, int] = {}
    for v in values:
        histogram[v] = histogram.get(v, 0) + 1
    assert median_from_histogram(histogram) == sorted(values)[50]


def test_hints_usage_signups_plans_and_deactivation() -> None:
    at = T0
    events = [
        account(UserRegistered(user_id="u1", role="user", plan_id="free", registered_at=at), 1),
        account(UserRegistered(user_id="u2", role="user", plan_id="free", registered_at=at), 1),
        account(UserPlanChanged(user_id="u1", plan_id="pro", previous_plan_id="free", changed_at=at), 2),
        account(UserDeactivated(user_id="u2", deactivated_at=at + timedelta(days=1)), 2),
        account(UserReactivated(user_id="u2", reactivated_at=at + timedelta(days=2)), 3),
        account(UserDeactivated(user_id="u2", deactivated_at=at + timedelta(days=2)), 3),  # stale version: ignored
    ]
    usage = dict(user_id="u1", action="hint", request_id="r1", day="2026-03-01", at=at)
    for n in ("r1", "r2", "r3"):
        p = UsageConsumed(**{**usage, "request_id": n}, plan_id="pro")
        events.append((REGISTRY.envelope(p, producer="r", aggregate_id=n, aggregate_version=1), p))
    refund = UsageRefunded(**{**usage, "request_id": "r3"}, reason="failed")
    events.append((REGISTRY.envelope(refund, producer="r", aggregate_id="r3", aggregate_version=2), refund))
    hint = HintRequested(request_id="h1", kind="execution", user_id="u1", requested_at=at)
    events.append((REGISTRY.envelope(hint, producer="h", aggregate_id="h1", aggregate_version=1), hint))
    items = apply_all(events).view()
    totals = items[PLATFORM_TOTALS]
    assert totals["users"] == 2 and totals["active_users"] == 2
    assert totals["plan#pro"] == 1 and totals["plan#free"] == 1 and totals["plan_all#free"] == 1
    assert items[user_summary("u1")]["hints_used"] == 2 and items[user_summary("u1")]["hint_requests"] == 1
    assert items[day_summary("2026-03-01")]["signups"] == 2 and items[day_summary("2026-03-01")]["hints"] == 2
    stats = admin_stats(
        date(2026, 3, 1),
        date(2026, 3, 3),
        {str(k[1]): v for k, v in items.items() if k[0] == "DAYS"},
        {},
        {},
        totals,
        1,
    )
    assert [d.users_per_plan for d in stats.days] == [{"pro": 1, "free": 1}, {"pro": 1}, {"pro": 1, "free": 1}]
    assert stats.totals.signups == 2 and stats.platform.users_per_plan == {"free": 1, "pro": 1}


def test_problem_lifecycle_counts_live_problems_per_platform() -> None:
    def snap(cls: Any, version: int, **extra: Any) -> tuple[EventEnvelope, Any]:
        p = cls(platform="cf", problem_id="A", title="t", status="completed", created_at=T0, updated_at=T0, **extra)
        return REGISTRY.envelope(p, producer="p", aggregate_id="cf#A", aggregate_version=version), p

    items = apply_all([snap(ProblemCreated, 1)]).view()
    assert items[PLATFORM_TOTALS]["problems"] == 1 and items[PLATFORM_TOTALS]["problems#cf"] == 1
    deleted = apply_all(
        [
            snap(ProblemCreated, 1),
            snap(ProblemDeleted, 2, deleted_at=T0),
            snap(ProblemDeleted, 3, hard=True, deleted_at=T0),
        ]
    )
    assert deleted.view().get(PLATFORM_TOTALS, {}).get("problems", 0) == 0
    assert deleted.view()[("PROBLEM#cf#A", "META")]["deleted"] is True
    assert state_keys(*snap(ProblemCreated, 1)) == [("PROBLEM#cf#A", "META")]


def test_problem_view_rates_and_admin_top_users() -> None:
    view = problem_stats("cf", "A", {"executions": 4, "accepted": 1, "users": 2, "solves": 1, "lang#c": 4}, {"ms#7": 1})
    assert view.acceptance_rate == 0.25 and view.solve_rate == 0.5 and view.median_accepted_time_ms == 7
    stats = admin_stats(
        date(2026, 3, 1),
        date(2026, 3, 2),
        {"2026-03-01": {"executions": 3, "active_users": 2}},
        {},
        {"2026-03-01": {"a": (2, 1), "b": (1, 0)}, "2026-03-02": {"b": (5, 5)}},
        {},
        1,
    )
    assert [u.user_id for u in stats.top_users] == ["b", "a"] and stats.top_users[0].executions == 6
    assert stats.totals.active_users == 2 and len(stats.days) == 2


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2026-13-01", None),
        ("x", None),
        ("2026-01-10", "2026-01-01"),
        ("2024-01-01", "2026-01-01"),
        ("1999-01-01", None),
    ],
)
def test_bad_ranges_are_refused(start: str, end: str | None) -> None:
    with pytest.raises(AppError):
        parse_range(start, end, today=date(2026, 6, 1))


def test_default_range_is_the_last_30_days() -> None:
    assert parse_range(None, None, today=date(2026, 6, 30)) == (date(2026, 6, 1), date(2026, 6, 30))
    assert parse_range("2025-06-01", "2026-06-01", today=date(2026, 6, 30))[0] == date(2025, 6, 1)
