"""The kit every legacy importer uses: its record of what it applied, its quarantine, the
FastStream consumer of the legacy topics, and the internal API of :mod:`.api`.

An importing service supplies, per legacy table, a coroutine ``apply(change, applied)`` that
writes the change through the service's own write path (its unit of work and outbox) and
adds :meth:`LegacyImportStore.mark` to the same transaction, so the item, its events and the
row's source position commit together. The store then makes the import:

- idempotent: a change at or before the position already applied to the row is skipped
  (a redelivery, or an old change arriving after a newer one), and ``mark`` is conditioned on
  the position read, so two deliveries cannot both apply;
- ordered: per row, only a later source position (Debezium's LSN) is applied; a delete leaves
  a tombstone with its position, so an older insert redelivered later cannot bring the row back;
- safe: a change that cannot be imported (:class:`LegacyRowRefused`, a row that does not fit its
  model, or an error that persists over the retries) goes to the quarantine with the reason and
  the consumer goes on (never a poison loop); an outage of a dependency (transient) is waited
  out instead (the message is redelivered);
- pausable: while the ``STATE`` item says paused, the consumer holds the next message.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Query
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import Field, ValidationError

from algoitny_shared.aws import AsyncDynamoDB
from algoitny_shared.dynamo import from_item, to_item
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.identity import CurrentIdentity
from algoitny_shared.kit.cli import Command, Main, service_cli
from algoitny_shared.legacy.api import (
    LEGACY_DIGESTS_PATH,
    LEGACY_PAUSE_PATH,
    LEGACY_QUARANTINE_PATH,
    LEGACY_RESUME_PATH,
    LEGACY_ROWS_PATH,
    LEGACY_STATUS_PATH,
    MAX_PAGE,
    MAX_ROW_KEYS,
    LegacyDigest,
    LegacyDigestPage,
    LegacyImportStatus,
    LegacyRowsAnswer,
    QuarantinedRow,
    QuarantinePage,
    TableImportStatus,
)
from algoitny_shared.legacy.canonical import canonical_row, row_digest
from algoitny_shared.legacy.changes import LegacyChange, LegacyChangeError, LegacyRowRefused, parse_change
from algoitny_shared.legacy.tables import BY_NAME, DEFAULT_TOPIC_PREFIX, LegacyTable, legacy_group
from algoitny_shared.settings import ServiceSettings
from algoitny_shared.tables import TableSpec

log = logging.getLogger(__name__)

# Text columns longer than this are cut in a quarantined row (the whole row is in the legacy DB).
TRIM_CHARS = 512
PAUSE_CACHE_S = 1.0
KEY_WIDTH = 20


class LegacyImportSettings(ServiceSettings):
    """Settings of a service that imports legacy rows (accounts, ratelimit, ...)."""

    legacy_import_enabled: bool = Field(
        default=False,
        description="Run the legacy importer (consumer of the Debezium topics) in the service's process; "
        "`python -m algoitny_<service>.entrypoints.legacy_import` runs it on its own.",
    )
    legacy_topic_prefix: str = Field(
        default=DEFAULT_TOPIC_PREFIX,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$",
        description="Debezium's topic.prefix: legacy topics are <prefix>.public.<table>.",
    )


def sort_key(key: str) -> str:
    """Legacy keys in key order (numeric keys zero-padded)."""
    return key.zfill(KEY_WIDTH) if key.isdigit() else key


def trim(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    out: dict[str, Any] = {}
    for name, value in row.items():
        if isinstance(value, str) and len(value) > TRIM_CHARS:
            value = value[:TRIM_CHARS] + f"... ({len(value)} characters)"
        out[name] = value
    return out


@dataclass(frozen=True)
class AppliedRow:
    """What the service last applied of one legacy row."""

    table: str
    key: str
    position: int
    deleted: bool
    ref: dict[str, Any] = field(default_factory=dict)  # the service's item(s) the row made
    version: int = 0


def _quarantined(data: dict[str, Any]) -> QuarantinedRow:
    row = data.get("row")
    return QuarantinedRow(
        table=data["qtable"],
        key=data["key"],
        reason=data["reason"],
        op=data.get("op", "?"),
        first_seen=datetime.fromisoformat(data["first_seen"]),
        last_seen=datetime.fromisoformat(data["last_seen"]),
        attempts=int(data.get("attempts", 1)),
        row=json.loads(row) if isinstance(row, str) else None,
    )


class LegacyImportStore:
    """The ``LegacyImport`` table of one service (``algoitny_shared.tables.legacy_import_table``)."""

    def __init__(self, client: Any, spec: TableSpec, namespace: str) -> None:
        self._client = AsyncDynamoDB(client)
        self.table = spec.physical(namespace)
        self._paused: tuple[float, bool] | None = None

    # -- applied rows ----------------------------------------------------------
    async def applied(self, table: str, key: str) -> AppliedRow | None:
        resp = await self._client.get_item(
            TableName=self.table, Key={"pk": {"S": f"ROW#{table}#{key}"}}, ConsistentRead=True
        )
        item = resp.get("Item")
        return self._applied(from_item(item)) if item else None

    @staticmethod
    def _applied(data: dict[str, Any]) -> AppliedRow:
        return AppliedRow(
            table=data["ltable"],
            key=data["key"],
            position=int(data.get("position", 0)),
            deleted=bool(data.get("deleted", False)),
            ref=json.loads(data.get("ref", "{}")),
            version=int(data.get("version", 0)),
        )

    def mark(
        self,
        change: LegacyChange,
        previous: AppliedRow | None,
        ref: dict[str, Any] | None = None,
        *,
        deleted: bool | None = None,
    ) -> list[dict[str, Any]]:
        """Transaction items recording ``change`` as applied: the row's position (only if it is
        still ``previous``), the table's counters, and the end of any quarantine entry."""
        table, key = change.table.name, change.key
        gone = change.deleted if deleted is None else deleted
        version = (previous.version if previous else 0) + 1
        record = {
            "pk": f"ROW#{table}#{key}",
            "ltable": table,
            "lkey": sort_key(key),
            "key": key,
            "position": change.position,
            "deleted": gone,
            "ref": json.dumps(ref if ref is not None else (previous.ref if previous else {}), sort_keys=True),
            "version": version,
            "source_ts_ms": change.source_ts_ms,
        }
        put: dict[str, Any] = {"TableName": self.table, "Item": to_item(record)}
        if previous is None:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            put["ConditionExpression"] = "#v = :v"
            put["ExpressionAttributeNames"] = {"#v": "version"}
            put["ExpressionAttributeValues"] = {":v": {"N": str(previous.version)}}
        was_present = previous is not None and not previous.deleted
        was_deleted = previous is not None and previous.deleted
        d_imported = (0 if gone else 1) - (1 if was_present else 0)
        d_deleted = (1 if gone and was_present else 0) - (1 if was_deleted and not gone else 0)
        now = datetime.now(UTC).isoformat()
        values: dict[str, Any] = {":i": {"N": str(d_imported)}, ":d": {"N": str(d_deleted)}, ":now": {"S": now}}
        expression = "SET last_applied_at = :now"
        if change.source_ts_ms is not None:
            expression += ", last_source_ts_ms = :ts"
            values[":ts"] = {"N": str(change.source_ts_ms)}
        counter = {
            "Update": {
                "TableName": self.table,
                "Key": {"pk": {"S": f"COUNT#{table}"}},
                "UpdateExpression": expression + " ADD imported :i, deleted :d",
                "ExpressionAttributeValues": values,
            }
        }
        release = {"Delete": {"TableName": self.table, "Key": {"pk": {"S": f"Q#{table}#{key}"}}}}
        return [{"Put": put}, counter, release]

    async def rows(self, table: str, after: str | None, limit: int) -> tuple[list[AppliedRow], str | None]:
        """Applied rows of ``table`` in key order (deleted ones included), from ``after``."""
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": "RowIndex",
            "KeyConditionExpression": "ltable = :t" + (" AND lkey > :a" if after else ""),
            "ExpressionAttributeValues": {":t": {"S": table}, **({":a": {"S": sort_key(after)}} if after else {})},
            "Limit": limit,
        }
        resp = await self._client.query(**kwargs)
        rows = [self._applied(from_item(i)) for i in resp.get("Items", [])]
        more = "LastEvaluatedKey" in resp and rows
        return rows, (rows[-1].key if more else None)

    async def by_keys(self, table: str, keys: Iterable[str]) -> dict[str, AppliedRow]:
        wanted = list(dict.fromkeys(keys))
        found: dict[str, AppliedRow] = {}
        for start in range(0, len(wanted), 100):
            request: dict[str, Any] = {
                self.table: {
                    "Keys": [{"pk": {"S": f"ROW#{table}#{k}"}} for k in wanted[start : start + 100]],
                    "ConsistentRead": True,
                }
            }
            while request:
                resp = await self._client.batch_get_item(RequestItems=request)
                for item in resp["Responses"].get(self.table, []):
                    row = self._applied(from_item(item))
                    found[row.key] = row
                request = dict(resp.get("UnprocessedKeys") or {})
        return found

    # -- quarantine ---------------------------------------------------------------
    async def quarantine(self, table: str, key: str, op: str, reason: str, row: dict[str, Any] | None) -> None:
        """Record (or count again) a row that cannot be imported."""
        now = datetime.now(UTC).isoformat()
        await self._client.update_item(
            TableName=self.table,
            Key={"pk": {"S": f"Q#{table}#{key}"}},
            UpdateExpression="SET qtable = :t, lkey = :k, #key = :key, reason = :r, op = :op, last_seen = :now, "
            "first_seen = if_not_exists(first_seen, :now), #row = :row ADD attempts :one",
            ExpressionAttributeNames={"#key": "key", "#row": "row"},
            ExpressionAttributeValues={
                ":t": {"S": table},
                ":k": {"S": sort_key(key)},
                ":key": {"S": key},
                ":r": {"S": reason[:1000]},
                ":op": {"S": op},
                ":now": {"S": now},
                ":row": {"S": json.dumps(trim(row), default=str, ensure_ascii=False)},
                ":one": {"N": "1"},
            },
        )

    async def quarantined(
        self, after: str | None, limit: int, tables: Iterable[str]
    ) -> tuple[list[QuarantinedRow], str | None]:
        """Quarantined rows, table by table in key order; ``after`` is ``<table>:<key>``."""
        names = list(tables)
        start_table, start_key = ([*after.split(":", 1), ""])[:2] if after else (names[0] if names else "", "")
        items: list[QuarantinedRow] = []
        for name in names[names.index(start_table) if start_table in names else 0 :]:
            key_after = start_key if name == start_table else ""
            kwargs: dict[str, Any] = {
                "TableName": self.table,
                "IndexName": "QuarantineIndex",
                "KeyConditionExpression": "qtable = :t" + (" AND lkey > :a" if key_after else ""),
                "ExpressionAttributeValues": {
                    ":t": {"S": name},
                    **({":a": {"S": sort_key(key_after)}} if key_after else {}),
                },
                "Limit": limit - len(items),
            }
            resp = await self._client.query(**kwargs)
            items.extend(_quarantined(from_item(i)) for i in resp.get("Items", []))
            if len(items) >= limit:
                last = items[-1]
                return items, f"{last.table}:{last.key}"
        return items, None

    async def quarantine_count(self, table: str) -> int:
        count = 0
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": "QuarantineIndex",
            "KeyConditionExpression": "qtable = :t",
            "ExpressionAttributeValues": {":t": {"S": table}},
            "Select": "COUNT",
        }
        while True:
            resp = await self._client.query(**kwargs)
            count += int(resp.get("Count", 0))
            if "LastEvaluatedKey" not in resp:
                return count
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    # -- counters and the pause switch ----------------------------------------------
    async def table_status(self, table: str) -> TableImportStatus:
        resp = await self._client.get_item(
            TableName=self.table, Key={"pk": {"S": f"COUNT#{table}"}}, ConsistentRead=True
        )
        data = from_item(resp.get("Item") or {})
        applied = data.get("last_applied_at")
        return TableImportStatus(
            table=table,
            imported=int(data.get("imported", 0)),
            deleted=int(data.get("deleted", 0)),
            quarantined=await self.quarantine_count(table),
            last_source_ts_ms=data.get("last_source_ts_ms"),
            last_applied_at=datetime.fromisoformat(applied) if applied else None,
        )

    async def paused(self, *, fresh: bool = False) -> bool:
        cached = self._paused
        if not fresh and cached is not None and time.monotonic() - cached[0] < PAUSE_CACHE_S:
            return cached[1]
        resp = await self._client.get_item(TableName=self.table, Key={"pk": {"S": "STATE"}}, ConsistentRead=True)
        value = bool(from_item(resp.get("Item") or {}).get("paused", False))
        self._paused = (time.monotonic(), value)
        return value

    async def set_paused(self, paused: bool) -> None:
        await self._client.update_item(
            TableName=self.table,
            Key={"pk": {"S": "STATE"}},
            UpdateExpression="SET paused = :p, changed_at = :now",
            ExpressionAttributeValues={":p": {"BOOL": paused}, ":now": {"S": datetime.now(UTC).isoformat()}},
        )
        self._paused = (time.monotonic(), paused)


