"""Create-to-searchable latency: create N problems through the gateway, time until each is found.

Starts its own copy of the services (gateway, problems, search indexer, accounts,
ratelimit) in a private namespace against the local stack, so it never touches `make
run`'s data. Each problem is created, then searched for by its id every 20 ms until it
appears; the figure is the time from sending the create to the first search that finds it.

    make bench                      # or: .venv/bin/python bench/create_to_searchable.py --count 200
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]

from benchkit import percentile, running_platform, write_result  # noqa: E402

SERVICES = ["gateway", "accounts", "problems", "ratelimit", "search-indexer"]
TOKEN = "bench-operator-token"


def run(count: int, poll_s: float, base_port: int) -> dict[str, object]:
    namespace = f"bench{uuid.uuid4().hex[:6]}"
    with running_platform(
        SERVICES,
        env={"ALGOITNY_ADMIN_TOKEN": TOKEN, "ALGOITNY_LOG_LEVEL": "WARNING"},
        base_port=base_port,
        namespace=namespace,
    ) as plat:
        headers = {"authorization": f"Bearer {TOKEN}"}
        create_ms: list[float] = []
        searchable_ms: list[float] = []
        polls: list[int] = []
        with httpx.Client(base_url=plat.url("gateway"), timeout=30) as client:
            for i in range(count):
                pid = f"b{i:04d}x{uuid.uuid4().hex[:4]}"
                body = {
                    "platform": "bench",
                    "problem_id": pid,
                    "title": f"Benchmark problem {i} about graphs and sums",
                    "tags": ["bench", "graphs"],
                    "status": "completed",
                    "test_cases": [{"input": "1 2\n", "output": "3\n", "is_sample": True}],
                }
                started = time.perf_counter()
                resp = client.post("/api/v1/problems", json=body, headers=headers)
                created = time.perf_counter()
                if resp.status_code != 201:
                    raise RuntimeError(f"create failed: {resp.status_code} {resp.text}")
                n = 0
                while True:
                    n += 1
                    found = client.get("/api/v1/problems/search", params={"q": pid, "limit": 1}).json()["items"]
                    if found and found[0]["problem_id"] == pid:
                        break
                    if time.perf_counter() - started > 30:
                        raise RuntimeError(f"{pid} not searchable after 30 s")
                    time.sleep(poll_s)
                done = time.perf_counter()
                create_ms.append((created - started) * 1000)
                searchable_ms.append((done - started) * 1000)
                polls.append(n)
    return {
        "benchmark": "create-to-searchable",
        "problems": count,
        "poll_interval_ms": poll_s * 1000,
        "create_ms": {
            "p50": percentile(create_ms, 50),
            "p99": percentile(create_ms, 99),
            "mean": statistics.mean(create_ms),
        },
        "create_to_searchable_ms": {
            "p50": percentile(searchable_ms, 50),
            "p99": percentile(searchable_ms, 99),
            "max": max(searchable_ms),
            "mean": statistics.mean(searchable_ms),
        },
        "searches_per_problem_mean": statistics.mean(polls),
        "note": "A write becomes searchable at the index's next refresh (refresh_interval 250ms).",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--poll-ms", type=float, default=20)
    parser.add_argument("--base-port", type=int, default=int(os.environ.get("BENCH_BASE_PORT", "18500")))
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "create_to_searchable.json"))
    args = parser.parse_args()
    result = run(args.count, args.poll_ms / 1000, args.base_port)
    write_result("create_to_searchable", result, args.out)


if __name__ == "__main__":
    main()
