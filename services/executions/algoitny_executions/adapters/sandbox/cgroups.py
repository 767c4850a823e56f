"""cgroup v1 memory/pids limits for one worker slot, where the host lets us write them.

These machines have a hybrid layout whose v1 ``memory`` and ``pids`` controllers are
writable by root (the v2 side has no controllers). Each slot gets
``<controller>/algoitny-judge/<name>``; the launcher writes its own pid into both
``cgroup.procs`` files before it drops privileges and exec's bubblewrap, so the whole
box (runner, compilers, programs, tmpfs pages) is accounted and capped. Per-test limits
stay the rlimits set by the runner; the cgroup is the box-wide backstop (an OOM kill
it causes is reported as MLE). When the controllers are not writable, :func:`detect`
returns None and the rlimits alone apply.
"""

from __future__ import annotations

import contextlib
import errno
import os
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
PARENT = "algoitny-judge"


def _write(path: Path, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def _read(path: Path) -> str:
    with open(path) as f:
        return f.read()


@dataclass
class CgroupSlot:
    memory: Path
    pids: Path

    @property
    def procs_files(self) -> list[str]:
        return [str(self.memory / "cgroup.procs"), str(self.pids / "cgroup.procs")]

    def prepare(self, memory_bytes: int, pids: int) -> None:
        """Set the box limits (the cgroup is empty between runs) and reset the peak."""
        self._kill_leftovers()
        _write(self.memory / "memory.limit_in_bytes", str(memory_bytes))
        with contextlib.suppress(OSError):
            _write(self.memory / "memory.max_usage_in_bytes", "0")
        _write(self.pids / "pids.max", str(pids))

    def oom_kills(self) -> int:
        for line in _read(self.memory / "memory.oom_control").splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0

    def peak_bytes(self) -> int:
        return int(_read(self.memory / "memory.max_usage_in_bytes"))

    def _kill_leftovers(self) -> None:
        import signal

        for pid_text in _read(self.memory / "cgroup.procs").split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid_text), signal.SIGKILL)

    def remove(self) -> None:
        for path in (self.memory, self.pids):
            with contextlib.suppress(OSError):
                path.rmdir()


def detect(name: str, root: Path = CGROUP_ROOT) -> CgroupSlot | None:
    """The slot's cgroups, created if the v1 memory and pids controllers are writable."""
    memory_root, pids_root = root / "memory", root / "pids"
    if not (memory_root / "memory.limit_in_bytes").exists() or not (pids_root / "pids.max").exists():
        return None
    try:
        slot = CgroupSlot(memory=memory_root / PARENT / name, pids=pids_root / PARENT / name)
        for path in (slot.memory, slot.pids):
            path.mkdir(parents=True, exist_ok=True)
        # The controllers must really accept limits (a read-only or delegated tree does not).
        _write(slot.pids / "pids.max", "max")
        _read(slot.memory / "memory.oom_control")
        return slot
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOENT):
            return None
        raise
