"""Executions and their history (no I/O): ids, requests, the stored item, visibility, feeds.

* Execution ids are ULIDs (48-bit millisecond time + 80 random bits, Crockford base32,
  26 characters): unique and sortable by time, so every list is "newest first" on the id
  itself and a cursor is just the last id returned (exact resume, no gaps, no repeats).
* Code is stored zlib-compressed (source at most 64 KB). Per-test results are stored
  compressed and truncated: verdict/time/memory for every test, detail and output only for
  the first failing tests, so an item stays far below DynamoDB's 400 KB even with 1,000 tests.
* Visibility: the owner and admins see everything; others see a public execution's code,
  never a private one's (not in lists, details or events).
"""

from __future__ import annotations

import heapq
import json
import os
import time
import zlib
from collections.abc import Iterable, Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from algoitny_executions.domain.judging import MAX_CODE_BYTES, TestCase, TestResult
from algoitny_shared.execution_views import ExecutionStatus, ExecutionView, HistoryEntry, TestView
from algoitny_shared.languages import ALIASES
from algoitny_shared.platforms import PLATFORM_PATTERN as PLATFORM_PATTERN
from algoitny_shared.platforms import PROBLEM_ID_PATTERN as PROBLEM_ID_PATTERN

__all__ = ["ExecutionView", "HistoryEntry", "TestView"]  # published in algoitny_shared.execution_views

EXECUTION_ID_PATTERN = r"^[0-9A-HJKMNP-TV-Z]{26}$"
PUBLIC_SHARDS = 8
MAX_STDIN_BYTES = 256 * 1024
MAX_DETAILED_TESTS = 32
DETAIL_KEEP_CHARS = 200
OUTPUT_KEEP_CHARS = 128
# The failed tests' input and expected output, for the owner (their result) and the hints service.
MAX_IO_TESTS = 5
IO_KEEP_BYTES = 1024
COMPILE_MESSAGE_KEEP_CHARS = 4096
RUN_OUTPUT_KEEP_BYTES = 64 * 1024
MAX_HINTS = 20

Status = ExecutionStatus
Scope = Literal["mine", "public", "feed"]

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_execution_id(now_ms: int | None = None, randomness: bytes | None = None) -> str:
    """A ULID: 10 characters of millisecond time, then 16 of randomness."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    rand = int.from_bytes(randomness if randomness is not None else os.urandom(10), "big")
    value = (ms << 80) | rand
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def execution_time_ms(execution_id: str) -> int:
    value = 0
    for ch in execution_id[:10]:
        value = value * 32 + _CROCKFORD.index(ch)
    return value


def public_shard(execution_id: str) -> str:
    """Spread public executions over PUBLIC_SHARDS partitions by the id's random part."""
    return f"PUB#{_CROCKFORD.index(execution_id[-1]) % PUBLIC_SHARDS}"


def all_public_shards() -> list[str]:
    return [f"PUB#{i}" for i in range(PUBLIC_SHARDS)]


def problem_key(platform: str, problem_id: str) -> str:
    return f"{platform}#{problem_id}"


# ------------------------------------------------------------------ requests


def _check_code(code: str) -> str:
    size = len(code.encode("utf-8"))
    if not code.strip():
        raise ValueError("code is empty")
    if size > MAX_CODE_BYTES:
        raise ValueError(f"code is {size} bytes; at most {MAX_CODE_BYTES} bytes are accepted")
    return code


def alias_to_id(value: object) -> object:
    """Old language names (python, cpp, java) are accepted and mean the judge's ids."""
    if isinstance(value, str):
        return ALIASES.get(value.strip().lower(), value)
    return value


class NewExecution(BaseModel):
    model_config = ConfigDict(extra="forbid")

    platform: str = Field(pattern=PLATFORM_PATTERN)
    problem_id: str = Field(pattern=PROBLEM_ID_PATTERN)
    language: Annotated[str, BeforeValidator(alias_to_id)] = Field(min_length=1, max_length=32)
    code: str = Field(max_length=MAX_CODE_BYTES)
    public: bool = False
    stop_on_first_failure: bool = Field(default=False, description="Skip the tests after the first failing one")

    @field_validator("code")
    @classmethod
    def _code(cls, code: str) -> str:
        return _check_code(code)


class VisibilityChange(BaseModel):
    """``PATCH /executions/{id}``: make an execution public or private (its owner or an admin)."""

    model_config = ConfigDict(extra="forbid")

    public: bool = Field(strict=True)


class NewRun(BaseModel):
    model_config = ConfigDict(extra="forbid")

    language: Annotated[str, BeforeValidator(alias_to_id)] = Field(min_length=1, max_length=32)
    code: str = Field(max_length=MAX_CODE_BYTES)
    stdin: str = Field(default="", max_length=MAX_STDIN_BYTES)

    @field_validator("code")
    @classmethod
    def _code(cls, code: str) -> str:
        return _check_code(code)

    @field_validator("stdin")
    @classmethod
    def _stdin(cls, stdin: str) -> str:
        if len(stdin.encode("utf-8")) > MAX_STDIN_BYTES:
            raise ValueError(f"stdin is larger than {MAX_STDIN_BYTES} bytes")
        return stdin


# ------------------------------------------------------------------ packing


