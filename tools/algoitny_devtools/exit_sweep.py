"""mirakuru's exit hook, made exact.

mirakuru marks each process its executors start with ``mirakuru_uuid=<starter pid>:<uuid4>`` and
registers, at import, an exit hook that SIGKILLs every process whose mark *contains* the exiting
process's pid: a substring match. Any Python process that imported mirakuru therefore kills, as it
exits, whatever process of anyone's carries its pid's digits anywhere in the mark (a tool with pid
1965 exiting killed a migration importer marked ``...-329c8cd1965b``, in the middle of a benchmark).
``install`` replaces that hook with one that kills only what this process's own executors started
and left running: marks that begin with ``<this pid>:``.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
from pathlib import Path

import mirakuru.base
from mirakuru.base import ENV_UUID


def own_leftovers(pid: int | None = None) -> list[int]:
    """Processes marked by an executor of process ``pid`` (this one by default)."""
    prefix = f"{ENV_UUID}={pid or os.getpid()}:".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue  # gone, or not ours to read
        if any(var.startswith(prefix) for var in environ):
            found.append(int(entry.name))
    return found


def kill_own_leftovers() -> None:
    for pid in own_leftovers():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def install() -> None:
    """Swap mirakuru's substring sweep for the exact one (idempotent)."""
    atexit.unregister(mirakuru.base.cleanup_subprocesses)
    atexit.unregister(kill_own_leftovers)
    atexit.register(kill_own_leftovers)


def uninstall() -> None:
    """No sweep at exit at all: the processes started are meant to outlive this one."""
    atexit.unregister(mirakuru.base.cleanup_subprocesses)
    atexit.unregister(kill_own_leftovers)
