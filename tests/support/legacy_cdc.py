"""The legacy side of the migration in tests: the shared PostgreSQL (deploy/local/legacy.sh),
a database of our own per namespace, a private Kafka Connect worker per test session (so a
test may SIGKILL it), the Debezium connector, a legacy writer, and a reader of the topics."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

REPO = Path(__file__).resolve().parents[2]
LOCAL_DIR = Path(os.environ.get("ALGOITNY_LOCAL_DIR", REPO / ".local")).resolve()
ADMIN_DSN = os.environ.get("ALGOITNY_LEGACY_ADMIN_DSN", "postgresql://algoitny:algoitny@127.0.0.1:5432/postgres")


def legacy_up() -> list[str]:
    """Start PostgreSQL (and install Connect's jars) unless already there; the parts started."""
    env = {**os.environ, "ALGOITNY_LOCAL_DIR": str(LOCAL_DIR)}
    subprocess.run(["bash", str(REPO / "deploy/local/legacy.sh"), "up", "postgres"], check=True, env=env)
    out = subprocess.run(
        ["bash", str(REPO / "deploy/local/legacy.sh"), "started"], check=True, env=env, capture_output=True, text=True
    )
    return out.stdout.split()


def legacy_stop(parts: list[str]) -> None:
    if parts:
        env = {**os.environ, "ALGOITNY_LOCAL_DIR": str(LOCAL_DIR)}
        subprocess.run(["bash", str(REPO / "deploy/local/legacy.sh"), "stop", *parts], check=False, env=env)


def create_database(name: str, admin_dsn: str = ADMIN_DSN) -> str:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(sql.Identifier(name)))
    return admin_dsn.rsplit("/", 1)[0] + "/" + name


def drop_database(name: str, slot: str | None = None, admin_dsn: str = ADMIN_DSN) -> None:
    """Drop a test's database and its replication slot (Connect lets go of a deleted connector's
    slot a little later: its walsender is terminated until the slot can be dropped)."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        deadline = time.monotonic() + 30
        while slot and time.monotonic() < deadline:
            row = conn.execute("SELECT active_pid FROM pg_replication_slots WHERE slot_name = %s", (slot,)).fetchone()
            if row is None:
                break
            if row[0]:
                with contextlib.suppress(psycopg.Error):
                    conn.execute("SELECT pg_terminate_backend(%s)", (row[0],))
                time.sleep(0.2)
                continue
            try:
                conn.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
                break
            except psycopg.Error:
                time.sleep(0.2)
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, timeout: float = 2.0) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, None
    except (urllib.error.URLError, OSError, ValueError):
        return 0, None


@dataclass
class ConnectWorker:
    """A Kafka Connect worker in distributed mode, of our own (group ``<namespace>-connect``)."""

    namespace: str
    kafka: str = "127.0.0.1:9092"
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    started_s: list[float] = field(default_factory=list)  # start-up times, measured

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def group(self) -> str:
        return f"{self.namespace}-connect"

    def start(self, timeout_s: float = 120.0) -> None:
        lib = LOCAL_DIR / "connect" / "lib"
        if not any(lib.glob("connect-runtime-*.jar")):
            subprocess.run(["bash", str(REPO / "deploy/local/legacy.sh"), "install"], check=True)
        work = LOCAL_DIR / "connect" / f"worker-{self.namespace}"
        work.mkdir(parents=True, exist_ok=True)
        props = work / "worker.properties"
        props.write_text(
            "\n".join(
                [
                    f"bootstrap.servers={self.kafka}",
                    f"group.id={self.group}",
                    f"config.storage.topic={self.namespace}.connect.configs",
                    f"offset.storage.topic={self.namespace}.connect.offsets",
                    f"status.storage.topic={self.namespace}.connect.status",
                    "config.storage.replication.factor=1",
                    "offset.storage.replication.factor=1",
                    "status.storage.replication.factor=1",
                    "offset.storage.partitions=1",
                    "status.storage.partitions=1",
                    "key.converter=org.apache.kafka.connect.json.JsonConverter",
                    "value.converter=org.apache.kafka.connect.json.JsonConverter",
                    "key.converter.schemas.enable=false",
                    "value.converter.schemas.enable=false",
                    "offset.flush.interval.ms=1000",
                    f"listeners=http://127.0.0.1:{self.port}",
                    "rest.advertised.host.name=127.0.0.1",
                    f"rest.advertised.port={self.port}",
                    "topic.creation.enable=true",
                    "plugin.discovery=only_scan",
                    "scheduled.rebalance.max.delay.ms=0",
                    "producer.enable.idempotence=true",
                    "producer.acks=all",
                    "producer.linger.ms=5",
                ]
            )
            + "\n"
        )
        log = open(work / "connect.log", "ab")  # noqa: SIM115 - owned by the child
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [
                "java",
                "-Xms128m",
                "-Xmx512m",
                "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1",
                f"-Dlog4j2.configurationFile={REPO / 'deploy/local/connect/log4j2.properties'}",
                "-cp",
                f"{lib}/*",
                "org.apache.kafka.connect.cli.ConnectDistributed",
                str(props),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=work,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout_s
        while _get(f"{self.url}/connectors")[0] != 200:
            if self.proc.poll() is not None:
                raise RuntimeError(f"Connect exited ({self.proc.returncode}); see {work / 'connect.log'}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"Connect not ready after {timeout_s} s; see {work / 'connect.log'}")
            time.sleep(0.25)
        self.started_s.append(time.monotonic() - t0)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=60)
        self.proc = None

    def stop(self) -> None:
        self.kill(signal.SIGTERM)

    def wait_running(self, name: str, timeout_s: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        last: Any = None
        while time.monotonic() < deadline:
            code, last = _get(f"{self.url}/connectors/{name}/status")
            if code == 200 and last["connector"]["state"] == "RUNNING" and last["tasks"]:
                if all(t["state"] == "RUNNING" for t in last["tasks"]):
                    return last  # type: ignore[no-any-return]
                if any(t["state"] == "FAILED" for t in last["tasks"]):
                    raise RuntimeError(f"connector task failed: {last['tasks']}")
            time.sleep(0.25)
        raise TimeoutError(f"connector {name} not running: {last}")


def _pick(table: str, where: str = "") -> str:
    """A random row's id by the primary-key index (ORDER BY random() would sort the whole table)."""
    cond = f" AND {where}" if where else ""
    return (
        f"(SELECT id FROM {table} WHERE id >= (SELECT floor(random() * max(id))::bigint FROM {table}){cond}"
        " ORDER BY id LIMIT 1)"
    )


