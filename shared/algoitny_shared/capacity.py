"""Consumed capacity of every DynamoDB call, recorded for the cost report (``bench/load``).

Enabled by ``ALGOITNY_CAPACITY_LOG=<directory>`` (off by default). The shared client factory
(:func:`algoitny_shared.dynamo.dynamodb`) then registers two boto3 event hooks on the client:

* ``provide-client-params``: adds ``ReturnConsumedCapacity=INDEXES`` to every operation that
  takes it, and for writes that change an existing item (UpdateItem, DeleteItem and their
  transactional forms) reads the item's size before the write;
* ``after-call``: turns the call into records, one per table or index touched, appended as JSON
  lines to ``<directory>/<service>-<pid>.jsonl``.

moto's ``ConsumedCapacity`` is not DynamoDB's (it charges a 3 KB put 1 unit, leaves GSIs and
transactions out), so units are computed here from item sizes by DynamoDB's documented rules
and moto's figure is kept beside them as ``reported``:

* item size = sum over attributes of UTF-8 name length + value size (string: UTF-8 bytes; number:
  1 byte per 2 significant digits + 1; binary: raw bytes; bool/null: 1; list/map: 3 + 1 per
  element + elements; sets: sum of members);
* reads: 4 KB units; strongly consistent 1, eventually consistent 0.5, transactional 2 per unit;
  Query/Scan round the *sum* of the returned items' sizes up once; BatchGetItem rounds each item;
* writes: 1 KB units; standard 1, transactional 2 per unit; the size is the larger of the item
  before and after the write; a write that changes an item a GSI holds costs that index a write
  too (two when the index key changes: delete the old entry, put the new one).

Each record carries the API call it was made for (``METHOD /route/{template}`` of the service's
HTTP route, set by the HTTP edge; ``background`` for consumers, relays and workers).
The sizing reads go through a second client without hooks, so they are never recorded.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections.abc import Iterable
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from algoitny_shared.logging import trace_id_var
from algoitny_shared.tables import TableSpec, all_tables

CURRENT_CALL: ContextVar[str] = ContextVar("algoitny_current_api_call", default="background")

READ_UNIT = 4096
WRITE_UNIT = 1024
TAKES_CONSUMED_CAPACITY = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
    }
)


# ---------------------------------------------------------------- sizes and units (pure)


def _number_size(text: str) -> int:
    digits = text.lstrip("-").replace(".", "").split("e")[0].split("E")[0].strip("0")
    return (len(digits) + 1) // 2 + 1


def value_size(value: dict[str, Any]) -> int:
    """Size in bytes of one DynamoDB attribute value (without the attribute name)."""
    (kind, data), *_ = value.items()
    if kind == "S":
        return len(str(data).encode())
    if kind == "N":
        return _number_size(str(data))
    if kind == "B":
        return len(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in data)
    if kind == "NS":
        return sum(_number_size(n) for n in data)
    if kind == "BS":
        return sum(len(b) for b in data)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in data)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(v) for k, v in data.items())
    return 0


def item_size(item: dict[str, Any] | None) -> int:
    """Size in bytes of a DynamoDB item in wire format (``{"name": {"S": "..."}}``)."""
    if not item:
        return 0
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def read_units(size: int, *, consistent: bool = False, transactional: bool = False) -> float:
    blocks = max(1, math.ceil(size / READ_UNIT))
    if transactional:
        return 2.0 * blocks
    return float(blocks) if consistent else blocks / 2


def write_units(size: int, *, transactional: bool = False) -> float:
    blocks = max(1, math.ceil(size / WRITE_UNIT))
    return float(2 * blocks if transactional else blocks)


def logical_name(physical: str, namespace: str) -> str:
    """``<ns>-<owner>-<name>`` -> ``<owner>.<name>``."""
    rest = physical[len(namespace) + 1 :] if physical.startswith(f"{namespace}-") else physical
    owner, _, name = rest.rpartition("-")
    return f"{owner}.{name}" if owner else rest


def projected(spec: TableSpec, index_name: str, item: dict[str, Any] | None) -> dict[str, Any] | None:
    """The entry ``item`` has in a GSI, or None when it lacks the index's key (sparse index)."""
    if not item:
        return None
    index = next(i for i in spec.indexes if i.name == index_name)
    keys = [index.hash_key] + ([index.range_key] if index.range_key else [])
    if any(k not in item for k in keys):
        return None
    if index.projection == "ALL":
        return item
    wanted = set(keys) | {spec.hash_key} | ({spec.range_key} if spec.range_key else set())
    if index.projection == "INCLUDE":
        wanted |= set(index.non_key_attributes)
    return {k: v for k, v in item.items() if k in wanted}


