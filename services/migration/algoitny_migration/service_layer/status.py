"""``status``: per legacy table, rows in the legacy database, imported and quarantined per
importing service, and the lag (Connect's replication slot, each importer's consumer group)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from algoitny_shared.legacy.tables import LEGACY_TABLES


class StatusSources(Protocol):
    def legacy_counts(self) -> dict[str, int]: ...
    def connector_status(self) -> dict[str, Any] | None: ...
    def slot_lag_bytes(self) -> int | None: ...
    async def import_status(self, service: str) -> Any: ...
    async def consumer_lag(self, service: str, table: str) -> int | None: ...


@dataclass
class ImportFigures:
    service: str
    imported: int | None = None
    deleted: int | None = None
    quarantined: int | None = None
    lag: int | None = None  # messages not consumed yet by the importer's group
    paused: bool | None = None
    error: str = ""


@dataclass
class TableStatus:
    table: str
    legacy_rows: int | None
    importers: list[ImportFigures] = field(default_factory=list)
    note: str = ""


@dataclass
class StatusReport:
    tables: list[TableStatus]
    connector: dict[str, Any] | None
    slot_lag_bytes: int | None
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "connector": self.connector,
            "slot_lag_bytes": self.slot_lag_bytes,
            "tables": [
                {
                    "table": t.table,
                    "legacy_rows": t.legacy_rows,
                    "note": t.note,
                    "importers": [i.__dict__ for i in t.importers],
                }
                for t in self.tables
            ],
            "errors": self.errors,
        }


async def collect_status(src: StatusSources) -> StatusReport:
    errors: list[str] = []
    try:
        counts: dict[str, int] = src.legacy_counts()
    except Exception as exc:
        counts = {}
        errors.append(f"legacy database: {exc}")
    try:
        connector = src.connector_status()
    except Exception as exc:
        connector = None
        errors.append(f"Kafka Connect: {exc}")
    try:
        slot = src.slot_lag_bytes()
    except Exception:
        slot = None
    services = sorted({s for t in LEGACY_TABLES for s in t.importers})
    per_service: dict[str, Any] = {}
    for service in services:
        try:
            per_service[service] = await src.import_status(service)
        except Exception as exc:
            per_service[service] = exc
    tables = []
    for t in LEGACY_TABLES:
        ts = TableStatus(t.name, counts.get(t.name), note=t.not_imported_because)
        for service in t.importers:
            fig = ImportFigures(service)
            st = per_service.get(service)
            if isinstance(st, Exception):
                fig.error = str(st)
            elif st is not None:
                fig.paused = st.paused
                row = next((x for x in st.tables if x.table == t.name), None)
                if row is not None:
                    fig.imported, fig.deleted, fig.quarantined = row.imported, row.deleted, row.quarantined
            try:
                fig.lag = await src.consumer_lag(service, t.name)
            except Exception:
                fig.lag = None
            ts.importers.append(fig)
        tables.append(ts)
    return StatusReport(tables, connector, slot, errors)
