"""Other services' data over HTTP, with a signed identity: executions (ownership is enforced by the
executions service; its answer is read with the published model, algoitny_shared.execution_views),
problems (never the reference solution in a context) and quota refunds."""

from __future__ import annotations

import base64
import binascii
import contextlib
import gzip
import re
import zlib
from typing import Any, Protocol

import httpx
from pydantic import ValidationError

from algoitny_hints.domain.models import ExecutionContext, ProblemContext, TestResult
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.execution_views import ExecutionView
from algoitny_shared.identity import IDENTITY_HEADER, Identity, IdentitySigner
from algoitny_shared.kafka import DependencyUnavailable
from algoitny_shared.upstream import upstream_client

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

    async def visible(self, platform: str, problem_id: str, identity: Identity) -> ProblemContext:
        """The problem as ``identity`` may see it (NotVisible: a draft they do not manage, or gone)."""
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


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "\n…[truncated]"


def execution_context(view: ExecutionView, limit: int = 1500) -> ExecutionContext:
    """The executions service's answer (its published model) as the hints service reasons about it.

    Per-test facts are read by their published names: the test's ordinal is ``index + 1``, the
    program's output is ``output``, the test's input and expected output are ``input`` and
    ``expected`` (the executions service keeps them for the owner's first failing tests), and
    ``detail`` says why it failed (for a runtime error: the signal, or the exit code and stderr)."""
    tests = [
        TestResult(
            ordinal=t.ordinal,
            verdict=t.verdict,
            passed=t.verdict == "AC",
            input=_clip(t.input, limit),
            input_bytes=t.input_bytes or None,
            expected=_clip(t.expected, limit),
            actual=_clip(t.output, limit),
            stderr=_clip(t.detail, limit) if t.verdict == "RE" else "",
            time_ms=float(t.time_ms),
            memory_kb=float(t.memory_kb),
        )
        for t in view.tests
        if t.verdict != "SK"
    ]
    verdict = (view.verdict if view.status == "completed" and view.verdict else view.status).upper()
    return ExecutionContext(
        execution_id=view.execution_id,
        user_id=view.user_id,
        platform=view.platform,
        problem_id=view.problem_id,
        language=view.language,
        code=view.code or "",
        verdict=verdict,
        tests=tests,
        compile_error=_clip(view.compile_message, limit) if verdict == "CE" else "",
        runtime_error=_clip(view.detail, limit) if verdict in ("RE", "IE") else "",
        time_ms=float(view.max_time_ms),
        memory_kb=float(view.max_memory_kb),
    )


def parse_execution(doc: dict[str, Any], limit: int = 1500) -> ExecutionContext:
    """``GET /executions/{id}``'s JSON, validated against the published model (ValueError if not)."""
    try:
        view = ExecutionView.model_validate(doc)
    except ValidationError as exc:
        raise ValueError(f"not an execution view: {exc.errors()[:3]}") from exc
    return execution_context(view, limit)


class _Http:
    def __init__(self, base_url: str, signer: IdentitySigner, timeout_s: float) -> None:
        self._client = upstream_client(base_url, timeout=timeout_s)
        self._signer = signer

    async def _request(self, method: str, path: str, identity: Identity, json: Any = None) -> httpx.Response:
        headers = {IDENTITY_HEADER: self._signer.sign(identity, method, path)}
        try:
            return await self._client.request(method, path, headers=headers, json=json)
        except httpx.HTTPError as exc:
            raise DependencyUnavailable(f"{method} {path}: {type(exc).__name__}") from exc

    async def close(self) -> None:
        await self._client.aclose()


class HttpExecutionSource(_Http):
    """``GET /executions/{id}`` of the executions service, as the caller (it enforces visibility);
    the failing tests' input and expected output come with it (for the owner)."""

    def __init__(self, base_url: str, signer: IdentitySigner, timeout_s: float, field_limit: int = 1500) -> None:
        super().__init__(base_url, signer, timeout_s)
        self._limit = field_limit

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
        return ctx


class HttpProblemSource(_Http):
    async def visible(self, platform: str, problem_id: str, identity: Identity) -> ProblemContext:
        ctx, _ = await self._get(platform, problem_id, identity)
        return ctx

    async def get(self, platform: str, problem_id: str) -> tuple[ProblemContext, str | None]:
        return await self._get(platform, problem_id, SERVICE_IDENTITY)

    async def _get(self, platform: str, problem_id: str, identity: Identity) -> tuple[ProblemContext, str | None]:
        resp = await self._request("GET", f"/problems/{platform}/{problem_id}", identity)
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
