"""Submit-to-verdict latency: A+B with 10 tests in C++ and Python, through the gateway.

Starts its own copy of the services (gateway, accounts, problems, ratelimit, executions
with its in-process judge worker) in a private namespace against the local stack. Each
submission is POSTed to /api/v1/executions and followed on its server-sent events stream
(GET /api/v1/executions/{id}/events) until the `completed` event; the figure is the time
from sending the POST to receiving that event. Two modes per language:

* ``fresh``: every submission's code differs (a comment), so each one compiles;
* ``cached``: the same code again, so the compiled binary comes from the (language, code
  hash) cache, as for resubmissions.

Submissions are sequential (latency, not throughput).

    .venv/bin/python bench/submit_to_verdict.py --count 20
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
import uuid
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

from benchkit import percentile, running_platform, summary, write_result  # noqa: E402

from algoitny_accounts.settings import AccountsSettings  # noqa: E402
from algoitny_shared import tokens  # noqa: E402

SERVICES = [
    "gateway",
    "accounts",
    "problems",
    "ratelimit",
    "search-indexer",
    "executions",
]  # gateway readiness needs search
TOKEN = "bench-operator-token"
TESTS = 10
CODE = {
    "cpp17": "#include <iostream>\nint main(){long long a,b;std::cin>>a>>b;std::cout<<a+b<<'\\n';}\n",
    "python3": "a, b = map(int, input().split())\nprint(a + b)\n",
}
COMMENT = {"cpp17": "// {}\n", "python3": "# {}\n"}


def user_headers() -> dict[str, str]:
    keyring = AccountsSettings().signing_keys()
    token, _ = tokens.issue(keyring, user_id=f"bench{uuid.uuid4().hex[:8]}", role="user", plan="pro", ttl_s=3600)
    return {"authorization": f"Bearer {token}"}


STAGES: dict[str, dict[str, list[float]]] = {}


def _stages(client: httpx.Client, headers: dict[str, str], execution_id: str, key: str) -> None:
    """Where the time went, from the item's own timestamps (created -> started -> finished)."""
    from datetime import datetime

    body = client.get(f"/api/v1/executions/{execution_id}", headers=headers).json()
    created, started, finished = (datetime.fromisoformat(body[k]) for k in ("created_at", "started_at", "finished_at"))
    stages = STAGES.setdefault(key, {"queued_ms": [], "judging_ms": []})
    stages["queued_ms"].append((started - created).total_seconds() * 1000)
    stages["judging_ms"].append((finished - started).total_seconds() * 1000)


def submit_and_wait(
    client: httpx.Client, headers: dict[str, str], problem_id: str, language: str, code: str, key: str = ""
) -> float:
    body = {"platform": "bench", "problem_id": problem_id, "language": language, "code": code}
    started = time.perf_counter()
    resp = client.post("/api/v1/executions", json=body, headers=headers)
    if resp.status_code != 202:
        raise RuntimeError(f"submit failed: {resp.status_code} {resp.text}")
    execution_id = resp.json()["execution_id"]
    event = None
    with client.stream("GET", f"/api/v1/executions/{execution_id}/events", headers=headers, timeout=120) as stream:
        for line in stream.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "completed":
                elapsed = time.perf_counter() - started
                verdict = json.loads(line[6:])["verdict"]
                if verdict != "AC":
                    raise RuntimeError(f"{language}: verdict {verdict}")
                if key:
                    _stages(client, headers, execution_id, key)
                return elapsed * 1000
    raise RuntimeError(f"{execution_id}: the stream ended without a verdict")


def run(count: int, base_port: int) -> dict[str, object]:
    namespace = f"bench{uuid.uuid4().hex[:6]}"
    results: dict[str, dict[str, dict[str, float]]] = {}
    env = {
        "ALGOITNY_ADMIN_TOKEN": TOKEN,
        "ALGOITNY_JUDGE_UID_BASE": str(62000 + 16 * random.randrange(50)),
        "ALGOITNY_RATE_EXECUTION_PER_MIN": "100000",
        "ALGOITNY_RATE_GENERAL_PER_MIN": "100000",
    }
    with (
        running_platform(SERVICES, env=env, base_port=base_port, namespace=namespace) as plat,
        httpx.Client(base_url=plat.url("gateway"), timeout=60) as client,
    ):
        problem_id = f"ab{uuid.uuid4().hex[:6]}"
        cases = [{"input": f"{i} {i * 7}\n", "output": f"{i * 8}\n", "is_sample": True} for i in range(TESTS)]
        resp = client.post(
            "/api/v1/problems",
            json={
                "platform": "bench",
                "problem_id": problem_id,
                "title": "A+B",
                "status": "completed",
                "test_cases": cases,
            },
            headers={"authorization": f"Bearer {TOKEN}"},
        )
        if resp.status_code != 201:
            raise RuntimeError(f"problem: {resp.status_code} {resp.text}")
        for language, code in CODE.items():
            headers = user_headers()
            submit_and_wait(client, headers, problem_id, language, code)  # warm-up (first compile, test set)
            fresh = [
                submit_and_wait(
                    client,
                    headers,
                    problem_id,
                    language,
                    code + COMMENT[language].format(uuid.uuid4().hex),
                    f"{language}/fresh",
                )
                for _ in range(count)
            ]
            cached = [
                submit_and_wait(client, headers, problem_id, language, code, f"{language}/cached") for _ in range(count)
            ]
            results[language] = {
                "fresh_code_compiled": summary(fresh, digits=1, extremes=True),
                "same_code_cached_binary": summary(cached, digits=1, extremes=True),
            }
    return {
        "benchmark": "submit-to-verdict",
        "tests_per_submission": TESTS,
        "submissions_per_mode": count,
        "latency_ms": results,
        "stages_p50_ms": {
            key: {name: round(percentile(values, 50), 1) for name, values in stages.items()}
            for key, stages in STAGES.items()
        },
        "path": "POST /api/v1/executions -> outbox -> Kafka jobs topic -> judge worker (sandbox, 10 tests in one "
        "box) -> SearchHistory -> SSE `completed` event through the gateway",
        "cpus": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--base-port", type=int, default=int(os.environ.get("BENCH_BASE_PORT", "18600")))
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "submit_to_verdict.json"))
    args = parser.parse_args()
    result = run(args.count, args.base_port)
    write_result("submit_to_verdict", result, args.out)


if __name__ == "__main__":
    main()