class LegacyWriter:
    """Writes like the legacy Django application while the migration runs: new runs and usage
    logs, renamed users, edited and soft-deleted problems, deleted usage logs. Records the keys
    it touched per table."""

    def __init__(self, dsn: str, seed: int = 7) -> None:
        self.dsn = dsn
        self.rng = random.Random(seed)
        self.touched: dict[str, set[str]] = {}
        self.ops = 0
        self.write_times: dict[tuple[str, str], float] = {}  # (table, key) -> wall time of the commit
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def _touch(self, table: str, key: object) -> None:
        self.touched.setdefault(table, set()).add(str(key))
        self.write_times[(table, str(key))] = time.time()

    def step(self, conn: psycopg.Connection[Any]) -> None:
        r = self.rng.random()
        now = datetime.now(UTC)
        with conn.transaction():
            if r < 0.35:
                row = conn.execute(
                    "INSERT INTO search_history (user_id, user_identifier, problem_id, platform, problem_number,"
                    " problem_title, language, code, result_summary, passed_count, failed_count, total_count,"
                    " is_code_public, test_results, hints, metadata, created_at)"
                    " SELECT u.id, u.email, p.id, p.platform, p.problem_id, p.title, 'python', 'print(1)',"
                    " '\"Passed\"', 1, 0, 1, false, '[]', NULL, '{}', %s"
                    f" FROM users u, problems p WHERE u.id = {_pick('users')}"
                    f" AND p.id = {_pick('problems', 'NOT is_deleted')} RETURNING id",
                    (now,),
                ).fetchone()
                if row:
                    self._touch("search_history", row[0])
            elif r < 0.6:
                row = conn.execute(
                    "INSERT INTO usage_logs (user_id, action, problem_id, metadata, created_at)"
                    ' SELECT id, \'execution\', NULL, \'{"task_id": "w", "language": "python"}\', %s'
                    f" FROM users WHERE id = {_pick('users')} RETURNING id",
                    (now,),
                ).fetchone()
                if row:
                    self._touch("usage_logs", row[0])
            elif r < 0.75:
                row = conn.execute(
                    f"UPDATE users SET name = %s, updated_at = %s WHERE id = {_pick('users')} RETURNING id",
                    (f"이름 {self.ops}", now),
                ).fetchone()
                if row:
                    self._touch("users", row[0])
            elif r < 0.88:
                row = conn.execute(
                    "UPDATE problems SET title = title || ' (개정)', tags = '[\"updated\"]'"
                    f" WHERE id = {_pick('problems')} RETURNING id"
                ).fetchone()
                if row:
                    self._touch("problems", row[0])
            elif r < 0.94:
                row = conn.execute(
                    "UPDATE problems SET is_deleted = true, deleted_at = %s, deleted_reason = 'writer'"
                    f" WHERE id = {_pick('problems', 'NOT is_deleted')} RETURNING id",
                    (now,),
                ).fetchone()
                if row:
                    self._touch("problems", row[0])
            else:
                row = conn.execute(f"DELETE FROM usage_logs WHERE id = {_pick('usage_logs')} RETURNING id").fetchone()
                if row:
                    self._touch("usage_logs", row[0])
        self.ops += 1

    def _run(self, pause_s: float) -> None:
        try:
            with psycopg.connect(self.dsn, autocommit=True) as conn:
                while not self._stop.is_set():
                    self.step(conn)
                    if pause_s:
                        self._stop.wait(pause_s)
        except BaseException as exc:  # surfaced by stop()
            self.error = exc

    def start(self, pause_s: float = 0.005) -> None:
        self._thread = threading.Thread(target=self._run, args=(pause_s,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=30)
        if self.error:
            raise self.error


# ---------------------------------------------------------------- what the topics hold


def _norm(value: Any) -> Any:
    if isinstance(value, datetime):
        aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return aware.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, dict):
        return {str(k): _norm(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_norm(v) for v in value]
    return value


def database_state(dsn: str) -> dict[str, dict[str, dict[str, Any]]]:
    """Every row of the 8 legacy tables, by table and primary key, normalised."""
    from psycopg.rows import dict_row

    from algoitny_shared.legacy.tables import LEGACY_TABLES

    out: dict[str, dict[str, dict[str, Any]]] = {}
    with psycopg.connect(dsn) as conn, conn.cursor(row_factory=dict_row) as cur:
        for t in LEGACY_TABLES:
            cur.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier(t.name)))
            out[t.name] = {str(r[t.primary_key]): _norm(dict(r)) for r in cur.fetchall()}
    return out


