"""Rules that turn legacy rows (problems, test_cases, script_generation_jobs) into this service's
problems, test cases and generation jobs, and back into legacy columns for ``verify`` (no I/O).

* Identity: a legacy problem keeps its natural key ``(platform, problem_id)`` (unique in the
  legacy schema too), its incarnation is derived from the legacy id, and its numeric id is
  allocated once and remembered on the row's import state. A generation job's id is a ULID from
  its ``created_at`` and the legacy id.
* ``platform`` is lower-cased and stripped; one that the platform vocabulary refuses (pattern,
  reserved names) and a ``problem_id`` outside the id pattern are quarantined.
* ``solution_code`` is base64 in the legacy database. It is decoded strictly (RFC 4648 alphabet,
  padding; the bytes must be UTF-8). A value that is not valid base64 is **kept as it is** (it is
  most likely source stored raw by an older code path) and marked ``solution_encoding: raw``, so
  nothing is lost and verify gives back exactly the legacy value.
* ``tags`` must be a JSON list of strings: anything else is quarantined. Tags are kept exactly.
* ``language`` is normalised to the judge's ids (``python`` -> ``python3``); a language the judge
  does not know leaves the reference language empty (the raw value is kept for verify).
* Status: ``is_deleted`` -> ``deleted`` (with ``deleted_at``/``deleted_reason``), else
  ``is_completed`` -> ``completed``, else ``draft`` (invisible to users, as before).
* Test cases: ordered by ``(created_at, id)`` (the legacy ordering); the first
  ``LEGACY_SAMPLE_CASES`` small ones are the problem's samples (the legacy application showed
  every case; the new one shows samples to readers).
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime
from typing import Any

from algoitny_problems.domain.models import MAX_SAMPLE_BYTES, Problem, Status, TestCaseIn
from algoitny_shared.languages import UnknownLanguage, normalise
from algoitny_shared.legacy.rows import ProblemRow, ScriptGenerationJobRow, TestCaseRow
from algoitny_shared.platforms import PLATFORM_PATTERN, PROBLEM_ID_PATTERN, RESERVED_PLATFORMS

LEGACY_SAMPLE_CASES = 2
LEGACY_JOB_STATUS = {"COMPLETED": "succeeded", "FAILED": "failed", "PENDING": "cancelled", "PROCESSING": "cancelled"}


class Refused(ValueError):
    """The row cannot become an item of this service; the message is the quarantine reason."""


def legacy_platform(raw: str) -> str:
    platform = raw.strip().lower()
    if not re.fullmatch(PLATFORM_PATTERN, platform) or platform in RESERVED_PLATFORMS:
        raise Refused(f"platform {raw!r} is not a valid platform name here")
    return platform


def legacy_problem_id(raw: str) -> str:
    problem_id = raw.strip()
    if not re.fullmatch(PROBLEM_ID_PATTERN, problem_id):
        raise Refused(f"problem_id {raw!r} does not fit the problem id pattern")
    return problem_id


def decode_solution(raw: str | None) -> tuple[str | None, str]:
    """(source, encoding): encoding ``base64`` (decoded), ``raw`` (kept as it is) or ``none``."""
    if raw is None:
        return None, "none"
    if raw == "":
        return "", "raw"
    try:
        return base64.b64decode(raw, validate=True).decode("utf-8"), "base64"
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return raw, "raw"


def encode_solution(source: str | None, encoding: str) -> str | None:
    if source is None:
        return None
    if encoding == "base64":
        return base64.b64encode(source.encode("utf-8")).decode()
    return source


def legacy_tags(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise Refused(f"tags is not a JSON list but {type(value).__name__}")
    if not all(isinstance(t, str) for t in value):
        raise Refused("tags holds something other than strings")
    return list(value)


def judge_language(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    try:
        return normalise(raw)
    except UnknownLanguage:
        return None


def legacy_status(is_completed: bool, is_deleted: bool) -> Status:
    if is_deleted:
        return "deleted"
    return "completed" if is_completed else "draft"


def problem_fields(row: ProblemRow) -> tuple[dict[str, Any], dict[str, Any]]:
    """The problem's fields from a legacy row, and the ``legacy`` attribute kept with the item
    (what the new model normalises: the raw language, how the solution was encoded, the completed
    flag of a deleted problem, the legacy id)."""
    tags = legacy_tags(row.tags)
    source, encoding = decode_solution(row.solution_code)
    fields: dict[str, Any] = {
        "platform": legacy_platform(row.platform),
        "problem_id": legacy_problem_id(row.problem_id),
        "title": row.title,
        "url": row.problem_url or None,
        "tags": tags,
        "constraints": row.constraints,
        "language": judge_language(row.language),
        "reference_solution": source,
        "status": legacy_status(row.is_completed, row.is_deleted),
        "deleted_at": row.deleted_at,
        "deleted_reason": row.deleted_reason,
        "created_at": row.created_at,
    }
    legacy = {
        "id": row.id,
        "platform": row.platform,
        "problem_id": row.problem_id,
        "problem_url": row.problem_url,
        "language": row.language,
        "solution_encoding": encoding,
        "is_completed": row.is_completed,
        "is_deleted": row.is_deleted,
    }
    return fields, legacy


def new_problem(fields: dict[str, Any], *, numeric_id: int, incarnation: str, after_version: int) -> Problem:
    return Problem(
        **fields,
        id=numeric_id,
        incarnation=incarnation,
        time_limit_ms=2000,
        memory_limit_mb=256,
        checker="tokens",
        version=after_version + 1,
        updated_at=fields["created_at"],
    )


def problem_columns(item: dict[str, Any]) -> dict[str, Any]:
    """The legacy ``problems`` columns rebuilt from a problem item (with its ``legacy`` attribute)."""
    legacy = item.get("legacy") or {}
    return {
        "id": int(legacy.get("id", 0)),
        "platform": legacy.get("platform", item.get("platform")),
        "problem_id": legacy.get("problem_id", item.get("problem_id")),
        "title": item.get("title"),
        "problem_url": legacy.get("problem_url"),
        "tags": list(item.get("tags") or []),
        "solution_code": encode_solution(item.get("reference_solution"), str(legacy.get("solution_encoding", "none"))),
        "language": legacy.get("language"),
        "constraints": item.get("constraints"),
        "is_completed": bool(legacy.get("is_completed", item.get("status") == "completed")),
        "is_deleted": item.get("status") == "deleted",
        "deleted_at": _dt(item.get("deleted_at")),
        "deleted_reason": item.get("deleted_reason"),
        "created_at": _dt(item.get("created_at")),
    }


def _dt(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def ordered_cases(rows: list[dict[str, Any]]) -> list[TestCaseIn]:
    """Staged legacy cases (``id``, ``created_at``, ``input``, ``output``) as a test set in legacy
    order; the first small ones are samples."""
    ordered = sorted(rows, key=lambda r: (str(r["created_at"]), int(r["id"])))
    cases: list[TestCaseIn] = []
    for row in ordered:
        small = len(row["input"].encode()) + len(row["output"].encode()) <= MAX_SAMPLE_BYTES
        sample = small and sum(c.is_sample for c in cases) < LEGACY_SAMPLE_CASES
        cases.append(TestCaseIn(input=row["input"], output=row["output"], is_sample=sample))
    return cases


def test_case_columns(staged: dict[str, Any], payload: tuple[str, str]) -> dict[str, Any]:
    return {
        "id": int(staged["id"]),
        "problem_id": int(staged["problem_id"]),
        "input": payload[0],
        "output": payload[1],
        "created_at": _dt(staged["created_at"]),
    }


test_case_columns.__test__ = False  # type: ignore[attr-defined]


def staged_case(row: TestCaseRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "problem_id": row.problem_id,
        "created_at": row.created_at.isoformat(),
    }


def job_fields(row: ScriptGenerationJobRow) -> dict[str, Any]:
    """A historical generation job (never run again: unfinished legacy jobs end as cancelled)."""
    status = LEGACY_JOB_STATUS.get(row.status.upper())
    if status is None:
        raise Refused(f"status {row.status!r} is not a legacy job status")
    source, _ = decode_solution(row.solution_code)
    terminal_error = None
    if row.status.upper() in ("PENDING", "PROCESSING"):
        terminal_error = f"legacy job still {row.status} when it was migrated; retry to run it here"
    return {
        "platform": row.platform.strip().lower(),
        "problem_id": row.problem_id.strip(),
        "incarnation": "legacy",
        "status": status,
        "generator_source": "llm",
        "generator_language": "python3" if row.generator_code else None,
        "generator_code": row.generator_code,
        "generator_author": "legacy",
        "solution_source": "problem" if source else None,
        "solution_language": judge_language(row.language),
        "solution_code": source,
        "counts": {},
        "total": 0,
        "seed": 0,
        "error": row.error_message or terminal_error,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "finished_at": row.updated_at,
    }


def job_columns(legacy: dict[str, Any]) -> dict[str, Any]:
    """The legacy ``script_generation_jobs`` columns: kept whole on the job item (``legacy``), since
    a historical job has no other reader that could change them."""
    out = dict(legacy)
    for name in ("created_at", "updated_at"):
        out[name] = _dt(out.get(name))
    return out
