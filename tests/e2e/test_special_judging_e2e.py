"""A problem with a special checker and an interactive problem, through the gateway.

The registrar sends the checker (or interactor) with the problem; anyone else sees only that
the problem has one. Any valid answer is accepted, an invalid one is WA; a checker that crashes
makes the submission IE (its charge refunded) and shows on the problem for its registrar.
The interactive guessing game accepts a binary search and refuses a linear scan.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest
from support.generation_tools import wait_job

from algoitny_accounts.settings import AccountsSettings
from algoitny_shared import tokens

pytestmark = pytest.mark.e2e

API = "/api/v1"
PLATFORM = "e2especial"
CHECKER = """import sys
n = int(open(sys.argv[1]).read())
try:
    a, b = map(int, open(sys.argv[2]).read().split())
except ValueError:
    sys.exit(2)
if a < 0 or b < 0 or a + b != n:
    print(f"wrong answer: {a} + {b} != {n}", file=sys.stderr)
    sys.exit(1)
"""
CRASHING_CHECKER = "#include <signal.h>\nint main(){raise(SIGSEGV);return 0;}"
INTERACTOR = """import sys
secret = int(open(sys.argv[1]).read())
for queries in range(11):
    line = sys.stdin.readline().split()
    if not line:
        sys.exit(2)
    if line[0] == "!":
        sys.exit(0 if int(line[1]) == secret else 1)
    if queries == 10:
        break
    x = int(line[1])
    print("=" if x == secret else ("<" if secret < x else ">"), flush=True)
