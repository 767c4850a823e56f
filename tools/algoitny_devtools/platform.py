"""Start, watch and stop the platform's services as local processes (no Docker).

Used by ``make run`` (foreground, Ctrl-C stops everything) and by the end-to-end tests
(which start their own copy in a private namespace, on their own ports, and may kill
and restart single services). The services are the registry's (``algoitny_devtools.registry``),
each process is started through mirakuru.

    python -m algoitny_devtools.platform run     # provision, seed demo data, start all, wait for Ctrl-C
    python -m algoitny_devtools.platform up      # the same, in the background (pid file)
    python -m algoitny_devtools.platform down    # stop what ``run``, ``up`` or ``importers`` started (recorded PIDs)
    python -m algoitny_devtools.platform importers   # the legacy importers of the services that have one,
                                                     # and the migration's reverse writer (issue 16)

``REPLICAS=2`` (``make run REPLICAS=2``) starts two processes of every service; the gateway and the
services that call others spread requests over them (``algoitny_shared.upstream``).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mirakuru import SimpleExecutor

from algoitny_devtools.launcher import detach
from algoitny_devtools.registry import SERVICES, ServiceDef

REPO = Path(__file__).resolve().parents[2]
LOCAL_DIR = Path(os.environ.get("ALGOITNY_LOCAL_DIR", REPO / ".local"))
PYTHON = os.environ.get("ALGOITNY_PYTHON", sys.executable)


GATEWAY_UPSTREAMS = {
    "problems": "PROBLEMS",
    "search-indexer": "SEARCH",
    "accounts": "ACCOUNTS",
    "ratelimit": "RATELIMIT",
    "executions": "EXECUTIONS",
    "hints": "HINTS",
    "stats": "STATS",
}
# The services the hints service reads from (execution and problem contexts) and refunds through.
HINTS_UPSTREAMS = ("executions", "problems", "ratelimit")


def _get(url: str, timeout: float = 2.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return 0


@dataclass
class Platform:
    """The services of one namespace on consecutive ports from ``base_port``."""

    namespace: str = "algoitny"
    base_port: int = 8000
    host: str = "127.0.0.1"
    env: dict[str, str] = field(default_factory=dict)
    log_dir: Path = LOCAL_DIR / "logs"
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    executors: dict[str, SimpleExecutor] = field(default_factory=dict)
    # Processes per service: the first on the service's port, the others on free ports (``name@port``);
    # the gateway and the services that call others get every replica's URL (comma-separated).
    replicas: int = 1
    extra_ports: dict[str, list[int]] = field(default_factory=dict)

    def port(self, service: str) -> int:
        if "@" in service:  # a replica started on its own port
            return int(service.rsplit("@", 1)[1])
        return self.base_port + next(s.port_offset for s in SERVICES if s.name == service)

    def url(self, service: str) -> str:
        return f"http://{self.host}:{self.port(service)}"

    def replica_ports(self, service: str) -> list[int]:
        """Every replica's port, the service's own first (further ones chosen once, free ones)."""
        if service not in self.extra_ports:
            self.extra_ports[service] = [_free_port(self.host) for _ in range(self.replicas - 1)]
        return [self.port(service), *self.extra_ports[service]]

    def urls(self, service: str) -> str:
        """The address setting for a service: each replica's URL, comma-separated."""
        return ",".join(f"http://{self.host}:{p}" for p in self.replica_ports(service))

    def replica_names(self, service: str) -> list[str]:
        """The process names of a service's replicas (as in ``procs``)."""
        return [service, *(f"{service}@{p}" for p in self.replica_ports(service)[1:])]

    def service_env(self, svc: ServiceDef, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {**os.environ, **self.env, **(extra or {})}
        env["ALGOITNY_NAMESPACE"] = self.namespace
        env["ALGOITNY_HOST"] = self.host
        env["ALGOITNY_PORT"] = str(self.port(svc.name))
        env["PYTHONUNBUFFERED"] = "1"
        if svc.name == "gateway":
            for upstream, var in GATEWAY_UPSTREAMS.items():
                env[f"ALGOITNY_{var}_URL"] = self.urls(upstream)
            env.setdefault("ALGOITNY_PUBLIC_URL", self.url("gateway"))
        if svc.name == "search-indexer":  # its `reindex --source problems-service` reads the list API
            env["ALGOITNY_PROBLEMS_URL"] = self.urls("problems")
        if svc.name == "problems":  # reads a registrar's plan cap from ratelimit
            env["ALGOITNY_RATELIMIT_URL"] = self.urls("ratelimit")
        if svc.name == "executions":  # reads problems and test sets, and display names, over HTTP
            env["ALGOITNY_PROBLEMS_URL"] = self.urls("problems")
            env["ALGOITNY_ACCOUNTS_URL"] = self.urls("accounts")
        if svc.name == "hints":
            for upstream in HINTS_UPSTREAMS:
                var = f"ALGOITNY_{upstream.upper()}_URL"
                if var not in (extra or {}):  # a test may point hints at a fake (e.g. executions)
                    env[var] = self.urls(upstream)
        return env

    def start(
        self, name: str, extra_env: dict[str, str] | None = None, *, replica_port: int | None = None
    ) -> subprocess.Popen[bytes]:
        """Start a service; with ``replica_port``, a further replica (tracked as ``name@port``)."""
        svc = next(s for s in SERVICES if s.name == name)
        env = self.service_env(svc, extra_env)
        if replica_port is not None:
            env["ALGOITNY_PORT"] = str(replica_port)
            name = f"{name}@{replica_port}"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{self.namespace}-{name}.log", "ab")  # noqa: SIM115 - owned by the child
        proc = self._spawn(name, [PYTHON, "-m", svc.module], env, log)
        return proc

    def start_importer(self, name: str, extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes] | None:
        """Start the service's legacy importer (``<module>.entrypoints.legacy_import run``), tracked as
        ``<name>-legacy-import``; None when the service has no importer."""
        svc = next(s for s in SERVICES if s.name == name)
        module = importer_module(svc)
        if module is None:
            return None
        env = self.service_env(svc, extra_env)
        # Every importer serves its internal legacy API on base port + 100 + the service's offset
        # (accounts 8101, problems 8102, executions 8103, ratelimit 8104, hints 8106: the migration's defaults).
        env.setdefault("ALGOITNY_LEGACY_IMPORT_PORT", str(self.base_port + 100 + svc.port_offset))
        label = f"{name}{IMPORTER_SUFFIX}"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{self.namespace}-{label}.log", "ab")  # noqa: SIM115 - owned by the child
        return self._spawn(label, [PYTHON, "-m", module, "run"], env, log)

    def _spawn(self, name: str, argv: list[str], env: dict[str, str], log: Any) -> subprocess.Popen[bytes]:
        """One process through mirakuru (a session of its own, marked so that leftovers are found)."""
        executor = SimpleExecutor(
            argv, cwd=str(REPO), envvars=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            executor.start()
        finally:
            log.close()
        assert executor.process is not None
        self.executors[name] = executor
        self.procs[name] = executor.process
        return executor.process

    def start_reverse_writer(self, extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """The migration's reverse writer (``python -m algoitny_migration reverse-writer``, issue 16),
        tracked as ``migration-reverse-writer``; its /metrics on base port + 108 unless
        ``ALGOITNY_REVERSE_WRITER_PORT`` says otherwise. It writes nothing before the phase is cut_over."""
        env = {**os.environ, **self.env, **(extra_env or {})}
        env["ALGOITNY_NAMESPACE"] = self.namespace
        env["PYTHONUNBUFFERED"] = "1"
        env.setdefault("ALGOITNY_REVERSE_WRITER_PORT", str(self.base_port + 108))
        for upstream in ("accounts", "problems", "executions"):  # what it reads of the platform
            env.setdefault(f"ALGOITNY_{upstream.upper()}_URL", self.urls(upstream))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{self.namespace}-{REVERSE_WRITER}.log", "ab")  # noqa: SIM115 - owned by the child
        return self._spawn(REVERSE_WRITER, [PYTHON, "-m", "algoitny_migration", "reverse-writer"], env, log)

    def start_importers(self, extra_env: dict[str, str] | None = None) -> list[str]:
        return [s.name for s in SERVICES if self.start_importer(s.name, extra_env) is not None]

    def start_all(self, names: list[str] | None = None) -> None:
        for svc in SERVICES:
            if names is None or svc.name in names:
                self.start(svc.name)
                for port in self.replica_ports(svc.name)[1:]:
                    self.start(svc.name, replica_port=port)

    def wait_ready(self, names: list[str] | None = None, timeout_s: float = 90.0) -> None:
        pending = set(names or self.procs)
        deadline = time.monotonic() + timeout_s
        while pending:
            for name in sorted(pending):
                proc = self.procs.get(name)
                if proc is not None and proc.poll() is not None:
                    raise RuntimeError(
                        f"{name} exited with {proc.returncode}; see {self.log_dir}/{self.namespace}-{name}.log"
                    )
                if _get(f"{self.url(name)}/readyz") == 200:
                    pending.discard(name)
            if pending and time.monotonic() > deadline:
                raise TimeoutError(f"not ready after {timeout_s:.0f} s: {', '.join(sorted(pending))}")
            if pending:
                time.sleep(0.3)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(name, None)
        if proc and proc.poll() is None:
            proc.send_signal(sig)
            proc.wait(timeout=30)

    def stop_all(self, timeout_s: float = 15.0) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()
        for executor in self.executors.values():
            # Ends what a service left behind (carrying its executor's mark) now, and forgets the
            # process: an executor still holding one would do that in __del__, at interpreter exit,
            # when psutil is half torn down (the "Exception while deleting Executor" noise).
            executor.kill()
        self.executors.clear()


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _run_tool(args: list[str], env: dict[str, str]) -> str:
    out = subprocess.run([PYTHON, "-m", *args], env=env, check=True, capture_output=True, text=True, cwd=REPO)
    return out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""


def prepare(platform: Platform) -> dict[str, str]:
    """Tables, topics, plans and the demo admin: all idempotent."""
    env = {**os.environ, **platform.env, "ALGOITNY_NAMESPACE": platform.namespace}
    results = {
        "provision": _run_tool(["algoitny_shared.provision"], env),
        "plans": _run_tool(["algoitny_ratelimit", "seed"], env),
        "admin": _run_tool(["algoitny_accounts", "seed-admin"], env),
    }
    return results


def load_demo_problems(platform: Platform, admin_token: str) -> int:
    """Register the demo problems through the gateway (existing ones are left as they are)."""
    demo = json.loads((REPO / "deploy" / "demo" / "problems.json").read_text())
    created = 0
    for problem in demo:
        req = urllib.request.Request(
            f"{platform.url('gateway')}/api/v1/problems",
            data=json.dumps(problem).encode(),
            headers={"content-type": "application/json", "authorization": f"Bearer {admin_token}"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(req, timeout=10):
                created += 1
        except urllib.error.HTTPError as exc:
            if exc.code != 409:
                raise RuntimeError(
                    f"demo problem {problem['platform']}/{problem['problem_id']}: {exc.read()!r}"
                ) from exc
    return created


SUPERVISOR = "devstack"
IMPORTER_SUFFIX = "-legacy-import"
REVERSE_WRITER = "migration-reverse-writer"


def importer_module(svc: ServiceDef) -> str | None:
    """The service's legacy importer module (issue 15), when the service has one."""
    module = f"{svc.module}.entrypoints.legacy_import"
    try:
        return module if importlib.util.find_spec(module) is not None else None
    except ModuleNotFoundError:
        return None


def importers_pid_file(namespace: str) -> Path:
    """Where ``importers`` records the legacy importers it started (``down`` stops them too)."""
    return LOCAL_DIR / "run" / f"importers.{namespace}.json"


def services_pid_file(namespace: str) -> Path:
    """Where ``run``/``up`` record the PIDs they started (one file per namespace)."""
    return LOCAL_DIR / "run" / f"services.{namespace}.json"


def record(pid_file: Path, procs: dict[str, subprocess.Popen[bytes]], *, supervisor: int | None) -> None:
    pids: dict[str, int] = {n: p.pid for n, p in procs.items()}
    if supervisor is not None:
        pids[SUPERVISOR] = supervisor
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = pid_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(pids))
    tmp.replace(pid_file)


def _is_ours(name: str, pid: int) -> bool:
    """The PID still runs what we started (a recorded PID may have been reused since)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    if name == SUPERVISOR:
        return b"algoitny_devtools.platform" in argv
    base = name.split("@", 1)[0]
    if base == REVERSE_WRITER:
        return b"algoitny_migration" in argv and b"reverse-writer" in argv
    if base.endswith(IMPORTER_SUFFIX):
        svc = next((s for s in SERVICES if s.name == base.removesuffix(IMPORTER_SUFFIX)), None)
        return svc is not None and f"{svc.module}.entrypoints.legacy_import".encode() in argv
    svc = next((s for s in SERVICES if s.name == base), None)
    return svc is not None and svc.module.encode() in argv


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    with contextlib.suppress(OSError):  # exited but not reaped yet (a zombie) counts as gone
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    return False


def stop_recorded(pid_file: Path, timeout_s: float = 20.0) -> None:
    """Stop the processes a ``run`` or ``up`` recorded: the supervising ``run`` first (it stops its
    services itself), then every service still up; SIGTERM, then SIGKILL after ``timeout_s``."""
    if not pid_file.exists():
        print("[platform] no services recorded as started by 'make run' or 'make up'")
        return
    recorded: dict[str, int] = json.loads(pid_file.read_text())
    ours = {n: p for n, p in recorded.items() if _is_ours(n, p)}
    for name in sorted(ours, key=lambda n: n != SUPERVISOR):
        with contextlib.suppress(ProcessLookupError):
            os.kill(ours[name], signal.SIGTERM)
            print(f"[platform] stopping {name} (pid {ours[name]})", flush=True)
    deadline = time.monotonic() + timeout_s
    for name, pid in ours.items():
        while not _gone(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not _gone(pid):
            print(f"[platform] {name} (pid {pid}) did not stop in {timeout_s:.0f} s: SIGKILL", flush=True)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["run", "up", "down", "importers"])
    args = parser.parse_args()
    base_port = int(os.environ.get("ALGOITNY_GATEWAY_PORT", "8000"))
    replicas = int(os.environ.get("REPLICAS") or os.environ.get("ALGOITNY_REPLICAS") or "1")
    platform = Platform(
        namespace=os.environ.get("ALGOITNY_NAMESPACE", "algoitny"), base_port=base_port, replicas=max(1, replicas)
    )
    pid_file = services_pid_file(platform.namespace)

    if args.command == "down":
        if importers_pid_file(platform.namespace).exists():
            stop_recorded(importers_pid_file(platform.namespace))
        stop_recorded(pid_file)
        return
    if args.command == "importers":
        ipf = importers_pid_file(platform.namespace)
        if ipf.exists():
            stop_recorded(ipf)  # a second `make legacy` restarts them
        started = platform.start_importers()
        writer = platform.start_reverse_writer()
        record(ipf, platform.procs, supervisor=None)
        detach(platform.executors.values())  # they run on after this command
        print(f"[platform] legacy importers started: {', '.join(started) or 'none (no service has one yet)'}")
        port = os.environ.get("ALGOITNY_REVERSE_WRITER_PORT") or platform.base_port + 108
        print(f"[platform] reverse writer started (pid {writer.pid}): http://{platform.host}:{port}/metrics")
        return

    print("[platform] provisioning tables and topics, seeding plans and the demo admin ...", flush=True)
    prepare(platform)
    platform.start_all()
    # Recorded at once (not only once ready): `make down` from another terminal stops them by
    # these PIDs, whether this process runs in the foreground (`run`) or has left (`up`).
    record(pid_file, platform.procs, supervisor=os.getpid() if args.command == "run" else None)
    stop = False

    def _stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    try:
        platform.wait_ready(timeout_s=120)
        from algoitny_accounts.settings import AccountsSettings
        from algoitny_gateway.settings import GatewaySettings

        loaded = load_demo_problems(platform, GatewaySettings().admin_token.get_secret_value())
        accounts = AccountsSettings()
        email, password = accounts.demo_admin_email, accounts.demo_admin_password.get_secret_value()
        gateway = platform.url("gateway")
        print(
            "\n".join(
                [
                    "",
                    "AlgoItny is running.",
                    f"  Web app:        {gateway}/   (sign in as the demo admin below, or sign up)",
                    f"  Gateway:        {gateway}",
                    f"  API docs:       {gateway}/docs   (OpenAPI: {gateway}/openapi.json)",
                    f"  Demo admin:     {email} / {password}   (POST {gateway}/api/v1/auth/login)",
                    f"  Demo problems:  {loaded} new; try {gateway}/api/v1/problems/search?q=watermelon",
                    f"                  or {gateway}/api/v1/problems/search?q=boj1000 (suggest?q=wat as you type)",
                    *(
                        [f"  Replicas:       {replicas} per service; the gateway's: {platform.urls('gateway')}"]
                        if replicas > 1
                        else []
                    ),
                    f"  Logs:           {platform.log_dir}",
                    "  Migration:      `make legacy` in another terminal: legacy PostgreSQL, CDC, importers,",
                    "                  reverse writer (docs/migration-runbook.md); `make down` stops them",
                    "",
                ]
            ),
            flush=True,
        )
        if args.command == "up":
            record(pid_file, platform.procs, supervisor=None)
            detach(platform.executors.values())  # leave them running
            platform.procs.clear()
            return
        print("Press Ctrl-C to stop.", flush=True)
        while not stop:
            for name, proc in platform.procs.items():
                if proc.poll() is not None:
                    print(f"[platform] {name} exited with {proc.returncode}; stopping", flush=True)
                    stop = True
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        if platform.procs:
            print("[platform] stopping services ...", flush=True)
            platform.stop_all()
            pid_file.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
