"""The legacy side's write switch and the proofs the cutover gates need (PostgreSQL, psycopg 3).

Freezing = ``ALTER ROLE <legacy app role> IN DATABASE <legacy db> SET default_transaction_read_only
= on`` (every new session of the legacy application is read-only: a write fails with "cannot
execute INSERT in a read-only transaction", which the application shows as an error and never
loses silently), then ending that role's open client sessions (a Django process keeps persistent
connections; on reconnecting it gets the read-only default). Debezium's own sessions (application
names "Debezium ...") and replication connections are never ended; the migration's own sessions
(the reverse writer) set ``default_transaction_read_only = off`` for themselves.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from algoitny_shared.legacy.tables import LEGACY_TABLES

MIGRATION_APP = "algoitny-migration"


@dataclass(frozen=True)
class WriteActivity:
    """What the legacy tables have seen so far: the statistics' change counters over the 8 tables
    and the open write transactions of other sessions in the legacy database."""

    changes: int
    open_writers: int
    wal_lsn: str
    slot_sent_lsn: str | None  # what the slot's WAL sender has read (None: no active sender)
    slot_active: bool


class LegacyControl:
    def __init__(self, dsn: str, app_role: str) -> None:
        self.dsn = dsn
        self.app_role = app_role

    def connect(self) -> psycopg.Connection[Any]:
        conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=10, application_name=MIGRATION_APP)
        conn.execute("SET default_transaction_read_only = off")
        return conn

    def _alter(self, conn: psycopg.Connection[Any], on: bool) -> None:
        db = conn.execute("SELECT current_database()").fetchone()[0]  # type: ignore[index]
        statement = (
            "ALTER ROLE {} IN DATABASE {} SET default_transaction_read_only = on"
            if on
            else "ALTER ROLE {} IN DATABASE {} RESET default_transaction_read_only"
        )
        conn.execute(sql.SQL(statement).format(sql.Identifier(self.app_role), sql.Identifier(db)))

    def freeze(self) -> int:
        """Make the legacy application's sessions read-only; returns how many open sessions were ended."""
        with self.connect() as conn:
            self._alter(conn, True)
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database()"
                " AND usename = %s AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
                " AND application_name NOT LIKE 'Debezium%%' AND application_name <> %s",
                (self.app_role, MIGRATION_APP),
            ).fetchall()
            return len(rows)

    def unfreeze(self) -> None:
        with self.connect() as conn:
            self._alter(conn, False)

    def frozen(self) -> bool:
        """True when a new session of the legacy application's role is read-only (checked by opening one)."""
        with self.connect() as conn:
            row = conn.execute(
                "SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole"
                " JOIN pg_database d ON d.oid = s.setdatabase WHERE r.rolname = %s AND d.datname = current_database()",
                (self.app_role,),
            ).fetchone()
        return bool(row and row[0] and "default_transaction_read_only=on" in row[0])

    def activity(self, slot: str) -> WriteActivity:
        names = [t.name for t in LEGACY_TABLES]
        with self.connect() as conn:
            conn.execute("SELECT pg_stat_clear_snapshot()")
            changes = conn.execute(
                "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_user_tables"
                " WHERE schemaname = 'public' AND relname = ANY(%s)",
                (names,),
            ).fetchone()[0]  # type: ignore[index]
            writers = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
                " AND backend_xid IS NOT NULL AND backend_type = 'client backend' AND application_name <> %s"
                " AND application_name NOT LIKE 'Debezium%%'",
                (MIGRATION_APP,),
            ).fetchone()[0]  # type: ignore[index]
            lsn = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0]  # type: ignore[index]
            slot_row = conn.execute(
                "SELECT s.active, r.sent_lsn::text FROM pg_replication_slots s"
                " LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid WHERE s.slot_name = %s",
                (slot,),
            ).fetchone()
        return WriteActivity(
            changes=int(changes),
            open_writers=int(writers),
            wal_lsn=lsn,
            slot_sent_lsn=slot_row[1] if slot_row else None,
            slot_active=bool(slot_row and slot_row[0]),
        )

    def write_marker(self) -> tuple[str, int, int] | None:
        """A change Debezium must capture after the freeze: a no-op update of the first subscription
        plan (same values: the importers change nothing). Returns (table, key, WAL position before it
        as a number); when it is on the legacy topic, every change before it is too (Debezium keeps
        commit order). None when there is no plan row."""
        with self.connect() as conn:
            before = conn.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn").fetchone()[0]  # type: ignore[index]
            row = conn.execute(
                "UPDATE public.subscription_plans SET updated_at = updated_at"
                " WHERE id = (SELECT min(id) FROM public.subscription_plans) RETURNING id"
            ).fetchone()
        return None if row is None else ("subscription_plans", int(row[0]), int(before))

    def lsn_reached(self, lsn: str, target: str) -> bool:
        with self.connect() as conn:
            row = conn.execute("SELECT pg_wal_lsn_diff(%s::pg_lsn, %s::pg_lsn) >= 0", (lsn, target)).fetchone()
        return bool(row and row[0])

    def advance_slot(self, slot: str) -> int | None:
        """Move the (inactive) slot to the current WAL position: changes written meanwhile by the
        reverse writer are never captured again (the platform already has them). Returns the
        position as a number (Debezium's offset format)."""
        with self.connect() as conn:
            row = conn.execute(
                "SELECT end_lsn - '0/0'::pg_lsn FROM pg_replication_slot_advance(%s, pg_current_wal_lsn())", (slot,)
            ).fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def slot_active(self, slot: str) -> bool:
        with self.connect() as conn:
            row = conn.execute("SELECT active FROM pg_replication_slots WHERE slot_name = %s", (slot,)).fetchone()
        return bool(row and row[0])


def wait_until(predicate: Any, timeout_s: float, interval_s: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout_s
    while True:
        if predicate():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval_s)