# apply(change, previous) -> True if it changed something (False: nothing to do).
Applier = Callable[[LegacyChange, AppliedRow | None], Awaitable[bool]]


def _validation_reason(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error.get("loc", ())) or "row"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "the row does not fit the legacy schema: " + "; ".join(parts)


class LegacyImporter:
    """Applies legacy changes of one service's tables, in order, once each, quarantining what it cannot."""

    def __init__(
        self,
        store: LegacyImportStore,
        appliers: dict[str, Applier],
        *,
        max_attempts: int = 3,
        backoff_s: float = 0.2,
        is_transient: Callable[[BaseException], bool] | None = None,
    ) -> None:
        self.store = store
        self.appliers = appliers
        self._max_attempts = max_attempts
        self._backoff_s = backoff_s
        self._is_transient = is_transient or (lambda e: isinstance(e, (ConnectionError, TimeoutError)))

    async def wait_while_paused(self) -> None:
        # The switch is in DynamoDB (set by any process, e.g. the operator CLI): polled.
        while await self.store.paused():  # noqa: ASYNC110
            await asyncio.sleep(PAUSE_CACHE_S / 2)

    async def handle(self, table_name: str, key: bytes | str | None, value: bytes | str | None) -> str:
        """Apply one Debezium record; returns the outcome (applied, unchanged, stale, skipped,
        quarantined). Raises only for a transient failure (the record is then redelivered)."""
        if table_name not in self.appliers:
            return "skipped"
        try:
            change = parse_change(table_name, key, value)
        except LegacyChangeError as exc:
            raw_key = _key_text(table_name, key)
            await self.store.quarantine(
                table_name, raw_key[:200] or "?", "?", str(exc), {"value": str(value)[:TRIM_CHARS]}
            )
            return "quarantined"
        if change is None:
            return "skipped"  # a tombstone: the delete before it carried the change
        from algoitny_shared.uow import TransactionConflict

        for attempt in range(1, self._max_attempts + 1):
            previous = await self.store.applied(change.table.name, change.key)
            if previous is not None and change.position <= previous.position and change.position:
                return "stale"  # redelivered, or older than what was applied
            try:
                changed = await self.appliers[table_name](change, previous)
                return "applied" if changed else "unchanged"
            except LegacyRowRefused as exc:
                await self._quarantine(change, str(exc))
                return "quarantined"
            except ValidationError as exc:
                await self._quarantine(change, _validation_reason(exc))
                return "quarantined"
            except TransactionConflict as exc:
                # Someone applied this row meanwhile (or an item changed): read again and retry.
                if attempt == self._max_attempts:
                    await self._quarantine(change, f"the row's items kept changing while importing ({exc})")
                    return "quarantined"
            except Exception as exc:
                if self._is_transient(exc):
                    if attempt == self._max_attempts:
                        raise
                elif attempt == self._max_attempts:
                    log.exception("legacy %s row %s failed %d times; quarantined", table_name, change.key, attempt)
                    await self._quarantine(change, f"import failed: {type(exc).__name__}: {exc}")
                    return "quarantined"
            await asyncio.sleep(self._backoff_s * 2 ** (attempt - 1))
        raise AssertionError("unreachable")

    async def _quarantine(self, change: LegacyChange, reason: str) -> None:
        log.warning("legacy %s row %s quarantined: %s", change.table.name, change.key, reason)
        await self.store.quarantine(change.table.name, change.key, change.op, reason, change.row)


