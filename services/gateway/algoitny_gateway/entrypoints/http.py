"""The gateway's HTTP app: authenticate, route to the owning service, pass its answer back."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import mimetypes
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, StreamingResponse
from starlette.routing import Match

from algoitny_gateway.adapters.revocation_feed import RevocationFeed
from algoitny_gateway.adapters.upstreams import Upstreams
from algoitny_gateway.domain.revocations import RevocationList
from algoitny_gateway.domain.routes import API, ROUTES, Route
from algoitny_gateway.service_layer.auth import Authenticator, authorize, client_address
from algoitny_gateway.service_layer.openapi import compose
from algoitny_gateway.service_layer.quota import QuotaGate
from algoitny_gateway.service_layer.throttle import TokenBuckets
from algoitny_gateway.settings import GatewaySettings
from algoitny_shared import tokens
from algoitny_shared.charges import CHARGE_HEADER, format_charge
from algoitny_shared.errors import PROBLEM_JSON, AppError, ErrorCode
from algoitny_shared.http import REQUEST_ID_HEADER, create_app
from algoitny_shared.identity import IDENTITY_HEADER, Identity, IdentitySigner
from algoitny_shared.logging import request_id_var
from algoitny_shared.topics import ACCOUNT_EVENTS

FORWARDED_HEADERS = ("content-type", "accept", "traceparent", "idempotency-key", "if-match")
# Test-set uploads may carry cases over a megabyte; every other body keeps the small limit.
TEST_CASE_UPLOAD = re.compile(r"/api/v1/problems/[^/]+/[^/]+/testcases")
IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_.:-]{8,128}")
PASSED_BACK_HEADERS = ("content-type", "location", "etag", "retry-after", "cache-control")


def templated_charge_key(template: str, path_params: dict[str, str], day: str) -> str:
    """A route's charge key for one UTC day (e.g. one problem's hints: charged once per day).

    Keys must fit the ratelimit's request-id alphabet and length; a key that would not is hashed."""
    key = f"{template.format(**path_params)}:{day}"
    if IDEMPOTENCY_KEY.fullmatch(key):
        return key
    prefix = re.sub(r"[^A-Za-z0-9_.:-]", "", template.split("{", 1)[0])[:40] or "k:"
    return f"{prefix}{hashlib.sha256(key.encode()).hexdigest()[:40]}:{day}"


def _charge_key(request: Request, route: Route | None = None) -> str:
    """A client's Idempotency-Key makes a retried metered request cost once; else the request id.
    Routes with a charge-key template are charged once per key and UTC day instead."""
    if route is not None and route.charge_key:
        return templated_charge_key(route.charge_key, dict(request.path_params), datetime.now(UTC).strftime("%Y-%m-%d"))
    key = request.headers.get("idempotency-key", "")
    if key and IDEMPOTENCY_KEY.fullmatch(key):
        return key
    if key:
        raise AppError(ErrorCode.BAD_REQUEST, "Idempotency-Key must be 8-128 characters of [A-Za-z0-9_.:-]")
    return request_id_var.get() or uuid.uuid4().hex


def _public_instance(content: bytes, path: str) -> bytes:
    """Errors name the public path the client called, not the service's internal one."""
    try:
        body = json.loads(content)
    except ValueError:
        return content
    if isinstance(body, dict) and "instance" in body:
        body["instance"] = path
        return json.dumps(body, ensure_ascii=False).encode()
    return content


