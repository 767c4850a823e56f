# ruff: noqa: E501  (the A+B programs are kept one per line)
"""Submit-to-verdict latency: A+B with 10 tests in every language, through the gateway.

Starts its own copy of the services (gateway, accounts, problems, ratelimit, executions
with its in-process judge worker) in a private namespace against the local stack. Each
submission is POSTed to /api/v1/executions and followed on its server-sent events stream
(GET /api/v1/executions/{id}/events) until the `completed` event; the figure is the time
from sending the POST to receiving that event. Two modes per language:

* ``fresh``: every submission's code differs (a comment), so each one compiles;
* ``cached``: the same code again, so the compiled binary comes from the (language, code
  hash) cache, as for resubmissions.

Submissions are sequential (latency, not throughput). Variants: each judge language, and
C++ three ways (``<cstdio>``, ``<iostream>``, ``<bits/stdc++.h>``: the last is what contestants
write, compiled with the judge's precompiled header; issue 21's target is its fresh p50 within
1.5x of ``<cstdio>``'s).

``--throughput N`` then submits N fresh C++/Python submissions at once and reports judged
submissions per minute (first POST to last verdict). ``--long N`` submits N more, sequentially,
alternating C++ and Python with fresh code, and reports the maximum latency with the stages of
every submission slower than 5 s (issue 21: the 20 s stall seen once).

    .venv/bin/python bench/submit_to_verdict.py --count 20
    .venv/bin/python bench/submit_to_verdict.py --count 10 --variants cpp17-cstdio,cpp17-bits --long 300
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
import uuid
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]

from benchkit import percentile, private_moto, running_platform, summary, write_result  # noqa: E402

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
# variant -> (language id, code); a fresh copy appends a comment.
CODE: dict[str, tuple[str, str]] = {
    "cpp17-cstdio": (
        "cpp17",
        '#include <cstdio>\nint main(){long long a,b;std::scanf("%lld %lld",&a,&b);std::printf("%lld\\n",a+b);}\n',
    ),
    "cpp17-iostream": (
        "cpp17",
        "#include <iostream>\nint main(){long long a,b;std::cin>>a>>b;std::cout<<a+b<<'\\n';}\n",
    ),
    # The <cstdio> program with the header contestants write instead (issue 21: "the same program").
    "cpp17-bits": (
        "cpp17",
        '#include <bits/stdc++.h>\nint main(){long long a,b;std::scanf("%lld %lld",&a,&b);std::printf("%lld\\n",a+b);}\n',
    ),
    "c": (
        "c",
        '#include <stdio.h>\nint main(void){long long a,b;scanf("%lld %lld",&a,&b);printf("%lld\\n",a+b);return 0;}\n',
    ),
    "python3": ("python3", "a, b = map(int, input().split())\nprint(a + b)\n"),
    "pypy3": ("pypy3", "a, b = map(int, input().split())\nprint(a + b)\n"),
    "java17": (
        "java17",
        "import java.util.*;\npublic class aplusb { public static void main(String[] x) {"
        " Scanner s = new Scanner(System.in); System.out.println(s.nextLong() + s.nextLong()); } }\n",
    ),
    "javascript": (
        "javascript",
        'const [a, b] = require("fs").readFileSync(0, "utf8").trim().split(/\\s+/).map(Number);\nconsole.log(a + b);\n',
    ),
    "go": (
        "go",
        'package main\n\nimport "fmt"\n\nfunc main() {\n\tvar a, b int64\n\tfmt.Scan(&a, &b)\n\tfmt.Println(a + b)\n}\n',
    ),
    "rust": (
        "rust",
        "use std::io::Read;\nfn main() { let mut s = String::new(); std::io::stdin().read_to_string(&mut s).unwrap();"
        ' let v: Vec<i64> = s.split_whitespace().map(|x| x.parse().unwrap()).collect(); println!("{}", v[0] + v[1]); }\n',
    ),
    "kotlin": (
        "kotlin",
        'fun main() {\n    val (a, b) = readLine()!!.trim().split(" ").map { it.toLong() }\n    println(a + b)\n}\n',
    ),
}
HASH_COMMENT = ("python3", "pypy3")


def fresh(variant: str) -> str:
    language, code = CODE[variant]
    mark = uuid.uuid4().hex
    return code + (f"# {mark}\n" if language in HASH_COMMENT else f"// {mark}\n")


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
    # The bench's own clock (same host): where the rest of the time went.
    LAST_STAGES.update(
        post_answer_ms=round((CLOCK["answered"] - CLOCK["sent"]) * 1000, 1),
        send_to_created_ms=round((created.timestamp() - CLOCK["sent"]) * 1000, 1),
        queued_ms=round((started - created).total_seconds() * 1000, 1),
        judging_ms=round((finished - started).total_seconds() * 1000, 1),
        finished_to_sse_completed_ms=round((CLOCK["completed"] - finished.timestamp()) * 1000, 1),
        created_at=body["created_at"],
    )


LAST_STAGES: dict[str, object] = {}
CLOCK: dict[str, float] = {}


def submit_and_wait(
    client: httpx.Client, headers: dict[str, str], problem_id: str, language: str, code: str, key: str = ""
) -> float:
    body = {"platform": "bench", "problem_id": problem_id, "language": language, "code": code}
    started = time.perf_counter()
    CLOCK["sent"] = time.time()
    resp = client.post("/api/v1/executions", json=body, headers=headers)
    CLOCK["answered"] = time.time()
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
                CLOCK["completed"] = time.time()
                verdict = json.loads(line[6:])["verdict"]
                if verdict != "AC":
                    raise RuntimeError(f"{language}: verdict {verdict}")
                if key:
                    _stages(client, headers, execution_id, key)
                return elapsed * 1000
    raise RuntimeError(f"{execution_id}: the stream ended without a verdict")


def run(count: int, base_port: int, variants: list[str], throughput: int, long: int) -> dict[str, object]:
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
        for variant in variants:
            headers = user_headers()  # a user per variant: each stays within a plan's daily quota
            language, code = CODE[variant]
            submit_and_wait(client, headers, problem_id, language, code)  # warm-up (first compile, test set)
            fresh_ms = [
                submit_and_wait(client, headers, problem_id, language, fresh(variant), f"{variant}/fresh")
                for _ in range(count)
            ]
            cached = [
                submit_and_wait(client, headers, problem_id, language, code, f"{variant}/cached") for _ in range(count)
            ]
            results[variant] = {
                "fresh_code_compiled": summary(fresh_ms, digits=1, extremes=True),
                "same_code_cached_binary": summary(cached, digits=1, extremes=True),
            }
            print(variant, results[variant], flush=True)
        extra: dict[str, object] = {}
        if "cpp17-bits" in results and "cpp17-cstdio" in results:
            extra["bits_vs_cstdio_paired"] = _paired(client, problem_id, "cpp17-cstdio", "cpp17-bits", count)
        if throughput:
            extra["throughput"] = _throughput(client, problem_id, throughput)
        if long:
            extra["long_run"] = _long_run(client, problem_id, long)
    return {
        **extra,
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


def _paired(client: httpx.Client, problem_id: str, a: str, b: str, n: int) -> dict[str, object]:
    """Fresh submissions of two variants alternately (a, b, a, b, ...), so that whatever else the
    machine does weighs on both alike; issue 21's target is p50(b) / p50(a) <= 1.5."""
    headers = user_headers()
    times: dict[str, list[float]] = {a: [], b: []}
    for _ in range(n):
        for variant in (a, b):
            times[variant].append(submit_and_wait(client, headers, problem_id, CODE[variant][0], fresh(variant)))
    p50 = {v: percentile(t, 50) for v, t in times.items()}
    return {
        "submissions_each": n,
        **{v: summary(t, digits=1, extremes=True) for v, t in times.items()},
        "ratio_p50": round(p50[b] / p50[a], 2),
    }


