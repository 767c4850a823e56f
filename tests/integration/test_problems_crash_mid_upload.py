"""Kill the writer midway through a 1,000-case upload (SIGKILL from a fault point, in a child
process): the old set stays current and complete; a retry with the same Idempotency-Key
completes the same version exactly once; an upload nobody retries is garbage-collected."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support.problems_tools import CallRecorder, OutboxSpy

from algoitny_problems.adapters.control import idem_pk
from algoitny_problems.adapters.test_cases import location
from algoitny_problems.bootstrap import Container, build
from algoitny_problems.domain.models import NewProblem, TestCaseIn, TestSetIn
from algoitny_problems.service_layer.test_sets import CRASH_MID_TEST_SET_UPLOAD
from algoitny_problems.settings import ProblemsSettings
from algoitny_shared.events import REGISTRY

pytestmark = pytest.mark.integration
SCRIPT = Path(__file__).resolve().parents[1] / "support" / "crash_upload.py"
CASES = 1000


@pytest.fixture(scope="module")
def c(provisioned: dict[str, Any]) -> Iterator[Container]:
    container = build(ProblemsSettings(consumers_enabled=False, test_set_stale_upload_s=120))
    recorder = CallRecorder()
    recorder.attach(container.dynamodb, "dynamodb")
    yield container
    recorder.detach()


@pytest.fixture(scope="module")
def spy(c: Container) -> Iterator[OutboxSpy]:
    watching = OutboxSpy(c.outbox, c.dynamodb)
    yield watching
    watching.detach()


def _old_set() -> TestSetIn:
    return TestSetIn(test_cases=[TestCaseIn(input=f"{i} old\n", output=f"{i}old\n") for i in range(1, 51)])


def _new_set() -> TestSetIn:
    return TestSetIn(test_cases=[TestCaseIn(input=f"{i} new\n", output=f"{i}new\n") for i in range(1, CASES + 1)])


def _crash(platform: str, pid: str, key: str) -> None:
    env = {**os.environ, "ALGOITNY_FAULT_POINTS": CRASH_MID_TEST_SET_UPLOAD}
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), platform, pid, key, str(CASES)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, proc.stdout, proc.stderr[-2000:])


async def _assert_old_set_current(c: Container, platform: str, pid: str) -> None:
    problem = await c.service.load_visible(platform, pid, can_manage=False)
    assert problem.test_set_version == 1 and problem.test_case_count == 50
    full = await c.test_sets.with_test_cases(problem, can_manage=False)
    assert [t.output for t in full.test_cases or []] == [f"{i}old\n" for i in range(1, 51)]


async def test_crash_midway_keeps_old_set_and_same_key_completes_once(c: Container, spy: OutboxSpy) -> None:
    platform, pid = f"cr{uuid.uuid4().hex[:6]}", "1000"
    await c.service.create(NewProblem(platform=platform, problem_id=pid, title="Crash", status="completed"), "admin")
    await c.test_sets.write(platform, pid, _old_set(), "replace")  # version 1, 50 cases
    key = f"upload-{uuid.uuid4().hex}"

    _crash(platform, pid, key)

    await _assert_old_set_current(c, platform, pid)
    problem = await c.service.load_visible(platform, pid, can_manage=False)
    record = await c.control.get(idem_pk(platform, pid, problem.incarnation, key))
    assert record is not None and record["state"] == "in_progress"
    crashed_version = int(record["version"])
    loc = location(platform, pid, problem.incarnation)
    partial, _ = await c.store.query_version(loc, crashed_version, keys_only=True)
    assert 0 < len(partial) < CASES, len(partial)  # it really died midway

    result = await c.test_sets.write(platform, pid, _new_set(), "replace", key)
    assert not result.replayed and result.test_set_version == crashed_version and result.test_case_count == CASES
    again = await c.test_sets.write(platform, pid, _new_set(), "replace", key)
    assert again.replayed and again.test_set_version == crashed_version

    problem = await c.service.load_visible(platform, pid, can_manage=False)
    full = await c.test_sets.with_test_cases(problem, can_manage=False)
    assert [t.output for t in full.test_cases or []] == [f"{i}new\n" for i in range(1, CASES + 1)]
    events = await spy.events(c.dynamodb, problem.key)
    flips = [REGISTRY.decode(e) for e in events if e.event_type == "problems.TestSetReplaced"]
    assert [(f.test_set_version, f.test_case_count) for f in flips] == [(1, 50), (crashed_version, CASES)]


async def test_crash_without_retry_is_garbage_collected(c: Container) -> None:
    platform, pid = f"cg{uuid.uuid4().hex[:6]}", "2000"
    await c.service.create(NewProblem(platform=platform, problem_id=pid, title="Crash GC", status="completed"), "admin")
    await c.test_sets.write(platform, pid, _old_set(), "replace")
    _crash(platform, pid, f"gc-{uuid.uuid4().hex}")

    await _assert_old_set_current(c, platform, pid)
    problem = await c.service.load_visible(platform, pid, can_manage=False)
    loc = location(platform, pid, problem.incarnation)
    partial_version = problem.test_set_seq
    assert partial_version == 2 and (await c.store.query_version(loc, partial_version, keys_only=True))[0]

    # Not yet stale: GC leaves an upload that may still be running alone.
    await c.gc.run_once(datetime.now(UTC))
    assert (await c.store.query_version(loc, partial_version, keys_only=True))[0]
    while (await c.gc.run_once(datetime.now(UTC) + timedelta(seconds=3600))).visited:
        pass
    assert (await c.store.query_version(loc, partial_version, keys_only=True))[0] == []
    await _assert_old_set_current(c, platform, pid)
