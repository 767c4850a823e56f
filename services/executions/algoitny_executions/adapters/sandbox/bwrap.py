"""The bubblewrap sandbox: one box per submission step, the in-box runner executes each test.

Isolation (every compile and every run):
* ``--unshare-all`` (user, mount, pid, net, ipc, uts, cgroup namespaces): no network
  but ``lo``, no host processes visible; ``--as-pid-1`` makes the runner PID 1, so
  ``wait4`` measures the program itself and the runner can SIGKILL every leftover
  process after each test; ``--die-with-parent`` and ``--new-session``.
* the host launches bubblewrap through the runner's ``launch`` mode, which joins the
  slot's cgroups and drops to the slot's own unprivileged uid (60000 + slot) before
  exec'ing it: RLIMIT_NPROC counts per real uid and no capability survives.
* a cleared environment (``--clearenv`` + PATH/HOME/LANG only).
* read-only toolchains: ``/usr`` (with the merged-/usr links), a few /etc files the
  loaders and the JDK read; nothing else of the host (no /etc/shadow, /root, /home, /tmp).
* a read-only root (``--remount-ro /``) and a read-only /dev: the only writable places
  are /box, /tmp and /dev/shm, each a size-capped tmpfs (the compile step's /box is a
  host directory, see below), all emptied by the runner after every test, and a new
  box (new tmpfs mounts) for every submission;
* a private writable box: a size-capped tmpfs at /box for runs, or a fresh host
  directory (0700, owned by the slot uid) for the compile step, whose artifacts the
  host copies out without following links (see ``safe_fs``); /tmp is a tmpfs too.
* the seccomp filter of ``seccomp.py`` via ``--seccomp FD``.
* the runner sets, per test: RLIMIT_CPU (soft = hard), RLIMIT_AS (except JVM/V8),
  RLIMIT_FSIZE (output cap), RLIMIT_NPROC, RLIMIT_STACK, RLIMIT_CORE 0, RLIMIT_NOFILE.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from algoitny_executions.adapters.sandbox.cgroups import CgroupSlot
from algoitny_executions.adapters.sandbox.seccomp import build_filter, filter_fd
from algoitny_executions.domain.judging import RawRun

log = logging.getLogger(__name__)

SANDBOX_ENV = {"PATH": "/usr/bin:/bin", "HOME": "/box", "LANG": "C.UTF-8"}
# Files of /etc the dynamic loader, the JDK and Node read; bound read-only if present.
ETC_FILES = ("/etc/ld.so.cache", "/etc/alternatives", "/etc/java-17-openjdk", "/etc/localtime")
TMP_SIZE = 16 * 1024 * 1024
SHM_SIZE = 16 * 1024 * 1024
RUNNER_OVERHEAD_BYTES = 48 * 1024 * 1024


class SandboxError(RuntimeError):
    """The sandbox itself failed (not the program): the judge reports IE and retries."""


@dataclass(frozen=True)
class Bind:
    host: Path
    dest: str


@dataclass(frozen=True)
class RunSpec:
    argv: Sequence[str]
    inputs: Sequence[str]
    """In-box input paths, one per test, or "-" for an empty stdin."""
    cpu_ms: int
    wall_ms: int
    address_space_bytes: int
    fsize_bytes: int
    nproc: int
    stack_bytes: int
    nofile: int
    out_cap: int
    err_cap: int
    memory_bytes: int
    """Box-wide memory cap (cgroup), covering every test's program plus the tmpfs."""
    cwd: str = "/box"
    scratch: str = "/box"
    """Emptied (with /tmp) after every test so no file outlives its test; "-" keeps files."""
    cwd_quota_bytes: int = 0
    """Disk space the files under ``cwd`` may take (a host directory: the compile step); 0 = none."""

    def encode(self, ack: bool) -> bytes:
        for item in (*self.argv, *self.inputs, self.cwd):
            if "\n" in item or "\0" in item or not item:
                raise SandboxError(f"unencodable runner argument {item!r}")
        lines = [
            str(len(self.argv)),
            *self.argv,
            self.cwd,
            self.scratch,
            " ".join(
                str(v)
                for v in (
                    self.cpu_ms,
                    self.wall_ms,
                    self.address_space_bytes,
                    self.fsize_bytes,
                    self.nproc,
                    self.stack_bytes,
                    self.nofile,
                    self.out_cap,
                    self.err_cap,
                    int(ack),
                    self.cwd_quota_bytes,
                )
            ),
            str(len(self.inputs)),
            *self.inputs,
        ]
        return ("\n".join(lines) + "\n").encode()


