"""Crash test: the worker generating a job is SIGKILLed midway; another worker takes the job over
once the lease expires, continues from the recorded progress and ends with exactly the requested
cases (no duplicate, no gap), identical to what the seed alone produces.

The module runs the workers as two generation processes (``python -m algoitny_problems.generation``;
the platform's own one restarted with a short lease, and a replica on a port of its own): the first
is killed, the second started afterwards.
"""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from support.generation_tools import (
    AB_GENERATOR,
    AB_SOLUTION_PY,
    API,
    all_cases,
    expected_inputs,
    make_problem,
    wait_job,
)

from algoitny_devtools.platform import Platform

pytestmark = pytest.mark.e2e

GENERATION = "problems-generation"
WORKER_ENV = {
    "ALGOITNY_GENERATION_LEASE_S": "3",
    "ALGOITNY_GENERATION_BATCH_SIZE": "40",
    # Inputs of a few bytes: a 1 MB cap lets a batch hold 40 cases within the worker's memory budget
    # (at the default 4 MB cap batches shrink to 10, and the job's 40 sandbox runs took ~150 s here).
    "ALGOITNY_GENERATION_MAX_INPUT_KB": "1024",
    "ALGOITNY_GENERATION_POLL_INTERVAL_S": "0.2",
    "ALGOITNY_GC_INTERVAL_S": "0",
}
COUNTS = {"small": 20, "medium": 60, "large": 60, "max": 60}
SEED = 99


@pytest.fixture(scope="module")
def without_generation(platform: Platform) -> Iterator[Platform]:
    platform.kill(GENERATION, signal.SIGTERM)
    try:
        yield platform
    finally:
        for name in [n for n in platform.procs if n.startswith(GENERATION)]:
            platform.kill(name, signal.SIGTERM)
        platform.start(GENERATION)
        platform.wait_ready([GENERATION], timeout_s=60)


def start_worker(platform: Platform, port: int | None = None) -> str:
    platform.start(GENERATION, WORKER_ENV, replica_port=port)
    name = GENERATION if port is None else f"{GENERATION}@{port}"
    platform.wait_ready([name], timeout_s=60)
    return name


def test_killed_worker_job_resumes_elsewhere_with_exactly_the_requested_cases(
    gateway: httpx.Client, admin_headers: dict[str, str], without_generation: Platform
) -> None:
    pid = f"k{uuid.uuid4().hex[:8]}"
    make_problem(gateway, admin_headers, "e2ecrash", pid, language="python3", reference_solution=AB_SOLUTION_PY)
    first = start_worker(without_generation)
    body = {"generator": {"language": "python3", "code": AB_GENERATOR}, "counts": COUNTS, "seed": SEED}
    resp = gateway.post(f"{API}/problems/e2ecrash/{pid}/generation-jobs", json=body, headers=admin_headers)
    assert resp.status_code == 201, resp.text
    job_id = resp.json()["job_id"]

    # Midway: some batches recorded, more to come.
    deadline = time.monotonic() + 90
    while True:
        job = gateway.get(f"{API}/generation-jobs/{job_id}", headers=admin_headers).json()
        if job["status"] == "running" and 40 <= job["done"] < 160:
            break
        assert job["status"] in ("pending", "running") and job["done"] < 160, job
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
    holder = job["lease_holder"]
    without_generation.kill(first, signal.SIGKILL)
    killed_at = gateway.get(f"{API}/generation-jobs/{job_id}", headers=admin_headers).json()
    assert killed_at["status"] == "running" and killed_at["attempts"] == 1

    start_worker(without_generation, without_generation.base_port + 9)
    done = wait_job(gateway, admin_headers, job_id, timeout_s=150)
    assert done["status"] == "succeeded", done
    assert done["attempts"] == 2 and done["done"] == 200 and done["test_case_count"] == 202
    assert holder and done["lease_holder"] is None

    problem = gateway.get(f"{API}/problems/e2ecrash/{pid}").json()
    assert problem["test_set_version"] == done["test_set_version"] and problem["test_case_count"] == 202
    cases = all_cases(gateway, admin_headers, "e2ecrash", pid)
    assert [c["ordinal"] for c in cases] == list(range(1, 203))  # exactly the cases: no duplicate, no gap
    generated = [c["input"].encode() for c in cases[2:]]
    assert len({b" ".join(x.split()) for x in generated}) == 200
    assert generated == expected_inputs(AB_GENERATOR, SEED, COUNTS)  # what the seed alone produces
    for case in cases[2:]:
        a, b = map(int, case["input"].split())
        assert int(case["output"]) == a + b
