"""Rules that turn a legacy ``search_history`` row into a history item (no I/O).

* **Id**: ``legacy_execution_id(id, created_at)``: a ULID whose time part is the row's
  ``created_at`` and whose random part comes from the legacy id, so migrated runs sort among each
  other and among new runs by when they happened, and the same row always gets the same id.
* **Owner**: ``legacy_user_id(user_id)`` (the id accounts gives the migrated user). A row without
  a user (``user_id`` NULL, the legacy application's anonymous runs) belongs to nobody:
  ``user_id`` is :data:`LEGACY_ANONYMOUS` (a partition no account can have: account ids start with
  ``u_``), its event carries no user, so it counts in the platform's figures and in no user's.
  ``user_identifier`` (often an e-mail) is kept for verify only and never shown.
* **Verdict** (legacy rows only know passed/failed): ``result_summary`` ``"Passed"`` -> ``AC``;
  ``"Failed"`` -> the verdict of the first failing entry of ``test_results``: a timeout (status
  or error naming a time-out) -> ``TLE``, a memory error -> ``MLE``, a compile/syntax error ->
  ``CE``, any other error -> ``RE``, a wrong output (no error) -> ``WA``; ``"Failed"`` without a
  usable failing entry -> ``WA``. A ``result_summary`` that is neither is read from the counts
  (``failed_count`` 0 and ``total_count`` > 0 -> ``AC``, else as ``"Failed"``).
* **Language** is normalised to the judge's ids (``python`` -> ``python3``) so statistics count one
  language once; an unknown one is kept lower-cased.
* **Platform** is lower-cased; a platform or problem number outside the id patterns is refused.
* **Visibility**: ``is_code_public`` -> ``public`` (and the public feed's shard).
* Everything the item does not keep exactly (``test_results``, ``result_summary``, the raw
  language, platform, problem number and title, ``user_identifier``, counts) is kept compressed
  in ``legacy_z`` so that verify gets the legacy columns back exactly.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from algoitny_executions.domain.history import (
    DETAIL_KEEP_CHARS,
    MAX_DETAILED_TESTS,
    OUTPUT_KEEP_CHARS,
    compress_code,
    decompress_code,
    item_size,
    pack,
    problem_key,
    public_shard,
    unpack,
)
from algoitny_shared.languages import UnknownLanguage, normalise
from algoitny_shared.legacy.identity import legacy_execution_id, legacy_user_id
from algoitny_shared.legacy.rows import SearchHistoryRow
from algoitny_shared.platforms import PLATFORM_PATTERN, PROBLEM_ID_PATTERN

LEGACY_ANONYMOUS = "legacy-anonymous"
MAX_ITEM_BYTES = 350_000
_TIMEOUT = re.compile(r"time ?out|timed out|time limit|timeoutexpired|tle", re.I)
_MEMORY = re.compile(r"memoryerror|out of memory|memory limit|\bmle\b|bad_alloc", re.I)
_COMPILE = re.compile(r"compil|syntaxerror|indentationerror", re.I)


class Refused(ValueError):
    """The row cannot become a history item; the message is the quarantine reason."""


def language_id(raw: str) -> str:
    try:
        return normalise(raw)
    except UnknownLanguage:
        return raw.strip().lower()


def test_verdict(entry: dict[str, Any]) -> str:
    if entry.get("passed") is True:
        return "AC"
    text = f"{entry.get('status') or ''} {entry.get('error') or ''}"
    if _TIMEOUT.search(text):
        return "TLE"
    if _MEMORY.search(text):
        return "MLE"
    if _COMPILE.search(text):
        return "CE"
    if entry.get("error") or str(entry.get("status") or "").lower() in ("error", "runtime_error", "crashed"):
        return "RE"
    return "WA"


test_verdict.__test__ = False  # type: ignore[attr-defined]


def _entries(test_results: Any) -> list[dict[str, Any]]:
    if not isinstance(test_results, list):
        return []
    return [e for e in test_results if isinstance(e, dict)]


def verdict(result_summary: Any, failed_count: int, total_count: int, test_results: Any) -> str:
    passed = result_summary == "Passed" or (result_summary != "Failed" and failed_count == 0 and total_count > 0)
    if passed:
        return "AC"
    for entry in _entries(test_results):
        if entry.get("passed") is not True:
            return test_verdict(entry)
    return "WA"


def compact_legacy_tests(test_results: Any) -> list[dict[str, Any]]:
    out = []
    detailed = 0
    for index, entry in enumerate(_entries(test_results)):
        v = test_verdict(entry)
        compact: dict[str, Any] = {"i": index, "v": v, "t": 0, "m": 0}
        if v != "AC" and detailed < MAX_DETAILED_TESTS:
            detailed += 1
            if entry.get("error"):
                compact["d"] = str(entry["error"])[:DETAIL_KEEP_CHARS]
            if entry.get("output"):
                compact["o"] = str(entry["output"])[:OUTPUT_KEEP_CHARS]
        out.append(compact)
    return out


def created_ms(row: SearchHistoryRow) -> int:
    return int(row.created_at.timestamp() * 1000)


def execution_id_of(row: SearchHistoryRow) -> str:
    return legacy_execution_id(row.id, created_ms(row))


def history_item(row: SearchHistoryRow) -> dict[str, Any]:
    platform = row.platform.strip().lower()
    if not re.fullmatch(PLATFORM_PATTERN, platform):
        raise Refused(f"platform {row.platform!r} is not a valid platform name here")
    problem_id = row.problem_number.strip()
    if not re.fullmatch(PROBLEM_ID_PATTERN, problem_id):
        raise Refused(f"problem_number {row.problem_number!r} does not fit the problem id pattern")
    execution_id = execution_id_of(row)
    created = row.created_at.astimezone(UTC).isoformat()
    hints = [h for h in row.hints if isinstance(h, str)] if isinstance(row.hints, list) else []
    item: dict[str, Any] = {
        "execution_id": execution_id,
        "user_id": legacy_user_id(row.user_id) if row.user_id is not None else LEGACY_ANONYMOUS,
        "user_name": None,
        "platform": platform,
        "problem_id": problem_id,
        "problem_key": problem_key(platform, problem_id),
        "problem_title": row.problem_title[:200],
        "language": language_id(row.language),
        "code_z": compress_code(row.code),
        "code_bytes": len(row.code.encode()),
        "public": row.is_code_public,
        "public_shard": public_shard(execution_id) if row.is_code_public else None,
        "status": "completed",
        "verdict": verdict(row.result_summary, row.failed_count, row.total_count, row.test_results),
        "passed": row.passed_count,
        "total": row.total_count,
        "tests_done": row.total_count,
        "max_time_ms": 0,
        "max_memory_kb": 0,
        "tests_z": pack(compact_legacy_tests(row.test_results)),
        "compile_message": "",
        "detail": "",
        "test_set_version": 0,
        "created_at": created,
        "finished_at": created,
        "hints": hints or None,
        "legacy_id": row.id,
        "legacy_z": pack(
            {
                "user_id": row.user_id,
                "user_identifier": row.user_identifier,
                "platform": row.platform,
                "problem_id": row.problem_id,
                "problem_number": row.problem_number,
                "problem_title": row.problem_title,
                "language": row.language,
                "result_summary": row.result_summary,
                "passed_count": row.passed_count,
                "failed_count": row.failed_count,
                "total_count": row.total_count,
                "test_results": row.test_results,
            }
        ),
    }
    size = item_size(item)
    if size > MAX_ITEM_BYTES:
        raise Refused(f"the run is {size} bytes as a history item even compressed (at most {MAX_ITEM_BYTES})")
    return item


def legacy_columns(item: dict[str, Any]) -> dict[str, Any]:
    """The legacy ``search_history`` columns rebuilt from a history item."""
    kept = unpack(item.get("legacy_z")) or {}
    return {
        "id": int(item["legacy_id"]),
        "user_id": kept.get("user_id"),
        "user_identifier": kept.get("user_identifier"),
        "problem_id": kept.get("problem_id"),
        "platform": kept.get("platform"),
        "problem_number": kept.get("problem_number"),
        "problem_title": kept.get("problem_title"),
        "language": kept.get("language"),
        "code": decompress_code(item["code_z"]) if item.get("code_z") else "",
        "result_summary": kept.get("result_summary"),
        "passed_count": kept.get("passed_count"),
        "failed_count": kept.get("failed_count"),
        "total_count": kept.get("total_count"),
        "is_code_public": bool(item.get("public")),
        "test_results": kept.get("test_results"),
        "created_at": datetime.fromisoformat(str(item["created_at"])),
    }