class BwrapSandbox:
    """One worker slot: its uid, its cgroups, its directory. Not re-entrant (one box at a time)."""

    def __init__(
        self,
        *,
        slot: int,
        slot_dir: Path,
        runner: Path,
        bwrap: str = "/usr/bin/bwrap",
        uid: int | None = None,
        cgroup: CgroupSlot | None = None,
        box_cpus: float | None = None,
    ) -> None:
        self.slot = slot
        self.slot_dir = slot_dir
        self.runner = runner
        self.bwrap = bwrap
        self.uid = uid if os.geteuid() == 0 else None
        self.cgroup = cgroup
        self.box_cpus = box_cpus
        self._seccomp = build_filter()
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None

    def kill(self) -> bool:
        """Kills the box running now (its whole pid namespace goes with bubblewrap); False if none runs.
        Its ``run`` then raises SandboxError."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return False
        proc.kill()
        return True

    def _argv(self, binds: Sequence[Bind], box: Path | None, tmpfs_bytes: int, seccomp_fd: int) -> list[str]:
        argv = [
            self.bwrap,
            "--unshare-all",
            "--die-with-parent",
            "--new-session",
            "--as-pid-1",
            "--hostname",
            "box",
            "--cap-drop",
            "ALL",
            "--clearenv",
        ]
        for key, value in SANDBOX_ENV.items():
            argv += ["--setenv", key, value]
        argv += ["--ro-bind", "/usr", "/usr"]
        for link in ("lib", "lib64", "bin", "sbin"):
            target = Path("/") / link
            if target.is_symlink():
                argv += ["--symlink", os.readlink(target), f"/{link}"]
            elif target.is_dir():
                argv += ["--ro-bind", str(target), f"/{link}"]
        for etc in ETC_FILES:
            if os.path.exists(etc):
                argv += ["--ro-bind", etc, etc]
        # /dev read-only but for a size-capped /dev/shm (emptied after every test like /tmp).
        argv += ["--dev", "/dev", "--size", str(SHM_SIZE), "--tmpfs", "/dev/shm", "--remount-ro", "/dev"]
        argv += ["--proc", "/proc"]
        argv += ["--size", str(TMP_SIZE), "--tmpfs", "/tmp"]
        if box is None:
            argv += ["--size", str(tmpfs_bytes), "--tmpfs", "/box"]
        else:
            argv += ["--bind", str(box), "/box"]
        argv += ["--ro-bind", str(self.runner), "/judge/runner"]
        for bind in binds:
            argv += ["--ro-bind", str(bind.host), bind.dest]
        argv += ["--remount-ro", "/", "--chdir", "/box", "--seccomp", str(seccomp_fd), "/judge/runner"]
        launcher = [str(self.runner), "launch", str(self.uid or 0), str(self.uid or 0)]
        if self.cgroup is not None:
            launcher += self.cgroup.procs_files
        return [*launcher, "--", *argv]

    def run(
        self,
        spec: RunSpec,
        *,
        binds: Sequence[Bind] = (),
        box: Path | None = None,
        on_result: Callable[[RawRun], bool] | None = None,
        pass_fds: Sequence[int] = (),
    ) -> list[RawRun]:
        """Run ``spec.argv`` once per input inside one box; ``on_result`` False stops early.

        With ``on_result`` each run is handed over as it ends and the returned runs carry no
        stdout/stderr (a test's output is dropped once it is classified); without it
        (sandbox batches, whose outputs are the product) every run is returned whole.
        ``pass_fds`` (an interactive run's pipe ends, named by a ``|R W`` input) are handed to the
        box and closed here once it started, whatever happens, so the other side sees EOF when
        this box ends."""
        owned = list(pass_fds)  # _run closes them right after the box started and empties the list
        try:
            with self._lock:
                return self._run(spec, binds, box, on_result, owned)
        finally:
            for fd in owned:
                with contextlib.suppress(OSError):
                    os.close(fd)

    def _run(
        self,
        spec: RunSpec,
        binds: Sequence[Bind],
        box: Path | None,
        on_result: Callable[[RawRun], bool] | None,
        pass_fds: list[int] | None = None,
    ) -> list[RawRun]:
        pass_fds = pass_fds if pass_fds is not None else []
        tmpfs_bytes = 2 * spec.out_cap + 2 * spec.err_cap + 8 * 1024 * 1024
        if self.cgroup is not None:
            box_memory = spec.memory_bytes + tmpfs_bytes + TMP_SIZE + SHM_SIZE + RUNNER_OVERHEAD_BYTES
            self.cgroup.prepare(box_memory, spec.nproc + 16, self.box_cpus)
        seccomp_fd = filter_fd(self._seccomp)
        results: list[RawRun] = []
        deadline_s = (spec.wall_ms / 1000 + 0.5) * max(1, len(spec.inputs)) + 10
        try:
            proc = subprocess.Popen(
                self._argv(binds, box, tmpfs_bytes, seccomp_fd),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=(seccomp_fd, *pass_fds),
                cwd="/",
                env={},
                close_fds=True,
            )
        except OSError as exc:
            raise SandboxError(f"cannot start bubblewrap: {exc}") from exc
        finally:
            os.close(seccomp_fd)
            while pass_fds:
                with contextlib.suppress(OSError):
                    os.close(pass_fds.pop())
        self._proc = proc
        timer = threading.Timer(deadline_s, proc.kill)
        timer.daemon = True
        timer.start()
        stderr_chunks: list[bytes] = []
        stderr_reader = threading.Thread(target=_drain, args=(proc.stderr, stderr_chunks), daemon=True)
        stderr_reader.start()
        try:
            assert proc.stdin is not None and proc.stdout is not None
            ack = on_result is not None
            try:
                proc.stdin.write(spec.encode(ack))
                proc.stdin.flush()
                if not ack:
                    proc.stdin.close()
            except BrokenPipeError:
                pass
            oom_before = self.cgroup.oom_kills() if self.cgroup is not None else 0
            done = False
            while True:
                header = proc.stdout.readline()
                if not header:
                    break
                if header == b"D\n":
                    done = True
                    break
                raw = _parse(header, proc.stdout)
                if self.cgroup is not None:
                    oom_now = self.cgroup.oom_kills()
                    if oom_now != oom_before:
                        raw = RawRun(**{**raw.__dict__, "oom_killed": True})
                        oom_before = oom_now
                if on_result is None:
                    results.append(raw)
                else:
                    keep_going = on_result(raw) and len(results) + 1 < len(spec.inputs)
                    # Classified: its output (up to the output limit) is not kept until the run ends.
                    results.append(dataclasses.replace(raw, stdout=b"", stderr=b""))
                    del raw
                    with contextlib.suppress(BrokenPipeError, ValueError):
                        proc.stdin.write(b"c" if keep_going else b"s")
                        proc.stdin.flush()
            with contextlib.suppress(BrokenPipeError, ValueError):
                proc.stdin.close()
            code = proc.wait()
            stderr_reader.join(timeout=5)
            if not done:
                err = b"".join(stderr_chunks)[-2000:].decode(errors="replace")
                if not timer.is_alive():
                    raise SandboxError(f"sandbox deadline of {deadline_s:.0f} s exceeded")
                raise SandboxError(f"sandbox ended early (exit {code}): {err.strip()}")
            return results
        finally:
            self._proc = None
            timer.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            for stream in (proc.stdout, proc.stderr, proc.stdin):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()


def _drain(stream: IO[bytes] | None, sink: list[bytes]) -> None:
    if stream is None:
        return
    with contextlib.suppress(OSError, ValueError):
        while chunk := stream.read(65536):
            if sum(len(c) for c in sink) < 65536:
                sink.append(chunk)


def _read_exact(stream: IO[bytes], n: int) -> bytes:
    data = stream.read(n) if n else b""
    if len(data) != n:
        raise SandboxError("runner output truncated")
    return data


def _parse(header: bytes, stream: IO[bytes]) -> RawRun:
    parts = header.split()
    if len(parts) != 10 or parts[0] != b"T":
        raise SandboxError(f"bad runner header {header[:100]!r}")
    index, kind, code, cpu, wall, rss, flags, out_len, err_len = parts[1:]
    stdout = _read_exact(stream, int(out_len))
    stderr = _read_exact(stream, int(err_len))
    return RawRun(
        index=int(index),
        kind=kind.decode(),
        code=int(code),
        cpu_us=int(cpu),
        wall_us=int(wall),
        maxrss_kb=int(rss),
        flags=int(flags),
        stdout=stdout,
        stderr=stderr,
    )