def make_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    upstreams = Upstreams(settings)
    keyring = tokens.Keyring.parse(
        settings.token_secret.get_secret_value(), settings.token_previous_secrets.get_secret_value()
    )
    # Tokens issued before a revocation live at most one lifetime; a minute covers clock skew.
    revocations = RevocationList(horizon_s=settings.access_token_ttl_s + 60)
    feed = RevocationFeed(settings.kafka_bootstrap_servers, ACCOUNT_EVENTS.physical(settings.namespace), revocations)
    auth = Authenticator(keyring, settings.admin_token.get_secret_value(), revocations)
    signer = IdentitySigner(settings.internal_secret.get_secret_value())
    quota = QuotaGate(upstreams, signer)
    buckets = TokenBuckets(
        {
            "general": settings.rate_general_per_min,
            "execution": settings.rate_execution_per_min,
            "signin": settings.rate_signin_per_min,
        }
    )
    openapi_cache: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        following = asyncio.create_task(feed.run(), name="revocation-feed")
        try:
            yield
        finally:
            following.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await following
            await upstreams.close()

    def upstream_check(name: str) -> Callable[[], Awaitable[None]]:
        async def check() -> None:
            await upstreams.ready(name)  # type: ignore[arg-type]

        check.__name__ = name
        return check

    async def revocation_feed() -> None:
        await feed.ready()

    app = create_app(
        settings,
        title="AlgoItny API",
        description="Practise algorithm problems: catalogue, search, judged runs, hints, quotas.",
        readiness=[*(upstream_check(n) for n in ("problems", "search")), revocation_feed],
        lifespan=lifespan,
        own_docs=False,
        body_limit=lambda method, path: (
            settings.max_upload_bytes
            if method in ("PUT", "POST") and TEST_CASE_UPLOAD.fullmatch(path)
            else settings.max_body_bytes
        ),
    )

    def identify(request: Request) -> Identity:
        peer = request.client.host if request.client else None
        ip = client_address(peer, request.headers.get("x-forwarded-for"), settings.trusted_proxy_hops)
        return auth.identify(request.headers.get("authorization"), ip)

    @app.get(f"{API}/auth/whoami", response_model=Identity, tags=["auth"])
    async def whoami(request: Request) -> Identity:
        """The identity the gateway verified from the bearer token (answered by the gateway itself)."""
        return identify(request)

    def add_route(route: Route) -> None:
        async def forward(request: Request) -> Response:
            peer = request.client.host if request.client else None
            buckets.take(
                route.rate_class,
                client_address(peer, request.headers.get("x-forwarded-for"), settings.trusted_proxy_hops) or "unknown",
            )
            identity = identify(request)
            authorize(identity, route.access)
            # Only listed headers travel on: any identity header a client sent is dropped here,
            # and the one the service believes is the assertion signed below.
            headers = {h: request.headers[h] for h in FORWARDED_HEADERS if h in request.headers}
            headers[REQUEST_ID_HEADER] = request_id_var.get() or ""
            # Path parameters travel percent-encoded: a decoded value may hold characters no URL
            # may carry (control characters, DEL), which the HTTP client would refuse (a 500).
            upstream_path = route.upstream_path.format(
                **{k: quote(str(v), safe="") for k, v in request.path_params.items()}
            )
            headers[IDENTITY_HEADER] = signer.sign(identity, route.method, upstream_path)
            body = await request.body()
            charge = None
            if route.metered and not route.charge_on_success:
                charge = await quota.charge(identity, route.metered, _charge_key(request, route))
            if charge:
                headers[CHARGE_HEADER] = format_charge(charge.day, charge.request_id)
            if route.stream:
                return await stream_through(route, upstream_path, request, headers)
            try:
                upstream_resp = await upstreams.send(
                    route.upstream,
                    route.method,
                    upstream_path,
                    params=request.query_params.multi_items(),
                    content=body,
                    headers=headers,
                )
            except AppError as exc:
                if charge:
                    await quota.refund(charge, exc.detail)
                raise
            if charge and upstream_resp.status_code >= 500:
                await quota.refund(charge, f"{route.upstream} answered {upstream_resp.status_code}")
            if route.metered and route.charge_on_success and 200 <= upstream_resp.status_code < 300:
                # A read is charged when it delivers; over quota, its answer is withheld (429).
                charge = await quota.charge(identity, route.metered, _charge_key(request, route))
            passed = {h: upstream_resp.headers[h] for h in PASSED_BACK_HEADERS if h in upstream_resp.headers}
            if charge:
                passed.update(charge.headers)
            content = upstream_resp.content
            if passed.get("content-type", "").startswith(PROBLEM_JSON):
                content = _public_instance(content, request.url.path)
            return Response(content, status_code=upstream_resp.status_code, headers=passed)

        async def stream_through(
            route: Route, upstream_path: str, request: Request, headers: dict[str, str]
        ) -> Response:
            upstream_resp = await upstreams.open_stream(
                route.upstream, route.method, upstream_path, params=request.query_params.multi_items(), headers=headers
            )
            passed = {h: upstream_resp.headers[h] for h in PASSED_BACK_HEADERS if h in upstream_resp.headers}
            if upstream_resp.status_code >= 300 or not passed.get("content-type", "").startswith("text/event-stream"):
                content = await upstream_resp.aread()
                await upstream_resp.aclose()
                if passed.get("content-type", "").startswith(PROBLEM_JSON):
                    content = _public_instance(content, request.url.path)
                return Response(content, status_code=upstream_resp.status_code, headers=passed)

            async def body() -> AsyncIterator[bytes]:
                try:
                    async for chunk in upstream_resp.aiter_raw():
                        yield chunk
                finally:
                    await upstream_resp.aclose()

            passed["x-accel-buffering"] = "no"
            return StreamingResponse(body(), status_code=upstream_resp.status_code, headers=passed)

        forward.__name__ = f"{route.method.lower()}_{route.upstream}_{len(app.routes)}"
        app.add_api_route(route.public_path, forward, methods=[route.method], include_in_schema=False)

    for route in ROUTES:
        add_route(route)

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi() -> JSONResponse:
        if "doc" not in openapi_cache:
            names = sorted({r.upstream for r in ROUTES})
            results = await asyncio.gather(*(upstreams.openapi(n) for n in names), return_exceptions=True)
            docs: dict[str, dict[str, Any]] = {n: r for n, r in zip(names, results, strict=True) if isinstance(r, dict)}
            doc = compose(app.openapi(), docs)
            if len(docs) == len(names):
                openapi_cache["doc"] = doc  # cache only a complete document
            return JSONResponse(doc)
        return JSONResponse(openapi_cache["doc"])

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        # Swagger UI's assets come from the platform itself (copied into the web build), never a CDN.
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="AlgoItny API",
            swagger_js_url=f"{SWAGGER_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER_ASSETS}/favicon-32x32.png",
        )

    add_web_app(app, settings.web_dist_dir)
    return app


