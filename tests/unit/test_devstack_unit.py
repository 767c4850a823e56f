"""The dev stack's records (tools/algoitny_devtools): a recorded PID is the stack's only while the
process carries the mirakuru mark the stack gave it, so a reused PID is never signalled."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from algoitny_devtools import registry
from algoitny_devtools.launcher import Stack
from algoitny_devtools.registry import GROUPS, PARTS, SERVICES, Config


def test_the_registry_names_every_part_and_service_once() -> None:
    assert GROUPS == {"infra": ("kafka", "opensearch", "moto"), "legacy": ("postgres", "connect")}
    assert {spec.name for spec in PARTS.values()} == set(PARTS)
    assert len({s.name for s in SERVICES}) == len(SERVICES) and len({s.port_offset for s in SERVICES}) == len(SERVICES)
    assert PARTS["connect"].requires == ("kafka",) and not PARTS["connect"].stateful


def test_a_recorded_pid_without_the_stack_mark_is_not_ours_and_is_not_stopped(tmp_path: Path) -> None:
    stack = Stack(Config(local_dir=tmp_path, lib_dir=tmp_path))
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / "run").mkdir()
        (tmp_path / "run" / "moto.json").write_text(json.dumps({"pid": stranger.pid, "marker": "0:not-its-mark"}))
        (tmp_path / "run" / "kafka.pid").write_text(str(stranger.pid))  # the shell launchers' record: cwd elsewhere
        assert stack.ours("moto") is None and stack.ours("kafka") is None
        assert stack.stop(["moto", "kafka"]) == []
        assert stranger.poll() is None
        assert not (tmp_path / "run" / "moto.json").exists()
    finally:
        stranger.kill()
        stranger.wait()


def test_a_kafka_cluster_id_never_starts_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    """kafka-storage's parser takes an id starting with "-" for an option (CI failed on one in 64
    fresh templates): such a draw is replaced by the next."""
    import uuid

    draws = iter([uuid.UUID(bytes=b"\xf8" + bytes(15)), uuid.UUID(bytes=b"\x04" + bytes(15))])
    monkeypatch.setattr(registry.uuid, "uuid4", lambda: next(draws))
    cluster_id = registry.kafka_cluster_id()
    assert not cluster_id.startswith("-") and len(cluster_id) == 22
    assert cluster_id.startswith("B")


# A Python process that imported the dev stack, exits: it spawns two sleepers, marked as an executor
# of some other process would mark them (a marker that merely contains the exiting process's pid)
# and as its own executor would (a marker starting with "<its pid>:"), prints their pids, exits.
_EXITER = """
import os, subprocess, sys
import algoitny_devtools.launcher  # imports mirakuru, whose exit hook sweeps for leftovers
from mirakuru.base import ENV_UUID
me = os.getpid()
def sleeper(marker):
    env = {**os.environ, ENV_UUID: marker}
    quiet = subprocess.DEVNULL
    sleep = [sys.executable, "-c", "import time; time.sleep(60)"]
    return subprocess.Popen(sleep, env=env, stdout=quiet, stderr=quiet).pid
print(sleeper(f"424242:0badc0de-{me}-4e5f"), sleeper(f"{me}:0badc0de-0000-4e5f"), flush=True)
"""


def test_an_exiting_process_kills_only_what_it_started_never_a_process_whose_mark_contains_its_pid() -> None:
    """mirakuru's exit hook SIGKILLs every process whose mark *contains* the exiting process's pid
    (a substring match: a tool with pid 1965 exiting killed a migration importer marked
    '...-8cd1965b'). The dev stack replaces it: only marks starting with '<pid>:' count."""
    import contextlib
    import os
    import signal
    import time

    done = subprocess.run([sys.executable, "-c", _EXITER], capture_output=True, text=True, timeout=60, check=True)
    bystander, leftover = (int(p) for p in done.stdout.split())
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and Path(f"/proc/{leftover}").exists():
            if Path(f"/proc/{leftover}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                break
            time.sleep(0.05)
        stat = Path(f"/proc/{bystander}/stat")
        assert stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z", "a bystander was killed"
        leftover_stat = Path(f"/proc/{leftover}/stat")
        assert not leftover_stat.exists() or leftover_stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"
    finally:
        for pid in (bystander, leftover):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
