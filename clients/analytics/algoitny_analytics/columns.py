"""Arrow columns of an event type: the envelope's fields, then the payload's fields (scalars
typed, nested values as JSON text), then the whole payload as JSON text."""

from __future__ import annotations

import json
import types
import typing
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import pyarrow as pa
from pydantic import BaseModel

from algoitny_events import Event

TIMESTAMP = pa.timestamp("us", tz="UTC")
ENVELOPE_COLUMNS: list[tuple[str, pa.DataType]] = [
    ("event_id", pa.string()),
    ("event_type", pa.string()),
    ("schema_version", pa.int32()),
    ("occurred_at", TIMESTAMP),
    ("producer", pa.string()),
    ("aggregate_id", pa.string()),
    ("aggregate_version", pa.int64()),
    ("trace_id", pa.string()),
]
PAYLOAD_JSON = "payload_json"
RESERVED = {name for name, _ in ENVELOPE_COLUMNS} | {PAYLOAD_JSON, "type", "day"}


def _arrow_type(annotation: Any) -> pa.DataType:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        return _arrow_type(rest[0]) if len(rest) == 1 else pa.string()
    if origin is typing.Literal:
        return pa.string()
    if annotation is bool:
        return pa.bool_()
    if annotation is int:
        return pa.int64()
    if annotation is float:
        return pa.float64()
    if annotation is datetime:
        return TIMESTAMP
    if annotation is date:
        return pa.date32()
    return pa.string()  # str, UUID, lists, dicts, nested models: text (JSON for structures)


def payload_columns(model: type[BaseModel]) -> list[tuple[str, str, pa.DataType]]:
    """(field name, column name, type): a field named like an envelope column gets a ``p_`` prefix."""
    out = []
    for name, info in model.model_fields.items():
        column = f"p_{name}" if name in RESERVED else name
        out.append((name, column, _arrow_type(info.annotation)))
    return out


def schema_of(model: type[BaseModel]) -> pa.Schema:
    fields = [pa.field(n, t) for n, t in ENVELOPE_COLUMNS]
    fields += [pa.field(c, t) for _, c, t in payload_columns(model)]
    fields.append(pa.field(PAYLOAD_JSON, pa.string()))
    return pa.schema(fields)


def _cell(value: Any, kind: pa.DataType) -> Any:
    if value is None:
        return None
    if kind == TIMESTAMP:
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if pa.types.is_string(kind) and not isinstance(value, str):
        if isinstance(value, UUID):
            return str(value)
        if isinstance(value, BaseModel):
            return value.model_dump_json()
        return json.dumps(_jsonable(value), sort_keys=True)
    return value


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (datetime, date, UUID)):
        return value.isoformat() if not isinstance(value, UUID) else str(value)
    return value


def table_of(model: type[BaseModel], events: list[Event[Any]]) -> pa.Table:
    schema = schema_of(model)
    columns: dict[str, list[Any]] = {f.name: [] for f in schema}
    payload_cols = payload_columns(model)
    for event in events:
        env = event.envelope
        columns["event_id"].append(str(env.event_id))
        columns["event_type"].append(env.event_type)
        columns["schema_version"].append(env.schema_version)
        columns["occurred_at"].append(_cell(env.occurred_at, TIMESTAMP))
        columns["producer"].append(env.producer)
        columns["aggregate_id"].append(env.aggregate_id)
        columns["aggregate_version"].append(env.aggregate_version)
        columns["trace_id"].append(env.trace_id)
        for name, column, kind in payload_cols:
            columns[column].append(_cell(getattr(event.payload, name), kind))
        columns[PAYLOAD_JSON].append(event.payload.model_dump_json())
    return pa.table(columns, schema=schema)
