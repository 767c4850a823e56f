"""The reverse writer's side of the legacy database: the legacy tables written in their own
shape, and the writer's bookkeeping in a schema of its own (``algoitny_reverse``; the legacy
tables' shape never changes):

- ``applied(event_id)``: events already written back, inserted in the same transaction as the
  legacy rows, so a redelivered event changes nothing (exactly once under at-least-once delivery);
- ``mapping(kind, new_id) -> legacy_id``: which legacy row each platform entity became (users,
  problems, test sets, executions, usage, generation jobs), with the digest of the row as written
  (``md5(row_to_json)``), so ``verify`` can prove the legacy database still holds every change.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from algoitny_migration.adapters.legacy_control import MIGRATION_APP
from algoitny_shared.legacy.rows import ROW_MODELS
from algoitny_shared.legacy.tables import LEGACY_TABLES

SCHEMA = "algoitny_reverse"
DDL = f"""
CREATE SCHEMA IF NOT EXISTS {SCHEMA};
CREATE TABLE IF NOT EXISTS {SCHEMA}.applied (
    event_id uuid PRIMARY KEY, event_type text NOT NULL, outcome text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS {SCHEMA}.mapping (
    kind text NOT NULL, new_id text NOT NULL, legacy_table text NOT NULL, legacy_id bigint NOT NULL,
    created boolean NOT NULL, removed boolean NOT NULL DEFAULT false, digest text,
    updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (kind, new_id)
);
"""
# jsonb columns of the tables written back (every imported one), from the shared typed rows.
JSON_COLUMNS = {column for table in LEGACY_TABLES if table.importers for column in ROW_MODELS[table.name].JSON_COLUMNS}
# How verify digests what a mapping points at.
DIGEST_SQL = {
    "test_cases": "SELECT md5(coalesce(string_agg(md5(input) || md5(output), ',' ORDER BY id), '')) "
    "FROM public.test_cases WHERE problem_id = %s",
}


def _row_digest_sql(table: str) -> sql.Composed:
    return sql.SQL("SELECT md5(row_to_json(t)::text) FROM public.{} t WHERE id = %s").format(sql.Identifier(table))


class NotYetKnown(ConnectionError):
    """What the event refers to is not in the legacy database yet (another topic's event comes
    later): transient, the consumer redelivers the event."""


@dataclass
class ReverseVerifyReport:
    checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class Tx:
    """One event's writes, in one transaction with its ``applied`` row."""

    def __init__(self, cur: psycopg.Cursor[Any]) -> None:
        self.cur = cur

    def mapped(self, kind: str, new_id: str) -> int | None:
        row = self.cur.execute(
            f"SELECT legacy_id, removed FROM {SCHEMA}.mapping WHERE kind = %s AND new_id = %s", (kind, new_id)
        ).fetchone()
        return None if row is None or row["removed"] else int(row["legacy_id"])

    def _map(self, kind: str, new_id: str, table: str, legacy_id: int, created: bool, removed: bool = False) -> None:
        digest_sql = DIGEST_SQL.get(kind)
        if removed:
            digest = None
        elif digest_sql:
            digest = self.cur.execute(digest_sql, (legacy_id,)).fetchone()["md5"]  # type: ignore[index]
        else:
            digest = self.cur.execute(_row_digest_sql(table), (legacy_id,)).fetchone()["md5"]  # type: ignore[index]
        self.cur.execute(
            f"INSERT INTO {SCHEMA}.mapping (kind, new_id, legacy_table, legacy_id, created, removed, digest)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (kind, new_id) DO UPDATE SET legacy_id ="
            " EXCLUDED.legacy_id, removed = EXCLUDED.removed, digest = EXCLUDED.digest, updated_at = now(),"
            f" created = {SCHEMA}.mapping.created OR EXCLUDED.created",
            (kind, new_id, table, legacy_id, created, removed, digest),
        )

    def _values(self, row: dict[str, Any]) -> list[Any]:
        return [Jsonb(v) if k in JSON_COLUMNS and v is not None else v for k, v in row.items()]

    def _insert(self, table: str, row: dict[str, Any]) -> int:
        statement = sql.SQL("INSERT INTO public.{} ({}) VALUES ({}) RETURNING id").format(
            sql.Identifier(table),
            sql.SQL(", ").join(sql.Identifier(k) for k in row),
            sql.SQL(", ").join(sql.Placeholder() for _ in row),
        )
        return int(self.cur.execute(statement, self._values(row)).fetchone()["id"])  # type: ignore[index]

    def _update(self, table: str, legacy_id: int, row: dict[str, Any]) -> None:
        statement = sql.SQL("UPDATE public.{} SET {} WHERE id = %s").format(
            sql.Identifier(table), sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(k)) for k in row)
        )
        self.cur.execute(statement, [*self._values(row), legacy_id])

    def upsert(self, kind: str, new_id: str, table: str, row: dict[str, Any], known_id: int | None = None) -> int:
        """Update the row ``new_id`` became (or ``known_id``: a migrated row), else insert it."""
        legacy_id = self.mapped(kind, new_id) or known_id
        created = False
        if (
            legacy_id is not None
            and self.cur.execute(
                sql.SQL("SELECT 1 FROM public.{} WHERE id = %s").format(sql.Identifier(table)), (legacy_id,)
            ).fetchone()
        ):
            update = {k: v for k, v in row.items() if k != "created_at"}
            self._update(table, legacy_id, update)
        else:
            legacy_id, created = self._insert(table, row), True
        self._map(kind, new_id, table, legacy_id, created)
        return legacy_id

    def insert_once(self, kind: str, new_id: str, table: str, row: dict[str, Any]) -> int:
        found = self.mapped(kind, new_id)
        if found is not None:
            return found
        legacy_id = self._insert(table, row)
        self._map(kind, new_id, table, legacy_id, True)
        return legacy_id

    def remove(self, kind: str, new_id: str, table: str) -> bool:
        legacy_id = self.mapped(kind, new_id)
        if legacy_id is None:
            return False
        self.cur.execute(sql.SQL("DELETE FROM public.{} WHERE id = %s").format(sql.Identifier(table)), (legacy_id,))
        self._map(kind, new_id, table, legacy_id, False, removed=True)
        return True

    def problem_id(self, platform: str, problem_id: str) -> int | None:
        row = self.cur.execute(
            "SELECT id FROM public.problems WHERE lower(platform) = lower(%s) AND problem_id = %s"
            " ORDER BY is_deleted, id DESC LIMIT 1",
            (platform, problem_id),
        ).fetchone()
        return None if row is None else int(row["id"])

    def user_by_email(self, email: str) -> int | None:
        row = self.cur.execute("SELECT id FROM public.users WHERE email = %s", (email,)).fetchone()
        return None if row is None else int(row["id"])

    def plan_exists(self, plan: int | None) -> bool:
        return plan is not None and bool(
            self.cur.execute("SELECT 1 FROM public.subscription_plans WHERE id = %s", (plan,)).fetchone()
        )

    def replace_test_cases(self, key: str, problem: int, cases: list[dict[str, Any]], created_at: str) -> None:
        self.cur.execute("DELETE FROM public.test_cases WHERE problem_id = %s", (problem,))
        with self.cur.copy("COPY public.test_cases (problem_id, input, output, created_at) FROM STDIN") as copy:
            for case in cases:
                copy.write_row((problem, case["input"], case["output"], created_at))
        self._map("test_cases", key, "test_cases", problem, True)

    def set_hints(self, execution_legacy_id: int, hints: list[str]) -> None:
        self.cur.execute(
            "UPDATE public.search_history SET hints = %s WHERE id = %s", (Jsonb(hints), execution_legacy_id)
        )

    def remap(self, kind: str, new_id: str, table: str, legacy_id: int) -> None:
        """Refresh the digest after a later change of a mapped row (e.g. hints added to a run)."""
        row = self.cur.execute(
            f"SELECT created FROM {SCHEMA}.mapping WHERE kind = %s AND new_id = %s", (kind, new_id)
        ).fetchone()
        self._map(kind, new_id, table, legacy_id, bool(row and row["created"]))


