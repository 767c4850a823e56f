"""The kit every legacy importer is built on: consume Debezium records, apply each legacy row once
through the service's own write path, quarantine what cannot be imported, pause and resume, and
serve the internal API of :mod:`algoitny_shared.legacy.api`.

A service writes a :class:`LegacyHandler` (its mapping rules: ``apply`` adds the service's own
transaction items and events to an :class:`ImportTx`; ``columns`` rebuilds legacy columns from
its own items for ``verify``). :class:`LegacyImporter` does the rest, the same way for every
service:

* **Once per row version.** Each legacy row has a state item ``ROW#<table>/<key>`` (log position,
  hash of the captured row, status, references to the items it made), written in the same
  transaction as the service's items and events (conditional on the state it read). A change
  older than the one applied (lower LSN) or identical to it (a redelivery, a re-snapshot) changes
  nothing and publishes nothing.
* **Quarantine, never a loop.** A record that is not a change, a row that does not fit its model
  (bad JSON in a JSON column, a NULL the schema forbids), a row the service's rules refuse
  (:class:`Quarantined`) or a row whose import fails ``max_attempts`` times for a reason other
  than an outage goes to the service's quarantine table with the reason, is counted, and the
  offset moves on. A later change of the same row that imports cleanly takes it out again.
  Outages of DynamoDB or Kafka (``is_transient``) are waited out: the record is redelivered.
* **Pause/resume.** A ``CONTROL/paused`` flag (read at most every second) holds the consumer
  before it applies the next record; offsets stay, so resuming goes on where it stopped.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError
from fastapi import APIRouter, Query, Request
from faststream import AckPolicy
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError

from algoitny_shared.aws import AsyncDynamoDB, call
from algoitny_shared.dynamo import from_item, to_item, to_value
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.events import EventEnvelope
from algoitny_shared.identity import identity_of
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
from algoitny_shared.legacy.batches import DEFAULT_CONCURRENCY, DEFAULT_MAX_RECORDS, per_key, records_of
from algoitny_shared.legacy.canonical import canonical_row, row_digest
from algoitny_shared.legacy.changes import LegacyChange, LegacyChangeError, LegacyRowRefused, parse_change
from algoitny_shared.legacy.tables import BY_NAME, DEFAULT_TOPIC_PREFIX
from algoitny_shared.uow import MAX_TRANSACTION_ITEMS, TransactionConflict, UnitOfWork

log = logging.getLogger(__name__)

IMPORTED = "imported"
DELETED = "deleted"
QUARANTINED = "quarantined"
STATUSES = (IMPORTED, DELETED, QUARANTINED)
KEEP_CHARS = 2000
MAX_REASON_CHARS = 1000
PAUSE_CACHE_S = 1.0


class _Unread:
    """A row's state not read yet (``None`` is a state read and found absent)."""


UNREAD = _Unread()


class Quarantined(LegacyRowRefused):
    """The service's rules refuse this row; ``reason`` says why (kept with the row). A domain's
    :class:`~algoitny_shared.legacy.changes.LegacyRowRefused` is taken the same way."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason[:MAX_REASON_CHARS]


def sort_key(key: str) -> str:
    """Numeric primary keys sort as numbers (20 digits), others as text."""
    return f"{int(key):020d}" if key.isdigit() else key


def trimmed(row: dict[str, Any] | None, keep: int = KEEP_CHARS) -> dict[str, Any] | None:
    """The captured row for the quarantine: long text columns cut to ``keep`` characters."""
    if row is None:
        return None
    out: dict[str, Any] = {}
    for name, value in row.items():
        if isinstance(value, str) and len(value) > keep:
            out[name] = value[:keep] + f"…(+{len(value) - keep} chars)"
        else:
            out[name] = value
    return out


def row_hash(change: LegacyChange) -> str:
    body = json.dumps({"row": change.row, "deleted": change.deleted}, sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def default_is_transient(exc: BaseException) -> bool:
    """Outages (the store or the broker away, throttling): wait and redeliver, never quarantine."""
    if isinstance(exc, (ConnectionError, TimeoutError, BotoCoreError)):
        return True
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        return code in {
            "ProvisionedThroughputExceededException",
            "ThrottlingException",
            "RequestLimitExceeded",
            "InternalServerError",
            "ServiceUnavailable",
        }
    return False


@dataclass
class RowState:
    table: str
    key: str
    status: str
    position: int = 0
    hash: str = ""
    refs: dict[str, Any] = field(default_factory=dict)
    source_ts_ms: int | None = None

    @classmethod
    def of(cls, item: dict[str, Any]) -> RowState:
        data = from_item(item)
        return cls(
            table=str(data["table"]),
            key=str(data["key"]),
            status=str(data["status"]),
            position=int(data.get("position", 0)),
            hash=str(data.get("hash", "")),
            refs=dict(data.get("refs") or {}),
            source_ts_ms=int(data["source_ts_ms"]) if data.get("source_ts_ms") is not None else None,
        )


class ImportTx:
    """What one legacy change does: the service's transaction items and events (one transaction
    with the row's state), the status the row ends in and the references to keep on its state."""

    def __init__(self, uow: UnitOfWork, prior: RowState | None) -> None:
        self.uow = uow
        self.status = IMPORTED
        self.refs: dict[str, Any] = dict(prior.refs) if prior else {}
        self.after_commit: list[Callable[[], Awaitable[None]]] = []

    def add(self, item: dict[str, Any]) -> None:
        self.uow.add(item)

    def publish(self, envelope: EventEnvelope) -> None:
        self.uow.publish(envelope)


