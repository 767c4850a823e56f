"""Start, check and stop the registry's parts on mirakuru.

Every process starts through a mirakuru executor, which marks it (and whatever it spawns) with an
environment variable of its own: a recorded part is ours only while ``/proc/<pid>/environ`` still
carries that mark, so a reused PID is never signalled, and leftovers of a part are found by it.
A part that already answers on its port, but that this stack did not start, is left alone.

``Stack.up`` runs in a short-lived command (``infra.sh up``) and leaves the parts running
(``detach``); ``Stack.stop`` works from any later process through the records in ``run/``.
In-process users (tests, the fault suite) use ``running_part``, which stops the part on exit.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

from mirakuru import Executor
from mirakuru.base import ENV_UUID, SimpleExecutor
from mirakuru.base_env import processes_with_env
from mirakuru.exceptions import AlreadyRunning, TimeoutExpired

from algoitny_devtools import exit_sweep
from algoitny_devtools.registry import GROUPS, PARTS, Config, PartSpec

exit_sweep.install()

_lock = threading.Lock()


def log(msg: str) -> None:
    print(f"[stack] {msg}", file=sys.stderr, flush=True)


class PartFailed(RuntimeError):
    pass


class PartExecutor(Executor):
    """One part's process: started in a session of its own, output to ``logs/<part>.log`` (the
    previous start's in ``.log.1``), up once ``spec.ready`` holds (and, if set, ``ready_line`` is logged)."""

    def __init__(self, spec: PartSpec, cfg: Config, on_spawn: Any = None) -> None:
        self.spec, self.cfg, self.on_spawn = spec, cfg, on_spawn
        cfg.log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = cfg.log_dir / f"{spec.name}.log"
        self._log: IO[bytes] | None = None
        super().__init__(
            spec.command(cfg),
            cwd=str(spec.cwd(cfg)),
            timeout=cfg.timeout_s,
            sleep=0.3,
            stop_signal=spec.stop_signal,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,  # replaced by the log file in start()
            stderr=subprocess.STDOUT,
        )

    def pre_start_check(self) -> bool:
        return self.spec.answering(self.cfg)

    def after_start_check(self) -> bool:
        if self.spec.ready_line is not None:
            try:
                if self.spec.ready_line not in self.log_path.read_text(errors="replace"):
                    return False
            except OSError:
                return False
        return self.spec.ready(self.cfg)

    def check_subprocess(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            code = self.process.returncode
            self._kill_all_kids(self._kill_signal)
            self._clear_process()
            raise PartFailed(f"{self.spec.name} exited with {code} during start-up (log: {self.log_path})")
        return super().check_subprocess()

    def start(self) -> PartExecutor:
        if self.pre_start_check():
            raise AlreadyRunning(self)
        Path(self.spec.cwd(self.cfg)).mkdir(parents=True, exist_ok=True)
        if self.log_path.exists():
            self.log_path.replace(self.log_path.with_name(self.log_path.name + ".1"))
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed once the child has it
        self._stdout = self._log
        try:
            SimpleExecutor.start(self)
        finally:
            self._log.close()
        if self.on_spawn is not None:
            self.on_spawn(self)
        self.wait_for(self.check_subprocess)
        return self

    @property
    def marker(self) -> str:
        return self._uuid

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def detach(executors: Iterable[SimpleExecutor]) -> None:
    """Leave these processes running after this Python exits (mirakuru stops its children at exit)."""
    exit_sweep.uninstall()
    for ex in executors:
        ex.process = None  # the executor's __del__ no longer kills it


def _environ_has(pid: int, marker: str) -> bool:
    try:
        env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False
    return f"{ENV_UUID}={marker}".encode() in env


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):  # exited but not reaped yet (a zombie) counts as gone
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


