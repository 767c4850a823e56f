"""Other services' data over HTTP, with a signed identity: executions (ownership is enforced by the
executions service), problems (never the reference solution in a context) and quota refunds."""

from __future__ import annotations

import base64
import binascii
import contextlib
import gzip
import re
import zlib
from typing import Any, Protocol

import httpx

from algoitny_hints.domain.models import ExecutionContext, ProblemContext, TestResult
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.identity import IDENTITY_HEADER, Identity, IdentitySigner
from algoitny_shared.kafka import DependencyUnavailable

_B64 = re.compile(r"^[A-Za-z0-9+/=_-]+$")
# Who the hints service is when it reads a problem: a manager, so that the reference solution can be
# checked against the model's output; it is split off and never enters a prompt or an answer.
SERVICE_IDENTITY = Identity(user_id="service:hints", role="admin", plan="admin")


class NotVisible(Exception):
    """The caller may not see this (403) or it does not exist (404): both look the same to users."""


class ExecutionSource(Protocol):
    async def get(self, execution_id: str, identity: Identity) -> ExecutionContext: ...


class ProblemSource(Protocol):
    async def get(self, platform: str, problem_id: str) -> tuple[ProblemContext, str | None]:
        """The problem as hints may see it, and its reference solution (for the output check only)."""
        ...


class Refunds(Protocol):
    async def refund(self, user_id: str, request_id: str, day: str, reason: str) -> None: ...


def decode_code(raw: Any, encoding: str | None = None) -> str:
    """User code as text, whether sent plain, base64 or gzip+base64 (explicit or recognised)."""
    if raw is None:
        return ""
    if isinstance(raw, bytes):
        data = raw
    else:
        text = str(raw)
        enc = (encoding or "").lower()
        if not enc:
            compact = text.strip()
            if not (len(compact) >= 8 and _B64.match(compact) and len(compact.rstrip("=")) % 4 != 1):
                return text
            try:
                data = base64.b64decode(
                    compact + "=" * (-len(compact) % 4),
                    altchars=b"-_" if "-" in compact or "_" in compact else None,
                    validate=True,
                )
            except (binascii.Error, ValueError):
                return text
            if not data.startswith(b"\x1f\x8b"):
                try:
                    decoded = data.decode("utf-8")
                except UnicodeDecodeError:
                    return text
                printable = sum(c.isprintable() or c in "\n\r\t" for c in decoded)
                return decoded if decoded and printable / len(decoded) > 0.95 else text
        elif "base64" in enc or "b64" in enc:
            data = base64.b64decode(text + "=" * (-len(text) % 4))
        else:
            data = text.encode()
    if data.startswith(b"\x1f\x8b"):
        with contextlib.suppress(OSError, EOFError, zlib.error):
            data = gzip.decompress(data)
    return data.decode("utf-8", errors="replace")


def _first(d: dict[str, Any], *names: str, default: Any = None) -> Any:
    for n in names:
        if n in d and d[n] is not None:
            return d[n]
    return default


def _text(value: Any, limit: int) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):  # {"data": ..., "encoding": ...} or {"text": ..., "truncated": ...}
        value = decode_code(_first(value, "data", "text", "value", default=""), value.get("encoding"))
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[:limit] + "\n…[truncated]"