class LegacyHandler(Protocol):
    """A service's mapping of legacy rows to its own items."""

    service: str
    tables: tuple[str, ...]

    async def apply(self, change: LegacyChange, prior: RowState | None, tx: ImportTx) -> None:
        """Add the service's items and events for this change to ``tx``; raise :class:`Quarantined`
        (or let ``pydantic.ValidationError`` out) to refuse the row."""

    async def columns(self, table: str, states: Sequence[RowState]) -> dict[str, dict[str, Any]]:
        """The legacy columns of these imported rows, rebuilt from the service's own items."""

    # Optional: ``def links(self, change: LegacyChange) -> Iterable[Hashable]``: keys a row shares
    # with other rows whose order matters (e.g. a unique value: the later row is refused); rows
    # of a batch linked by a key are applied one after the other, in batch order.
    #
    # Optional: ``async def prepare(self, changes: Sequence[LegacyChange]) -> None``, called by
    # :meth:`LegacyImporter.handle_batch` with the first change of each row of a batch before any
    # is applied, to read what they need together (e.g. one ``BatchGetItem``); what it read may be
    # used once, for that first change only (later changes of the row must read again).


class LegacyStore:
    """The service's ``LegacyImport`` and ``LegacyQuarantine`` tables."""

    def __init__(self, client: Any, state_table: str, quarantine_table: str) -> None:
        self._client = AsyncDynamoDB(client)
        self.table = state_table
        self.quarantine_table = quarantine_table
        self._paused: tuple[float, bool] = (0.0, False)
        self._keys: dict[str, tuple[str, ...]] = {}

    # -- state ---------------------------------------------------------------------------

    @staticmethod
    def state_key(table: str, key: str) -> dict[str, Any]:
        return {"pk": {"S": f"ROW#{table}"}, "sk": {"S": sort_key(key)}}

    async def get_state(self, table: str, key: str) -> RowState | None:
        resp = await self._client.get_item(TableName=self.table, Key=self.state_key(table, key), ConsistentRead=True)
        item = resp.get("Item")
        return RowState.of(item) if item else None

    async def get_states(self, table: str, keys: Iterable[str]) -> dict[str, RowState]:
        wanted = list(dict.fromkeys(keys))
        found: dict[str, RowState] = {}
        for i in range(0, len(wanted), 100):
            request: dict[str, Any] = {
                self.table: {"Keys": [self.state_key(table, k) for k in wanted[i : i + 100]], "ConsistentRead": True}
            }
            for attempt in range(10):
                resp = await self._client.batch_get_item(RequestItems=request)
                for item in resp.get("Responses", {}).get(self.table, []):
                    state = RowState.of(item)
                    found[state.key] = state
                request = resp.get("UnprocessedKeys") or {}
                if not request:
                    break
                await asyncio.sleep(0.02 * 2**attempt)
        return found

    def put_state(self, state: RowState, prior: RowState | None) -> dict[str, Any]:
        """The row's new state, conditional on the state the change was decided on."""
        item = {
            "pk": f"ROW#{state.table}",
            "sk": sort_key(state.key),
            "table": state.table,
            "key": state.key,
            "status": state.status,
            "position": state.position,
            "hash": state.hash,
            "refs": state.refs,
            "source_ts_ms": state.source_ts_ms,
            "applied_at": datetime.now(UTC).isoformat(),
        }
        put: dict[str, Any] = {"TableName": self.table, "Item": to_item(item)}
        if prior is None:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            # The status too: ``mark`` moves a row's status (a staged test case becomes imported once
            # its problem is built) without changing its hash, and a change decided on the older
            # status would move the table's counters from the wrong one.
            put["ConditionExpression"] = "#h = :h AND #st = :st"
            put["ExpressionAttributeNames"] = {"#h": "hash", "#st": "status"}
            put["ExpressionAttributeValues"] = {":h": {"S": prior.hash}, ":st": {"S": prior.status}}
        return {"Put": put}

    def count(self, table: str, before: str | None, after: str, source_ts_ms: int | None) -> dict[str, Any]:
        """The table's counters moved from ``before`` to ``after`` status (an ADD of -1/+1)."""
        moves: dict[str, int] = {}
        if before != after:
            moves[after] = 1
            if before is not None:
                moves[before] = -1
        return self.counts(table, moves, source_ts_ms)

    def counts(self, table: str, moves: Mapping[str, int], source_ts_ms: int | None) -> dict[str, Any]:
        """The table's counters moved by ``moves`` (status -> delta) at once: the rows of a
        batch committed together move each counter once (a transaction touches an item once)."""
        names: dict[str, str] = {"#at": "last_applied_at"}
        values: dict[str, Any] = {":at": {"S": datetime.now(UTC).isoformat()}}
        expression = "SET #at = :at"
        if source_ts_ms is not None:
            names["#ts"] = "last_source_ts_ms"
            values[":ts"] = {"N": str(source_ts_ms)}
            expression += ", #ts = :ts"
        adds = []
        for n, (status, delta) in enumerate(sorted((k, v) for k, v in moves.items() if v)):
            names[f"#s{n}"] = status
            values[f":d{n}"] = {"N": str(delta)}
            adds.append(f"#s{n} :d{n}")
        if adds:
            expression += " ADD " + ", ".join(adds)
        return {
            "Update": {
                "TableName": self.table,
                "Key": {"pk": {"S": "COUNT"}, "sk": {"S": table}},
                "UpdateExpression": expression,
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
        }

    async def key_names(self, table: str) -> tuple[str, ...]:
        """The key attributes of any table (for :class:`GroupCommit`), described once."""
        if table not in self._keys:
            resp = await call(self._client.client.describe_table, TableName=table)
            self._keys[table] = tuple(k["AttributeName"] for k in resp["Table"]["KeySchema"])
        return self._keys[table]

    # -- quarantine ----------------------------------------------------------------------

    def quarantine_put(self, table: str, key: str, op: str, reason: str, row: dict[str, Any] | None) -> dict[str, Any]:
        now = datetime.now(UTC).isoformat()
        captured = json.dumps(trimmed(row), ensure_ascii=False, default=str) if row is not None else None
        values: dict[str, Any] = {
            ":t": {"S": table},
            ":k": {"S": key},
            ":r": {"S": reason[:MAX_REASON_CHARS]},
            ":op": {"S": op},
            ":now": {"S": now},
            ":one": {"N": "1"},
        }
        sets = (
            "#t = :t, #k = :k, reason = :r, #op = :op, last_seen = :now, first_seen = if_not_exists(first_seen, :now)"
        )
        if captured is not None:
            values[":row"] = {"S": captured}
            sets += ", #row = :row"
        return {
            "Update": {
                "TableName": self.quarantine_table,
                "Key": {"pk": {"S": "QUAR"}, "sk": {"S": f"{table}#{sort_key(key)}"}},
                "UpdateExpression": f"SET {sets} ADD attempts :one",
                "ExpressionAttributeNames": {"#t": "table", "#k": "key", "#op": "op", "#row": "row"}
                if captured is not None
                else {"#t": "table", "#k": "key", "#op": "op"},
                "ExpressionAttributeValues": values,
            }
        }

    def unquarantine(self, table: str, key: str) -> dict[str, Any]:
        return {
            "Delete": {
                "TableName": self.quarantine_table,
                "Key": {"pk": {"S": "QUAR"}, "sk": {"S": f"{table}#{sort_key(key)}"}},
            }
        }

    async def quarantine_page(self, after: str | None, limit: int) -> tuple[list[QuarantinedRow], str | None]:
        request: dict[str, Any] = {
            "TableName": self.quarantine_table,
            "KeyConditionExpression": "pk = :p",
            "ExpressionAttributeValues": {":p": {"S": "QUAR"}},
            "Limit": limit,
        }
        if after:
            request["ExclusiveStartKey"] = {"pk": {"S": "QUAR"}, "sk": {"S": after}}
        resp = await self._client.query(**request)
        rows = []
        for raw in resp.get("Items", []):
            data = from_item(raw)
            rows.append(
                QuarantinedRow(
                    table=data["table"],
                    key=data["key"],
                    reason=data.get("reason", ""),
                    op=data.get("op", ""),
                    first_seen=data["first_seen"],
                    last_seen=data["last_seen"],
                    attempts=int(data.get("attempts", 1)),
                    row=json.loads(data["row"]) if data.get("row") else None,
                )
            )
        last = resp.get("LastEvaluatedKey")
        return rows, (last["sk"]["S"] if last else None)

    # -- listing ---------------------------------------------------------------------------

    async def imported_page(self, table: str, after: str | None, limit: int) -> tuple[list[RowState], str | None]:
        """Imported (not deleted, not quarantined) rows of a table in key order."""
        found: list[RowState] = []
        start: Mapping[str, Any] | None = {"pk": {"S": f"ROW#{table}"}, "sk": {"S": after}} if after else None
        while len(found) < limit:
            request: dict[str, Any] = {
                "TableName": self.table,
                "KeyConditionExpression": "pk = :p",
                "FilterExpression": "#st = :imported",
                "ExpressionAttributeNames": {"#st": "status"},
                "ExpressionAttributeValues": {":p": {"S": f"ROW#{table}"}, ":imported": {"S": IMPORTED}},
                "Limit": limit - len(found),
                "ConsistentRead": True,
            }
            if start:
                request["ExclusiveStartKey"] = start
            resp = await self._client.query(**request)
            found.extend(RowState.of(i) for i in resp.get("Items", []))
            start = resp.get("LastEvaluatedKey")
            if not start:
                return found, None
        return found, (start["sk"]["S"] if start else None)

    async def counters(self, table: str) -> dict[str, Any]:
        resp = await self._client.get_item(
            TableName=self.table,
            Key={"pk": {"S": "COUNT"}, "sk": {"S": table}},
            ConsistentRead=True,
        )
        return from_item(resp["Item"]) if resp.get("Item") else {}

    # -- pause -----------------------------------------------------------------------------

    async def set_paused(self, paused: bool) -> None:
        await self._client.put_item(
            TableName=self.table,
            Item=to_item({"pk": "CONTROL", "sk": "paused", "paused": paused, "at": datetime.now(UTC).isoformat()}),
        )
        self._paused = (time.monotonic(), paused)

    async def paused(self, max_age_s: float = PAUSE_CACHE_S) -> bool:
        at, value = self._paused
        if time.monotonic() - at < max_age_s and at:
            return value
        resp = await self._client.get_item(
            TableName=self.table,
            Key={"pk": {"S": "CONTROL"}, "sk": {"S": "paused"}},
            ConsistentRead=True,
        )
        value = bool(resp.get("Item", {}).get("paused", {}).get("BOOL", False))
        self._paused = (time.monotonic(), value)
        return value


@dataclass
class _Commit:
    items: list[dict[str, Any]]
    events: list[EventEnvelope]
    counts: list[tuple[str, str | None, str, int | None]]
    done: asyncio.Future[None]


class GroupCommit:
    """One transaction for the rows of a batch that are ready at the same time (group commit).

    The rows of a batch are decided concurrently; each hands its unit of work's items and events
    and its counter move to :meth:`commit` and waits. Within ``linger_s`` (or once about a full
    transaction is waiting) the waiting rows are sent as few ``TransactWriteItems`` as fit: at
    most 100 items, no item twice (rows touching a common item go to different transactions), the
    table counters of the rows merged into one update each. Every row's items keep their
    conditions, so a combined transaction commits exactly what the rows' own would have. When one
    is refused (a condition failed: some row's state moved; or anything else), each of its rows is
    committed alone with its own counter move, and each row learns its own outcome: the same as
    without grouping, with far fewer round trips when nothing goes wrong.
    """

    def __init__(
        self,
        store: LegacyStore,
        uow_factory: Callable[[], UnitOfWork],
        *,
        linger_s: float = 0.005,
        max_items: int = MAX_TRANSACTION_ITEMS,
    ) -> None:
        self._store = store
        self._uow = uow_factory
        self._linger = linger_s
        self._max = max_items
        self._waiting: list[_Commit] = []
        self._waiting_items = 0
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def commit(self, uow: UnitOfWork, counts: list[tuple[str, str | None, str, int | None]]) -> None:
        take = getattr(uow, "take", None)
        if take is None:  # a unit of work that cannot hand its items over commits alone
            for move in counts:
                uow.add(self._store.count(*move))
            await uow.commit()
            return
        items, events = take()
        entry = _Commit(items, events, counts, asyncio.get_running_loop().create_future())
        self._waiting.append(entry)
        self._waiting_items += len(items) + 1
        if self._waiting_items >= self._max:
            self._flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._linger, self._flush)
        await entry.done

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        entries, self._waiting, self._waiting_items = self._waiting, [], 0
        if entries:
            task = asyncio.get_running_loop().create_task(self._send_all(entries))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send_all(self, entries: list[_Commit]) -> None:
        try:
            groups = await self._groups(entries)
        except Exception as exc:
            for entry in entries:
                if not entry.done.done():
                    entry.done.set_exception(exc)
            return
        await asyncio.gather(*(self._send(group) for group in groups))

    async def _identity(self, item: dict[str, Any]) -> tuple[str, str]:
        (kind, body), *_ = item.items()
        if kind == "Put":
            names = await self._store.key_names(body["TableName"])
            key = {n: body["Item"].get(n) for n in names}
        else:
            key = body["Key"]
        return body["TableName"], json.dumps(key, sort_keys=True)

    async def _groups(self, entries: list[_Commit]) -> list[list[_Commit]]:
        groups: list[list[_Commit]] = []
        group: list[_Commit] = []
        seen: set[tuple[str, str]] = set()
        size = 0
        for entry in entries:
            touched = {await self._identity(item) for item in entry.items}
            tables = {c[0] for c in entry.counts} - {c[0] for e in group for c in e.counts}
            grow = len(entry.items) + len(tables)
            if group and (touched & seen or size + grow > self._max):
                groups.append(group)
                group, seen, size = [], set(), 0
                grow = len(entry.items) + len({c[0] for c in entry.counts})
            group.append(entry)
            seen |= touched
            size += grow
        if group:
            groups.append(group)
        return groups

    def _counters(self, entries: list[_Commit]) -> list[dict[str, Any]]:
        moves: dict[str, dict[str, int]] = {}
        stamps: dict[str, int | None] = {}
        for entry in entries:
            for table, before, after, ts in entry.counts:
                table_moves = moves.setdefault(table, {})
                if before != after:
                    table_moves[after] = table_moves.get(after, 0) + 1
                    if before is not None:
                        table_moves[before] = table_moves.get(before, 0) - 1
                if ts is not None:
                    stamps[table] = max(ts, stamps.get(table) or ts)
                else:
                    stamps.setdefault(table, None)
        return [self._store.counts(table, m, stamps.get(table)) for table, m in moves.items()]

    async def _send(self, group: list[_Commit]) -> None:
        if len(group) > 1:
            uow: Any = self._uow()
            for entry in group:
                uow.extend(entry.items, entry.events)
            for item in self._counters(group):
                uow.add(item)
            try:
                await uow.commit()
            except Exception as exc:
                log.debug(
                    "a grouped legacy commit of %d rows refused (%s); committing them one by one", len(group), exc
                )
            else:
                for entry in group:
                    entry.done.set_result(None)
                return
        await asyncio.gather(*(self._send_one(entry) for entry in group))

    async def _send_one(self, entry: _Commit) -> None:
        uow: Any = self._uow()
        uow.extend(entry.items, entry.events)
        for table, before, after, ts in entry.counts:
            uow.add(self._store.count(table, before, after, ts))
        try:
            await uow.commit()
        except Exception as exc:
            entry.done.set_exception(exc)
        else:
            entry.done.set_result(None)