def _key_text(table_name: str, key: bytes | str | None) -> str:
    """The primary key of a record whose value cannot be parsed (from its key, if that is JSON)."""
    raw = key.decode(errors="replace") if isinstance(key, bytes) else str(key or "")
    try:
        value = json.loads(raw).get(BY_NAME[table_name].primary_key)
    except (ValueError, AttributeError, KeyError):
        value = None
    return str(value) if value not in (None, "") else raw[:200]


def legacy_topics(prefix: str, tables: Iterable[LegacyTable]) -> list[str]:
    return [t.topic(prefix) for t in tables]


class LegacyConsumer:
    """The FastStream subscriber of a service's legacy topics (consumer group ``legacy_group``:
    ``<namespace>.legacy-import.<service>``), at least once: the offset is committed after the
    record was applied, skipped or quarantined; a transient failure leaves it to be redelivered."""

    def __init__(
        self,
        broker: KafkaBroker,
        settings: LegacyImportSettings,
        importer: LegacyImporter,
        tables: Iterable[LegacyTable],
        *,
        max_poll_records: int = 200,
    ) -> None:
        self._broker = broker
        self._settings = settings
        self.importer = importer
        self.topics = legacy_topics(settings.legacy_topic_prefix, tables)
        self.group_id = legacy_group(settings.namespace, settings.service_name)
        self._max_poll_records = max_poll_records
        self.outcomes: dict[str, int] = {}

    def register(self) -> None:
        subscriber = self._broker.subscriber(
            *self.topics,
            group_id=self.group_id,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.NACK_ON_ERROR,
            max_poll_records=self._max_poll_records,
            # A paused importer holds its message: the poll interval must outlast a pause.
            max_poll_interval_ms=24 * 3600 * 1000,
            title=f"{self._settings.service_name} legacy importer",
        )

        async def on_message(msg: KafkaMessage) -> None:
            record = msg.raw_message
            topic = str(getattr(record, "topic", ""))
            await self.importer.wait_while_paused()
            outcome = await self.importer.handle(
                topic.rsplit(".", 1)[-1], getattr(record, "key", None), getattr(record, "value", None)
            )
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

        subscriber(on_message)