def _num(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _ordinal(test: dict[str, Any], position: int) -> int:
    """1-based ordinal of a test; the executions service numbers them by 0-based "index"."""
    explicit = _int(_first(test, "ordinal", "test", "number"))
    if explicit is not None:
        return explicit
    index = _int(test.get("index"))
    return index + 1 if index is not None else position + 1


def parse_execution(doc: dict[str, Any], limit: int = 1500) -> ExecutionContext:
    """A tolerant reading of the executions service's answer (field names may still move)."""
    if isinstance(doc.get("execution"), dict):
        doc = {**doc, **doc["execution"]}
    code_field = _first(doc, "code", "source_code", "source", "code_b64", default="")
    encoding = _first(doc, "code_encoding", "encoding", "source_encoding")
    if "code_b64" in doc and not encoding:
        encoding = "base64"
    raw_tests = _first(doc, "test_results", "tests", "results", "cases", default=[]) or []
    tests = []
    for i, t in enumerate(raw_tests if isinstance(raw_tests, list) else []):
        if not isinstance(t, dict):
            continue
        passed = t.get("passed")
        tests.append(
            TestResult(
                # The executions service numbers tests by 0-based position ("index"); ordinals start at 1.
                ordinal=_ordinal(t, i),
                verdict=_first(t, "verdict", "status", "result"),
                passed=bool(passed) if isinstance(passed, bool) else None,
                input=_text(_first(t, "input", "stdin"), limit),
                expected=_text(_first(t, "expected", "expected_output", "answer"), limit),
                actual=_text(_first(t, "actual", "actual_output", "output", "stdout"), limit),
                stderr=_text(_first(t, "stderr", "error", "runtime_error", "detail"), limit),
                time_ms=_num(_first(t, "time_ms", "elapsed_ms", "cpu_ms")),
                memory_kb=_num(_first(t, "memory_kb", "max_rss_kb")),
                exit_code=_int(_first(t, "exit_code", "returncode")),
                signal=_int(_first(t, "signal", "term_signal")),
            )
        )
    verdict = _first(doc, "verdict", "status", "result", default="UNKNOWN")
    return ExecutionContext(
        execution_id=str(_first(doc, "execution_id", "id", default="")),
        user_id=_first(doc, "user_id", "owner_id", "owner"),
        platform=_first(doc, "platform"),
        problem_id=_first(doc, "problem_id"),
        language=str(_first(doc, "language", "lang", default="unknown")),
        code=decode_code(code_field, encoding),
        verdict=str(verdict).upper(),
        tests=tests,
        compile_error=_text(
            _first(doc, "compile_error", "compile_output", "compiler_output", "compile_message"), limit
        ),
        runtime_error=_text(_first(doc, "runtime_error", "error", "stderr", "error_message", "detail"), limit),
        time_ms=_num(_first(doc, "time_ms", "max_time_ms")),
        memory_kb=_num(_first(doc, "memory_kb", "max_memory_kb")),
    )


class _Http:
    def __init__(self, base_url: str, signer: IdentitySigner, timeout_s: float) -> None:
        self._client = httpx.AsyncClient(base_url=base_url, timeout=timeout_s)
        self._signer = signer

    async def _request(self, method: str, path: str, identity: Identity, json: Any = None) -> httpx.Response:
        headers = {IDENTITY_HEADER: self._signer.sign(identity, method, path)}
        try:
            return await self._client.request(method, path, headers=headers, json=json)
        except httpx.HTTPError as exc:
            raise DependencyUnavailable(f"{method} {path}: {type(exc).__name__}") from exc

    async def close(self) -> None:
        await self._client.aclose()


MAX_EVIDENCE_TESTS = 3


class HttpExecutionSource(_Http):
    """Executions' detail, with the first failing tests' input and expected output filled in from
    the problems service (the executions service keeps only verdicts and truncated actual output)."""

    def __init__(
        self,
        base_url: str,
        signer: IdentitySigner,
        timeout_s: float,
        field_limit: int = 1500,
        problems_url: str | None = None,
    ) -> None:
        super().__init__(base_url, signer, timeout_s)
        self._limit = field_limit
        self._problems = _Http(problems_url, signer, timeout_s) if problems_url else None

    async def close(self) -> None:
        await super().close()
        if self._problems:
            await self._problems.close()

    async def _with_cases(self, ctx: ExecutionContext) -> ExecutionContext:
        failing = [t for t in ctx.tests if t.verdict not in (None, "AC", "SK") and not t.input and t.ordinal]
        failing = failing[:MAX_EVIDENCE_TESTS]
        if not (self._problems and failing and ctx.platform and ctx.problem_id):
            return ctx
        ordinals = ",".join(str(t.ordinal) for t in failing)
        resp = await self._problems._request(
            "GET", f"/problems/{ctx.platform}/{ctx.problem_id}/testcases?ordinals={ordinals}", SERVICE_IDENTITY
        )
        if resp.status_code != 200:
            return ctx  # the hints still come, from less evidence
        cases = {c.get("ordinal"): c for c in resp.json().get("items", []) if isinstance(c, dict)}
        tests = [
            t.model_copy(
                update={
                    "input": _text(cases[t.ordinal].get("input", ""), self._limit),
                    "expected": _text(cases[t.ordinal].get("output", ""), self._limit),
                }
            )
            if t in failing and t.ordinal in cases
            else t
            for t in ctx.tests
        ]
        return ctx.model_copy(update={"tests": tests})

    async def get(self, execution_id: str, identity: Identity) -> ExecutionContext:
        resp = await self._request("GET", f"/executions/{execution_id}", identity)
        if resp.status_code in (401, 403, 404, 410):
            raise NotVisible(execution_id)
        if resp.status_code >= 500:
            raise DependencyUnavailable(f"executions answered {resp.status_code}")
        if resp.status_code >= 400:
            raise NotVisible(execution_id)
        try:
            doc = resp.json()
            ctx = parse_execution(doc, self._limit)
        except ValueError as exc:
            raise AppError(ErrorCode.UPSTREAM_UNAVAILABLE, "The executions service answered nonsense") from exc
        if not ctx.execution_id:
            ctx = ctx.model_copy(update={"execution_id": execution_id})
        return await self._with_cases(ctx)


class HttpProblemSource(_Http):
    async def get(self, platform: str, problem_id: str) -> tuple[ProblemContext, str | None]:
        resp = await self._request("GET", f"/problems/{platform}/{problem_id}", SERVICE_IDENTITY)
        if resp.status_code in (403, 404, 410):
            raise NotVisible(f"{platform}/{problem_id}")
        if resp.status_code >= 400:
            raise DependencyUnavailable(f"problems answered {resp.status_code}")
        doc: dict[str, Any] = resp.json()
        reference = doc.pop("reference_solution", None)
        ctx = ProblemContext.model_validate(
            {k: doc.get(k) for k in ProblemContext.model_fields if doc.get(k) is not None}
            | {"platform": platform, "problem_id": problem_id}
        )
        return ctx, reference


class HttpRefunds(_Http):
    """POST /quota/refund signed as the charged user (ratelimit accepts refunds only so)."""

    async def refund(self, user_id: str, request_id: str, day: str, reason: str) -> None:
        identity = Identity(user_id=user_id, role="user")
        body = {"user_id": user_id, "action": "hint", "request_id": request_id, "day": day, "reason": reason[:200]}
        resp = await self._request("POST", "/quota/refund", identity, json=body)
        if resp.status_code >= 500:
            raise DependencyUnavailable(f"ratelimit answered {resp.status_code}")
        # 404: no such charge (e.g. an admin's unmetered request) - nothing to give back.
