"""Test-case generation through the gateway: a registrar's generator and a Gemini-written one
(the local fake Gemini) each produce 200 cases in the judge's sandbox; the set is stored as a
new version and judges a correct submission AC. Hostile or broken generators, a reference
solution that fails its samples, a count over the cap and a deleted problem each end with a
clear reason and leave the current test set untouched.

The module restarts the problems service and its generation process with a Gemini key pointing at
the fake, and gives them back their usual settings afterwards.
"""

from __future__ import annotations

import json
import signal
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support.e2e_config import REGISTRAR_PLAN
from support.fake_gemini import FakeGemini, Step, answer, serve_gemini
from support.generation_tools import (
    AB_GENERATOR,
    AB_SOLUTION_CPP,
    AB_SOLUTION_PY,
    API,
    COUNTS_200,
    all_cases,
    expected_inputs,
    make_problem,
    sse_events,
    wait_job,
)

from algoitny_accounts.settings import AccountsSettings
from algoitny_devtools.platform import Platform
from algoitny_shared import tokens

pytestmark = pytest.mark.e2e

GEMINI_ENV = {
    "ALGOITNY_GEMINI_API_KEY": "fake-key",
    "ALGOITNY_GEMINI_MODEL": "gemini-fake",
    "ALGOITNY_GEMINI_MAX_ATTEMPTS": "2",
    "ALGOITNY_GEMINI_BACKOFF_S": "0.01",
    # Hostile generators are stopped quickly: 300 ms (Python: 3 x 300 + 500 ms CPU), 1 MB of output.
    "ALGOITNY_GENERATION_TIME_LIMIT_MS": "300",
    "ALGOITNY_GENERATION_MAX_INPUT_KB": "1024",
    "ALGOITNY_GENERATION_POLL_INTERVAL_S": "0.2",
    "ALGOITNY_GENERATION_MAX_CASES": "500",
}

# The API refuses LLM authoring without a key; the generation process does the authoring.
GENERATION_PROCESSES = ("problems", "problems-generation")


def registrar_headers() -> dict[str, str]:
    """A user whose plan may register problems (not an admin)."""
    keyring = AccountsSettings().signing_keys()
    token, _ = tokens.issue(
        keyring, user_id=f"reg{uuid.uuid4().hex[:8]}", role="user", plan=REGISTRAR_PLAN, ttl_s=900, may_register=True
    )
    return {"authorization": f"Bearer {token}"}


