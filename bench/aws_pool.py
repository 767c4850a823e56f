"""The async AWS access layer against bare boto3, with no HTTP and no services in between.

Each "request" is the problem path's DynamoDB work (``--calls`` GetItems in sequence). The
same requests are made three ways, at each concurrency level, against a moto of our own:

* ``bare``:      N threads calling boto3 directly (what bench/load/bare.py replays);
* ``to_thread``: N asyncio tasks, each call through ``asyncio.to_thread`` (the loop's default
                 pool: ``min(32, cores + 4)`` threads, 6 on 2 cores) - how the services did it;
* ``layer``:     N asyncio tasks through ``algoitny_shared.aws.AsyncDynamoDB`` (a pool of its own,
                 sized to boto3's ``MAX_POOL_CONNECTIONS``).

Writes bench/results/aws_pool.json: p50/p99 per mode and level, and each mode's p50 over bare.

    .venv/bin/python bench/aws_pool.py --clients 1,50 --requests 400
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

from benchkit import percentile, private_moto, write_result  # noqa: E402

from algoitny_shared.aws import MAX_POOL_CONNECTIONS, AsyncDynamoDB  # noqa: E402
from algoitny_shared.dynamo import dynamodb  # noqa: E402
from algoitny_shared.settings import ServiceSettings  # noqa: E402

TABLE = "aws-pool-bench"


def setup(client: Any) -> None:
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for n in range(20):
        client.put_item(TableName=TABLE, Item={"pk": {"S": f"p{n}"}, "body": {"S": "x" * 2000}})


def bare(client: Any, clients: int, requests: int, calls: int) -> list[float]:
    def one(n: int) -> float:
        t0 = time.perf_counter()
        for c in range(calls):
            client.get_item(TableName=TABLE, Key={"pk": {"S": f"p{(n + c) % 20}"}}, ConsistentRead=True)
        return (time.perf_counter() - t0) * 1000

    with concurrent.futures.ThreadPoolExecutor(max_workers=clients) as pool:
        return list(pool.map(one, range(requests)))


async def driven(get: Callable[..., Awaitable[Any]], clients: int, requests: int, calls: int) -> list[float]:
    todo = iter(range(requests))
    out: list[float] = []

    async def worker() -> None:
        for n in todo:
            t0 = time.perf_counter()
            for c in range(calls):
                await get(TableName=TABLE, Key={"pk": {"S": f"p{(n + c) % 20}"}}, ConsistentRead=True)
            out.append((time.perf_counter() - t0) * 1000)

    await asyncio.gather(*(worker() for _ in range(clients)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", default="1,50")
    parser.add_argument("--requests", type=int, default=400, help="requests per mode and level")
    parser.add_argument("--calls", type=int, default=3, help="GetItems per request, in sequence")
    args = parser.parse_args()
    report: dict[str, Any] = {"calls_per_request": args.calls, "pool_threads": MAX_POOL_CONNECTIONS, "levels": {}}
    with private_moto():
        client = dynamodb(ServiceSettings())
        setup(client)
        db = AsyncDynamoDB(client)

        async def to_thread(**kw: Any) -> Any:
            return await asyncio.to_thread(client.get_item, **kw)

        n, k = args.requests, args.calls
        for clients in [int(c) for c in args.clients.split(",")]:
            bare(client, clients, min(args.requests, 50), args.calls)  # warm the connections
            level: dict[str, Any] = {}
            modes: dict[str, Callable[[int], list[float]]] = {
                "bare": lambda c: bare(client, c, n, k),
                "to_thread": lambda c: asyncio.run(driven(to_thread, c, n, k)),
                "layer": lambda c: asyncio.run(driven(db.get_item, c, n, k)),
            }
            for mode, run in modes.items():
                t0 = time.perf_counter()
                ms = run(clients)
                level[mode] = {
                    "p50_ms": round(percentile(ms, 50), 2),
                    "p99_ms": round(percentile(ms, 99), 2),
                    "per_s": round(len(ms) / (time.perf_counter() - t0), 1),
                }
            for mode in ("to_thread", "layer"):
                level[mode]["p50_over_bare"] = round(level[mode]["p50_ms"] / level["bare"]["p50_ms"], 2)
            report["levels"][str(clients)] = level
            print(f"[aws_pool] {clients} clients: {level}", flush=True)
    write_result("aws_pool", report)


if __name__ == "__main__":
    main()
