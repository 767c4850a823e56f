"""Helpers for the test-case generation tests: programs, waiting on jobs, reproducing inputs."""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time
from typing import Any

import httpx

from algoitny_problems.generation.domain.jobs import MAX_REROLLS, generator_stdin, input_digest

API = "/api/v1"

# A+B: the size class bounds the numbers; "small" has only 121 distinct inputs, so 50 small cases
# make the generator repeat itself and exercise the deterministic re-rolls.
AB_GENERATOR = """import random
seed, size = input().split()
r = random.Random(int(seed))
hi = {"small": 10, "medium": 1000, "large": 10**9, "max": 10**18}[size]
print(r.randint(0, hi), r.randint(0, hi))
"""
AB_SOLUTION_PY = "a, b = map(int, input().split())\nprint(a + b)\n"
AB_SOLUTION_CPP = "#include <iostream>\nint main(){long long a,b;std::cin>>a>>b;std::cout<<a+b<<'\\n';}"
AB_SAMPLES = [
    {"input": "1 2\n", "output": "3\n", "is_sample": True},
    {"input": "40 2\n", "output": "42\n", "is_sample": True},
]
COUNTS_200 = {"small": 50, "medium": 50, "large": 50, "max": 50}


def make_problem(
    gateway: httpx.Client, headers: dict[str, str], platform: str, problem_id: str, **extra: Any
) -> dict[str, Any]:
    body = {
        "platform": platform,
        "problem_id": problem_id,
        "title": "A+B (generated)",
        "status": "completed",
        "constraints": "0 <= a, b <= 10^18. Input: two integers a and b. Output: a + b.",
        "time_limit_ms": 1000,
        "memory_limit_mb": 128,
        "test_cases": AB_SAMPLES,
        **extra,
    }
    resp = gateway.post(f"{API}/problems", json=body, headers=headers)
    assert resp.status_code == 201, resp.text
    return resp.json()  # type: ignore[no-any-return]


def wait_job(
    gateway: httpx.Client, headers: dict[str, str], job_id: str, timeout_s: float = 120, until: tuple[str, ...] = ()
) -> dict[str, Any]:
    ends = until or ("succeeded", "failed", "cancelled")
    deadline = time.monotonic() + timeout_s
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        resp = gateway.get(f"{API}/generation-jobs/{job_id}", headers=headers)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        if body["status"] in ends:
            return body
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} did not reach {ends} in {timeout_s} s: {body}")


def all_cases(gateway: httpx.Client, headers: dict[str, str], platform: str, problem_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 500}
        if cursor:
            params["cursor"] = cursor
        resp = gateway.get(f"{API}/problems/{platform}/{problem_id}/testcases", params=params, headers=headers)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        items.extend(body["items"])
        cursor = body.get("next_cursor")
        if not cursor:
            return items


def run_python(code: str, stdin: bytes) -> bytes:
    """Run one of the tests' own (trusted, constant) Python generators in this process: quick."""
    out = io.StringIO()
    saved = sys.stdin
    sys.stdin = io.StringIO(stdin.decode())
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(code, "<generator>", "exec"), {"__name__": "__main__"})
    finally:
        sys.stdin = saved
    return out.getvalue().encode()


def expected_inputs(code: str, seed: int, counts: dict[str, int]) -> list[bytes]:
    """The inputs a job must produce from its seed, computed here by running the (Python) generator
    directly with the same stdins and the same re-roll rule."""
    total = sum(counts.values())
    seen: set[str] = set()
    out: list[bytes] = []
    for i in range(total):
        for reroll in range(MAX_REROLLS + 1):
            data = run_python(code, generator_stdin(seed, counts, i, reroll))
            if input_digest(data) not in seen:
                break
        else:
            raise AssertionError("the generator cannot make distinct inputs")
        seen.add(input_digest(data))
        out.append(data)
    return out


def sse_events(gateway: httpx.Client, headers: dict[str, str], job_id: str) -> list[tuple[str, Any]]:
    events: list[tuple[str, Any]] = []
    with gateway.stream("GET", f"{API}/generation-jobs/{job_id}/events", headers=headers, timeout=180) as resp:
        assert resp.status_code == 200, resp.read()
        assert resp.headers["content-type"].startswith("text/event-stream")
        name = None
        for line in resp.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: ") and name:
                events.append((name, json.loads(line[6:])))
    return events
