"""Issue 23 item 7: the judge refuses to start where neither cgroup v2 nor v1 can cap a box.

Before, detection failed without a word and boxes ran with rlimits only (no box-wide memory
or pids cap). Now the judge does not start: a clear ERROR log line, readiness false, and the
process never joins the judge-workers group, so its jobs go to workers that can judge them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import shutil
import uuid
from pathlib import Path

import pytest
from support.judge_env import TEST_UID_BASE, make_judge

from algoitny_executions.bootstrap import build
from algoitny_executions.entrypoints.http import make_app
from algoitny_executions.service_layer.judge import JudgeUnavailable
from algoitny_executions.settings import ExecutionsSettings

pytestmark = pytest.mark.integration


def _no_cgroups(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "cgroupfs"
    (root / "unified").mkdir(parents=True)
    (root / "unified" / "cgroup.controllers").write_text("hugetlb\n")  # v2 without memory/pids, no v1
    self_cgroup = tmp_path / "self-cgroup"
    self_cgroup.write_text("0::/\n")
    return root, self_cgroup


def test_the_judge_does_not_start_without_usable_cgroups(tmp_path: Path) -> None:
    root, self_cgroup = _no_cgroups(tmp_path)
    with pytest.raises(JudgeUnavailable, match="no usable cgroups"):
        make_judge(slots=1, cgroup_root=root, proc_self_cgroup=self_cgroup)


def test_the_service_says_why_and_is_not_ready(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root, self_cgroup = _no_cgroups(tmp_path)
    settings = ExecutionsSettings(judge_work_root=str(tmp_path / "work"), judge_uid_base=TEST_UID_BASE + 100)
    c = build(settings)
    if c.judge.config is None:
        pytest.fail("bubblewrap is required for this test")
    c.judge.config = dataclasses.replace(
        c.judge.config, cgroup_root=root, proc_self_cgroup=self_cgroup, cgroup_prefix=f"t-{uuid.uuid4().hex[:8]}"
    )
    app = make_app(c)
    joined: list[str] = []
    c.consumer.register = lambda: joined.append(c.consumer.group)  # type: ignore[method-assign]
    try:
        with caplog.at_level(logging.ERROR):
            c.judge.start()
            c.join_workers()
        assert c.judge.get() is None
        assert any(
            r.levelno == logging.ERROR and "the judge refuses to start" in r.getMessage() and "cgroup" in r.getMessage()
            for r in caplog.records
        ), caplog.text
        failures = []
        for check in app.state.readiness:
            if getattr(check, "__name__", "") == "judge":
                try:
                    asyncio.run(check())
                except RuntimeError as exc:
                    failures.append(str(exc))
        assert failures and "no usable cgroups" in failures[0]
        # never joined the judge-workers group (its partitions go to workers that can judge)
        assert c.worker_wanted and not joined, "a judge that refused to start consumes jobs"
    finally:
        shutil.rmtree(tmp_path / "work", ignore_errors=True)


def test_this_host_judges_with_box_wide_cgroups() -> None:
    judge, root = make_judge(slots=1)
    try:
        (sandbox,) = judge.sandboxes
        assert sandbox.cgroup is not None and sandbox.cgroup.version in (1, 2)
    finally:
        judge.close()
        shutil.rmtree(root, ignore_errors=True)