# Rebuilds the canonical columns of a table's imported rows from the service's own items.
Rebuilder = Callable[[str, list[AppliedRow]], Awaitable[dict[str, dict[str, Any]]]]


def add_legacy_routes(
    app: Any,
    *,
    service: str,
    store: LegacyImportStore,
    tables: Iterable[LegacyTable],
    rebuild: Rebuilder,
) -> None:
    """The internal routes of :mod:`.api` (admin identity required; the gateway routes none of them)."""
    names = [t.name for t in tables]

    def _table(table: str) -> str:
        if table not in names:
            raise AppError(ErrorCode.NOT_FOUND, f"{service} imports no legacy table {table!r}")
        return table

    async def _live(table: str, rows: list[AppliedRow]) -> dict[str, dict[str, Any]]:
        live = [r for r in rows if not r.deleted]
        return await rebuild(table, live) if live else {}

    @app.get(LEGACY_STATUS_PATH, response_model=LegacyImportStatus, tags=["legacy"], include_in_schema=False)
    async def legacy_status(identity: CurrentIdentity) -> LegacyImportStatus:
        identity.require_admin()
        return LegacyImportStatus(
            service=service,
            paused=await store.paused(fresh=True),
            tables=[await store.table_status(n) for n in names],
        )

    @app.get(LEGACY_DIGESTS_PATH, response_model=LegacyDigestPage, tags=["legacy"], include_in_schema=False)
    async def legacy_digests(
        table: str,
        identity: CurrentIdentity,
        after: Annotated[str | None, Query(max_length=200)] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = MAX_PAGE,
    ) -> LegacyDigestPage:
        identity.require_admin()
        rows, next_key = await store.rows(_table(table), after, limit)
        columns = await _live(table, rows)
        items = [
            LegacyDigest(key=r.key, digest=row_digest(table, service, columns[r.key])) for r in rows if r.key in columns
        ]
        return LegacyDigestPage(table=table, service=service, items=items, next=next_key)

    @app.get(LEGACY_ROWS_PATH, response_model=LegacyRowsAnswer, tags=["legacy"], include_in_schema=False)
    async def legacy_rows(
        table: str, identity: CurrentIdentity, keys: Annotated[str, Query(max_length=4000)] = ""
    ) -> LegacyRowsAnswer:
        identity.require_admin()
        wanted = [k.strip() for k in keys.split(",") if k.strip()]
        if len(wanted) > MAX_ROW_KEYS:
            raise AppError(ErrorCode.BAD_REQUEST, f"At most {MAX_ROW_KEYS} keys")
        applied = await store.by_keys(_table(table), wanted)
        columns = await _live(table, list(applied.values()))
        rows = {k: canonical_row(table, service, v) for k, v in columns.items()}
        return LegacyRowsAnswer(table=table, service=service, rows=rows)

    @app.get(LEGACY_QUARANTINE_PATH, response_model=QuarantinePage, tags=["legacy"], include_in_schema=False)
    async def legacy_quarantine(
        identity: CurrentIdentity,
        after: Annotated[str | None, Query(max_length=300)] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    ) -> QuarantinePage:
        identity.require_admin()
        items, next_after = await store.quarantined(after, limit, names)
        return QuarantinePage(service=service, items=items, next=next_after)

    @app.post(LEGACY_PAUSE_PATH, response_model=LegacyImportStatus, tags=["legacy"], include_in_schema=False)
    async def legacy_pause(identity: CurrentIdentity) -> LegacyImportStatus:
        identity.require_admin()
        await store.set_paused(True)
        return await legacy_status(identity)

    @app.post(LEGACY_RESUME_PATH, response_model=LegacyImportStatus, tags=["legacy"], include_in_schema=False)
    async def legacy_resume(identity: CurrentIdentity) -> LegacyImportStatus:
        identity.require_admin()
        await store.set_paused(False)
        return await legacy_status(identity)