_GROUP: contextvars.ContextVar[GroupCommit | None] = contextvars.ContextVar("legacy_group_commit", default=None)


class LegacyImporter:
    """Applies legacy changes with a :class:`LegacyHandler` (see the module's description)."""

    def __init__(
        self,
        store: LegacyStore,
        handler: LegacyHandler,
        uow_factory: Callable[[], UnitOfWork],
        *,
        max_attempts: int = 3,
        retry_backoff_s: float = 0.2,
        is_transient: Callable[[BaseException], bool] = default_is_transient,
        concurrency: int = DEFAULT_CONCURRENCY,
        group_commit: bool = True,
    ) -> None:
        self.store = store
        self.handler = handler
        self._group_commit = group_commit
        self._uow = uow_factory
        self._max_attempts = max_attempts
        self._backoff = retry_backoff_s
        self._is_transient = is_transient
        self._concurrency = concurrency
        self.outcomes: dict[str, int] = {}

    def _count(self, outcome: str) -> str:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        return outcome

    async def wait_while_paused(self) -> None:
        # The flag lives in DynamoDB (set by any replica's API): polled, not an in-process event.
        while await self.store.paused():  # noqa: ASYNC110
            await asyncio.sleep(0.5)

    async def handle(self, table: str, key: bytes | str | None, value: bytes | str | None) -> str:
        """Apply one Debezium record of ``table``; returns the outcome (for tests and metrics)."""
        await self.wait_while_paused()
        try:
            change = parse_change(table, key, value)
        except LegacyChangeError as exc:
            return await self._unparsable(table, key, value, exc)
        if change is None:
            return self._count("skipped")
        return await self._handle_change(change)

    async def handle_batch(self, records: Sequence[tuple[str, bytes | str | None, bytes | str | None]]) -> list[str]:
        """Apply a batch of Debezium records ``(table, key, value)``: the records of one row in
        order, different rows concurrently (:func:`~algoitny_shared.legacy.batches.per_key`),
        the rows' states read together first (``BatchGetItem``); the outcomes in order.
        Raises (after every other row was applied) when a record must be redelivered."""
        await self.wait_while_paused()
        parsed: list[LegacyChange | LegacyChangeError | None] = []
        wanted: dict[str, list[str]] = {}
        for table, key, value in records:
            try:
                change = parse_change(table, key, value)
            except LegacyChangeError as exc:
                parsed.append(exc)
                continue
            parsed.append(change)
            if change is not None:
                wanted.setdefault(change.table.name, []).append(change.key)
        tables = list(wanted)
        read = await asyncio.gather(*(self.store.get_states(t, wanted[t]) for t in tables))
        priors = dict(zip(tables, read, strict=True))
        prepare = getattr(self.handler, "prepare", None)
        if prepare is not None:  # optional: the handler reads what the batch's rows need together
            firsts = {(c.table.name, c.key): c for c in reversed(parsed) if isinstance(c, LegacyChange)}
            await prepare(list(firsts.values()))
        first: set[tuple[str, str]] = set()

        def key_of(i: int, record: tuple[str, bytes | str | None, bytes | str | None]) -> Hashable:
            change = parsed[i]
            return (change.table.name, change.key) if isinstance(change, LegacyChange) else ("#", i)

        async def apply(i: int, record: tuple[str, bytes | str | None, bytes | str | None]) -> str:
            change = parsed[i]
            if isinstance(change, LegacyChangeError):
                return await self._unparsable(record[0], record[1], record[2], change)
            if change is None:
                return self._count("skipped")
            await self.wait_while_paused()
            row = (change.table.name, change.key)
            if row in first:  # a later change of a row in this batch: its state as left by the earlier one
                return await self._handle_change(change)
            first.add(row)
            return await self._handle_change(change, priors[row[0]].get(row[1]))

        handler_links = getattr(self.handler, "links", None)

        def links(i: int, record: tuple[str, bytes | str | None, bytes | str | None]) -> list[Hashable]:
            change = parsed[i]
            return list(handler_links(change)) if handler_links and isinstance(change, LegacyChange) else []

        token = _GROUP.set(GroupCommit(self.store, self._uow) if self._group_commit else None)
        try:
            return await per_key(records, key_of, apply, concurrency=self._concurrency, links=links)
        finally:
            _GROUP.reset(token)

    async def _unparsable(
        self, table: str, key: bytes | str | None, value: bytes | str | None, exc: LegacyChangeError
    ) -> str:
        await self.quarantine(table, _raw_key(key), "?", f"not a legacy change: {exc}", _raw_row(value), None)
        return self._count("quarantined")

    async def _handle_change(self, change: LegacyChange, prior: RowState | _Unread | None = UNREAD) -> str:
        """Apply ``change``; ``prior``: its row's state read beforehand (with the batch), used
        for the first try only (a conflict reads it again)."""
        table = change.table.name
        for attempt in range(1, self._max_attempts + 1):
            try:
                return self._count(await self._apply_once(change, prior))
            except TransactionConflict:
                prior = UNREAD
                continue  # another writer moved the state (a concurrent redelivery): decide again
            except Exception as exc:
                prior = UNREAD
                if self._is_transient(exc):
                    if attempt == self._max_attempts:
                        log.warning("legacy import waits for a dependency: %s", exc)
                        await asyncio.sleep(self._backoff * 2**attempt)
                        raise
                elif attempt == self._max_attempts:
                    log.exception("legacy row %s/%s failed %d times; quarantined", table, change.key, attempt)
                    await self.quarantine(
                        table,
                        change.key,
                        change.op,
                        f"import failed: {type(exc).__name__}: {exc}",
                        change.row,
                        await self.store.get_state(table, change.key),
                        change=change,
                    )
                    return self._count("quarantined")
                await asyncio.sleep(self._backoff * 2 ** (attempt - 1))
        # Conflicts every time: quarantine rather than loop.
        await self.quarantine(
            table, change.key, change.op, "import kept conflicting with concurrent writes", change.row, None
        )
        return self._count("quarantined")

    async def _apply_once(self, change: LegacyChange, read: RowState | _Unread | None = UNREAD) -> str:
        table = change.table.name
        prior = await self.store.get_state(table, change.key) if isinstance(read, _Unread) else read
        digest = row_hash(change)
        if prior is not None:
            if change.position and prior.position and change.position < prior.position:
                return "stale"
            if prior.hash == digest:
                return "duplicate"
        if change.deleted and (prior is None or prior.status == DELETED):
            # Nothing of it here (never imported, or already removed): remember the delete only.
            return await self._commit_state(change, prior, digest, DELETED, prior.refs if prior else {}, None)
        tx = ImportTx(self._uow(), prior)
        try:
            await self.handler.apply(change, prior, tx)
        except LegacyRowRefused as exc:
            reason = exc.reason if isinstance(exc, Quarantined) else str(exc)[:MAX_REASON_CHARS]
            await self.quarantine(table, change.key, change.op, reason, change.row, prior, change=change)
            return "quarantined"
        except ValidationError as exc:
            reason = "invalid row: " + "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5]
            )
            await self.quarantine(table, change.key, change.op, reason, change.row, prior, change=change)
            return "quarantined"
        status = DELETED if change.deleted else tx.status
        outcome = await self._commit_state(change, prior, digest, status, tx.refs, tx)
        for hook in tx.after_commit:
            await hook()
        return outcome

    async def _commit_state(
        self,
        change: LegacyChange,
        prior: RowState | None,
        digest: str,
        status: str,
        refs: dict[str, Any],
        tx: ImportTx | None,
    ) -> str:
        table = change.table.name
        uow = tx.uow if tx is not None else self._uow()
        state = RowState(table, change.key, status, change.position, digest, refs, change.source_ts_ms)
        uow.add(self.store.put_state(state, prior))
        if prior is not None and prior.status == QUARANTINED:
            uow.add(self.store.unquarantine(table, change.key))
        move = (table, prior.status if prior else None, status, change.source_ts_ms)
        group = _GROUP.get()
        if group is not None:
            await group.commit(uow, [move])
        else:
            uow.add(self.store.count(*move))
            await uow.commit()
        return status

    async def quarantine(
        self,
        table: str,
        key: str,
        op: str,
        reason: str,
        row: dict[str, Any] | None,
        prior: RowState | None,
        *,
        change: LegacyChange | None = None,
    ) -> None:
        """Keep the row aside with its reason, counted; its state remembers it (so the same bad
        row redelivered changes nothing) unless the record had no usable key."""
        items = [self.store.quarantine_put(table, key, op, reason, row)]
        if change is not None and table in BY_NAME:
            refs = prior.refs if prior else {}
            state = RowState(table, key, QUARANTINED, change.position, row_hash(change), refs, change.source_ts_ms)
            items.append(self.store.put_state(state, prior))
            items.append(self.store.count(table, prior.status if prior else None, QUARANTINED, change.source_ts_ms))
        elif prior is None:
            items.append(self.store.count(table, None, QUARANTINED, None))
        log.warning("legacy row quarantined", extra={"table": table, "key": key, "reason": reason[:200]})
        try:
            await self.store._client.transact_write_items(TransactItems=items)
        except self.store._client.exceptions.TransactionCanceledException:
            # The state moved meanwhile: record the quarantine entry alone (still counted once).
            await self.store._client.update_item(**items[0]["Update"])

    async def mark(
        self,
        table: str,
        key: str,
        status: str,
        *,
        only_from: str,
        only_hash: str | None = None,
        reason: str = "",
        row: dict[str, Any] | None = None,
    ) -> None:
        """Move an already recorded row from ``only_from`` (and, given ``only_hash``, only that
        version of it) to another status outside a change (e.g. a staged test case whose problem
        never came: quarantined with the reason; and back to imported once it did). A row found
        otherwise is left alone: a change applied since the caller looked (a delete, an invalid
        update) decides it, not this."""
        for _ in range(5):
            prior = await self.store.get_state(table, key)
            if prior is None or prior.status != only_from or (only_hash is not None and prior.hash != only_hash):
                return
            state = RowState(table, key, status, prior.position, prior.hash, prior.refs, prior.source_ts_ms)
            items = [self.store.put_state(state, prior), self.store.count(table, prior.status, status, None)]
            if status == QUARANTINED:
                items.append(self.store.quarantine_put(table, key, "r", reason, row))
            elif prior.status == QUARANTINED:
                items.append(self.store.unquarantine(table, key))
            try:
                await self.store._client.transact_write_items(TransactItems=items)
                return
            except self.store._client.exceptions.TransactionCanceledException:
                continue

    # -- status and verify ------------------------------------------------------------------

    async def status(self) -> LegacyImportStatus:
        tables = []
        for table in self.handler.tables:
            counters = await self.store.counters(table)
            tables.append(
                TableImportStatus(
                    table=table,
                    imported=int(counters.get(IMPORTED, 0)),
                    deleted=int(counters.get(DELETED, 0)),
                    quarantined=int(counters.get(QUARANTINED, 0)),
                    last_source_ts_ms=int(counters["last_source_ts_ms"]) if "last_source_ts_ms" in counters else None,
                    last_applied_at=counters.get("last_applied_at"),
                )
            )
        return LegacyImportStatus(service=self.handler.service, paused=await self.store.paused(0), tables=tables)

    async def digests(self, table: str, after: str | None, limit: int) -> LegacyDigestPage:
        states, nxt = await self.store.imported_page(table, after, limit)
        columns = await self.handler.columns(table, states) if states else {}
        items = [
            LegacyDigest(key=s.key, digest=row_digest(table, self.handler.service, columns[s.key]))
            for s in states
            if s.key in columns
        ]
        return LegacyDigestPage(table=table, service=self.handler.service, items=items, next=nxt)

    async def rows(self, table: str, keys: list[str]) -> LegacyRowsAnswer:
        states = await self.store.get_states(table, keys)
        imported = [s for s in states.values() if s.status == IMPORTED]
        columns = await self.handler.columns(table, imported) if imported else {}
        return LegacyRowsAnswer(
            table=table,
            service=self.handler.service,
            rows={k: canonical_row(table, self.handler.service, c) for k, c in columns.items()},
        )

    # -- consuming ----------------------------------------------------------------------------

    def topics(self, prefix: str = DEFAULT_TOPIC_PREFIX) -> list[str]:
        return [BY_NAME[t].topic(prefix) for t in self.handler.tables]

    def register(
        self,
        broker: Any,
        *,
        prefix: str,
        group_id: str,
        max_poll_records: int = DEFAULT_MAX_RECORDS,
        batch_timeout_ms: int = 200,
    ) -> None:
        """Subscribe ``broker`` (FastStream) to the handler's legacy topics in consumer group
        ``group_id``: batches of up to ``max_poll_records`` records (:meth:`handle_batch`), the
        group's offsets committed after the whole batch; a batch that raises is sought back and
        redelivered (what it applied is skipped then: once per row version)."""
        topic_tables = {BY_NAME[t].topic(prefix): t for t in self.handler.tables}
        subscriber = broker.subscriber(
            *topic_tables,
            group_id=group_id,
            batch=True,
            max_records=max_poll_records,
            batch_timeout_ms=batch_timeout_ms,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.NACK_ON_ERROR,
            max_poll_records=max_poll_records,
            # A pause holds the batch being applied: never let that count as a dead consumer.
            max_poll_interval_ms=24 * 3600 * 1000,
            title=f"{self.handler.service} legacy import",
        )

        async def on_batch(msg: KafkaMessage) -> None:
            batch = []
            for record in records_of(msg.raw_message):
                topic = str(getattr(record, "topic", ""))
                table = topic_tables.get(topic)
                if table is None:  # cannot happen: subscribed to these topics only
                    log.error("record of an unexpected topic %r skipped", topic)
                    continue
                batch.append((table, getattr(record, "key", None), getattr(record, "value", None)))
            await self.handle_batch(batch)

        subscriber(on_batch)


