"""Box-wide memory, pids and CPU limits for one worker slot: cgroup v2 or v1.

Each slot gets a cgroup of its own; the launcher writes its own pid into the slot's
``cgroup.procs`` file(s) before it drops privileges and exec's bubblewrap, so the whole
box (runner, compilers, programs, tmpfs pages) is accounted and capped. Per-test limits
stay the rlimits set by the runner; the cgroup is the box-wide backstop (an OOM kill it
causes is reported as MLE).

* cgroup v2 (current distributions, Kubernetes nodes; mounted at /sys/fs/cgroup, or at
  /sys/fs/cgroup/unified on hybrid hosts): under the process's own cgroup, a parent
  ``algoitny-judge`` with the memory, pids (and cpu, when offered) controllers enabled and
  one child per slot: ``memory.max`` (``memory.swap.max`` 0), ``pids.max``, ``cpu.max``;
  OOM kills counted from ``memory.events``, the peak from ``memory.peak`` (or
  ``memory.current`` on kernels without it). If the own cgroup holds processes (the
  no-internal-process rule), the service moves itself into a leaf ``algoitny-service``
  first, as a delegated service does.
* cgroup v1 (hybrid hosts whose memory and pids controllers are v1): ``<controller>/
  algoitny-judge/<name>``, ``memory.limit_in_bytes``, ``pids.max``, ``memory.oom_control``.

:func:`detect` raises :class:`CgroupsUnavailable` with the reasons when neither can be
used; the judge then refuses to start (it never runs boxes without box-wide caps unless
the operator turned cgroups off explicitly).
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_SELF_CGROUP = Path("/proc/self/cgroup")
PARENT = "algoitny-judge"
SERVICE_LEAF = "algoitny-service"
CPU_PERIOD_US = 100_000
_DENIED = (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOENT, errno.EBUSY, errno.EOPNOTSUPP, errno.EINVAL)


class CgroupsUnavailable(RuntimeError):
    """Neither cgroup v2 nor v1 offers writable memory and pids controllers here."""


def _write(path: Path, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def _read(path: Path) -> str:
    with open(path) as f:
        return f.read()


def _kill_pids(procs: Path) -> None:
    for pid_text in _read(procs).split():
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid_text), signal.SIGKILL)


class CgroupSlot(Protocol):
    version: int

    @property
    def procs_files(self) -> list[str]: ...

    def prepare(self, memory_bytes: int, pids: int, cpus: float | None = None) -> None:
        """Set the box limits (the cgroup is empty between runs) and kill any leftover."""

    def oom_kills(self) -> int: ...

    def peak_bytes(self) -> int: ...

    def pids(self) -> list[int]:
        """Processes in the slot's cgroup now (none between runs)."""

    def remove(self) -> None: ...


@dataclass
class CgroupV1Slot:
    memory: Path
    pids_dir: Path
    version: int = 1

    @property
    def procs_files(self) -> list[str]:
        return [str(self.memory / "cgroup.procs"), str(self.pids_dir / "cgroup.procs")]

    def prepare(self, memory_bytes: int, pids: int, cpus: float | None = None) -> None:
        _kill_pids(self.memory / "cgroup.procs")
        _write(self.memory / "memory.limit_in_bytes", str(memory_bytes))
        with contextlib.suppress(OSError):
            _write(self.memory / "memory.max_usage_in_bytes", "0")
        _write(self.pids_dir / "pids.max", str(pids))

    def oom_kills(self) -> int:
        for line in _read(self.memory / "memory.oom_control").splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0

    def peak_bytes(self) -> int:
        return int(_read(self.memory / "memory.max_usage_in_bytes"))

    def pids(self) -> list[int]:
        return [int(p) for p in _read(self.memory / "cgroup.procs").split()]

    def remove(self) -> None:
        for path in (self.memory, self.pids_dir):
            with contextlib.suppress(OSError):
                path.rmdir()


