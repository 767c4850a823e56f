"""The migration's reverse writer and legacy seeding with no real part (a fake legacy store and
platform instead of PostgreSQL and the services): events from before the cutover are not written
back; after it, users, usage and runs are, each event once; what the legacy side cannot take yet
waits (NotYetKnown, redelivered). Seeding refuses a non-empty database unless told what to do."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from algoitny_migration.adapters.reverse_store import NotYetKnown
from algoitny_migration.service_layer.reverse_writer import ReverseWriter
from algoitny_migration.service_layer.seeding import seed_legacy
from algoitny_shared.events import REGISTRY, EventEnvelope
from algoitny_shared.events.catalog import (
    ExecutionCompleted,
    HintGenerated,
    UsageConsumed,
    UsageRefunded,
    UserRegistered,
)

CUTOVER = datetime(2026, 5, 1, tzinfo=UTC)
AFTER = CUTOVER + timedelta(minutes=5)


class FakeTx:
    def __init__(self, db: FakeLegacy) -> None:
        self.db = db

    def mapped(self, kind: str, new_id: str) -> int | None:
        return self.db.mapping.get((kind, new_id))

    def upsert(self, kind: str, new_id: str, table: str, row: dict[str, Any], known_id: int | None = None) -> int:
        legacy_id = known_id or self.mapped(kind, new_id) or self.db.next_id()
        self.db.rows[(table, legacy_id)] = row
        self.db.mapping[(kind, new_id)] = legacy_id
        return legacy_id

    def insert_once(self, kind: str, new_id: str, table: str, row: dict[str, Any]) -> int:
        return self.mapped(kind, new_id) or self.upsert(kind, new_id, table, row)

    def remove(self, kind: str, new_id: str, table: str) -> bool:
        legacy_id = self.db.mapping.pop((kind, new_id), None)
        return legacy_id is not None and self.db.rows.pop((table, legacy_id), None) is not None

    def problem_id(self, platform: str, problem_id: str) -> int | None:
        return self.mapped("problem", f"{platform}/{problem_id}")

    def user_by_email(self, email: str) -> int | None:
        return next((i for (t, i), r in self.db.rows.items() if t == "users" and r["email"] == email), None)

    def plan_exists(self, plan: int | None) -> bool:
        return False

    def set_hints(self, execution_legacy_id: int, hints: list[str]) -> None:
        self.db.rows[("search_history", execution_legacy_id)]["hints"] = hints

    def remap(self, kind: str, new_id: str, table: str, legacy_id: int) -> None:
        self.db.mapping[(kind, new_id)] = legacy_id

    def replace_test_cases(self, key: str, problem: int, cases: list[dict[str, Any]], created_at: str) -> None:
        self.db.rows[("test_cases", problem)] = {"cases": cases}


class FakeLegacy:
    """The legacy database: rows, the id mapping, and the applied-events log (one transaction per event)."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, int], dict[str, Any]] = {}
        self.mapping: dict[tuple[str, str], int] = {}
        self.applied: dict[str, str] = {}
        self._id = 100

    def next_id(self) -> int:
        self._id += 1
        return self._id

    @contextmanager
    def event(self, event_id: str, event_type: str, outcome: list[str]) -> Iterator[FakeTx | None]:
        if event_id in self.applied:
            yield None
            return
        saved = (dict(self.rows), dict(self.mapping))
        try:
            yield FakeTx(self)
        except BaseException:
            self.rows, self.mapping = saved  # rolled back: nothing of the event stays
            raise
        self.applied[event_id] = ",".join(outcome) or "written"

    def table(self, name: str) -> list[dict[str, Any]]:
        return [r for (t, _), r in self.rows.items() if t == name]


class FakePlatform:
    def __init__(self) -> None:
        self.users = {
            "u_ann": {
                "user_id": "u_ann",
                "email": "ann@example.com",
                "password": "pbkdf2_sha256$x",
                "name": "Ann",
                "created_at": CUTOVER.isoformat(),
                "updated_at": CUTOVER.isoformat(),
            }
        }
        self.problems: dict[str, dict[str, Any]] = {}

    async def get(self, service: str, path: str, params: dict[str, Any] | None = None) -> Any | None:
        if service == "accounts":
            return self.users.get(path.rsplit("/", 1)[1])
        if service == "problems":
            return self.problems.get(path.removeprefix("/problems/"))
        return {"code": "print(1)", "language": "python3"}


@dataclass
class Phase:
    phase: str = "cut_over"
    since: str = CUTOVER.isoformat()
    cutover_at: str | None = None


class PhaseSource:
    def __init__(self) -> None:
        self.current = Phase()

    async def get(self) -> Phase:
        return self.current


def envelope(payload: Any, producer: str, aggregate_id: str, at: datetime = AFTER, version: int = 1) -> EventEnvelope:
    built = REGISTRY.envelope(payload, producer=producer, aggregate_id=aggregate_id, aggregate_version=version)
    return built.model_copy(update={"occurred_at": at})


@pytest.fixture
def legacy() -> FakeLegacy:
    return FakeLegacy()