@dataclass
class TopicState:
    """The legacy topics folded by key: the last change of each row wins (deletes remove it)."""

    prefix: str
    keep_rows: bool = True  # False: keys only (the benchmark's consumer keeps up with Connect)
    rows: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    ops: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # table -> key -> ops in order
    seen_at: dict[tuple[str, str], float] = field(default_factory=dict)  # first time a key's last change was read
    messages: int = 0

    async def follow(self, bootstrap: str, until: Any, timeout_s: float = 90.0) -> bool:
        """Consume every legacy topic from the start until ``until(self)`` is true."""
        import asyncio

        from aiokafka import AIOKafkaConsumer

        from algoitny_shared.legacy.changes import parse_change
        from algoitny_shared.legacy.tables import LEGACY_TABLES

        topics = {t.topic(self.prefix): t.name for t in LEGACY_TABLES}
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            metadata_max_age_ms=1000,
            fetch_max_bytes=16 * 1024 * 1024,
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        consumer.subscribe(pattern=rf"^{self.prefix.replace('.', '[.]')}[.]public[.].*")
        await consumer.start()
        deadline = time.monotonic() + timeout_s
        try:
            while time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=500, max_records=5000)
                for tp, msgs in batch.items():
                    table = topics.get(tp.topic)
                    if table is None:
                        continue
                    for m in msgs:
                        self.messages += 1
                        change = parse_change(table, m.key, m.value)
                        if change is None:
                            continue
                        rows = self.rows.setdefault(table, {})
                        self.ops.setdefault(table, {}).setdefault(change.key, []).append(change.op)
                        if change.deleted:
                            rows.pop(change.key, None)
                        else:
                            rows[change.key] = _norm(change.typed().columns()) if self.keep_rows else {}
                        self.seen_at[(table, change.key)] = time.time()
                if until(self):
                    return True
                await asyncio.sleep(0)
            return bool(until(self))
        finally:
            await consumer.stop()


def differences(db: dict[str, dict[str, dict[str, Any]]], topics: TopicState, limit: int = 5) -> list[str]:
    out: list[str] = []
    for table, rows in db.items():
        got = topics.rows.get(table, {})
        for key in rows.keys() - got.keys():
            out.append(f"{table}:{key} missing from the topic")
        for key in got.keys() - rows.keys():
            out.append(f"{table}:{key} in the topic, not in the database")
        for key in rows.keys() & got.keys():
            if rows[key] != got[key]:
                cols = [c for c in rows[key] if rows[key][c] != got[key].get(c)]
                out.append(f"{table}:{key} differs in {cols}")
        if len(out) >= limit:
            break
    return out[:limit]


# ---------------------------------------------------------------- pytest fixtures (conftest.py plugin)

try:
    import pytest as _pytest

    @_pytest.fixture(scope="session")
    def legacy_postgres() -> Any:
        """The shared legacy PostgreSQL (deploy/local/legacy.sh); stopped only if this session started it."""
        started = legacy_up()
        yield
        legacy_stop(started)

    @_pytest.fixture(scope="session")
    def connect_worker(legacy_postgres: None, namespace: str) -> Any:
        """A Kafka Connect worker of this test session (started once: its JVM takes 12-30 s to start)."""
        import asyncio

        worker = ConnectWorker(namespace, os.environ.get("ALGOITNY_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
        worker.start()
        yield worker
        worker.stop()
        asyncio.run(delete_topics(worker.kafka, f"{namespace}."))

except ImportError:  # pragma: no cover - the bench imports this module without pytest
    pass


async def delete_topics(bootstrap: str, prefix: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        mine = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if mine:
            await admin.delete_topics(mine)
    finally:
        await admin.close()


async def legacy_topics_exist(prefix: str, bootstrap: str | None = None) -> bool:
    """Connect has created the topic of every legacy table (``<prefix>.public.<table>``)."""
    from aiokafka.admin import AIOKafkaAdminClient

    from algoitny_shared.legacy.tables import LEGACY_TABLES

    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap or os.environ.get("ALGOITNY_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    )
    await admin.start()
    try:
        return {t.topic(prefix) for t in LEGACY_TABLES} <= set(await admin.list_topics())
    finally:
        await admin.close()
