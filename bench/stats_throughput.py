"""Stats throughput and end-to-end lag.

Starts its own stats process (``python -m algoitny_stats``) in a private namespace, on the local
Kafka and a private moto started from deploy/local/moto_server.py (so other users of the shared
moto neither slow it down nor are slowed down by it).

1. Throughput: N ``ExecutionCompleted`` envelopes (random users, problems, verdicts, languages)
   are published to the namespace's executions topic first; then the stats process starts and
   the figure is N / (time from its readiness until its totals count all N).
2. End-to-end lag: executions are completed through the executions service's own completion
   path (SearchHistory item + ExecutionCompleted in one transaction, the service's outbox relay
   to Kafka) at a steady rate, each by a user of its own; the lag of one execution is the time from its
   completion (the event's occurred_at) until its user's statistics item exists (polled with
   BatchGetItem every 20 ms).

    .venv/bin/python bench/stats_throughput.py --events 5000 --lag-executions 200 --rate 10
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

from benchkit import percentile, write_result  # noqa: E402
from support.stats_tools import ExecutionFeed, StatsProcess, private_moto, settings_in  # noqa: E402


async def publish_events(settings: Any, n: int) -> None:
    from aiokafka import AIOKafkaProducer

    from algoitny_shared.events import REGISTRY
    from algoitny_shared.events.catalog import ExecutionCompleted
    from algoitny_shared.topics import EXECUTION_EVENTS

    rng = random.Random(1)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all", linger_ms=5)
    await producer.start()
    try:
        topic = EXECUTION_EVENTS.physical(settings.namespace)
        futures = []
        for i in range(n):
            payload = ExecutionCompleted(
                execution_id=f"x{i:06d}{uuid.uuid4().hex[:8]}",
                user_id=f"u{rng.randrange(200)}",
                platform="bench",
                problem_id=f"p{rng.randrange(300)}",
                language=rng.choice(["python3", "cpp17", "java17"]),
                verdict=rng.choice(["AC", "WA", "TLE", "RE"]),
                completed_at=datetime.now(UTC),
                max_time_ms=rng.randrange(1, 500),
            )
            envelope = REGISTRY.envelope(
                payload, producer="bench", aggregate_id=payload.execution_id, aggregate_version=2
            )
            futures.append(await producer.send(topic, envelope.to_bytes(), key=envelope.key))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def total_executions(store: Any) -> int:
    from algoitny_stats.domain.aggregation import PLATFORM_TOTALS

    item = await store.get(await store.active_generation(), PLATFORM_TOTALS) or {}
    return int(item.get("executions", 0))


async def measure_lag(env: dict[str, str], store: Any, count: int, rate: float) -> list[float]:
    from algoitny_executions.settings import ExecutionsSettings
    from algoitny_stats.domain.aggregation import user_summary

    feed = ExecutionFeed(settings_in(env, ExecutionsSettings, consumers_enabled=False, judge_enabled=False), relays=1)
    await feed.start()
    rng = random.Random(2)
    pending: dict[str, float] = {}  # user -> completion (event) time
    lags: list[float] = []
    done = asyncio.Event()

    async def poll() -> None:
        generation = await store.active_generation()
        while not (done.is_set() and not pending):
            keys = [user_summary(u) for u in list(pending)[:100]]
            if keys:
                found = await store.get_many(generation, keys)
                now = time.time()
                for pk, _sk in found:
                    user = pk[len("USER#") :]
                    lags.append(now - pending.pop(user))
            await asyncio.sleep(0.02)

    poller = asyncio.create_task(poll())
    try:
        for i in range(count):
            user = f"lag{i}-{uuid.uuid4().hex[:6]}"
            before = time.time()
            await feed.complete_one(user, f"p{rng.randrange(20)}", rng)
            pending[user] = before + (time.time() - before) / 2  # ~ when the completion committed
            await asyncio.sleep(max(0.0, 1 / rate - (time.time() - before)))
        done.set()
        await asyncio.wait_for(poller, timeout=120)
    finally:
        await feed.stop()
    return lags


async def run(events: int, lag_executions: int, rate: float) -> dict[str, Any]:
    from algoitny_executions.adapters.tables import EXECUTIONS_OUTBOX, SEARCH_HISTORY
    from algoitny_shared.dynamo import dynamodb
    from algoitny_shared.kafka import ensure_topics
    from algoitny_shared.settings import ServiceSettings
    from algoitny_shared.tables import ensure_tables
    from algoitny_shared.topics import all_topics
    from algoitny_stats.adapters.store import StatsStore
    from algoitny_stats.adapters.tables import STATS

    namespace = f"bstats{uuid.uuid4().hex[:6]}"
    log_dir = REPO / ".local" / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    with private_moto() as moto_url:
        env = {
            "ALGOITNY_NAMESPACE": namespace,
            "ALGOITNY_AWS_ENDPOINT_URL": moto_url,
            "ALGOITNY_LOG_LEVEL": "WARNING",
            "ALGOITNY_LAG_POLL_INTERVAL_S": "0",
            "ALGOITNY_OUTBOX_POLL_INTERVAL_S": "0.2",
        }
        settings = settings_in(env, ServiceSettings, service_name="bench")
        client = dynamodb(settings)
        ensure_tables(client, namespace, [STATS, SEARCH_HISTORY, EXECUTIONS_OUTBOX])
        await ensure_topics(settings, all_topics())
        store = StatsStore(client, namespace)
        await publish_events(settings, events)
        stats = StatsProcess(env, log_dir / f"{namespace}-stats.log")
        stats.start()
        try:
            await asyncio.to_thread(stats.wait_ready)
            started = time.monotonic()
            while await total_executions(store) < events:
                if time.monotonic() - started > 600:
                    raise RuntimeError("stats did not catch up in 10 minutes")
                await asyncio.sleep(0.1)
            seconds = time.monotonic() - started
            lags = await measure_lag(env, store, lag_executions, rate)
        finally:
            stats.kill(15)
            await _drop_topics(settings)
    return {
        "benchmark": "stats-throughput-and-lag",
        "throughput": {
            "events": events,
            "seconds": round(seconds, 2),
            "events_per_second": round(events / seconds, 1),
            "note": "one stats process catching up on a backlog of ExecutionCompleted events "
            "(200 users, 300 problems), batches of up to 500 messages, transactions of up to 100 events",
        },
        "end_to_end_lag_ms": {
            "executions": len(lags),
            "rate_per_second": rate,
            "p50": round(percentile(lags, 50) * 1000, 1),
            "p99": round(percentile(lags, 99) * 1000, 1),
            "max": round(max(lags) * 1000, 1),
            "mean": round(statistics.mean(lags) * 1000, 1),
            "note": "execution completed (SearchHistory + outbox commit) -> outbox relay -> Kafka -> stats "
            "transaction -> the user's statistics item readable",
        },
        "backend": "local Kafka, private moto (DynamoDB emulator: mostly measures moto's CPU)",
    }


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--lag-executions", type=int, default=200)
    parser.add_argument("--rate", type=float, default=10.0, help="executions completed per second (lag run)")
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "stats_throughput.json"))
    args = parser.parse_args()
    result = asyncio.run(run(args.events, args.lag_executions, args.rate))
    write_result("stats_throughput", result, args.out)


if __name__ == "__main__":
    main()
