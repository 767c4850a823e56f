"""The analytics sink (clients/analytics, on the algoitny_events client) against real Kafka,
beside the real stats service (its own process, on a private moto and a private namespace).

A stream of account, execution, usage and hint events over three past UTC days is published in
parts. The sink is SIGKILLed after it stored part of the first half, restarted in its group
(the uncommitted batch is redelivered) and SIGKILLed again before the last quarter is
published; restarted in a new consumer group it is redelivered everything from the beginning,
and 150 envelopes are also republished as they were (same event ids). At the end every event is in
the Parquet files exactly once, and the DuckDB report for the three days equals the stats
service's answers for the same days (runs, acceptance, active users, languages, platforms,
hints, hint requests, sign-ups and users per plan)."""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support.stats_tools import REPO, StatsProcess, private_moto, settings_in

from algoitny_shared.events import REGISTRY, EventEnvelope
from algoitny_shared.events.catalog import (
    ExecutionCompleted,
    HintRequested,
    ProblemCreated,
    UsageConsumed,
    UsageRefunded,
    UserRegistered,
)
from algoitny_shared.topics import all_topics

pytestmark = pytest.mark.integration

USERS = [f"a{i}" for i in range(24)]
PLANS = ("free", "pro", "team")
LANGUAGES = ("python3", "cpp17", "java17")
PLATFORMS = ("codeforces", "baekjoon")
VERDICTS = ("AC", "AC", "WA", "TLE", "RE")
RUNS = 480


