"""A real judge (bubblewrap sandbox) for integration tests, in a private work root.

Slot uids start at 61000 so a test run never shares uids (RLIMIT_NPROC accounting) or
cgroups with a worker running on the same host (60000+); each pytest-xdist worker of a parallel
session has a range of its own (61000, 61200, ...), so one worker's fork bomb never counts
against, and its checks never see, another worker's boxes.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from algoitny_executions.domain.judging import JudgeOptions, JudgeReport, Limits, Submission, TestCase, TestSet
from algoitny_executions.service_layer.judge import Judge, JudgeConfig


def _worker_index() -> int:
    found = re.fullmatch(r"gw(\d+)", os.environ.get("PYTEST_XDIST_WORKER", ""))
    return int(found.group(1)) if found else 0


TEST_UID_BASE = 61000 + 200 * _worker_index()


def make_judge(slots: int = 2, **config: Any) -> tuple[Judge, Path]:
    if shutil.which("bwrap") is None:
        raise RuntimeError("bubblewrap is required: `make system-deps` (or apt-get install -y bubblewrap)")
    name = uuid.uuid4().hex[:10]
    root = Path("/var/tmp/algoitny-judge-test") / name
    cfg = JudgeConfig(
        work_root=root,
        slots=slots,
        uid_base=TEST_UID_BASE,
        cgroup_prefix=f"test-{name}",
        compile_time_limit_ms=config.pop("compile_time_limit_ms", 3000),
        **config,
    )
    return Judge(cfg), root


def judge_env(slots: int = 2, **config: Any) -> Iterator[Judge]:
    judge, root = make_judge(slots, **config)
    try:
        yield judge
    finally:
        judge.close()
        shutil.rmtree(root, ignore_errors=True)


def aplusb_tests(n: int = 3, key: str = "test/aplusb") -> TestSet:
    cases = tuple(TestCase(input=f"{i} {i * 7 + 1}\n".encode(), output=f"{i * 8 + 1}\n".encode()) for i in range(n))
    return TestSet(problem_key=key, version=1, cases=cases)


def judge_all(
    judge: Judge, jobs: dict[str, tuple[Submission, TestSet, Limits, JudgeOptions]]
) -> dict[str, JudgeReport]:
    """Judge many submissions concurrently over the judge's slots."""
    with ThreadPoolExecutor(max_workers=len(judge.sandboxes)) as pool:
        futures = {key: pool.submit(judge.judge, *job) for key, job in jobs.items()}
        return {key: f.result() for key, f in futures.items()}