SWAGGER_ASSETS = "/swagger-ui"
# Paths the web app never claims: they stay the API's (or the platform's), so an unknown one is a 404.
NOT_WEB = re.compile(r"/(api|openapi\.json|docs|healthz|readyz|metrics)(/.*)?")
WEB_MISSING = (
    "<!doctype html><html lang=en><title>AlgoItny</title><main><h1>AlgoItny</h1>"
    "<p>The web application is not built: run <code>make run</code> (or <code>npm ci && npm run build</code>"
    " in <code>web/</code>). The API is at <a href=/docs>/docs</a>.</p></main></html>"
)


def _send(file: Path, request: Request, cache: str) -> FileResponse:
    """A build file; its gzip copy from the build (sent as the file itself) to clients that accept gzip."""
    headers = {"cache-control": cache, "vary": "accept-encoding"}
    packed = file.with_name(file.name + ".gz")
    if "gzip" in request.headers.get("accept-encoding", "") and packed.is_file():
        headers["content-encoding"] = "gzip"
        media_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        return FileResponse(packed, media_type=media_type, headers=headers)
    return FileResponse(file, headers=headers)


def add_web_app(app: FastAPI, dist: Path) -> None:
    """The single-page web app at / : files of the build as they are, any other path its index.html
    (client-side routes), so a reload of /problems/x/y works. Registered last: API routes win."""
    root = dist.resolve()

    @app.get("/{path:path}", include_in_schema=False)
    async def web(path: str, request: Request) -> Response:
        if NOT_WEB.fullmatch(f"/{path}"):
            # An API path that exists for another method keeps its 405; any other is a 404.
            if any(r.matches(request.scope)[0] == Match.PARTIAL for r in app.router.routes if r is not web_route):
                raise AppError(ErrorCode.METHOD_NOT_ALLOWED, f"{request.method} is not allowed on /{path}")
            raise AppError(ErrorCode.NOT_FOUND, f"No route /{path}")
        index = root / "index.html"
        if not index.is_file():
            return HTMLResponse(WEB_MISSING, status_code=503)
        if path:
            candidate = (root / path).resolve()
            if candidate.is_relative_to(root) and candidate.is_file() and candidate.suffix != ".gz":
                # Hashed build files never change; index.html must be re-read to find new ones.
                immutable = candidate.parent == root / "assets"
                return _send(candidate, request, "public, max-age=31536000, immutable" if immutable else "no-cache")
        return _send(index, request, "no-cache")

    web_route = app.router.routes[-1]
