"""`make down` from another terminal stops what `make run` started (issue 23, item 12).

``python -m algoitny_devtools.platform run`` is started with stand-in services (a tiny HTTP server
per service, so no infrastructure is needed); its ``down``, run as a separate process like ``make down``
would, must stop every one of them, by the PIDs ``run`` recorded, and the ``run`` process too.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEVSTACK = ["-m", "algoitny_devtools.platform"]

STUB = textwrap.dedent(
    """\
    import json, os, sys
    from http.server import BaseHTTPRequestHandler, HTTPServer

    module, rest = sys.argv[2], sys.argv[3:]
    if rest or module == "algoitny_shared.provision":  # provision, `seed`, `seed-admin`: nothing to do
        print("done")
        sys.exit(0)
    open(os.path.join(os.environ["STUB_PID_DIR"], f"{module}.{os.getpid()}"), "w").close()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _answer(self, status):
            self.rfile.read(int(self.headers.get("content-length") or 0))
            data = json.dumps({"status": "ready"}).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            self._answer(200)

        def do_POST(self):
            self._answer(201)

    HTTPServer(("127.0.0.1", int(os.environ["ALGOITNY_PORT"])), Handler).serve_forever()
    """
)


def _free_block() -> int:
    for _ in range(200):
        base = random.randrange(21000, 29000, 10)
        with contextlib.ExitStack() as stack:
            try:
                for offset in range(9):  # every service of the registry (algoitny_devtools.registry.SERVICES)
                    sock = stack.enter_context(socket.socket())
                    sock.bind(("127.0.0.1", base + offset))
            except OSError:
                continue
            return base
    raise RuntimeError("no free block of ports")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) counts as stopped.
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().split(")", 1)[1].split()[0] == "Z":
            return False
    return True


@pytest.fixture
def stand_ins(tmp_path: Path) -> Iterator[tuple[dict[str, str], Path]]:
    stub = tmp_path / "stub.py"
    stub.write_text(STUB)
    launcher = tmp_path / "python"
    launcher.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{stub}" "$@"\n')
    launcher.chmod(0o755)
    pids = tmp_path / "pids"
    pids.mkdir()
    env = {
        **os.environ,
        "ALGOITNY_PYTHON": str(launcher),
        "ALGOITNY_LOCAL_DIR": str(tmp_path / "local"),
        "ALGOITNY_NAMESPACE": f"down{random.randrange(10**6)}",
        "ALGOITNY_GATEWAY_PORT": str(_free_block()),
        "STUB_PID_DIR": str(pids),
    }
    yield env, pids
    for entry in pids.iterdir():  # whatever the outcome, nothing this test started survives it
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(entry.suffix[1:]), signal.SIGKILL)


def test_down_from_another_terminal_stops_the_services_run_started(
    stand_ins: tuple[dict[str, str], Path],
) -> None:
    env, pids = stand_ins
    run = subprocess.Popen(
        [sys.executable, *DEVSTACK, "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        assert run.stdout is not None
        deadline = time.monotonic() + 60
        for line in run.stdout:
            if "Press Ctrl-C to stop" in line or time.monotonic() > deadline:
                break
        services = [int(p.suffix[1:]) for p in pids.iterdir()]
        assert len(services) == 9 and all(_alive(p) for p in services)  # the registry's services

        down = subprocess.run([sys.executable, *DEVSTACK, "down"], env=env, capture_output=True, text=True, timeout=60)
        assert down.returncode == 0, down.stdout + down.stderr
        assert run.wait(timeout=30) == 0
        assert [p for p in services if _alive(p)] == [], down.stdout
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()


def test_down_leaves_a_process_that_took_a_recorded_pid_alone(
    stand_ins: tuple[dict[str, str], Path],
) -> None:
    """A PID recorded long ago may belong to something else now: only our services are signalled."""
    env, _ = stand_ins
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        run_dir = Path(env["ALGOITNY_LOCAL_DIR"]) / "run"
        run_dir.mkdir(parents=True)
        (run_dir / f"services.{env['ALGOITNY_NAMESPACE']}.json").write_text(f'{{"gateway": {bystander.pid}}}')
        down = subprocess.run([sys.executable, *DEVSTACK, "down"], env=env, capture_output=True, text=True, timeout=60)
        assert down.returncode == 0, down.stderr
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


SLEEPER = textwrap.dedent(
    """\
    import json, os, sys, time

    with open(os.path.join(os.environ["STUB_PID_DIR"], f"argv.{os.getpid()}"), "w") as f:
        json.dump({"argv": sys.argv[1:], "env": {k: v for k, v in os.environ.items() if k.startswith("ALGOITNY_")}}, f)
    time.sleep(120)
    """
)


def test_importers_start_the_reverse_writer_too_and_down_stops_it(
    stand_ins: tuple[dict[str, str], Path], tmp_path: Path
) -> None:
    """`make legacy` (devstack.py importers) starts the migration's reverse writer next to the
    importers, on base port + 108 and pointed at the platform; `make down` stops it."""
    import json

    env, pids = stand_ins
    sleeper = tmp_path / "sleeper.py"
    sleeper.write_text(SLEEPER)
    launcher = tmp_path / "python-sleeper"
    launcher.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{sleeper}" "$@"\n')
    launcher.chmod(0o755)
    env = {**env, "ALGOITNY_PYTHON": str(launcher)}
    env.pop("ALGOITNY_REVERSE_WRITER_PORT", None)
    started = subprocess.run(
        [sys.executable, *DEVSTACK, "importers"], env=env, capture_output=True, text=True, timeout=60
    )
    assert started.returncode == 0, started.stdout + started.stderr
    assert "reverse writer started" in started.stdout

    def launched() -> dict[int, dict[str, object]]:
        return {int(p.suffix[1:]): json.loads(p.read_text() or "{}") for p in pids.glob("argv.*") if p.stat().st_size}

    deadline = time.monotonic() + 30
    while not any(r.get("argv") == ["-m", "algoitny_migration", "reverse-writer"] for r in launched().values()):
        assert time.monotonic() < deadline, launched()
        time.sleep(0.1)
    [writer] = [r for r in launched().values() if r["argv"][1] == "algoitny_migration"]  # type: ignore[index]
    base = int(env["ALGOITNY_GATEWAY_PORT"])
    wenv = writer["env"]
    assert isinstance(wenv, dict)
    assert wenv["ALGOITNY_REVERSE_WRITER_PORT"] == str(base + 108)
    assert wenv["ALGOITNY_ACCOUNTS_URL"] == f"http://127.0.0.1:{base + 1}"
    assert wenv["ALGOITNY_NAMESPACE"] == env["ALGOITNY_NAMESPACE"]

    down = subprocess.run([sys.executable, *DEVSTACK, "down"], env=env, capture_output=True, text=True, timeout=60)
    assert down.returncode == 0, down.stdout + down.stderr
    assert "migration-reverse-writer" in down.stdout
    deadline = time.monotonic() + 30
    while any(_alive(p) for p in launched()):
        assert time.monotonic() < deadline, [p for p in launched() if _alive(p)]
        time.sleep(0.1)
