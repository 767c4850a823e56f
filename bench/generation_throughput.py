"""Test-case generation throughput: cases generated and stored per second, through the gateway.

Starts its own copy of the services (gateway, accounts, problems and its generation process,
ratelimit, search-indexer, executions with its judge worker) in a private namespace against
the local stack. For each (generator language, batch size) it registers an A+B problem with a
Python reference solution, POSTs a generation job for ``--cases`` cases of a simple generator
(two random numbers; no duplicates to re-roll), follows the job's server-sent events until
``succeeded`` and reports cases per second from the POST to that event (end to end) and from
the worker's claim to the flip (worker). Every case goes: generator run in the sandbox ->
reference-solution run in the sandbox -> staged in DynamoDB -> one flip.

    .venv/bin/python bench/generation_throughput.py --cases 400
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
import uuid
from datetime import datetime
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]

from algoitny_devtools.platform import Platform, prepare  # noqa: E402

SERVICES = ["gateway", "accounts", "problems", "problems-generation", "ratelimit", "search-indexer", "executions"]
TOKEN = "bench-operator-token"
GENERATORS = {
    "python3": "import random\nseed, size = input().split()\nr = random.Random(int(seed))\n"
    "print(r.randint(0, 10**18), r.randint(0, 10**18))\n",
    "cpp17": "#include <iostream>\n#include <random>\nint main(){unsigned long long s; std::string z; std::cin>>s>>z;"
    " std::mt19937_64 r(s); std::cout<<(r()>>4)<<' '<<(r()>>4)<<'\\n';}\n",
}
SOLUTION = "a, b = map(int, input().split())\nprint(a + b)\n"


def run_job(client: httpx.Client, headers: dict[str, str], language: str, cases: int) -> dict[str, float]:
    pid = f"g{uuid.uuid4().hex[:8]}"
    problem = {
        "platform": "bench",
        "problem_id": pid,
        "title": "A+B",
        "status": "completed",
        "language": "python3",
        "reference_solution": SOLUTION,
        "test_cases": [{"input": "1 2\n", "output": "3\n", "is_sample": True}],
    }
    resp = client.post("/api/v1/problems", json=problem, headers=headers)
    if resp.status_code != 201:
        raise RuntimeError(f"problem: {resp.status_code} {resp.text}")
    body = {"generator": {"language": language, "code": GENERATORS[language]}, "counts": {"large": cases}}
    started = time.perf_counter()
    resp = client.post(f"/api/v1/problems/bench/{pid}/generation-jobs", json=body, headers=headers)
    if resp.status_code != 201:
        raise RuntimeError(f"job: {resp.status_code} {resp.text}")
    job_id = resp.json()["job_id"]
    event = None
    with client.stream("GET", f"/api/v1/generation-jobs/{job_id}/events", headers=headers, timeout=600) as stream:
        for line in stream.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event in ("succeeded", "failed", "cancelled"):
                if event != "succeeded":
                    raise RuntimeError(f"job {job_id}: {event} {line[6:]}")
                break
    elapsed = time.perf_counter() - started
    job = client.get(f"/api/v1/generation-jobs/{job_id}", headers=headers).json()
    worker_s = (datetime.fromisoformat(job["finished_at"]) - datetime.fromisoformat(job["started_at"])).total_seconds()
    stored = client.get(f"/api/v1/problems/bench/{pid}").json()["test_case_count"]
    if stored != cases + 1:
        raise RuntimeError(f"job {job_id}: {stored} cases stored, expected {cases + 1}")
    return {
        "end_to_end_s": round(elapsed, 2),
        "worker_s": round(worker_s, 2),
        "cases_per_s_end_to_end": round(cases / elapsed, 1),
        "cases_per_s_worker": round(cases / worker_s, 1),
    }


def run(cases: int, batch_sizes: list[int], base_port: int) -> dict[str, object]:
    results: dict[str, dict[str, object]] = {}
    for batch in batch_sizes:
        namespace = f"bench{uuid.uuid4().hex[:6]}"
        plat = Platform(
            namespace=namespace,
            base_port=base_port,
            env={
                "ALGOITNY_ADMIN_TOKEN": TOKEN,
                "ALGOITNY_LOG_LEVEL": "WARNING",
                "ALGOITNY_JUDGE_UID_BASE": str(62000 + 16 * random.randrange(50)),
                "ALGOITNY_RATE_GENERAL_PER_MIN": "100000",
                "ALGOITNY_GENERATION_BATCH_SIZE": str(batch),
                "ALGOITNY_GENERATION_POLL_INTERVAL_S": "0.2",
                "ALGOITNY_OUTBOX_POLL_INTERVAL_S": "0.5",
            },
        )
        prepare(plat)
        plat.start_all(SERVICES)
        try:
            plat.wait_ready(SERVICES, timeout_s=120)
            headers = {"authorization": f"Bearer {TOKEN}"}
            with httpx.Client(base_url=plat.url("gateway"), timeout=60) as client:
                run_job(client, headers, "python3", 20)  # warm-up: compile caches, consumers joined
                for language in GENERATORS:
                    results[f"{language}/batch {batch}"] = run_job(client, headers, language, cases)
        finally:
            plat.stop_all()
    return {
        "benchmark": "generation-throughput",
        "cases_per_job": cases,
        "results": results,
        "path": "POST /api/v1/problems/{p}/{id}/generation-jobs -> worker claims (lease) -> per batch: generator "
        "and reference solution each one sandbox run via the jobs topic (request and outputs in S3, answer as an "
        "event) -> cases staged in DynamoDB -> one flip -> SSE `succeeded` through the gateway",
        "cpus": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=400)
    parser.add_argument("--batch-sizes", default="50,200", help="comma-separated generation batch sizes")
    parser.add_argument("--base-port", type=int, default=int(os.environ.get("BENCH_BASE_PORT", "18700")))
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "generation_throughput.json"))
    args = parser.parse_args()
    result = run(args.cases, [int(b) for b in args.batch_sizes.split(",")], args.base_port)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