def table_named(name: str) -> LegacyTable:
    return BY_NAME[name]


async def run_importer(broker: Any, relay: Any, settings: ServiceSettings, stop: asyncio.Event | None = None) -> None:
    """Run a service's legacy importer on its own (its broker with only the legacy consumer
    registered, and the outbox relay) until ``stop`` is set or the process is signalled."""
    import signal

    from algoitny_shared.runtime import BackgroundTasks

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread
            loop.add_signal_handler(sig, stop.set)
    background = BackgroundTasks()
    await broker.start()
    if settings.outbox_relay_enabled:
        background.start("outbox-relay", relay.run)
    try:
        await stop.wait()
    finally:
        relay.stop()
        await background.stop()
        await broker.stop()


def importer_cli(prog: str, settings_factory: Callable[[], LegacyImportSettings], build: Callable[..., Any]) -> Main:
    """``main`` of ``python -m algoitny_<service>.entrypoints.legacy_import [run|pause|resume|status]``."""

    def run(settings: LegacyImportSettings, _: Any) -> None:
        # Only the legacy consumer: the service's own consumers run in its serve process.
        settings = settings.model_copy(update={"consumers_enabled": False})
        c = build(settings, legacy_importer=True)
        log.info("legacy importer of %s consuming %s", settings.service_name, ", ".join(c.legacy_consumer.topics))
        asyncio.run(run_importer(c.broker, c.relay, settings))

    async def control(settings: LegacyImportSettings, args: Any) -> LegacyImportStatus:
        c = build(settings.model_copy(update={"consumers_enabled": False}), legacy_importer=False)
        store: LegacyImportStore = c.legacy_store
        if args.command in ("pause", "resume"):
            await store.set_paused(args.command == "pause")
        names = [t.split(".")[-1] for t in c.legacy_consumer.topics]
        return LegacyImportStatus(
            service=settings.service_name,
            paused=await store.paused(fresh=True),
            tables=[await store.table_status(n) for n in names],
        )

    return service_cli(
        prog,
        settings_factory,
        None,
        commands={
            "run": Command(run),
            "pause": Command(control),
            "resume": Command(control),
            "status": Command(control),
        },
        description="The service's legacy importer.",
        log_name=lambda s: f"{s.service_name}-legacy-import",
    )
