"""The legacy PostgreSQL database: schema, seeding (COPY), reads for status/verify, publications."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from importlib import resources
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from algoitny_migration.domain.legacy_data import COLUMNS, TABLE_ORDER, LegacyDataset
from algoitny_shared.legacy.tables import BY_NAME

SCHEMA_SQL = "legacy_schema.sql"


def schema_sql() -> str:
    return resources.files("algoitny_migration.adapters").joinpath(SCHEMA_SQL).read_text(encoding="utf-8")


class LegacyDatabase:
    """One connection's worth of the legacy database (synchronous: psycopg 3)."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    def connect(self, *, autocommit: bool = True) -> psycopg.Connection[Any]:
        return psycopg.connect(self.dsn, autocommit=autocommit, connect_timeout=10)

    # ---- schema
    def apply_schema(self) -> None:
        with self.connect() as conn:
            conn.execute("SET client_min_messages = warning")
            conn.execute(schema_sql())

    def is_empty(self) -> bool:
        with self.connect() as conn:
            row = conn.execute("SELECT EXISTS (SELECT 1 FROM users) OR EXISTS (SELECT 1 FROM problems)").fetchone()
            return not (row and row[0])

    def truncate(self) -> None:
        with self.connect() as conn:
            names = sql.SQL(", ").join(sql.Identifier(t) for t in TABLE_ORDER)
            conn.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY").format(names))

    # ---- seeding
    def load(self, ds: LegacyDataset, progress: Any = None) -> dict[str, int]:
        """Write the dataset with COPY in one transaction; orphans with FK triggers off."""
        with self.connect(autocommit=False) as conn, conn.cursor() as cur:
            for table in TABLE_ORDER:
                cols = COLUMNS[table]
                stmt = sql.SQL("COPY {} ({}) FROM STDIN").format(
                    sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(c) for c in cols)
                )
                with cur.copy(stmt) as copy:
                    for n, values in enumerate(ds.tuples(table), 1):
                        copy.write_row(values)
                        if progress is not None and n % 1000 == 0:
                            progress(table, 1000)
                if progress is not None:
                    progress(table, len(ds.rows[table]) % 1000)
            # Orphans: the parent row is gone. A real database gets them from raw SQL deletes
            # or rows older than the constraint; here FK triggers are off for these inserts.
            cur.execute("SET LOCAL session_replication_role = replica")
            for table in TABLE_ORDER:
                cols = COLUMNS[table]
                stmt = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                    sql.Identifier(table),
                    sql.SQL(", ").join(sql.Identifier(c) for c in cols),
                    sql.SQL(", ").join(sql.Placeholder() for _ in cols),
                )
                rows = list(ds.tuples(table, orphans=True))
                if rows:
                    cur.executemany(stmt, rows)
                if progress is not None:
                    progress(table, len(rows))
            cur.execute("SET LOCAL session_replication_role = origin")
            self._reset_identities(cur)
            conn.commit()
        return ds.counts()

    @staticmethod
    def _reset_identities(cur: psycopg.Cursor[Any]) -> None:
        """Explicit ids were written: move each identity past the largest, as Django's loaddata does."""
        for table in TABLE_ORDER:
            if BY_NAME[table].primary_key != "id":
                continue
            cur.execute(
                sql.SQL(
                    "SELECT setval(pg_get_serial_sequence({tbl}, 'id'), GREATEST((SELECT max(id) FROM {ident}), 1))"
                ).format(tbl=sql.Literal(table), ident=sql.Identifier(table))
            )

    # ---- reads
    def counts(self) -> dict[str, int]:
        with self.connect() as conn:
            out = {}
            for table in TABLE_ORDER:
                row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
                out[table] = int(row[0]) if row else 0
            return out

    def rows(self, table: str, batch: int = 2000) -> Iterator[dict[str, Any]]:
        """Every row of ``table`` in primary-key order (a server-side cursor)."""
        pk = BY_NAME[table].primary_key
        with self.connect(autocommit=False) as conn, conn.cursor(name=f"scan_{table}", row_factory=dict_row) as cur:
            cur.itersize = batch
            cur.execute(sql.SQL("SELECT * FROM {} ORDER BY {}").format(sql.Identifier(table), sql.Identifier(pk)))
            yield from cur  # jsonb arrives parsed, timestamptz as aware datetimes

    def query(self, statement: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        with self.connect() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(statement, params)
            return list(cur.fetchall())

    # ---- publications and slots (Debezium)
    def ensure_publication(self, name: str, tables: Sequence[str] = TABLE_ORDER) -> None:
        with self.connect() as conn:
            exists = conn.execute("SELECT 1 FROM pg_publication WHERE pubname = %s", (name,)).fetchone()
            if exists:
                return
            conn.execute(
                sql.SQL("CREATE PUBLICATION {} FOR TABLE {}").format(
                    sql.Identifier(name), sql.SQL(", ").join(sql.Identifier("public", t) for t in tables)
                )
            )

    def drop_publication_and_slot(self, publication: str, slot: str) -> None:
        with self.connect() as conn:
            conn.execute(sql.SQL("DROP PUBLICATION IF EXISTS {}").format(sql.Identifier(publication)))
            active = conn.execute(
                "SELECT active_pid FROM pg_replication_slots WHERE slot_name = %s", (slot,)
            ).fetchone()
            if active is not None:
                if active[0]:
                    conn.execute("SELECT pg_terminate_backend(%s)", (active[0],))
                conn.execute("SELECT pg_drop_replication_slot(%s)", (slot,))

    def slot_lag_bytes(self, slot: str) -> int | None:
        """WAL the slot's consumer has not confirmed yet (bytes), None if there is no slot."""
        with self.connect() as conn:
            row = conn.execute(
                "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn) FROM pg_replication_slots"
                " WHERE slot_name = %s",
                (slot,),
            ).fetchone()
            return None if row is None or row[0] is None else int(row[0])


def to_json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def as_datetime(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