def _throughput(client: httpx.Client, problem_id: str, n: int) -> dict[str, object]:
    """N fresh submissions (C++ <cstdio> and Python, alternating) at once: judged per minute."""
    from concurrent.futures import ThreadPoolExecutor

    def one(i: int) -> float:
        variant = ("cpp17-cstdio", "python3")[i % 2]
        with httpx.Client(base_url=str(client.base_url), timeout=60) as own:
            return submit_and_wait(own, user_headers(), problem_id, CODE[variant][0], fresh(variant))

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=min(n, 32)) as pool:
        latencies = list(pool.map(one, range(n)))
    elapsed = time.perf_counter() - started
    return {
        "submissions": n,
        "elapsed_s": round(elapsed, 2),
        "judged_per_minute": round(n / elapsed * 60, 1),
        "latency_ms": summary(latencies, digits=1, extremes=True),
    }


def _long_run(client: httpx.Client, problem_id: str, n: int) -> dict[str, object]:
    """N sequential fresh submissions; the max latency, and the stages of each slow one."""
    latencies: list[float] = []
    slow: list[dict[str, object]] = []
    for i in range(n):
        if i % 100 == 0:
            headers = user_headers()  # within the plan's daily quota
        variant = ("cpp17-cstdio", "python3")[i % 2]
        ms = submit_and_wait(client, headers, problem_id, CODE[variant][0], fresh(variant), "long")
        latencies.append(ms)
        if ms > 5000:
            slow.append({"index": i, "variant": variant, "latency_ms": round(ms, 1), **LAST_STAGES})
    return {"submissions": n, "latency_ms": summary(latencies, pcts=(50, 99, 100), digits=1), "slow_over_5s": slow}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--variants", default=",".join(CODE), help=f"comma-separated, of: {', '.join(CODE)}")
    parser.add_argument("--throughput", type=int, default=0, help="submit N at once, report judged per minute")
    parser.add_argument("--long", type=int, default=0, help="N more sequential submissions: max latency, slow ones")
    parser.add_argument(
        "--private-moto",
        action="store_true",
        help="a moto server of our own instead of the machine's shared one (whose latency is everyone's)",
    )
    parser.add_argument("--base-port", type=int, default=int(os.environ.get("BENCH_BASE_PORT", "18600")))
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "submit_to_verdict.json"))
    args = parser.parse_args()
    variants = [v for v in args.variants.split(",") if v]
    unknown = set(variants) - set(CODE)
    if unknown:
        parser.error(f"unknown variants: {', '.join(sorted(unknown))}")
    if args.private_moto:
        with private_moto():
            result = run(args.count, args.base_port, variants, args.throughput, args.long)
        result["moto"] = "private"
    else:
        result = run(args.count, args.base_port, variants, args.throughput, args.long)
        result["moto"] = "shared"
    write_result("submit_to_verdict", result, args.out)


if __name__ == "__main__":
    main()
