"""The sharded outbox: relay throughput with 1 and SHARDS shards, 1 and 2 relays, order per aggregate.

Writes ``--events`` outbox rows over ``--aggregates`` aggregates (several versions each) into a
table of its own on a moto of its own, then times relays draining them to a recording publisher
(no Kafka: the DynamoDB side of the relay is what the shards change). For each run: events/s,
the busiest index partition's share of the writes (the put and the delete after publishing of each event
land on the partition of its ``pending`` value), and a check that every aggregate's events came
out in version order. The write ceiling on DynamoDB follows from its published per-partition
limit (1,000 write units/s; docs/outbox.md).

    .venv/bin/python bench/outbox_shards.py --events 2000
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

from benchkit import private_moto, write_result  # noqa: E402

from algoitny_shared import outbox as outbox_module  # noqa: E402
from algoitny_shared.dynamo import dynamodb  # noqa: E402
from algoitny_shared.events import REGISTRY, EventEnvelope  # noqa: E402
from algoitny_shared.events.catalog import ProblemCreated  # noqa: E402
from algoitny_shared.outbox import SHARDS, Outbox, OutboxRelay  # noqa: E402
from algoitny_shared.settings import ServiceSettings  # noqa: E402
from algoitny_shared.tables import ensure_tables, outbox_table  # noqa: E402

PARTITION_WRITES_PER_S = 1000  # DynamoDB's published per-partition write limit (write units/s)


class Recorder:
    def __init__(self) -> None:
        self.sent: list[EventEnvelope] = []

    async def publish(self, envelope: EventEnvelope, topic: str) -> None:
        self.sent.append(envelope)


def _events(count: int, aggregates: int) -> list[EventEnvelope]:
    now = datetime.now(UTC)
    versions: Counter[int] = Counter()
    out = []
    for n in range(count):
        agg = n % aggregates
        versions[agg] += 1
        payload = ProblemCreated(
            platform="bench", problem_id=f"p{agg}", title="t", status="completed", created_at=now, updated_at=now
        )
        out.append(
            REGISTRY.envelope(payload, producer="problems", aggregate_id=f"agg{agg}", aggregate_version=versions[agg])
        )
    return out


async def run(client: Any, namespace: str, shards: int, relays: int, events: list[EventEnvelope]) -> dict[str, Any]:
    outbox_module.SHARDS = shards  # the layout constant, for this run's table only
    spec = outbox_table(f"bench{uuid.uuid4().hex[:6]}")
    ensure_tables(client, namespace, [spec])
    outbox = Outbox(client, spec, namespace)
    puts = [{"PutRequest": {"Item": outbox.put_request(e)["Put"]["Item"]}} for e in events]
    for start in range(0, len(puts), 25):
        client.batch_write_item(RequestItems={outbox.table: puts[start : start + 25]})
    partitions = Counter(p["PutRequest"]["Item"]["pending"]["S"] for p in puts)
    recorder = Recorder()
    workers = [OutboxRelay(client, outbox, recorder, "bench", 0.05) for _ in range(relays)]
    for _ in range(2):  # every relay joins, then each settles on its share
        for w in workers:
            await w.balance()
    t0 = time.perf_counter()
    while len({str(e.event_id) for e in recorder.sent}) < len(events):
        await asyncio.gather(*(w.drain_once() for w in workers))
        if time.perf_counter() - t0 > 600:
            raise RuntimeError("relays did not drain in 10 minutes")
    seconds = time.perf_counter() - t0
    for w in workers:
        await w.release_all()
    order: dict[str, list[int]] = defaultdict(list)
    for e in recorder.sent:
        order[e.aggregate_id].append(e.aggregate_version)
    in_order = all(v == sorted(v) for v in order.values())
    busiest = max(partitions.values()) / len(events)
    return {
        "shards": shards,
        "relays": relays,
        "events": len(events),
        "seconds": round(seconds, 2),
        "events_per_s": round(len(events) / seconds, 1),
        "order_kept_per_aggregate": in_order,
        "duplicates": len(recorder.sent) - len(events),
        "busiest_partition_share": round(busiest, 3),
        # Two index writes per event (put, delete after publishing): events/s one table takes on DynamoDB
        # before the busiest index partition reaches its limit.
        "dynamodb_event_ceiling_per_s": round(PARTITION_WRITES_PER_S / 2 / busiest),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--aggregates", type=int, default=200)
    args = parser.parse_args()
    events = _events(args.events, args.aggregates)
    results = []
    with private_moto():
        settings = ServiceSettings(namespace=f"obench{uuid.uuid4().hex[:6]}")
        client = dynamodb(settings)
        for shards, relays in ((1, 1), (SHARDS, 1), (SHARDS, 2)):
            got = asyncio.run(run(client, settings.namespace, shards, relays, events))
            print(f"[outbox_shards] {got}", flush=True)
            results.append(got)
    write_result("outbox_shards", {"runs": results, "partition_write_limit_per_s": PARTITION_WRITES_PER_S})


if __name__ == "__main__":
    main()
