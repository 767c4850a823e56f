"""The internal API every importing service offers for migration status and ``verify``.

Routes (on the service itself, admin identity required, never exposed by the gateway):

- ``GET /internal/legacy/status``: :class:`LegacyImportStatus`.
- ``GET /internal/legacy/{table}/digests?after=<cursor>&limit=<n>``: :class:`LegacyDigestPage`,
  one digest (:func:`~algoitny_shared.legacy.canonical.row_digest`) per imported, not deleted
  legacy row, rebuilt from the service's own items.
- ``GET /internal/legacy/{table}/rows?keys=<k1,k2,...>``: :class:`LegacyRowsAnswer`, the
  canonical rows of up to 100 keys (to show what differs).
- ``GET /internal/legacy/quarantine?after=&limit=``: :class:`QuarantinePage`.
- ``POST /internal/legacy/pause`` and ``POST /internal/legacy/resume``: :class:`LegacyImportStatus`
  after the change (the importer stops applying changes within a second; offsets stay where they
  are, so resuming goes on from the first change not applied).

One kit implements them for every importing service (accounts, ratelimit, problems, executions,
hints): :mod:`algoitny_shared.legacy.row_importer`, run as a process of its own by
:mod:`algoitny_shared.legacy.runner`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

LEGACY_STATUS_PATH = "/internal/legacy/status"
LEGACY_DIGESTS_PATH = "/internal/legacy/{table}/digests"
LEGACY_ROWS_PATH = "/internal/legacy/{table}/rows"
LEGACY_QUARANTINE_PATH = "/internal/legacy/quarantine"
LEGACY_PAUSE_PATH = "/internal/legacy/pause"
LEGACY_RESUME_PATH = "/internal/legacy/resume"
MAX_PAGE = 1000
MAX_ROW_KEYS = 100


class TableImportStatus(BaseModel):
    table: str
    imported: int = Field(description="Legacy rows that exist as items now (deleted ones excluded).")
    deleted: int = Field(0, description="Legacy rows deleted in the legacy database and removed here.")
    quarantined: int = Field(description="Legacy rows refused, each with its reason.")
    last_source_ts_ms: int | None = Field(None, description="Commit time of the latest change applied.")
    last_applied_at: datetime | None = None


class LegacyImportStatus(BaseModel):
    service: str
    paused: bool = False
    tables: list[TableImportStatus]


class LegacyDigest(BaseModel):
    key: str
    digest: str


class LegacyDigestPage(BaseModel):
    table: str
    service: str
    items: list[LegacyDigest]
    next: str | None = None


class LegacyRowsAnswer(BaseModel):
    table: str
    service: str
    rows: dict[str, dict[str, Any]]  # key -> canonical row


class QuarantinedRow(BaseModel):
    table: str
    key: str
    reason: str
    op: str
    first_seen: datetime
    last_seen: datetime
    attempts: int = 1
    row: dict[str, Any] | None = Field(None, description="The row as captured (large text columns cut).")


class QuarantinePage(BaseModel):
    service: str
    items: list[QuarantinedRow]
    next: str | None = None
