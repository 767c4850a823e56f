"""A private PostgreSQL cluster for a test that restarts it: its own data directory and port,
started and stopped by this code only, so restarting it never touches the shared server other
test runs use (deploy/local/legacy.sh). Same binaries and settings as legacy.sh (PostgreSQL 15,
``wal_level=logical``); the application role ``algoitny`` as legacy.sh creates it."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parents[2]
PG_BIN = Path("/usr/lib/postgresql/15/bin")
ROLE, PASSWORD = "algoitny", "algoitny"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres() -> list[str]:
    """PostgreSQL refuses to run as root: as root, its programs run as the `postgres` OS user."""
    return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"] if os.getuid() == 0 else []


class PrivatePostgres:
    def __init__(self) -> None:
        if not (PG_BIN / "postgres").exists():
            subprocess.run(["bash", str(REPO / "deploy/local/legacy.sh"), "install"], check=True)
        self.port = _free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="algoitny-pg-"))
        self.data = self.dir / "data"
        self.sock = self.dir / "sock"
        self.log = self.dir / "postgres.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.restarts = 0

    @property
    def admin_dsn(self) -> str:
        """The application role on the maintenance database (it may create databases)."""
        return f"postgresql://{ROLE}:{PASSWORD}@127.0.0.1:{self.port}/postgres"

    def _chown(self, *paths: Path) -> None:
        if os.getuid() == 0:
            for p in paths:
                shutil.chown(p, "postgres", "postgres")

    def _init(self) -> None:
        self.sock.mkdir(parents=True, exist_ok=True)
        self._chown(self.dir, self.sock)
        subprocess.run(
            [
                *_as_postgres(),
                str(PG_BIN / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ],
            check=True,
            capture_output=True,
        )
        with open(self.data / "pg_hba.conf", "a") as hba:
            hba.write(f"host replication {ROLE} 127.0.0.1/32 scram-sha-256\n")

    def start(self, timeout_s: float = 60.0) -> None:
        first = not self.data.exists()
        if first:
            self._init()
        log = open(self.log, "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(
            [
                *_as_postgres(),
                str(PG_BIN / "postgres"),
                "-D",
                str(self.data),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"port={self.port}",
                "-c",
                f"unix_socket_directories={self.sock}",
                *("-c", "wal_level=logical", "-c", "max_replication_slots=8", "-c", "max_wal_senders=8"),
                *("-c", "max_connections=100", "-c", "shared_buffers=32MB", "-c", "fsync=on"),
                *("-c", "synchronous_commit=on", "-c", "logging_collector=off", "-c", "log_min_messages=warning"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout_s
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"private PostgreSQL exited ({self.proc.returncode}); see {self.log}")
            try:
                with psycopg.connect(host=str(self.sock), port=self.port, user="postgres", dbname="postgres") as conn:
                    if first:
                        conn.execute(f"CREATE ROLE {ROLE} LOGIN REPLICATION CREATEDB PASSWORD '{PASSWORD}'")
                        conn.execute(f"GRANT SET ON PARAMETER session_replication_role TO {ROLE}")
                        conn.commit()
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"private PostgreSQL not up after {timeout_s:.0f} s; see {self.log}") from None
                time.sleep(0.2)

    def stop(self, immediate: bool = False, timeout_s: float = 60.0) -> None:
        """Fast shutdown (SIGINT), or immediate (SIGQUIT: no checkpoint, crash recovery on the next
        start, as after a power cut)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGQUIT if immediate else signal.SIGINT)
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def restart(self, immediate: bool = True) -> float:
        """Stop and start again on the same port and data; the seconds it was down."""
        t0 = time.monotonic()
        self.stop(immediate=immediate)
        self.start()
        self.restarts += 1
        return time.monotonic() - t0

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
