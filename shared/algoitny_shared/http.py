"""The HTTP kit every service uses: app factory, problem+json errors, request ids, body limits,
``/healthz``, ``/readyz`` and ``/metrics``."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from algoitny_shared import tracing
from algoitny_shared.errors import PROBLEM_JSON, AppError, ErrorCode, problem_body
from algoitny_shared.identity import IdentitySigner
from algoitny_shared.logging import request_id_var, trace_id_var
from algoitny_shared.metrics import HTTP_LATENCY, HTTP_REQUESTS
from algoitny_shared.settings import ServiceSettings

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], Awaitable[None]]
REQUEST_ID_HEADER = "x-request-id"


def problem_response(code: ErrorCode, detail: str, request: Request | None = None, **extra: Any) -> JSONResponse:
    body = problem_body(
        code,
        detail,
        instance=request.url.path if request else None,
        request_id=request_id_var.get(),
        **extra,
    )
    return JSONResponse(body, status_code=code.status, media_type=PROBLEM_JSON)


class BodyTooLarge(AppError):
    """Raised while a streamed body is read, once it passes its limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(ErrorCode.PAYLOAD_TOO_LARGE, f"The request body exceeds {limit} bytes")


class EdgeMiddleware:
    """Request id, trace id, metrics and the body-size limit, as plain ASGI (no per-request task).

    Bodies are read whole (bounded by the limit) before the app runs, except on requests
    ``streamed`` selects: the app reads those itself, after it decided whether to accept them
    (e.g. who sends them), and reading past the limit raises :class:`BodyTooLarge`."""

    def __init__(
        self,
        app: ASGIApp,
        service: str,
        max_body_bytes: int,
        body_limit: Callable[[str, str], int] | None = None,
        streamed: Callable[[str, str], bool] | None = None,
        trust_traceparent: bool = True,
    ) -> None:
        self.app = app
        self.trust_traceparent = trust_traceparent
        self.service = service
        self.max_body = max_body_bytes
        self.body_limit = body_limit
        self.streamed = streamed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode(errors="replace") for k, v in scope.get("headers", [])}
        request_id = headers.get(REQUEST_ID_HEADER) or uuid.uuid4().hex
        request_id = request_id[:128]
        request_id_var.set(request_id)
        trace_id_var.set(_trace_id(headers.get("traceparent")) or request_id)
        status_holder = {"status": 500}
        with tracing.server_span(scope["method"], headers, trust_parent=self.trust_traceparent) as span:
            span.set_attribute("algoitny.request_id", request_id)
            try:
                await self._serve(scope, receive, send, headers, request_id, status_holder)
            finally:
                route = getattr(scope.get("route"), "path", "unmatched")
                tracing.end_server_span(span, scope["method"], route, status_holder["status"])

    async def _serve(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        headers: dict[str, str],
        request_id: str,
        status_holder: dict[str, int],
    ) -> None:
        started = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["started"] = 1
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (REQUEST_ID_HEADER.encode(), request_id.encode())]
            await send(message)

        limit = self.body_limit(scope["method"], scope["path"]) if self.body_limit else self.max_body
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._problem(
                send_wrapper, ErrorCode.PAYLOAD_TOO_LARGE, f"The request body exceeds {limit} bytes", scope
            )
            return

        try:
            if self.streamed is not None and self.streamed(scope["method"], scope["path"]):
                await self.app(scope, _limited(receive, limit), send_wrapper)
                return
            # Read the whole body first (bounded by the limit), then replay it to the app:
            # the limit then holds for chunked uploads that declare no length.
            body = bytearray()
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    return  # client went away
                body.extend(message.get("body", b""))
                if len(body) > limit:
                    await self._problem(
                        send_wrapper,
                        ErrorCode.PAYLOAD_TOO_LARGE,
                        f"The request body exceeds {limit} bytes",
                        scope,
                    )
                    return
                if not message.get("more_body", False):
                    break
            replayed = False

            async def replay() -> Message:
                nonlocal replayed
                if not replayed:
                    replayed = True
                    return {"type": "http.request", "body": bytes(body), "more_body": False}
                return await receive()

            await self.app(scope, replay, send_wrapper)
        except Exception:
            log.exception("unhandled error")
            if status_holder.get("started"):
                raise
            await self._problem(
                send_wrapper, ErrorCode.INTERNAL, "An unexpected error occurred; it has been logged", scope
            )
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            elapsed = time.perf_counter() - started
            HTTP_LATENCY.labels(self.service, scope["method"], path).observe(elapsed)
            HTTP_REQUESTS.labels(self.service, scope["method"], path, str(status_holder["status"])).inc()

    @staticmethod
    async def _problem(send: Send, code: ErrorCode, detail: str, scope: Scope) -> None:
        body = problem_body(code, detail, instance=scope.get("path"), request_id=request_id_var.get())
        payload = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": code.status,
                "headers": [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(payload)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": payload})


def _limited(receive: Receive, limit: int) -> Receive:
    """``receive`` that raises :class:`BodyTooLarge` once the body passes ``limit`` bytes."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(limit)
        return message

    return wrapped


def _trace_id(traceparent: str | None) -> str | None:
    """The trace id of a W3C traceparent header (version-traceid-parentid-flags)."""
    if not traceparent:
        return None
    parts = traceparent.split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else None


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": [str(p) for p in err.get("loc", ())], "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in exc.errors()
    ]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> JSONResponse:
        return JSONResponse(
            exc.to_problem(instance=request.url.path, request_id=request_id_var.get()),
            status_code=exc.code.status,
            media_type=PROBLEM_JSON,
            headers=exc.headers or None,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _validation_errors(exc)
        if any(e["type"] == "json_invalid" for e in errors):
            return problem_response(ErrorCode.MALFORMED_JSON, "The body could not be parsed as JSON", request)
        return problem_response(
            ErrorCode.VALIDATION_FAILED, "The request does not match the schema", request, errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {
            404: ErrorCode.NOT_FOUND,
            405: ErrorCode.METHOD_NOT_ALLOWED,
            413: ErrorCode.PAYLOAD_TOO_LARGE,
            415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
        }.get(exc.status_code, ErrorCode.BAD_REQUEST)
        detail = exc.detail if isinstance(exc.detail, str) else code.title
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"No route for {request.method} {request.url.path}"
        return problem_response(code, detail, request)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return problem_response(ErrorCode.INTERNAL, "An unexpected error occurred; it has been logged", request)


def create_app(
    settings: ServiceSettings,
    *,
    title: str,
    version: str = "1.0.0",
    readiness: Sequence[ReadinessCheck] = (),
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None,
    description: str = "",
    own_docs: bool = True,
    body_limit: Callable[[str, str], int] | None = None,
    streamed: Callable[[str, str], bool] | None = None,
    metrics_token: str | None = None,
    trust_traceparent: bool = True,
) -> FastAPI:
    """``own_docs=False`` leaves /openapi.json and /docs to the caller (the gateway composes its own).
    ``streamed`` selects requests whose body the app reads itself (see :class:`EdgeMiddleware`);
    with ``metrics_token``, /metrics answers only ``Authorization: Bearer <metrics_token>``
    (an app that faces the public, i.e. the gateway). ``trust_traceparent=False`` (the public app)
    starts a new trace for each request, linking a client's ``traceparent`` rather than joining it."""
    tracing.configure_tracing(settings)
    app = FastAPI(
        title=title,
        version=version,
        description=description,
        lifespan=lifespan,
        openapi_url="/openapi.json" if own_docs else None,
        docs_url="/docs" if own_docs else None,
        redoc_url=None,
    )
    install_error_handlers(app)
    app.state.identity_signer = IdentitySigner(settings.internal_secret.get_secret_value())
    app.add_middleware(
        EdgeMiddleware,
        service=settings.service_name,
        max_body_bytes=settings.max_body_bytes,
        body_limit=body_limit,
        streamed=streamed,
        trust_traceparent=trust_traceparent,
    )
    if settings.capacity_log:  # benchmarks: label each DynamoDB call with the API call it serves
        from algoitny_shared.capacity import CallLabelMiddleware

        app.add_middleware(CallLabelMiddleware, service=settings.service_name)
    checks = list(readiness)
    app.state.readiness = checks

    @app.get("/healthz", tags=["ops"], summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": settings.service_name}

    def is_operator(request: Request) -> bool:
        given = request.headers.get("authorization", "").encode()
        return bool(metrics_token) and hmac.compare_digest(given, f"Bearer {metrics_token}".encode())

    @app.get("/readyz", tags=["ops"], summary="Readiness: every dependency answers")
    async def readyz(request: Request) -> JSONResponse:
        # On a public app (``metrics_token`` set) only the operator sees why a check fails:
        # error texts name internal hosts and ports. Everyone sees which checks fail.
        failures: dict[str, str] = {}
        detailed = not metrics_token or is_operator(request)
        for check in app.state.readiness:
            name = getattr(check, "__name__", "check")
            try:
                await asyncio.wait_for(check(), timeout=3.0)
            except Exception as exc:
                reason = f"{type(exc).__name__}: {exc}"[:300]
                log.warning("readiness check %s failed: %s", name, reason)
                failures[name] = reason if detailed else "failing"
        if failures:
            return problem_response(ErrorCode.UPSTREAM_UNAVAILABLE, "Not ready", None, checks=failures)
        return JSONResponse({"status": "ready", "service": settings.service_name})

    @app.get(
        "/metrics",
        tags=["ops"],
        summary="Prometheus metrics" + (" (operator token)" if metrics_token else ""),
        include_in_schema=True,
        responses={401: {"description": "Operator token missing or wrong"}} if metrics_token else None,
    )
    async def metrics(request: Request) -> Response:
        if metrics_token and not is_operator(request):
            raise AppError(
                ErrorCode.UNAUTHENTICATED,
                "Metrics need the operator token",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


ServerSentEvent = tuple[str, Any]


async def event_stream_response(events: AsyncIterator[ServerSentEvent]) -> StreamingResponse:
    """Server-sent events from ``(name, data)`` pairs; a ``heartbeat`` pair becomes a comment.

    The first pair is awaited before the response starts, so an error raised by the source
    (an unknown or invisible resource) still becomes a problem+json answer, not a broken stream."""
    first = await anext(events)

    async def stream() -> AsyncIterator[bytes]:
        seq = 0
        pending = [first]
        while True:
            for name, data in pending:
                seq += 1
                if name == "heartbeat":
                    yield b": keep-alive\n\n"
                    continue
                yield f"id: {seq}\nevent: {name}\ndata: {json.dumps(data, default=str)}\n\n".encode()
            try:
                pending = [await anext(events)]
            except StopAsyncIteration:
                return

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"cache-control": "no-cache", "x-accel-buffering": "no"}
    )
