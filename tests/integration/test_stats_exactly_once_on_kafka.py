"""The stats service against real Kafka and moto: exact under SIGKILL and redelivery, rebuilt by
replay into a generation equal to the live one, admin statistics from precomputed items only.

2,000 executions are completed through the executions service's own completion path (history
repository, unit of work and outbox: real SearchHistory items, real ExecutionCompleted events);
only the sandbox is skipped. Each unit of work publishes its events right after its commit
through the service's EventPublisher; the outbox relay itself (``STATS_TEST_RELAYS=1``) is too
slow on moto's server for 2,000 events in this test's time (see support/stats_tools.py). While
they flow, the stats process is SIGKILLed and restarted several times, and a batch of envelopes
is published a second time. At the end, every counter equals the value computed straight from
SearchHistory (scanned by the test as the oracle). The module runs on a private moto and a
private namespace (topics removed after).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support.kafka_tools import produce, read_topic
from support.polling import metric_value
from support.problems_tools import CallRecorder
from support.stats_tools import (
    REPO,
    ExecutionFeed,
    StatsProcess,
    generation_snapshot,
    observed,
    oracle,
    private_moto,
    scan_all,
    settings_in,
)

from algoitny_executions.adapters.tables import EXECUTIONS_OUTBOX, SEARCH_HISTORY
from algoitny_shared.dynamo import dynamodb
from algoitny_shared.tables import ensure_tables
from algoitny_shared.topics import EXECUTION_EVENTS, all_topics
from algoitny_stats.adapters.tables import STATS

pytestmark = [pytest.mark.integration, pytest.mark.long_file]

EXECUTIONS = int(os.environ.get("STATS_TEST_EXECUTIONS", "2000"))
USERS = [f"u{i}" for i in range(10)]
PROBLEMS = [f"P{i}" for i in range(12)]
KILLS = int(os.environ.get("STATS_TEST_KILLS", "3"))


@dataclass
class World:
    env: dict[str, str]
    namespace: str
    stats: StatsProcess
    client: Any
    kills: int = 0
    republished: int = 0
    feed_seconds: float = 0.0


@pytest.fixture(scope="module")
def world(stack_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    from algoitny_shared.kafka import ensure_topics
    from algoitny_shared.settings import ServiceSettings

    namespace = f"st{uuid.uuid4().hex[:8]}"
    with private_moto() as moto_url:
        env = {
            **stack_env,
            "ALGOITNY_NAMESPACE": namespace,
            "ALGOITNY_AWS_ENDPOINT_URL": moto_url,
            "ALGOITNY_LAG_POLL_INTERVAL_S": "1",
            "ALGOITNY_STATS_BATCH_MAX_RECORDS": "300",
            "ALGOITNY_OUTBOX_POLL_INTERVAL_S": "0.2",
        }
        settings = settings_in(env, ServiceSettings, service_name="tests")
        client = dynamodb(settings)
        ensure_tables(client, namespace, [STATS, SEARCH_HISTORY, EXECUTIONS_OUTBOX])
        asyncio.run(ensure_topics(settings, all_topics()))
        stats = StatsProcess(env, tmp_path_factory.mktemp("stats") / "stats.log")
        stats.start()
        try:
            stats.wait_ready()
            yield World(env, namespace, stats, client)
        finally:
            stats.kill(signal.SIGTERM)
            asyncio.run(_drop_topics(settings))


async def _drop_topics(settings: Any) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        mine = [t for t in await admin.list_topics() if t.startswith(f"{settings.namespace}.")]
        if mine:
            await admin.delete_topics(mine)
    finally:
        await admin.close()


@pytest.fixture
async def queries(world: World) -> AsyncIterator[Any]:
    from algoitny_stats.adapters.store import StatsStore
    from algoitny_stats.service_layer.queries import StatsQueries

    yield StatsQueries(StatsStore(world.client, world.namespace))


async def _converged(world: World, queries: Any, timeout_s: float) -> tuple[dict[str, Any], dict[str, Any]]:
    history = await asyncio.to_thread(scan_all, world.client, SEARCH_HISTORY.physical(world.namespace))
    expected = oracle(history)
    assert expected["total"] == EXECUTIONS
    deadline = time.monotonic() + timeout_s
    while True:
        got = await observed(queries, expected)
        got["total"] = expected["total"]
        if got == expected or time.monotonic() > deadline:
            return expected, got
        await asyncio.sleep(1.0)


async def test_every_counter_equals_search_history_after_sigkills_and_redelivery(world: World, queries: Any) -> None:
    from algoitny_executions.settings import ExecutionsSettings

    feed = ExecutionFeed(
        settings_in(world.env, ExecutionsSettings, consumers_enabled=False, judge_enabled=False),
        relays=int(os.environ.get("STATS_TEST_RELAYS", "0")),
    )
    await feed.start()
    started = time.monotonic()

    async def killer() -> None:
        # SIGKILL the consumer mid-flow, several times; each restart resumes from the last commit.
        for _ in range(KILLS):
            await asyncio.sleep(7)
            world.stats.kill(signal.SIGKILL)
            world.kills += 1
            await asyncio.sleep(0.5)
            world.stats.start()
            await asyncio.to_thread(world.stats.wait_ready)

    try:
        await asyncio.gather(feed.run(EXECUTIONS, USERS, PROBLEMS), killer())
        await feed.drained()
    finally:
        await feed.stop()
    world.feed_seconds = time.monotonic() - started

    # A batch delivered a second time on purpose: the same envelopes (same event ids) republished.
    topic = EXECUTION_EVENTS.physical(world.namespace)
    records = await read_topic(world.env["ALGOITNY_KAFKA_BOOTSTRAP_SERVERS"], topic, expect=EXECUTIONS, timeout_s=30)
    assert len(records) >= EXECUTIONS
    for record in records[500:650]:
        await produce(world.env["ALGOITNY_KAFKA_BOOTSTRAP_SERVERS"], topic, record.value, key=record.key)
        world.republished += 1

    expected, got = await _converged(world, queries, timeout_s=90)
    assert world.kills == KILLS
    assert got["users"] == expected["users"]
    assert got["problems"] == expected["problems"]
    assert got["days"] == expected["days"]

    # Lag and freshness on /metrics.
    def lag_is_zero() -> str | None:
        text = world.stats.metrics()
        lag = metric_value(text, "algoitny_consumer_lag_messages", consumer="stats", topic=topic, partition="0")
        seen = "algoitny_consumer_lag_messages{" in text
        return text if seen and lag == 0 else None

    deadline = time.monotonic() + 20
    text = lag_is_zero()
    while text is None and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        text = lag_is_zero()
    assert text is not None, "consumer lag never reached 0"
    last_applied = next(
        float(line.split()[1])
        for line in text.splitlines()
        if line.startswith("algoitny_stats_last_applied_event_timestamp_seconds ")
    )
    assert last_applied > time.time() - 900


async def test_rebuild_by_replay_equals_the_live_generation(world: World, queries: Any) -> None:
    from algoitny_stats.adapters.store import StatsStore

    store = StatsStore(world.client, world.namespace)
    live_generation = await store.active_generation()
    live = await asyncio.to_thread(generation_snapshot, world.client, store.table, live_generation)
    assert len(live) > 100
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "algoitny_stats", "rebuild"],
        env={**os.environ, **world.env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert await store.active_generation() == live_generation + 1
    rebuilt = await asyncio.to_thread(generation_snapshot, world.client, store.table, live_generation + 1)
    assert rebuilt == live
    # The API now reads the new generation; the answers are the oracle's still.
    expected, got = await _converged(world, queries, timeout_s=5)
    assert got == expected
    # The old generation can go (`rebuild --drop-old` does this).
    assert await store.drop_generation(live_generation) == len(live)
    assert await asyncio.to_thread(generation_snapshot, world.client, store.table, live_generation) == {}


async def test_admin_stats_for_30_days_use_no_scan(world: World, queries: Any) -> None:
    recorder = CallRecorder()
    recorder.attach(world.client, "dynamodb")
    try:
        today = datetime.now(UTC).date()
        stats = await queries.admin(today - timedelta(days=29), today)
    finally:
        recorder.detach()
    assert recorder.scans == []
    assert len(stats.days) == 30
    assert stats.totals.executions == EXECUTIONS
    assert stats.totals.active_users == len(USERS)
    assert len(stats.top_users) == 10
    assert sum(d.executions for d in stats.days) == EXECUTIONS
    assert set(recorder.calls) <= {"GetItem", "Query"}


def test_the_stats_log_shows_no_dead_letters(world: World) -> None:
    log = Path(world.stats.log_path).read_text()
    assert "dead-lettering" not in log
    text = world.stats.metrics()
    assert (
        metric_value(
            text,
            "algoitny_events_consumed_total",
            consumer="stats",
            event_type="executions.ExecutionCompleted",
            outcome="duplicate",
        )
        + metric_value(
            text,
            "algoitny_events_consumed_total",
            consumer="stats",
            event_type="executions.ExecutionCompleted",
            outcome="processed",
        )
        > 0
    )