@dataclass
class CgroupV2Slot:
    path: Path
    cpu: bool = False
    version: int = 2

    @property
    def procs_files(self) -> list[str]:
        return [str(self.path / "cgroup.procs")]

    def prepare(self, memory_bytes: int, pids: int, cpus: float | None = None) -> None:
        kill = self.path / "cgroup.kill"
        if kill.exists():
            with contextlib.suppress(OSError):
                _write(kill, "1")
        _kill_pids(self.path / "cgroup.procs")
        _write(self.path / "memory.max", str(memory_bytes))
        with contextlib.suppress(OSError):
            _write(self.path / "memory.swap.max", "0")
        with contextlib.suppress(OSError):  # resets the peak on kernels that allow it (6.12+)
            _write(self.path / "memory.peak", "0")
        _write(self.path / "pids.max", str(pids))
        if self.cpu:
            quota = "max" if not cpus else str(max(1000, int(cpus * CPU_PERIOD_US)))
            _write(self.path / "cpu.max", f"{quota} {CPU_PERIOD_US}")

    def _events(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for line in _read(self.path / "memory.events").splitlines():
            key, _, value = line.partition(" ")
            with contextlib.suppress(ValueError):
                found[key] = int(value)
        return found

    def oom_kills(self) -> int:
        return self._events().get("oom_kill", 0)

    def peak_bytes(self) -> int:
        peak = self.path / "memory.peak"
        return int(_read(peak if peak.exists() else self.path / "memory.current"))

    def pids(self) -> list[int]:
        return [int(p) for p in _read(self.path / "cgroup.procs").split()]

    def remove(self) -> None:
        with contextlib.suppress(OSError):
            self.path.rmdir()


@dataclass
class _Attempt:
    reasons: list[str] = field(default_factory=list)


def _own_v2_path(proc_self_cgroup: Path) -> str | None:
    with contextlib.suppress(OSError):
        for line in _read(proc_self_cgroup).splitlines():
            hierarchy, _, rest = line.partition(":")
            controllers, _, path = rest.partition(":")
            if hierarchy == "0" and controllers == "":
                return path
    return None


def _v2_mount(root: Path) -> Path | None:
    for candidate in (root, root / "unified"):
        if (candidate / "cgroup.controllers").exists():
            return candidate
    return None


def _enable(cgroup: Path, controllers: list[str]) -> None:
    _write(cgroup / "cgroup.subtree_control", " ".join(f"+{c}" for c in controllers))


def _detect_v2(name: str, root: Path, proc_self_cgroup: Path, attempt: _Attempt) -> CgroupV2Slot | None:
    mount = _v2_mount(root)
    if mount is None:
        attempt.reasons.append(f"cgroup v2: not mounted at {root} or {root / 'unified'}")
        return None
    own = _own_v2_path(proc_self_cgroup)
    if own is None:
        attempt.reasons.append(f"cgroup v2: no v2 entry in {proc_self_cgroup}")
        return None
    base = mount / own.lstrip("/")
    try:
        offered = _read(base / "cgroup.controllers").split()
    except OSError as exc:
        attempt.reasons.append(f"cgroup v2: cannot read {base / 'cgroup.controllers'}: {exc.strerror}")
        return None
    missing = [c for c in ("memory", "pids") if c not in offered]
    if missing:
        attempt.reasons.append(f"cgroup v2: {base} does not offer the {' and '.join(missing)} controller(s)")
        return None
    wanted = ["memory", "pids", *(["cpu"] if "cpu" in offered else [])]
    parent = base / PARENT
    try:
        enabled = _read(base / "cgroup.subtree_control").split()
        if not set(wanted) <= set(enabled):
            try:
                _enable(base, wanted)
            except OSError as exc:
                if exc.errno != errno.EBUSY:
                    raise
                # No internal processes: move this service into a leaf of its own, then enable.
                leaf = base / SERVICE_LEAF
                leaf.mkdir(exist_ok=True)
                _write(leaf / "cgroup.procs", str(os.getpid()))
                _enable(base, wanted)
        parent.mkdir(exist_ok=True)
        if not set(wanted) <= set(_read(parent / "cgroup.subtree_control").split()):
            _enable(parent, wanted)
        slot = CgroupV2Slot(path=parent / name, cpu="cpu" in wanted)
        slot.path.mkdir(exist_ok=True)
        absent = [f for f in ("memory.max", "pids.max", "memory.events") if not (slot.path / f).exists()]
        if absent:
            attempt.reasons.append(f"cgroup v2: {slot.path} has no {', '.join(absent)} (controllers not enabled)")
            return None
        # The controllers must really accept limits (a read-only or undelegated tree does not).
        _write(slot.path / "pids.max", "max")
        _write(slot.path / "memory.max", "max")
        _read(slot.path / "memory.events")
        return slot
    except OSError as exc:
        if exc.errno in _DENIED:
            attempt.reasons.append(f"cgroup v2: cannot set limits under {base}: {exc.strerror or exc}")
            return None
        raise


def _detect_v1(name: str, root: Path, attempt: _Attempt) -> CgroupV1Slot | None:
    memory_root, pids_root = root / "memory", root / "pids"
    # A v1 hierarchy's root cgroup has no pids.max (only its children do): look for the mounts.
    if not (memory_root / "memory.limit_in_bytes").exists() or not (pids_root / "cgroup.procs").exists():
        attempt.reasons.append(f"cgroup v1: no memory and pids controllers under {root}")
        return None
    try:
        slot = CgroupV1Slot(memory=memory_root / PARENT / name, pids_dir=pids_root / PARENT / name)
        for path in (slot.memory, slot.pids_dir):
            path.mkdir(parents=True, exist_ok=True)
        if not (slot.pids_dir / "pids.max").exists() or not (slot.memory / "memory.oom_control").exists():
            slot.remove()
            attempt.reasons.append(f"cgroup v1: {root / 'pids'} or {root / 'memory'} is not that controller")
            return None
        _write(slot.pids_dir / "pids.max", "max")
        _read(slot.memory / "memory.oom_control")
        return slot
    except OSError as exc:
        if exc.errno in _DENIED:
            attempt.reasons.append(f"cgroup v1: cannot set limits under {root}: {exc.strerror or exc}")
            return None
        raise


def detect(name: str, root: Path = CGROUP_ROOT, proc_self_cgroup: Path = PROC_SELF_CGROUP) -> CgroupSlot:
    """The slot's cgroup: v2 where the own cgroup offers memory and pids, else v1's memory and
    pids controllers; :class:`CgroupsUnavailable` (with every reason) when neither works."""
    attempt = _Attempt()
    slot: CgroupSlot | None = _detect_v2(name, root, proc_self_cgroup, attempt)
    if slot is None:
        slot = _detect_v1(name, root, attempt)
    if slot is None:
        raise CgroupsUnavailable("; ".join(attempt.reasons))
    return slot