print("too many queries", file=sys.stderr)
sys.exit(1)
"""
BINARY_SEARCH = (
    "lo, hi = 1, 1000\nwhile True:\n    mid = (lo + hi) // 2\n    print('?', mid, flush=True)\n    r = input()\n"
    "    if r == '=':\n        print('!', mid, flush=True)\n        break\n    if r == '<':\n        hi = mid - 1\n"
    "    else:\n        lo = mid + 1"
)
LINEAR_SCAN = (
    "for x in range(1, 1001):\n    print('?', x, flush=True)\n    if input() == '=':\n"
    "        print('!', x, flush=True)\n        break"
)


def _headers(user_id: str, **claims: Any) -> dict[str, str]:
    keyring = AccountsSettings().signing_keys()
    token, _ = tokens.issue(keyring, user_id=user_id, role="user", ttl_s=900, **claims)
    return {"authorization": f"Bearer {token}"}


def _submit(
    gateway: httpx.Client, headers: dict[str, str], problem_id: str, code: str, language: str = "python3"
) -> Any:
    body = {"platform": PLATFORM, "problem_id": problem_id, "language": language, "code": code}
    resp = gateway.post(f"{API}/executions", json=body, headers=headers)
    assert resp.status_code == 202, resp.text
    execution_id = resp.json()["execution_id"]
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        found = gateway.get(f"{API}/executions/{execution_id}", headers=headers).json()
        if found["status"] == "completed":
            return found
        time.sleep(0.2)
    raise AssertionError(f"execution {execution_id} not judged: {found}")


def _used(gateway: httpx.Client, headers: dict[str, str]) -> int:
    body = gateway.get(f"{API}/me/usage", headers=headers).json()
    return int(next(a for a in body["actions"] if a["action"] == "execution")["used"])


def _create(gateway: httpx.Client, registrar: dict[str, str], body: dict[str, Any]) -> str:
    problem_id = f"p{uuid.uuid4().hex[:8]}"
    resp = gateway.post(
        f"{API}/problems",
        json={"platform": PLATFORM, "problem_id": problem_id, "status": "completed", "time_limit_ms": 1000, **body},
        headers=registrar,
    )
    assert resp.status_code == 201, resp.text
    return problem_id


def test_checker_problem_accepts_any_valid_answer_and_reports_a_crashing_checker(
    gateway: httpx.Client, registrar_plan: str
) -> None:
    registrar = _headers(f"reg{uuid.uuid4().hex[:8]}", plan=registrar_plan, may_register=True)
    cases = [{"input": f"{n}\n", "output": f"0 {n}\n", "is_sample": n == 5} for n in (5, 10, 17)]
    problem_id = _create(
        gateway,
        registrar,
        {"title": "Split a number", "test_cases": cases, "checker_program": {"language": "python3", "code": CHECKER}},
    )
    public = gateway.get(f"{API}/problems/{PLATFORM}/{problem_id}").json()
    assert public["judge_programs"] and not public["interactive"]
    assert public["checker_program"] is None and "argv" not in str(public)
    mine = gateway.get(f"{API}/problems/{PLATFORM}/{problem_id}", headers=registrar).json()
    assert mine["checker_program"]["code"] == CHECKER

    # Generation checks the reference solution on the sample with the checker: "2 3" is not the
    # sample's "0 5", yet valid; the generated cases take the reference's answers.
    halves = "n = int(input())\nprint(n // 2, n - n // 2)"
    assert (
        gateway.patch(
            f"{API}/problems/{PLATFORM}/{problem_id}",
            json={"language": "python3", "reference_solution": halves},
            headers=registrar,
        ).status_code
        == 200
    )
    generator = "import random\nseed, size = input().split()\nprint(random.Random(int(seed)).randint(20, 10**6))"
    body = {"generator": {"language": "python3", "code": generator}, "counts": {"small": 3}, "seed": 7}
    resp = gateway.post(f"{API}/problems/{PLATFORM}/{problem_id}/generation-jobs", json=body, headers=registrar)
    assert resp.status_code == 201, resp.text
    job = wait_job(gateway, registrar, resp.json()["job_id"])
    assert job["status"] == "succeeded" and job["test_case_count"] == 4, job

    user = _headers(f"u{uuid.uuid4().hex[:8]}", plan="pro")
    assert _submit(gateway, user, problem_id, halves)["verdict"] == "AC"
    assert _submit(gateway, user, problem_id, "n = int(input())\nprint(n, 0)")["verdict"] == "AC"
    wrong = _submit(gateway, user, problem_id, "print(1, 1)")
    assert wrong["verdict"] == "WA" and "1 + 1 != 5" in wrong["tests"][0]["detail"]

    resp = gateway.patch(
        f"{API}/problems/{PLATFORM}/{problem_id}",
        json={"checker_program": {"language": "c", "code": CRASHING_CHECKER}},
        headers=registrar,
    )
    assert resp.status_code == 200, resp.text
    used = _used(gateway, user)
    failed = _submit(gateway, {**user, "idempotency-key": f"ie-{uuid.uuid4().hex}"}, problem_id, halves)
    assert failed["verdict"] == "IE", failed
    assert "checker" in failed["detail"] and not any(t["verdict"] == "WA" for t in failed["tests"])
    deadline = time.monotonic() + 30
    while _used(gateway, user) != used:  # the charge of a submission the problem failed is refunded
        assert time.monotonic() < deadline, "the IE charge was not refunded"
        time.sleep(0.3)
    while True:  # the registrar sees the failure on the problem
        health = gateway.get(f"{API}/problems/{PLATFORM}/{problem_id}", headers=registrar).json()["judge_health"]
        if health is not None:
            break
        assert time.monotonic() < deadline, "the checker failure did not reach the problem"
        time.sleep(0.3)
    assert health["program"] == "checker" and "SIGSEGV" in health["detail"]
    assert health["execution_id"] == failed["execution_id"]
    assert gateway.get(f"{API}/problems/{PLATFORM}/{problem_id}").json()["judge_health"] is None


def test_interactive_guessing_game(gateway: httpx.Client, registrar_plan: str) -> None:
    registrar = _headers(f"reg{uuid.uuid4().hex[:8]}", plan=registrar_plan, may_register=True)
    cases = [{"input": f"{n}\n", "output": f"{n}\n", "is_sample": n == 1} for n in (1, 777)]
    problem_id = _create(
        gateway,
        registrar,
        {"title": "Guess the number", "test_cases": cases, "interactor": {"language": "python3", "code": INTERACTOR}},
    )
    assert gateway.get(f"{API}/problems/{PLATFORM}/{problem_id}").json()["interactive"]
    both = gateway.patch(
        f"{API}/problems/{PLATFORM}/{problem_id}",
        json={"checker_program": {"language": "python3", "code": CHECKER}},
        headers=registrar,
    )
    assert both.status_code == 422 and both.headers["content-type"].startswith("application/problem+json")
    user = _headers(f"u{uuid.uuid4().hex[:8]}", plan="pro")
    ok = _submit(gateway, user, problem_id, BINARY_SEARCH)
    assert ok["verdict"] == "AC" and ok["passed"] == 2, ok
    slow = _submit(gateway, user, problem_id, LINEAR_SCAN)
    assert slow["verdict"] == "WA" and slow["passed"] == 1
    assert "too many queries" in slow["tests"][1]["detail"]