class SinkProcess:
    """``python -m algoitny_analytics follow`` as a child process (killed and restarted)."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, **extra: str) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "algoitny_analytics", "follow"],
                env={**self.env, **extra},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=REPO,
            )

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)
        self.proc = None


@dataclass
class World:
    env: dict[str, str]
    namespace: str
    root: Path
    stats: StatsProcess
    sink: SinkProcess
    client: Any


@pytest.fixture(scope="module")
def world(stack_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    from algoitny_shared.dynamo import dynamodb
    from algoitny_shared.kafka import ensure_topics
    from algoitny_shared.settings import ServiceSettings
    from algoitny_shared.tables import ensure_tables
    from algoitny_stats.adapters.tables import STATS

    namespace = f"an{uuid.uuid4().hex[:8]}"
    root = tmp_path_factory.mktemp("analytics") / "parquet"
    logs = tmp_path_factory.mktemp("logs")
    with private_moto() as moto_url:
        env = {
            **stack_env,
            "ALGOITNY_NAMESPACE": namespace,
            "ALGOITNY_AWS_ENDPOINT_URL": moto_url,
            "ALGOITNY_LAG_POLL_INTERVAL_S": "1",
            "ALGOITNY_ANALYTICS_DIR": str(root),
            "ALGOITNY_ANALYTICS_BATCH_MAX_RECORDS": "40",
        }
        settings = settings_in(env, ServiceSettings, service_name="tests")
        client = dynamodb(settings)
        ensure_tables(client, namespace, [STATS])
        asyncio.run(ensure_topics(settings, all_topics()))
        stats = StatsProcess(env, logs / "stats.log")
        sink = SinkProcess(env, logs / "sink.log")
        stats.start()
        try:
            stats.wait_ready()
            yield World(env, namespace, root, stats, sink, client)
        finally:
            sink.kill(signal.SIGTERM)
            stats.kill(signal.SIGTERM)
            asyncio.run(_drop(settings))


async def _drop(settings: Any) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        mine = [t for t in await admin.list_topics() if t.startswith(f"{settings.namespace}.")]
        if mine:
            await admin.delete_topics(mine)
    finally:
        await admin.close()


def _envelope(payload: Any, aggregate_id: str, at: datetime, version: int = 1) -> EventEnvelope:
    spec = REGISTRY.spec_of(payload)
    return EventEnvelope(
        event_type=spec.event_type,
        schema_version=spec.schema_version,
        occurred_at=at,
        producer=spec.event_type.split(".", 1)[0],
        aggregate_type=spec.aggregate_type,
        aggregate_id=aggregate_id,
        aggregate_version=version,
        payload=payload.model_dump(mode="json"),
    )


def the_stream(days: list[date], seed: int = 17) -> list[EventEnvelope]:
    """Sign-ups, runs, hint charges (some refunded), hint requests and a few problem events,
    in time order, over ``days``."""
    rng = random.Random(seed)

    def moment(day: date) -> datetime:
        return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(seconds=rng.randrange(1, 86_000))

    out: list[EventEnvelope] = []
    joined: dict[str, datetime] = {}
    for user in USERS:
        at = moment(days[0]) if rng.random() < 0.5 else moment(rng.choice(days))
        joined[user] = at
        plan = rng.choice(PLANS)
        out.append(_envelope(UserRegistered(user_id=user, role="user", plan_id=plan, registered_at=at), user, at))
    for i in range(RUNS):
        user = rng.choice(USERS)
        at = max(moment(rng.choice(days)), joined[user] + timedelta(seconds=1))
        payload = ExecutionCompleted(
            execution_id=f"x{i:05d}",
            user_id=user,
            platform=rng.choice(PLATFORMS),
            problem_id=f"P{rng.randrange(8)}",
            language=rng.choice(LANGUAGES),
            verdict=rng.choice(VERDICTS),
            completed_at=at,
            max_time_ms=rng.randrange(1, 90),
        )
        out.append(_envelope(payload, payload.execution_id, at))
    for i in range(70):
        user, day = rng.choice(USERS), rng.choice(days)
        at = moment(day)
        action = "hint" if i % 5 else "execution"
        charge = UsageConsumed(
            user_id=user, action=action, request_id=f"r{i}", day=day.isoformat(), at=at, plan_id="free"
        )
        out.append(_envelope(charge, f"{user}#{day}#r{i}", at))
        if i % 7 == 1:
            back = at + timedelta(seconds=1)
            refund = UsageRefunded(
                user_id=user, action=action, request_id=f"r{i}", day=day.isoformat(), at=back, reason="failed"
            )
            out.append(_envelope(refund, f"{user}#{day}#r{i}", back, version=2))
        if action == "hint":
            ask = HintRequested(request_id=f"h{i}", kind="execution", user_id=user, requested_at=at)
            out.append(_envelope(ask, f"h{i}", at))
    for i in range(4):
        at = moment(days[1])
        problem = ProblemCreated(
            platform="codeforces", problem_id=f"P{i}", title=f"P{i}", status="completed", created_at=at, updated_at=at
        )
        out.append(_envelope(problem, f"codeforces#P{i}", at))
    out.sort(key=lambda e: e.occurred_at)
    return out


async def _publish(bootstrap: str, namespace: str, envelopes: list[EventEnvelope]) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for envelope in envelopes:
            topic = REGISTRY.spec_for(envelope.event_type).topic.physical(namespace)
            headers = [
                ("content-type", b"application/json"),
                ("event-type", envelope.event_type.encode()),
                ("event-id", str(envelope.event_id).encode()),
                ("schema-version", str(envelope.schema_version).encode()),
            ]
            await producer.send(topic, envelope.to_bytes(), key=envelope.key, headers=headers)
        await producer.flush()
    finally:
        await producer.stop()


def stored_ids(root: Path) -> list[str]:
    import pyarrow.parquet as pq

    ids: list[str] = []
    for path in sorted(root.rglob("*.parquet")):
        ids += pq.read_table(path, columns=["event_id"]).column("event_id").to_pylist()
    return ids


async def _wait(predicate: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.3)


async def test_the_sink_writes_each_event_once_and_its_report_equals_the_stats_service(world: World) -> None:
    from algoitny_analytics.report import report
    from algoitny_stats.adapters.store import StatsStore
    from algoitny_stats.service_layer.queries import StatsQueries

    bootstrap = world.env["ALGOITNY_KAFKA_BOOTSTRAP_SERVERS"]
    today = datetime.now(UTC).date()
    days = [today - timedelta(days=3), today - timedelta(days=2), today - timedelta(days=1)]
    stream = the_stream(days)
    half = len(stream) // 2

    world.sink.start()
    await _publish(bootstrap, world.namespace, stream[:half])
    # Killed mid-stream, once it stored part of the first half.
    await _wait(lambda: len(stored_ids(world.root)) >= 40, 60, "the sink stored nothing")
    world.sink.kill(signal.SIGKILL)
    first = len(stored_ids(world.root))
    assert 0 < first < len(stream)
    # Restarted: the group resumes from its last commit (the uncommitted batch is redelivered).
    # The last quarter is published only after the second kill, so that kill is mid-stream
    # however fast the sink is.
    world.sink.start()
    third = half + (len(stream) - half) // 2
    await _publish(bootstrap, world.namespace, stream[half:third])
    await _wait(lambda: len(stored_ids(world.root)) >= first + 40, 60, "the restarted sink stored nothing")
    world.sink.kill(signal.SIGKILL)
    second = len(stored_ids(world.root))
    assert second < len(stream)
    # Restarted once more in a new consumer group: every event is redelivered from the beginning,
    # the rest of the stream arrives, and 150 envelopes are republished as they were (same ids).
    world.sink.start(ALGOITNY_ANALYTICS_GROUP="analytics-replay")
    await _publish(bootstrap, world.namespace, stream[third:])
    await _publish(bootstrap, world.namespace, stream[100:250])
    await _wait(lambda: len(stored_ids(world.root)) >= len(stream), 120, "the sink did not catch up")
    await asyncio.sleep(2.0)  # any duplicate write would land now
    ids = stored_ids(world.root)
    assert len(ids) == len(set(ids)) == len(stream)
    assert set(ids) == {str(e.event_id) for e in stream}
    # The last run was redelivered what the earlier runs had stored, and skipped it by event id.
    last_run = world.sink.log_path.read_text().rsplit("events already stored", 1)[1]
    skipped = [int(m) for m in re.findall(r"(\d+) redelivered duplicates skipped", last_run)]
    assert skipped and max(skipped) > 0, last_run[-2000:]
    # partitioned by type and UTC day
    runs_dirs = sorted(p.name for p in (world.root / "type=executions.ExecutionCompleted").iterdir())
    assert runs_dirs == [f"day={d.isoformat()}" for d in days]

    # The stats service's answers for the same days, once it applied every event.
    queries = StatsQueries(StatsStore(world.client, world.namespace))
    runs = sum(1 for e in stream if e.event_type == "executions.ExecutionCompleted")
    deadline = time.monotonic() + 120
    while True:
        stats = await queries.admin(days[0], days[-1])
        if (stats.totals.executions == runs and stats.totals.signups == len(USERS)) or time.monotonic() > deadline:
            break
        await asyncio.sleep(1.0)
    ours = report(world.root, days[0], days[-1])

    assert ours["totals"]["executions"] == stats.totals.executions == runs
    assert ours["totals"]["accepted"] == stats.totals.accepted
    assert ours["totals"]["acceptance_rate"] == stats.totals.acceptance_rate
    assert ours["totals"]["active_users"] == stats.totals.active_users
    assert ours["totals"]["hints"] == stats.totals.hints
    assert ours["totals"]["hint_requests"] == stats.totals.hint_requests
    assert ours["totals"]["signups"] == stats.totals.signups == len(USERS)
    assert {k: v["runs"] for k, v in ours["runs_by_language"].items()} == stats.totals.by_language
    for mine, theirs in zip(ours["days"], stats.days, strict=True):
        assert mine["day"] == theirs.day
        assert (mine["executions"], mine["accepted"], mine["active_users"]) == (
            theirs.executions,
            theirs.accepted,
            theirs.active_users,
        )
        assert mine["by_language"] == theirs.by_language
        assert (mine["hints"], mine["hint_requests"], mine["signups"]) == (
            theirs.hints,
            theirs.hint_requests,
            theirs.signups,
        )
    # Sign-ups per plan: no plan changes or deactivations, so the users per plan at the end of the
    # last day are the period's sign-ups per plan.
    assert ours["totals"]["signups_by_plan"] == stats.days[-1].users_per_plan
    # Runs per platform: the sum of every user's runs per platform.
    per_platform: dict[str, int] = {}
    for user in USERS:
        for platform, n in (await queries.user(user)).by_platform.items():
            per_platform[platform] = per_platform.get(platform, 0) + n
    assert {k: v["runs"] for k, v in ours["runs_by_platform"].items()} == per_platform
    assert ours["totals"]["hints"] > 0 and ours["totals"]["hint_requests"] > 0

    # `make analytics-report` prints the same JSON.
    printed = await asyncio.to_thread(
        subprocess.run,
        ["make", "-s", "analytics-report", f"FROM={days[0]}", f"TO={days[-1]}", f"ANALYTICS_DIR={world.root}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert printed.returncode == 0, printed.stderr
    assert json.loads(printed.stdout)["totals"] == ours["totals"]
