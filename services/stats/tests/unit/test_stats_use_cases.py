"""Stats' use cases with no real part: events applied (Applier) and read back through the queries
(own, public, problem and admin statistics), and a rebuild from replayed topics (Rebuilder, with a
fake replayer instead of Kafka) into a new generation that becomes the one read. The store is the
service's own, on an in-process DynamoDB."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from support.inprocess import Store, in_process_dynamo

from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.events import REGISTRY, EventEnvelope
from algoitny_shared.events.catalog import ExecutionCompleted, UserRegistered
from algoitny_stats.adapters.store import StatsStore
from algoitny_stats.service_layer.applier import Applier
from algoitny_stats.service_layer.queries import StatsQueries
from algoitny_stats.service_layer.rebuild import Rebuilder

TODAY = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)


def run(i: int, user: str, problem: str, verdict: str, ms: int = 10) -> tuple[EventEnvelope, Any]:
    payload = ExecutionCompleted(
        execution_id=f"e{i}",
        user_id=user,
        platform="cf",
        problem_id=problem,
        language="python3",
        verdict=verdict,
        completed_at=TODAY,
        max_time_ms=ms,
    )
    return REGISTRY.envelope(payload, producer="executions", aggregate_id=f"e{i}", aggregate_version=2), payload


def registered(user: str) -> tuple[EventEnvelope, Any]:
    payload = UserRegistered(user_id=user, role="user", plan_id="free", registered_at=TODAY)
    return REGISTRY.envelope(payload, producer="accounts", aggregate_id=user, aggregate_version=1), payload


EVENTS = [
    registered("ann"),
    registered("bob"),
    run(1, "ann", "1A", "WA", 30),
    run(2, "ann", "1A", "AC", 20),
    run(3, "ann", "2B", "AC", 40),
    run(4, "bob", "1A", "TLE", 2000),
]


class FakeReplayer:
    """A topic's messages, replayed in pages (what Kafka's replayer yields)."""

    topic = "executions"

    def __init__(self, values: list[bytes]) -> None:
        self.values = values

    async def beginning_offsets(self) -> dict[int, int]:
        return {0: 0}

    async def end_offsets(self) -> dict[int, int]:
        return {0: len(self.values)}

    async def read(self, start: dict[int, int], end: dict[int, int]) -> AsyncIterator[list[bytes]]:
        for at in range(start[0], end[0], 2):
            yield self.values[at : min(at + 2, end[0])]


@pytest.fixture
def store() -> Iterator[Store]:
    with in_process_dynamo("stats") as found:
        yield found


async def test_applied_events_are_read_back_by_every_query(store: Store) -> None:
    stats = StatsStore(store.client, store.namespace)
    await stats.ensure_control()
    applier = Applier(stats)
    first = await applier.apply(EVENTS)
    assert first.applied == len(EVENTS)
    again = await applier.apply(EVENTS[2:4])  # redelivered: counted once
    assert again.applied == 0 and again.duplicates == 2
    queries = StatsQueries(stats)
    ann = await queries.user("ann")
    assert (ann.executions, ann.accepted, ann.problems_solved) == (3, 2, 2)
    assert [p.problem_id for p in ann.solved] == ["1A", "2B"] and ann.current_streak == 1
    assert (await queries.public_user("bob")).problems_solved == 0
    with pytest.raises(AppError) as nobody:
        await queries.public_user("carol")
    assert nobody.value.code is ErrorCode.NOT_FOUND
    problem = await queries.problem("cf", "1A")
    assert (problem.attempts, problem.accepted, problem.users, problem.solves) == (3, 1, 2, 1)
    assert problem.median_accepted_time_ms == 20
    admin = await queries.admin(date.fromisoformat(TODAY.date().isoformat()), TODAY.date())
    assert (admin.totals.executions, admin.totals.signups, admin.totals.active_users) == (4, 2, 2)
    assert [u.user_id for u in admin.top_users][:1] == ["ann"]


async def test_a_rebuild_replays_the_topics_into_a_new_generation_that_becomes_active(store: Store) -> None:
    stats = StatsStore(store.client, store.namespace)
    await stats.ensure_control()
    await Applier(stats).apply(EVENTS[:3])  # the live generation saw only some events
    replayer = FakeReplayer([e.to_bytes() for e, _ in EVENTS] + [b"not json"])
    switched: list[int] = []
    report = await Rebuilder(stats, Applier(stats)).run([replayer], on_switch=switched.append)  # type: ignore[list-item]
    assert (report.previous_generation, report.generation, switched) == (1, 2, [2])
    assert report.applied == len(EVENTS) and report.events_undecodable == 1
    assert await stats.active_generation() == 2
    assert (await StatsQueries(stats).user("ann")).executions == 3
