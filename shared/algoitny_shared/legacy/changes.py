"""One captured change of a legacy row, parsed from a Debezium record.

The connector is configured (services/migration) with the JSON converter without schemas
and Debezium's ``ExtractNewRecordState`` transform: the key is ``{"<pk>": value}``, the
value is the row's columns plus ``__op`` (``r`` snapshot read, ``c``, ``u``, ``d``),
``__lsn``, ``__source_ts_ms`` and ``__deleted`` (``"true"`` for a delete, which then
carries at least the primary key). Tombstones (a null value) carry nothing and are skipped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal, cast

from algoitny_shared.legacy.rows import ROW_MODELS, LegacyRow
from algoitny_shared.legacy.tables import BY_NAME, LegacyTable

Op = Literal["r", "c", "u", "d"]
_META_PREFIX = "__"


class LegacyChangeError(ValueError):
    """A record that is not a legacy change at all (quarantined with this reason)."""


class LegacyRowRefused(Exception):
    """A row the importing service cannot take (a broken reference, a duplicate the new rules
    refuse, ...): it goes to the service's quarantine with this reason."""


@dataclass(frozen=True)
class LegacyChange:
    table: LegacyTable
    key: str  # the primary key, as text
    op: Op
    deleted: bool
    row: dict[str, Any]  # the columns as delivered (JSON columns still as JSON text)
    lsn: int | None
    source_ts_ms: int | None

    @property
    def position(self) -> int:
        """Orders changes of one row: later log positions win; snapshot reads carry the snapshot's."""
        return self.lsn or 0

    def typed(self) -> LegacyRow:
        """The row as its typed model; raises ``pydantic.ValidationError`` with the reason."""
        return ROW_MODELS[self.table.name].model_validate(self.row)


def _json_object(raw: bytes | str | None, what: str) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LegacyChangeError(f"{what} is not JSON: {exc}") from exc
    if value is None:
        return None
    if not isinstance(value, dict):
        raise LegacyChangeError(f"{what} is not a JSON object")
    return cast(dict[str, Any], value)


def parse_change(table_name: str, key: bytes | str | None, value: bytes | str | None) -> LegacyChange | None:
    """Parse one record of ``table_name``'s topic; ``None`` for a tombstone."""
    table = BY_NAME.get(table_name)
    if table is None:
        raise LegacyChangeError(f"unknown legacy table {table_name!r}")
    body = _json_object(value, "value")
    if body is None:
        return None
    key_obj = _json_object(key, "key") or {}
    row = {k: v for k, v in body.items() if not k.startswith(_META_PREFIX)}
    pk = row.get(table.primary_key, key_obj.get(table.primary_key))
    if pk is None or pk == "":
        raise LegacyChangeError(f"no primary key {table.primary_key!r}")
    deleted = str(body.get("__deleted", "false")).lower() == "true"
    op = str(body.get("__op") or ("d" if deleted else "r"))
    if op not in ("r", "c", "u", "d"):
        raise LegacyChangeError(f"unknown operation {op!r}")
    lsn = body.get("__lsn")
    ts = body.get("__source_ts_ms")
    return LegacyChange(
        table=table,
        key=str(pk),
        op=cast(Op, op),
        deleted=deleted or op == "d",
        row=row,
        lsn=int(lsn) if isinstance(lsn, int | str) and str(lsn).isdigit() else None,
        source_ts_ms=int(ts) if isinstance(ts, int) else None,
    )