class Stack:
    """The parts of one ``Config`` (one ``ALGOITNY_LOCAL_DIR``): records in ``run/<part>.json``."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg

    # ------------------------------------------------------------ records

    def _record_path(self, name: str) -> Path:
        return self.cfg.run_dir / f"{name}.json"

    def _legacy_pid_file(self, name: str) -> Path:
        # Written by the shell launchers this replaced: a part they started is still ours.
        prefix = "legacy-" if PARTS[name].group == "legacy" else ""
        return self.cfg.run_dir / f"{prefix}{name}.pid"

    def _started_path(self, group: str) -> Path:
        return self.cfg.run_dir / ("started" if group == "infra" else f"{group}-started")

    def record(self, ex: PartExecutor) -> None:
        assert ex.process is not None
        self.cfg.run_dir.mkdir(parents=True, exist_ok=True)
        tmp = self._record_path(ex.spec.name).with_suffix(".tmp")
        tmp.write_text(json.dumps({"pid": ex.process.pid, "marker": ex.marker}))
        tmp.replace(self._record_path(ex.spec.name))

    def ours(self, name: str) -> tuple[int, str | None] | None:
        """(pid, mark) of a part this stack started and that still runs; None otherwise."""
        with contextlib.suppress(OSError, ValueError, KeyError):
            rec = json.loads(self._record_path(name).read_text())
            pid, marker = int(rec["pid"]), str(rec["marker"])
            if _alive(pid) and _environ_has(pid, marker):
                return pid, marker
        with contextlib.suppress(OSError, ValueError):
            pid = int(self._legacy_pid_file(name).read_text().strip())
            cwd = os.readlink(f"/proc/{pid}/cwd")
            if _alive(pid) and cwd.startswith(f"{self.cfg.local_dir}/"):
                return pid, None
        return None

    def started(self, group: str) -> list[str]:
        try:
            return self._started_path(group).read_text().split()
        except OSError:
            return []

    # ------------------------------------------------------------ up

    def up(self, names: Iterable[str], group: str | None = None) -> list[str]:
        """Start every named part that is neither ours and running nor answering; wait until all are
        ready. Returns (and records as the group's ``started``) the parts this call started; on a
        failure, stops them again and raises."""
        names = list(names)
        if group is not None:
            self.cfg.run_dir.mkdir(parents=True, exist_ok=True)
            self._started_path(group).write_text("")
        to_start: list[PartSpec] = []
        running: list[str] = []
        for name in names:
            spec = PARTS[name]
            if (found := self.ours(name)) is not None:
                log(f"{name} already running (pid {found[0]}, started earlier by this stack)")
                running.append(name)
            elif spec.answering(self.cfg):
                log(f"{name} already answering on port {spec.port(self.cfg)} (not started by us; left alone)")
                running.append(name)
            else:
                self._record_path(name).unlink(missing_ok=True)
                self._legacy_pid_file(name).unlink(missing_ok=True)
                to_start.append(spec)
        kept = [n for n in running if PARTS[n].stateful]
        if kept and any(s.stateful for s in to_start):
            log(
                f"warning: {', '.join(kept)} kept the data of an earlier start while "
                f"{', '.join(s.name for s in to_start if s.stateful)} start(s) empty; for parts that agree, "
                "stop them all (make down) and start again"
            )
        started: list[PartExecutor] = []

        def _spawned(ex: PartExecutor) -> None:
            with _lock:
                started.append(ex)
                self.record(ex)
                if group is not None:
                    with open(self._started_path(group), "a") as f:
                        f.write(f"{ex.spec.name}\n")
            log(f"started {ex.spec.name} (pid {ex.process.pid if ex.process else '?'}, log {ex.log_path})")

        def _start(spec: PartSpec) -> None:
            for dep in spec.requires:
                if not PARTS[dep].answering(self.cfg):
                    raise PartFailed(f"{spec.name} needs {dep}, which is not answering on {PARTS[dep].port(self.cfg)}")
            spec.fresh(self.cfg)
            ex = PartExecutor(spec, self.cfg, on_spawn=_spawned)
            try:
                ex.start()
            except TimeoutExpired:
                raise PartFailed(
                    f"{spec.name} not ready after {self.cfg.timeout_s:.0f} s; log tail:\n{ex.tail()}"
                ) from None
            except PartFailed as exc:
                raise PartFailed(f"{exc}\n{ex.tail()}") from None
            spec.after_start(self.cfg)
            log(f"{spec.name} is ready")

        # Parts that require another part start after it (in a later wave).
        waves = [[s for s in to_start if not s.requires], [s for s in to_start if s.requires]]
        try:
            for wave in waves:
                if not wave:
                    continue
                with ThreadPoolExecutor(max_workers=len(wave)) as pool:
                    for future in [pool.submit(_start, spec) for spec in wave]:
                        future.result()
            for name in running:
                if not PARTS[name].ready(self.cfg):
                    self._wait_ready(PARTS[name])
        except BaseException:
            if os.environ.get("INFRA_KEEP_ON_FAILURE") != "1":
                log("up failed: stopping the parts this call started")
                for ex in started:
                    with contextlib.suppress(Exception):
                        ex.kill()
                for ex in started:
                    self._record_path(ex.spec.name).unlink(missing_ok=True)
            else:
                detach(started)
            raise
        detach(started)
        return [ex.spec.name for ex in started]

    def _wait_ready(self, spec: PartSpec) -> None:
        deadline = time.monotonic() + self.cfg.timeout_s
        while not spec.ready(self.cfg):
            if time.monotonic() > deadline:
                raise PartFailed(f"{spec.name} answers on its port but is not ready after {self.cfg.timeout_s:.0f} s")
            time.sleep(0.5)

    # ------------------------------------------------------------ stop / status

    def stop(self, names: Iterable[str]) -> list[str]:
        """Stop the named parts if this stack started them (their stop signal, SIGKILL after the
        part's timeout, then any leftover process carrying the part's mark). Others are left alone."""
        names = list(names)
        stopping: list[tuple[str, int, str | None]] = []
        for name in names:
            found = self.ours(name)
            if found is None:
                continue
            pid, marker = found
            log(f"stopping {name} (pid {pid})")
            with contextlib.suppress(ProcessLookupError):
                if marker is not None:
                    os.killpg(pid, PARTS[name].stop_signal)  # mirakuru starts each part in its own session
                else:
                    os.kill(pid, PARTS[name].stop_signal)
            stopping.append((name, pid, marker))
        for name, pid, marker in stopping:
            deadline = time.monotonic() + PARTS[name].stop_timeout_s
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            if _alive(pid):
                log(f"{name} (pid {pid}) did not stop in {PARTS[name].stop_timeout_s:.0f} s: SIGKILL")
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            if marker is not None:
                for left in processes_with_env(ENV_UUID, marker):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(left, signal.SIGKILL)
        for name in names:
            self._record_path(name).unlink(missing_ok=True)
            self._legacy_pid_file(name).unlink(missing_ok=True)
        return [name for name, _, _ in stopping]

    def down(self, group: str) -> None:
        self.stop(reversed(GROUPS[group]))  # dependents first (Connect before Kafka)
        self._started_path(group).unlink(missing_ok=True)

    def status(self, names: Iterable[str]) -> tuple[bool, list[str]]:
        lines, all_up = [], True
        for name in names:
            spec = PARTS[name]
            up = spec.ready(self.cfg)
            all_up &= up
            state = "up" if up else "down"
            if (found := self.ours(name)) is not None:
                state = f"{state if up else 'starting'} (pid {found[0]}, started by this stack)"
            elif up:
                state += " (not started by this stack)"
            lines.append(f"{name:<11} {state:<45} {spec.endpoint(self.cfg)}")
        return all_up, lines

    def reset_data(self, names: Iterable[str]) -> None:
        names = list(names)
        for name in names:
            if self.ours(name) is not None:
                raise PartFailed(f"{name} is running; stop it first")
        for name in names:
            if PARTS[name].stateful:
                for sub in (self.cfg.data_dir / name,):
                    subprocess.run(["rm", "-rf", str(sub)], check=True)
        log(f"deleted the data of {', '.join(names)} (every start begins empty anyway)")


@contextlib.contextmanager
def running_part(name: str, cfg: Config) -> Iterator[PartExecutor]:
    """A part of the registry started in this process (a private moto or Kafka for a test or a
    benchmark, on its own ports and state directory), stopped on exit."""
    spec = PARTS[name]
    spec.fresh(cfg)
    ex = PartExecutor(spec, cfg)
    try:
        ex.start()
    except TimeoutExpired:
        raise PartFailed(f"{name} not ready after {cfg.timeout_s:.0f} s; log tail:\n{ex.tail()}") from None
    try:
        yield ex
    finally:
        with contextlib.suppress(Exception):
            ex.stop()
        if ex.process is not None:
            ex.kill()


def private_config(state_dir: Path, **overrides: Any) -> Config:
    """A ``Config`` for private parts (ports, heap, timeout in ``overrides``): state under
    ``state_dir``, the jars of the usual local dir."""
    base = Config.from_env()
    return replace(base, local_dir=state_dir.resolve(), lib_dir=base.lib_dir, **overrides)
