"""Change data capture of the legacy database on the real parts: PostgreSQL 15, Kafka Connect
(distributed mode) with Debezium's PostgreSQL connector, Kafka.

- The initial snapshot taken while a writer keeps inserting, updating and deleting ends with
  every row's last state in the legacy topics (and every insert, update and delete seen).
- SIGKILL of the Connect worker mid-stream, then a restart: nothing is lost.
- The seeded legacy data is in the legacy formats (checked in SQL on the real database).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from support.legacy_cdc import (
    ConnectWorker,
    LegacyWriter,
    TopicState,
    create_database,
    database_state,
    differences,
    drop_database,
)

pytestmark = [pytest.mark.integration, pytest.mark.long_file]

KAFKA = "127.0.0.1:9092"


@dataclasses.dataclass
class LegacyRun:
    namespace: str
    dsn: str
    prefix: str
    migration: Any


@pytest.fixture
def legacy_run(connect_worker: ConnectWorker, namespace: str, request: pytest.FixtureRequest) -> Iterator[LegacyRun]:
    """A legacy database, topic prefix, slot and publication of this test's own."""
    from algoitny_migration.bootstrap import build
    from algoitny_migration.settings import MigrationSettings

    sub = f"{namespace}-{request.node.name[5:13].replace('_', '')}"
    db_name = f"legacy_{sub.replace('-', '_')}"
    dsn = create_database(db_name)
    settings = MigrationSettings(
        namespace=sub[:30],
        legacy_dsn=dsn,
        connect_url=connect_worker.url,
        legacy_topic_prefix=f"{sub}.legacy",
        kafka_bootstrap_servers=KAFKA,
    )
    m = build(settings)
    m.legacy.apply_schema()
    yield LegacyRun(sub, dsn, settings.legacy_topic_prefix, m)
    try:
        m.connect.delete(settings.connector_name())
    finally:
        asyncio.run(m.close())
        drop_database(db_name, settings.slot_name())


def _seed(run: LegacyRun, hashed_users: int = 3) -> dict[str, int]:
    from algoitny_migration.domain.legacy_data import SCALES, generate

    ds = generate(dataclasses.replace(SCALES["small"], hashed_users=hashed_users))
    return run.migration.legacy.load(ds)


def _converged(run: LegacyRun, topics: TopicState, timeout_s: float = 90.0) -> list[str]:
    """Follow the topics until they hold the database's state; the differences left (empty: converged)."""
    db = database_state(run.dsn)
    ok = asyncio.run(topics.follow(KAFKA, lambda t: not differences(db, t, 1), timeout_s))
    return [] if ok else differences(db, topics)


def test_snapshot_while_the_legacy_app_writes_delivers_every_row_and_change(legacy_run: LegacyRun) -> None:
    counts = _seed(legacy_run)
    writer = LegacyWriter(legacy_run.dsn)
    writer.start()
    try:
        time.sleep(0.5)  # the writer is busy before the snapshot starts
        legacy_run.migration.register_connector()
        # The writer goes on through the snapshot and into streaming.
        topics = TopicState(legacy_run.prefix)
        asyncio.run(
            topics.follow(KAFKA, lambda t: len(t.rows.get("search_history", {})) >= counts["search_history"], 120)
        )
        time.sleep(1.0)
    finally:
        writer.stop()
    assert writer.ops > 20, f"the writer wrote too little to prove anything ({writer.ops} changes)"
    left = _converged(legacy_run, topics)
    assert not left, f"the topics do not hold the legacy database's state: {left}"
    # Changes made after the snapshot arrived as such (c/u/d), not only as snapshot reads.
    seen_ops = {op for table in topics.ops.values() for ops in table.values() for op in ops}
    assert {"r", "c", "u"} <= seen_ops, seen_ops
    for table, keys in writer.touched.items():
        for key in keys:
            in_db = database_state(legacy_run.dsn)[table].get(key) if table == "usage_logs" else True
            assert in_db is None or key in topics.ops.get(table, {}), f"{table}:{key} written but never captured"