def _raw_key(key: bytes | str | None) -> str:
    if key is None:
        return "?"
    text = key.decode(errors="replace") if isinstance(key, bytes) else key
    try:
        value = json.loads(text)
        if isinstance(value, dict) and len(value) == 1:
            return str(next(iter(value.values())))
    except ValueError:
        pass
    return text[:200]


def _raw_row(value: bytes | str | None) -> dict[str, Any] | None:
    if value is None:
        return None
    text = value.decode(errors="replace") if isinstance(value, bytes) else value
    return {"__raw": text}


def legacy_router(importer: LegacyImporter) -> APIRouter:
    """The internal routes of :mod:`algoitny_shared.legacy.api` (admin identity required)."""
    router = APIRouter(tags=["legacy import (internal)"])

    def admin(request: Request) -> None:
        identity_of(request).require_admin()

    def known(table: str) -> str:
        if table not in importer.handler.tables:
            raise AppError(ErrorCode.NOT_FOUND, f"{importer.handler.service} imports no legacy table {table!r}")
        return table

    @router.get(LEGACY_STATUS_PATH, response_model=LegacyImportStatus)
    async def status(request: Request) -> LegacyImportStatus:
        admin(request)
        return await importer.status()

    @router.post(LEGACY_PAUSE_PATH, response_model=LegacyImportStatus)
    async def pause(request: Request) -> LegacyImportStatus:
        admin(request)
        await importer.store.set_paused(True)
        return await importer.status()

    @router.post(LEGACY_RESUME_PATH, response_model=LegacyImportStatus)
    async def resume(request: Request) -> LegacyImportStatus:
        admin(request)
        await importer.store.set_paused(False)
        return await importer.status()

    @router.get(LEGACY_DIGESTS_PATH, response_model=LegacyDigestPage)
    async def digests(
        request: Request,
        table: str,
        after: str | None = Query(default=None, max_length=200),
        limit: int = Query(default=MAX_PAGE, ge=1, le=MAX_PAGE),
    ) -> LegacyDigestPage:
        admin(request)
        return await importer.digests(known(table), after, limit)

    @router.get(LEGACY_ROWS_PATH, response_model=LegacyRowsAnswer)
    async def rows(request: Request, table: str, keys: str = Query(max_length=4000)) -> LegacyRowsAnswer:
        admin(request)
        wanted = [k.strip() for k in keys.split(",") if k.strip()]
        if not wanted or len(wanted) > MAX_ROW_KEYS:
            raise AppError(ErrorCode.VALIDATION_FAILED, f"keys takes 1 to {MAX_ROW_KEYS} keys")
        return await importer.rows(known(table), wanted)

    @router.get(LEGACY_QUARANTINE_PATH, response_model=QuarantinePage)
    async def quarantine(
        request: Request,
        after: str | None = Query(default=None, max_length=200),
        limit: int = Query(default=100, ge=1, le=MAX_PAGE),
    ) -> QuarantinePage:
        admin(request)
        items, nxt = await importer.store.quarantine_page(after, limit)
        return QuarantinePage(service=importer.handler.service, items=items, next=nxt)

    return router


def to_attr(value: Any) -> dict[str, Any]:
    """Re-exported for importers building raw transaction items."""
    return to_value(value)