class ReverseStore:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    def connect(self) -> psycopg.Connection[Any]:
        conn = psycopg.connect(self.dsn, connect_timeout=10, application_name=MIGRATION_APP, row_factory=dict_row)
        # The legacy role may be frozen (read-only by default): the reverse writer writes on purpose.
        conn.execute("SET default_transaction_read_only = off")
        conn.commit()
        return conn

    def ensure_schema(self) -> None:
        with self.connect() as conn:
            conn.execute(DDL)
            conn.commit()

    @contextmanager
    def event(self, event_id: str, event_type: str, outcome: list[str]) -> Iterator[Tx | None]:
        """A transaction for one event; yields None when it was applied before (redelivery)."""
        with self.connect() as conn, conn.transaction(), conn.cursor() as cur:
            first = cur.execute(
                f"INSERT INTO {SCHEMA}.applied (event_id, event_type, outcome) VALUES (%s, %s, 'pending')"
                " ON CONFLICT DO NOTHING RETURNING event_id",
                (event_id, event_type),
            ).fetchone()
            if first is None:
                yield None
                return
            yield Tx(cur)
            cur.execute(
                f"UPDATE {SCHEMA}.applied SET outcome = %s WHERE event_id = %s",
                (",".join(outcome) or "written", event_id),
            )

    def counts(self) -> dict[str, int]:
        with self.connect() as conn:
            rows = conn.execute(
                f"SELECT kind, count(*) AS n FROM {SCHEMA}.mapping WHERE NOT removed GROUP BY kind"
            ).fetchall()
            applied = conn.execute(f"SELECT count(*) AS n FROM {SCHEMA}.applied").fetchone()
        return {"applied_events": int(applied["n"]) if applied else 0, **{r["kind"]: int(r["n"]) for r in rows}}

    def platform_originated(self) -> dict[str, set[str]]:
        """Legacy table -> keys of the rows the reverse writer created (not updated) and did not remove."""
        out: dict[str, set[str]] = {}
        try:
            with self.connect() as conn:
                if not conn.execute("SELECT to_regclass(%s) AS t", (f"{SCHEMA}.mapping",)).fetchone()["t"]:  # type: ignore[index]
                    return out
                for r in conn.execute(
                    f"SELECT legacy_table, legacy_id FROM {SCHEMA}.mapping WHERE created AND NOT removed"
                    " AND kind <> 'test_cases'"
                ).fetchall():
                    out.setdefault(r["legacy_table"], set()).add(str(r["legacy_id"]))
                # A test set written back belongs to a problem: its cases are the platform's too.
                for r in conn.execute(
                    f"SELECT t.id FROM public.test_cases t JOIN {SCHEMA}.mapping m ON m.kind = 'test_cases'"
                    " AND m.legacy_id = t.problem_id AND NOT m.removed"
                ).fetchall():
                    out.setdefault("test_cases", set()).add(str(r["id"]))
        except psycopg.Error:
            return {}
        return out

    def verify(self) -> ReverseVerifyReport:
        """Every mapped post-cutover change is in the legacy database as it was written (or, removed,
        absent). An empty mapping table (nothing changed after cutover) passes."""
        report = ReverseVerifyReport()
        with self.connect() as conn:
            if not conn.execute("SELECT to_regclass(%s) AS t", (f"{SCHEMA}.mapping",)).fetchone()["t"]:  # type: ignore[index]
                return report
            for m in conn.execute(f"SELECT * FROM {SCHEMA}.mapping ORDER BY kind, new_id").fetchall():
                report.checked += 1
                if m["removed"]:
                    gone = conn.execute(
                        sql.SQL("SELECT 1 FROM public.{} WHERE id = %s").format(sql.Identifier(m["legacy_table"])),
                        (m["legacy_id"],),
                    ).fetchone()
                    if gone:
                        report.problems.append(f"{m['kind']} {m['new_id']}: legacy row {m['legacy_id']} still there")
                    continue
                digest_sql = DIGEST_SQL.get(m["kind"])
                row = conn.execute(digest_sql or _row_digest_sql(m["legacy_table"]), (m["legacy_id"],)).fetchone()
                found = row["md5"] if row else None
                if found is None:
                    report.problems.append(
                        f"{m['kind']} {m['new_id']}: legacy {m['legacy_table']} {m['legacy_id']} missing"
                    )
                elif found != m["digest"]:
                    report.problems.append(
                        f"{m['kind']} {m['new_id']}: legacy {m['legacy_table']} {m['legacy_id']} differs from"
                        " what was written"
                    )
        return report