@pytest.fixture
def platform() -> FakePlatform:
    return FakePlatform()


@pytest.fixture
def writer(legacy: FakeLegacy, platform: FakePlatform) -> ReverseWriter:
    return ReverseWriter(legacy, platform, PhaseSource(), refresh_s=0)  # type: ignore[arg-type]


async def deliver(writer: ReverseWriter, env: EventEnvelope) -> None:
    await writer.handlers[env.event_type](env, REGISTRY.decode(env))


async def test_users_and_usage_are_written_back_once_after_the_cutover_only(
    writer: ReverseWriter, legacy: FakeLegacy
) -> None:
    registered = UserRegistered(user_id="u_ann", role="user", plan_id="free", registered_at=AFTER)
    await deliver(writer, envelope(registered, "accounts", "u_ann", at=CUTOVER - timedelta(seconds=1)))
    assert legacy.rows == {}  # the legacy application still owned the data then
    event = envelope(registered, "accounts", "u_ann")
    await deliver(writer, event)
    await deliver(writer, event)  # redelivered: applied once
    assert [u["email"] for u in legacy.table("users")] == ["ann@example.com"]
    assert list(legacy.applied.values()) == ["written"]

    day = AFTER.date().isoformat()
    consumed = UsageConsumed(
        user_id="u_ann", action="execution", request_id="request-1", day=day, at=AFTER, plan_id="free"
    )
    await deliver(writer, envelope(consumed, "ratelimit", "u_ann/execution/request-1"))
    [usage] = legacy.table("usage_logs")
    assert usage["metadata"]["request_id"] == "request-1" and usage["user_id"] == legacy.mapping[("user", "u_ann")]
    refunded = UsageRefunded(
        user_id="u_ann", action="execution", request_id="request-1", day=day, at=AFTER, reason="outage"
    )
    await deliver(writer, envelope(refunded, "ratelimit", "u_ann/execution/request-1", version=2))
    assert legacy.table("usage_logs") == []
    again = UsageRefunded(
        user_id="u_ann", action="execution", request_id="request-2", day=day, at=AFTER, reason="outage"
    )
    await deliver(writer, envelope(again, "ratelimit", "u_ann/execution/request-2", version=2))
    assert list(legacy.applied.values())[-1] == "nothing_to_refund"
    stranger = UserRegistered(user_id="someone-else", role="user", plan_id="free", registered_at=AFTER)
    await deliver(writer, envelope(stranger, "accounts", "someone-else"))
    assert list(legacy.applied.values())[-1] == "not_a_user"  # not a platform user id


async def test_a_run_waits_for_its_problem_and_hints_for_their_run(
    writer: ReverseWriter, legacy: FakeLegacy, platform: FakePlatform
) -> None:
    completed = ExecutionCompleted(
        execution_id="x1",
        user_id="u_ann",
        platform="cf",
        problem_id="1A",
        language="python3",
        verdict="AC",
        completed_at=AFTER,
    )
    run_event = envelope(completed, "executions", "x1", version=2)
    hint = HintGenerated(
        request_id="h1", kind="execution", execution_id="x1", source="fallback", hints=[], generated_at=AFTER
    )
    with pytest.raises(NotYetKnown):
        await deliver(writer, envelope(hint, "hints", "x1"))
    with pytest.raises(NotYetKnown):
        await deliver(writer, run_event)  # the problem is in neither database yet
    assert legacy.rows == {} and legacy.applied == {}  # rolled back, to be redelivered
    platform.problems["cf/1A"] = {
        "platform": "cf",
        "problem_id": "1A",
        "title": "A+B",
        "status": "completed",
        "created_at": CUTOVER.isoformat(),
        "updated_at": CUTOVER.isoformat(),
    }
    await deliver(writer, run_event)
    [history] = legacy.table("search_history")
    assert history["problem_id"] == legacy.mapping[("problem", "cf/1A")]
    await deliver(writer, envelope(hint, "hints", "x1"))
    assert legacy.table("search_history")[0]["hints"] == []


class SeedTarget:
    def __init__(self, empty: bool) -> None:
        self.empty = empty
        self.truncated = False
        self.loaded = 0

    def apply_schema(self) -> None:
        pass

    def is_empty(self) -> bool:
        return self.empty

    def truncate(self) -> None:
        self.truncated = True

    def load(self, ds: Any, progress: Any = None) -> dict[str, int]:
        self.loaded += 1
        return {table: len(rows) for table, rows in ds.rows.items()}


def test_seeding_fills_an_empty_database_and_refuses_a_full_one_unless_told() -> None:
    empty = SeedTarget(empty=True)
    report = seed_legacy(empty, scale="small", seed=15, now=CUTOVER)
    assert report.seeded and report.counts["users"] > 0 and report.demo_passwords
    full = SeedTarget(empty=False)
    assert not seed_legacy(full, if_empty=True).seeded and full.loaded == 0
    with pytest.raises(ValueError):
        seed_legacy(full)
    assert seed_legacy(full, replace=True, now=CUTOVER).seeded and full.truncated