def test_connect_worker_sigkill_mid_stream_then_restart_loses_nothing(
    legacy_run: LegacyRun, connect_worker: ConnectWorker
) -> None:
    counts = _seed(legacy_run, hashed_users=0)
    writer = LegacyWriter(legacy_run.dsn, seed=11)
    writer.start()
    try:
        legacy_run.migration.register_connector()
        # Streaming (the snapshot is done: an interrupted snapshot is taken again, see docs/migration.md).
        asyncio.run(
            TopicState(legacy_run.prefix).follow(
                KAFKA, lambda t: len(t.rows.get("search_history", {})) >= counts["search_history"], 120
            )
        )
        time.sleep(1.0)
        connect_worker.kill()  # SIGKILL mid-stream: no offset flush, no clean shutdown
        time.sleep(1.5)  # the legacy application goes on writing while Connect is down
        connect_worker.start()
        connect_worker.wait_running(legacy_run.migration.settings.connector_name(), 90)
        time.sleep(1.5)
    finally:
        writer.stop()
    topics = TopicState(legacy_run.prefix)
    left = _converged(legacy_run, topics)
    assert not left, f"changes lost across the SIGKILL: {left}"
    assert writer.ops > 20


def test_seeded_legacy_data_is_in_the_legacy_formats(legacy_run: LegacyRun) -> None:
    from algoitny_migration.domain.legacy_data import password_of

    _seed(legacy_run)
    with psycopg.connect(legacy_run.dsn) as conn:

        def one(q: str) -> Any:
            row = conn.execute(q).fetchone()
            assert row is not None
            return row[0]

        # result_summary is the JSON string "Passed" or "Failed", Passed exactly when nothing failed.
        assert one("SELECT count(*) FROM search_history WHERE jsonb_typeof(result_summary) <> 'string'") == 0
        assert (
            one("SELECT count(*) FROM search_history WHERE (result_summary #>> '{}' = 'Passed') <> (failed_count = 0)")
            == 0
        )
        assert one("SELECT count(*) FROM search_history WHERE jsonb_typeof(test_results) = 'array'") > 0
        assert one("SELECT count(*) FROM search_history WHERE jsonb_typeof(hints) = 'array'") > 0
        assert one("SELECT count(*) FROM problems WHERE jsonb_typeof(tags) = 'array'") > 0
        assert one("SELECT max(length(input)) FROM test_cases") > 100 * 1024
        assert one("SELECT min(length(input)) FROM test_cases") < 16
        assert one("SELECT count(*) FROM problems WHERE is_deleted AND deleted_at IS NOT NULL") > 0
        assert one("SELECT count(*) FROM problems WHERE NOT is_completed") > 0
        assert one("SELECT count(*) FROM subscription_plans WHERE max_hints_per_day = -1") >= 1
        assert one("SELECT count(*) FROM users WHERE password LIKE '!%' AND google_id IS NOT NULL") > 0
        today = "date_trunc('day', now() at time zone 'UTC') at time zone 'UTC'"
        assert one(f"SELECT count(*) FROM usage_logs WHERE created_at >= {today}") > 0
        assert one("SELECT count(*) FROM (SELECT lower(email) FROM users GROUP BY 1 HAVING count(*) > 1) d") >= 1
        # Orphans: a foreign key naming a row that is gone.
        gone_user = "LEFT JOIN users u ON u.id = h.user_id WHERE h.user_id IS NOT NULL AND u.id IS NULL"
        assert one(f"SELECT count(*) FROM search_history h {gone_user}") >= 1
        assert (
            one("SELECT count(*) FROM test_cases t LEFT JOIN problems p ON p.id = t.problem_id WHERE p.id IS NULL") >= 1
        )
        # solution_code is base64 of the source.
        code = one("SELECT solution_code FROM problems WHERE solution_code IS NOT NULL LIMIT 1")
        assert base64.b64decode(code).decode().strip()
        # A real Django pbkdf2_sha256 hash of the documented demo password.
        uid, encoded = conn.execute(
            "SELECT id, password FROM users WHERE password LIKE 'pbkdf2_sha256$%' ORDER BY id LIMIT 1"
        ).fetchone()  # type: ignore[misc]
        _, iterations, salt, digest = encoded.split("$")
        expected = hashlib.pbkdf2_hmac("sha256", password_of(uid).encode(), salt.encode(), int(iterations))
        assert base64.b64encode(expected).decode() == digest