def user_headers() -> dict[str, str]:
    keyring = AccountsSettings().signing_keys()
    token, _ = tokens.issue(keyring, user_id=f"u{uuid.uuid4().hex[:8]}", role="user", plan="pro", ttl_s=900)
    return {"authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def gemini(platform: Platform, registrar_plan: str) -> Iterator[FakeGemini]:
    fake = FakeGemini()
    with serve_gemini(fake):
        for name in GENERATION_PROCESSES:
            platform.kill(name, signal.SIGTERM)
            platform.start(name, {**GEMINI_ENV, "ALGOITNY_GEMINI_BASE_URL": fake.url})
        platform.wait_ready(list(GENERATION_PROCESSES), timeout_s=60)
        try:
            yield fake
        finally:
            for name in GENERATION_PROCESSES:
                platform.kill(name, signal.SIGTERM)
                platform.start(name)
            platform.wait_ready(list(GENERATION_PROCESSES), timeout_s=60)


def submit_and_wait(gateway: httpx.Client, platform: str, problem_id: str, code: str) -> dict[str, Any]:
    headers = user_headers()
    body = {"platform": platform, "problem_id": problem_id, "language": "cpp17", "code": code}
    resp = gateway.post(f"{API}/executions", json=body, headers=headers)
    assert resp.status_code == 202, resp.text
    execution_id = resp.json()["execution_id"]
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        result = gateway.get(f"{API}/executions/{execution_id}", headers=headers).json()
        if result["status"] == "completed":
            return result  # type: ignore[no-any-return]
        time.sleep(0.3)
    raise AssertionError(f"execution {execution_id} not judged")


def test_registrar_generator_makes_200_cases_that_judge_a_submission(gateway: httpx.Client, gemini: FakeGemini) -> None:
    reg = registrar_headers()
    pid = f"g{uuid.uuid4().hex[:8]}"
    make_problem(gateway, reg, "e2egen", pid, language="python", reference_solution=AB_SOLUTION_PY)
    body = {"generator": {"language": "python3", "code": AB_GENERATOR}, "counts": COUNTS_200, "seed": 20260101}
    resp = gateway.post(f"{API}/problems/e2egen/{pid}/generation-jobs", json=body, headers=reg)
    assert resp.status_code == 201, resp.text
    job = resp.json()
    assert job["status"] == "pending" and job["total"] == 200 and job["generator_author"]
    assert resp.headers["location"] == f"{API}/generation-jobs/{job['job_id']}"

    events = sse_events(gateway, reg, job["job_id"])
    names = [n for n, _ in events]
    assert names[-1] == "succeeded", events
    assert "progress" in names and events[-1][1]["done"] == 200
    done = wait_job(gateway, reg, job["job_id"])
    assert done["status"] == "succeeded" and done["done"] == 200 and done["attempts"] == 1
    assert done["test_case_count"] == 202 and done["solution_source"] == "problem"

    problem = gateway.get(f"{API}/problems/e2egen/{pid}").json()
    assert problem["test_set_version"] == done["test_set_version"] and problem["test_case_count"] == 202
    cases = all_cases(gateway, reg, "e2egen", pid)
    assert [c["ordinal"] for c in cases] == list(range(1, 203))
    assert [c["is_sample"] for c in cases[:2]] == [True, True] and not any(c["is_sample"] for c in cases[2:])
    generated = [c["input"].encode() for c in cases[2:]]
    assert len({" ".join(x.split()) for x in map(bytes.decode, generated)}) == 200  # all distinct
    assert generated == expected_inputs(AB_GENERATOR, 20260101, COUNTS_200)  # reproducible from the seed
    for case in cases[2:]:
        a, b = map(int, case["input"].split())
        assert int(case["output"]) == a + b

    result = submit_and_wait(gateway, "e2egen", pid, AB_SOLUTION_CPP)
    assert result["verdict"] == "AC" and result["total"] == 202 and result["passed"] == 202
    assert result["test_set_version"] == done["test_set_version"]

    listed = gateway.get(f"{API}/generation-jobs", params={"platform": "e2egen", "problem_id": pid}, headers=reg)
    assert listed.status_code == 200 and [j["job_id"] for j in listed.json()["items"]] == [job["job_id"]]
    by_status = gateway.get(f"{API}/generation-jobs", params={"status": "succeeded", "limit": 100}, headers=reg)
    assert job["job_id"] in [j["job_id"] for j in by_status.json()["items"]]
    # succeeded jobs are neither cancelled nor retried
    assert gateway.post(f"{API}/generation-jobs/{job['job_id']}/cancel", headers=reg).status_code == 409
    assert gateway.post(f"{API}/generation-jobs/{job['job_id']}/retry", headers=reg).status_code == 409


def test_gemini_writes_generator_and_solution_that_make_200_cases(gateway: httpx.Client, gemini: FakeGemini) -> None:
    reg = registrar_headers()
    pid = f"l{uuid.uuid4().hex[:8]}"
    make_problem(gateway, reg, "e2egen", pid)  # no reference solution: Gemini writes it too
    gemini.requests.clear()
    gemini.script = [
        Step(body=answer(json.dumps({"language": "python3", "code": AB_GENERATOR}))),
        Step(body=answer(json.dumps({"language": "cpp", "code": AB_SOLUTION_CPP}))),
    ]
    body = {"llm_generator": True, "llm_solution": True, "counts": COUNTS_200, "seed": 7}
    resp = gateway.post(f"{API}/problems/e2egen/{pid}/generation-jobs", json=body, headers=reg)
    assert resp.status_code == 201, resp.text
    done = wait_job(gateway, reg, resp.json()["job_id"], timeout_s=150)
    assert done["status"] == "succeeded", done
    assert done["generator_source"] == "llm" and done["generator_author"] == "gemini-fake"
    assert done["solution_source"] == "llm" and done["solution_language"] == "cpp17"
    assert gemini.calls == 2
    prompts = gemini.prompts()
    assert "GENERATOR" in prompts[0] and "0 <= a, b <= 10^18" in prompts[0] and "40 2" in prompts[0]
    assert "REFERENCE SOLUTION" in prompts[1]
    # the authored solution passed the samples and became the problem's reference solution
    problem = gateway.get(f"{API}/problems/e2egen/{pid}", headers=reg).json()
    assert problem["language"] == "cpp17" and problem["reference_solution"] == AB_SOLUTION_CPP
    assert problem["test_case_count"] == 202
    result = submit_and_wait(gateway, "e2egen", pid, AB_SOLUTION_CPP)
    assert result["verdict"] == "AC" and result["total"] == 202


HOSTILE = {
    "never terminates": ("while True:\n    pass\n", "TLE"),
    "prints nothing": ("input()\n", "printed nothing"),
    "prints gigabytes": ("import sys\ninput()\nwhile True:\n    sys.stdout.write('9' * 65536)\n", "OLE"),
    "crashes": ("input()\nraise SystemExit(3)\n", "RE"),
    "tries to escape": (
        "import socket\ninput()\ns = socket.create_connection(('1.1.1.1', 80), timeout=1)\nprint(1, 2)\n",
        "RE",
    ),
    "writes outside its box": ("input()\nopen('/usr/pwned', 'w').write('x')\nprint(1, 2)\n", "RE"),
}


def test_bad_generators_and_solutions_end_with_a_reason_and_store_nothing(
    gateway: httpx.Client, gemini: FakeGemini
) -> None:
    reg = registrar_headers()
    pid = f"b{uuid.uuid4().hex[:8]}"
    before = make_problem(gateway, reg, "e2egen", pid, language="python3", reference_solution=AB_SOLUTION_PY)
    small = {"small": 3}
    jobs: dict[str, str] = {}
    for name, (code, _) in HOSTILE.items():
        body = {"generator": {"language": "python3", "code": code}, "counts": small}
        resp = gateway.post(f"{API}/problems/e2egen/{pid}/generation-jobs", json=body, headers=reg)
        assert resp.status_code == 201, resp.text
        jobs[name] = resp.json()["job_id"]
    for name, (_, reason) in HOSTILE.items():
        done = wait_job(gateway, reg, jobs[name], timeout_s=120)
        assert done["status"] == "failed", (name, done)
        assert "generator" in done["error"] and reason in done["error"], (name, done["error"])
        assert done["test_set_version"] is None
    # a reference solution that fails its samples
    wrong = f"w{uuid.uuid4().hex[:8]}"
    make_problem(gateway, reg, "e2egen", wrong, language="python3", reference_solution="print(0)\n")
    body = {"generator": {"language": "python3", "code": AB_GENERATOR}, "counts": small}
    resp = gateway.post(f"{API}/problems/e2egen/{wrong}/generation-jobs", json=body, headers=reg)
    done = wait_job(gateway, reg, resp.json()["job_id"])
    assert done["status"] == "failed" and "fails sample 1: WA" in done["error"], done
    # nothing half-stored: both problems keep their original test set
    for problem_id in (pid, wrong):
        after = gateway.get(f"{API}/problems/e2egen/{problem_id}").json()
        assert after["test_set_version"] == before["test_set_version"] and after["test_case_count"] == 2

    # over the cap, an unknown or deleted problem, malformed bodies, callers without the right
    over = {"generator": {"language": "python3", "code": AB_GENERATOR}, "counts": {"max": 501}}
    resp = gateway.post(f"{API}/problems/e2egen/{pid}/generation-jobs", json=over, headers=reg)
    assert resp.status_code == 422 and resp.headers["content-type"].startswith("application/problem+json")
    assert resp.json()["reason"] == "over_cap"
    ok_body = {"generator": {"language": "python3", "code": AB_GENERATOR}, "counts": small}
    assert gateway.post(f"{API}/problems/e2egen/nope404/generation-jobs", json=ok_body, headers=reg).status_code == 404
    assert gateway.delete(f"{API}/problems/e2egen/{wrong}", headers=reg).status_code == 200
    resp = gateway.post(f"{API}/problems/e2egen/{wrong}/generation-jobs", json=ok_body, headers=reg)
    assert resp.status_code == 409 and resp.json()["reason"] == "problem_deleted"
    for bad in (
        {"counts": small},  # no generator
        {**ok_body, "llm_generator": True},  # both
        {**ok_body, "counts": {}},  # nothing asked
        {**ok_body, "generator": {"language": "cobol", "code": "x"}},
        {**ok_body, "counts": {"huge": 3}},
        {**ok_body, "seed": -1},
    ):
        resp = gateway.post(f"{API}/problems/e2egen/{pid}/generation-jobs", json=bad, headers=reg)
        assert resp.status_code == 422, (bad, resp.text)
    assert gateway.post(f"{API}/problems/e2egen/{pid}/generation-jobs", json=ok_body).status_code == 401
    resp = gateway.post(f"{API}/problems/e2egen/{pid}/generation-jobs", json=ok_body, headers=user_headers())
    assert resp.status_code == 403
    assert gateway.get(f"{API}/generation-jobs/{jobs['crashes']}", headers=user_headers()).status_code == 403
    assert gateway.get(f"{API}/generation-jobs/NOTAJOBID", headers=reg).status_code in (404, 422)
    everything = gateway.get(f"{API}/generation-jobs", params={"limit": 100}, headers=reg)
    assert everything.status_code == 200 and jobs["crashes"] in [j["job_id"] for j in everything.json()["items"]]
    bad_cursor = gateway.get(f"{API}/generation-jobs", params={"status": "failed", "cursor": "x"}, headers=reg)
    assert bad_cursor.status_code == 400


def test_cancel_then_retry_a_running_job(gateway: httpx.Client, gemini: FakeGemini) -> None:
    reg = registrar_headers()
    pid = f"c{uuid.uuid4().hex[:8]}"
    make_problem(gateway, reg, "e2egen", pid, language="python3", reference_solution=AB_SOLUTION_PY)
    body = {"generator": {"language": "python3", "code": AB_GENERATOR}, "counts": {"large": 150}, "seed": 5}
    job = gateway.post(f"{API}/problems/e2egen/{pid}/generation-jobs", json=body, headers=reg).json()
    wait_job(gateway, reg, job["job_id"], until=("running", "succeeded"))
    resp = gateway.post(f"{API}/generation-jobs/{job['job_id']}/cancel", headers=reg)
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "cancelled"
    time.sleep(1.0)
    assert gateway.get(f"{API}/problems/e2egen/{pid}").json()["test_case_count"] == 2  # nothing became current
    resp = gateway.post(f"{API}/generation-jobs/{job['job_id']}/retry", headers=reg)
    assert resp.status_code == 200 and resp.json()["status"] == "pending"
    done = wait_job(gateway, reg, job["job_id"], timeout_s=120)
    assert done["status"] == "succeeded" and done["test_case_count"] == 152