def write_records(
    spec: TableSpec | None,
    table: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    *,
    transactional: bool = False,
) -> list[dict[str, Any]]:
    """Units of one item write on the table and on each GSI whose entry it changes."""
    size = max(item_size(before), item_size(after))
    out = [
        {
            "table": table,
            "index": None,
            "kind": "write",
            "bytes": size,
            "units": write_units(size, transactional=transactional),
        }
    ]
    for index in spec.indexes if spec else ():
        old, new = projected(spec, index.name, before), projected(spec, index.name, after)  # type: ignore[arg-type]
        if old is None and new is None:
            continue
        keys = [index.hash_key] + ([index.range_key] if index.range_key else [])
        moved = old is not None and new is not None and any(old.get(k) != new.get(k) for k in keys)
        entries = [old, new] if moved else [new if new is not None else old]
        for entry in entries:
            n = item_size(entry)
            out.append(
                {
                    "table": table,
                    "index": index.name,
                    "kind": "write",
                    "bytes": n,
                    "units": write_units(n, transactional=transactional),
                }
            )
    return out


# ---------------------------------------------------------------- the recorder


class CapacityRecorder:
    """Hooks for one boto3 DynamoDB client; ``sizer`` is a second client without hooks."""

    def __init__(
        self,
        directory: str | Path,
        *,
        service: str,
        namespace: str,
        sizer: Any,
        tables: Iterable[TableSpec] | None = None,
    ) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.service = service
        self.namespace = namespace
        self.sizer = sizer
        # The tables whose indexes the records follow: every service's unless given.
        self.specs = {spec.physical(namespace): spec for spec in (all_tables() if tables is None else tables)}
        self._lock = threading.Lock()
        self._file: Any = None
        self._pid = 0
        self._calls = 0

    def install(self, client: Any) -> Any:
        client.meta.events.register("provide-client-params.dynamodb.*", self.before)
        client.meta.events.register("after-call.dynamodb.*", self.after)
        return client

    # -- hooks

    def before(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        op = model.name
        if op not in TAKES_CONSUMED_CAPACITY:
            return
        params.setdefault("ReturnConsumedCapacity", "INDEXES")
        before = self._sizes_before(op, params)
        # When the call itself starts (after the sizing reads) and the request it serves (its trace
        # id, the same in every service): a benchmark replays calls that overlapped in parallel.
        context["algoitny_capacity"] = {
            "op": op,
            "params": params,
            "before": before,
            "start": time.time(),
            "trace": trace_id_var.get(),
        }

    def after(self, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        state = context.get("algoitny_capacity")
        if not state:
            return
        try:
            records = self._records(state["op"], state["params"], parsed, state["before"])
        except Exception as exc:  # never break the caller's request over bookkeeping
            records = [{"table": "?", "index": None, "kind": "error", "units": 0.0, "bytes": 0, "error": repr(exc)}]
        reported = self._reported(parsed.get("ConsumedCapacity"))
        failed = "Error" in parsed
        now = time.time()
        call = CURRENT_CALL.get()
        with self._lock:
            self._calls += 1
            cid = f"{self.service}-{os.getpid()}-{self._calls}"
        lines = []
        for n, rec in enumerate(records):
            rec.update(ts=round(now, 3), service=self.service, call=call, op=state["op"], cid=cid)
            if n == 0:  # the request itself, so a benchmark can replay the same call bare
                rec["params"] = state["params"]
                rec["start"] = round(state["start"], 4)
                rec["end"] = round(now, 4)
                rec["trace"] = state["trace"]
            if failed:
                rec["failed"] = parsed["Error"].get("Code", "error")
            if rec["index"] is None and rec["table"] in reported:
                rec["reported"] = reported.pop(rec["table"])
            lines.append(json.dumps(rec, separators=(",", ":"), default=_jsonable))
        self._write(lines)

    # -- helpers

    def _key_of(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        try:
            resp = self.sizer.get_item(TableName=table, Key=key, ConsistentRead=True)
        except Exception:
            return None
        item: dict[str, Any] | None = resp.get("Item")
        return item

    def _sizes_before(self, op: str, params: dict[str, Any]) -> list[dict[str, Any] | None]:
        if op in ("UpdateItem", "DeleteItem"):
            return [self._key_of(params["TableName"], params["Key"])]
        if op == "TransactWriteItems":
            out: list[dict[str, Any] | None] = []
            for entry in params.get("TransactItems", []):
                (kind, body), *_ = entry.items()
                out.append(self._key_of(body["TableName"], body["Key"]) if kind in ("Update", "Delete") else None)
            return out
        return []

    def _table(self, physical: str) -> str:
        return logical_name(physical, self.namespace)

    def _reported(self, consumed: Any) -> dict[str, float]:
        if not consumed:
            return {}
        entries = consumed if isinstance(consumed, list) else [consumed]
        return {self._table(c["TableName"]): float(c.get("CapacityUnits", 0)) for c in entries if "TableName" in c}

    def _write_item(
        self, physical: str, before: dict[str, Any] | None, after: dict[str, Any] | None, transactional: bool = False
    ) -> list[dict[str, Any]]:
        return write_records(
            self.specs.get(physical), self._table(physical), before, after, transactional=transactional
        )

    def _records(
        self, op: str, params: dict[str, Any], parsed: dict[str, Any], before: list[dict[str, Any] | None]
    ) -> list[dict[str, Any]]:
        failed = "Error" in parsed
        if op == "GetItem":
            size = item_size(parsed.get("Item"))
            units = read_units(size, consistent=bool(params.get("ConsistentRead")))
            return [
                {
                    "table": self._table(params["TableName"]),
                    "index": None,
                    "kind": "read",
                    "bytes": size,
                    "units": units,
                }
            ]
        if op in ("Query", "Scan"):
            size = sum(item_size(i) for i in parsed.get("Items", []))
            units = read_units(size, consistent=bool(params.get("ConsistentRead")))
            rec = {
                "table": self._table(params["TableName"]),
                "index": params.get("IndexName"),
                "kind": "read",
                "bytes": size,
                "units": units,
                "items": len(parsed.get("Items", [])),
            }
            return [rec]
        if op == "BatchGetItem":
            out = []
            requested = params.get("RequestItems", {})
            consistent = {t: bool(r.get("ConsistentRead")) for t, r in requested.items()}
            responses = parsed.get("Responses", {})
            for physical, request in requested.items():
                # A key that finds no item still costs the smallest read (and the call is made:
                # without a record, a lookup of counters not yet written was missing from the replay).
                missing = len(request.get("Keys", [])) - len(responses.get(physical, []))
                if missing > 0:
                    out.append(
                        {
                            "table": self._table(physical),
                            "index": None,
                            "kind": "read",
                            "bytes": 0,
                            "units": missing * read_units(0, consistent=consistent.get(physical, False)),
                        }
                    )
            for physical, items in responses.items():
                for item in items:
                    size = item_size(item)
                    out.append(
                        {
                            "table": self._table(physical),
                            "index": None,
                            "kind": "read",
                            "bytes": size,
                            "units": read_units(size, consistent=consistent.get(physical, False)),
                        }
                    )
            return out
        if op == "TransactGetItems":
            out = []
            for entry, got in zip(params.get("TransactItems", []), parsed.get("Responses", []), strict=False):
                size = item_size(got.get("Item"))
                table = self._table(entry["Get"]["TableName"])
                out.append(
                    {
                        "table": table,
                        "index": None,
                        "kind": "read",
                        "bytes": size,
                        "units": read_units(size, transactional=True),
                    }
                )
            return out
        if op == "PutItem":
            return self._write_item(params["TableName"], None, params["Item"])
        if op == "UpdateItem":
            after = None if failed else self._key_of(params["TableName"], params["Key"])
            return self._write_item(params["TableName"], before[0] if before else None, after)
        if op == "DeleteItem":
            return self._write_item(params["TableName"], before[0] if before else None, None)
        if op == "BatchWriteItem":
            out = []
            for physical, requests in params.get("RequestItems", {}).items():
                for request in requests:
                    if "PutRequest" in request:
                        out += self._write_item(physical, None, request["PutRequest"]["Item"])
                    else:
                        out += self._write_item(physical, None, request["DeleteRequest"]["Key"])
            return out
        if op == "TransactWriteItems":
            out = []
            entries = params.get("TransactItems", [])
            for n, entry in enumerate(entries):
                (kind, body), *_ = entry.items()
                physical = body["TableName"]
                old = before[n] if n < len(before) else None
                if kind == "Put":
                    out += self._write_item(physical, None, body["Item"], transactional=True)
                elif kind == "Update":
                    new = None if failed else self._key_of(physical, body["Key"])
                    out += self._write_item(physical, old, new, transactional=True)
                elif kind == "Delete":
                    out += self._write_item(physical, old, None, transactional=True)
                else:  # ConditionCheck: charged as a transactional write of the checked item
                    size = item_size(body.get("Key"))
                    out.append(
                        {
                            "table": self._table(physical),
                            "index": None,
                            "kind": "write",
                            "bytes": size,
                            "units": write_units(size, transactional=True),
                        }
                    )
            return out
        return []

    def _write(self, lines: Iterable[str]) -> None:
        text = "".join(f"{line}\n" for line in lines)
        if not text:
            return
        with self._lock:
            if self._file is None or self._pid != os.getpid():
                self._pid = os.getpid()
                self._file = open(self.dir / f"{self.service}-{self._pid}.jsonl", "a", buffering=1)  # noqa: SIM115
            self._file.write(text)


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        import base64

        return {"__b64__": base64.b64encode(value).decode()}
    if isinstance(value, set | frozenset):
        return sorted(value)
    return str(value)


def read_records(directory: str | Path) -> list[dict[str, Any]]:
    """Every record written under ``directory`` (all services and processes)."""
    out = []
    for path in sorted(Path(directory).glob("*.jsonl")):
        for line in path.read_text().splitlines():
            if line.strip():
                out.append(json.loads(line))
    return out


class CallLabelMiddleware:
    """Plain ASGI: labels the DynamoDB calls of a request with ``<service> <METHOD> <route template>``."""

    def __init__(self, app: Any, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from starlette.routing import Match

        template = "?"
        for route in getattr(scope.get("app"), "routes", []):
            match, _ = route.matches(scope)
            if match == Match.FULL:
                template = getattr(route, "path", "?")
                break
        token = CURRENT_CALL.set(f"{self.service} {scope['method']} {template}")
        try:
            await self.app(scope, receive, send)
        finally:
            CURRENT_CALL.reset(token)