def pack(obj: Any) -> bytes:
    return zlib.compress(json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode(), 6)


def unpack(blob: bytes | None) -> Any:
    if not blob:
        return None
    return json.loads(zlib.decompress(blob))


def compress_code(code: str) -> bytes:
    return zlib.compress(code.encode("utf-8"), 9)


def decompress_code(blob: bytes) -> str:
    return zlib.decompress(blob).decode("utf-8")


def _keep(data: bytes, limit: int = IO_KEEP_BYTES) -> str:
    text = data[:limit].decode("utf-8", errors="ignore")
    return text + ("…" if len(data) > limit else "")


def compact_tests(tests: Sequence[TestResult], cases: Sequence[TestCase] = ()) -> list[dict[str, Any]]:
    """Every test's verdict, time and memory; detail and output for the first failing tests only,
    and (given the test set's ``cases``) the input and expected output of the first few of them."""
    out: list[dict[str, Any]] = []
    detailed = 0
    for t in tests:
        entry: dict[str, Any] = {"i": t.index, "v": t.verdict.value, "t": t.time_ms, "m": t.memory_kb}
        if t.verdict.value not in ("AC", "SK") and detailed < MAX_DETAILED_TESTS:
            if detailed < MAX_IO_TESTS and 0 <= t.index < len(cases):
                entry["in"] = _keep(cases[t.index].input)
                entry["ex"] = _keep(cases[t.index].output)
                entry["ib"] = len(cases[t.index].input)
            detailed += 1
            if t.detail:
                entry["d"] = t.detail[:DETAIL_KEEP_CHARS]
            if t.output:
                entry["o"] = t.output[:OUTPUT_KEEP_CHARS]
        out.append(entry)
    return out


def expand_tests(compact: Iterable[dict[str, Any]] | None, *, with_io: bool = True) -> list[dict[str, Any]]:
    """Per-test results as :class:`TestView` fields; ``with_io`` False leaves out the tests' input
    and expected output (hidden test data: only the owner and admins see it)."""
    return [
        {
            "index": e["i"],
            "verdict": e["v"],
            "time_ms": e.get("t", 0),
            "memory_kb": e.get("m", 0),
            "detail": e.get("d", ""),
            "output": e.get("o", ""),
            "input": e.get("in", "") if with_io else "",
            "expected": e.get("ex", "") if with_io else "",
            "input_bytes": e.get("ib", 0) if with_io else 0,
        }
        for e in (compact or [])
    ]


def item_size(item: dict[str, Any]) -> int:
    """DynamoDB's item size: attribute names plus values (numbers counted generously)."""

    def size(value: Any) -> int:
        if isinstance(value, (bytes, bytearray)):
            return len(value)
        if isinstance(value, str):
            return len(value.encode())
        if isinstance(value, bool) or value is None:
            return 1
        if isinstance(value, (int, float)):
            return 21
        if isinstance(value, dict):
            return 3 + sum(len(k.encode()) + size(v) + 1 for k, v in value.items())
        if isinstance(value, (list, tuple)):
            return 3 + sum(size(v) + 1 for v in value)
        return len(str(value).encode())

    return sum(len(k.encode()) + size(v) for k, v in item.items())


# ------------------------------------------------------------------ views


class HistoryPage(BaseModel):
    items: list[HistoryEntry]
    next_cursor: str | None = None


class Submitted(BaseModel):
    execution_id: str
    status: Status
    links: dict[str, str]


class RunResult(BaseModel):
    verdict: str = Field(description="OK, CE, TLE, MLE, OLE, RE")
    stdout: str = ""
    stderr: str = ""
    stdout_truncated: bool = False
    time_ms: int = 0
    wall_ms: int = 0
    memory_kb: int = 0
    compile_message: str = ""
    detail: str = ""


def may_see_code(item: dict[str, Any], viewer_id: str | None, viewer_is_admin: bool) -> bool:
    return viewer_is_admin or (viewer_id is not None and item.get("user_id") == viewer_id) or bool(item.get("public"))


def is_owner_or_admin(item: dict[str, Any], viewer_id: str | None, viewer_is_admin: bool) -> bool:
    """Who sees an execution's private parts even when it is public: its failed tests' input and
    expected output (hidden test data) and its hints."""
    return viewer_is_admin or (viewer_id is not None and item.get("user_id") == viewer_id)


def may_see_execution(item: dict[str, Any], viewer_id: str | None, viewer_is_admin: bool) -> bool:
    """Private executions are the owner's (and admins') only; public ones are everyone's."""
    return may_see_code(item, viewer_id, viewer_is_admin)


def merge_newest_first(streams: Sequence[Sequence[dict[str, Any]]], limit: int) -> tuple[list[dict[str, Any]], bool]:
    """Merge streams already sorted by execution id (descending), dropping repeats (an own public
    execution is in both the own and the public stream). Returns up to ``limit`` items and whether
    more remain. Each stream must hold up to ``limit + 1`` items after the cursor, or all there are."""
    seen: set[str] = set()
    merged: list[dict[str, Any]] = []
    for item in heapq.merge(*streams, key=lambda i: i["execution_id"], reverse=True):
        if item["execution_id"] in seen:
            continue
        seen.add(item["execution_id"])
        merged.append(item)
        if len(merged) > limit:
            return merged[:limit], True
    return merged, False
