"""The gateway's HTTP app: authenticate, route to the owning service, pass its answer back."""

from __future__ import annotations

import asyncio
import hashlib
import json
import mimetypes
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, StreamingResponse
from starlette.routing import Match

from algoitny_gateway.adapters.jwks import JwksKeys
from algoitny_gateway.adapters.migration_feed import MigrationPhaseFeed
from algoitny_gateway.adapters.revocation_feed import RevocationFeed
from algoitny_gateway.adapters.upstreams import Upstreams
from algoitny_gateway.domain.migration import writes_legacy_data
from algoitny_gateway.domain.revocations import RevocationList
from algoitny_gateway.domain.routes import API, ROUTES, Route
from algoitny_gateway.service_layer.auth import Authenticator, authorize, client_address
from algoitny_gateway.service_layer.openapi import compose
from algoitny_gateway.service_layer.quota import QuotaGate
from algoitny_gateway.service_layer.throttle import TokenBuckets
from algoitny_gateway.settings import GatewaySettings
from algoitny_shared.charges import CHARGE_HEADER, format_charge
from algoitny_shared.errors import PROBLEM_JSON, AppError, ErrorCode
from algoitny_shared.http import REQUEST_ID_HEADER
from algoitny_shared.idempotency import (
    IDEMPOTENCY_HEADER,
    REPLAYED_HEADER,
    IdempotencyClaim,
    fingerprint,
    parse_key,
    refusal,
    verdict,
)
from algoitny_shared.identity import IDENTITY_HEADER, Identity, IdentitySigner
from algoitny_shared.kit.app_factory import service_app
from algoitny_shared.logging import request_id_var
from algoitny_shared.migration_phase import READ_ONLY_REASON, RETRY_AFTER_S
from algoitny_shared.tokens import JWKS_PATH
from algoitny_shared.topics import ACCOUNT_EVENTS, MIGRATION_EVENTS

FORWARDED_HEADERS = ("content-type", "accept", "traceparent", "idempotency-key", "if-match")
# Test-set uploads may carry cases over a megabyte; every other body keeps the small limit.
TEST_CASE_UPLOAD = re.compile(r"/api/v1/problems/[^/]+/[^/]+/testcases")
CHARGE_KEY = re.compile(r"[A-Za-z0-9_.:-]{8,128}")
PASSED_BACK_HEADERS = ("content-type", "location", "etag", "retry-after", "cache-control", REPLAYED_HEADER)


def templated_charge_key(template: str, path_params: dict[str, str], day: str) -> str:
    """A route's charge key for one UTC day (e.g. one problem's hints: charged once per day).

    Keys must fit the ratelimit's request-id alphabet and length; a key that would not is hashed."""
    key = f"{template.format(**path_params)}:{day}"
    if CHARGE_KEY.fullmatch(key):
        return key
    prefix = re.sub(r"[^A-Za-z0-9_.:-]", "", template.split("{", 1)[0])[:40] or "k:"
    return f"{prefix}{hashlib.sha256(key.encode()).hexdigest()[:40]}:{day}"


def has_dot_segment(value: str) -> bool:
    """A path parameter that is, or decodes (once or more, e.g. %2e%2e or %252e%252e) to, a dot
    segment: forwarded, it would climb out of the route's upstream path (e.g. to /metrics)."""
    for _ in range(8):
        if value in (".", ".."):
            return True
        decoded = unquote(value)
        if decoded == value:
            return False
        value = decoded
    return True  # still decoding after 8 rounds: nothing legitimate looks like that


def _upstream_param(value: str) -> str:
    # Percent-encoded, dots included: a decoded value may hold characters no URL may carry
    # (control characters, DEL), which the HTTP client would refuse (a 500).
    return quote(value, safe="").replace(".", "%2E")


def is_upload(method: str, path: str) -> bool:
    return method in ("PUT", "POST") and TEST_CASE_UPLOAD.fullmatch(path) is not None


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
    # Public keys only (accounts' JWKS): the gateway can verify a user's token, never mint one.
    keys = JwksKeys(settings.accounts_url, refresh_s=settings.jwks_refresh_s)
    # Tokens issued before a revocation live at most one lifetime; a minute covers clock skew.
    revocations = RevocationList(horizon_s=settings.access_token_ttl_s + 60)
    feed = RevocationFeed(settings.kafka_bootstrap_servers, ACCOUNT_EVENTS.physical(settings.namespace), revocations)
    # The migration's phase (issue 16): writes to legacy-owned data are refused while it keeps them closed.
    phase_feed = MigrationPhaseFeed(settings.kafka_bootstrap_servers, MIGRATION_EVENTS.physical(settings.namespace))
    auth = Authenticator(keys, settings.admin_token.get_secret_value(), revocations)
    signer = IdentitySigner(settings.internal_secret.get_secret_value())
    quota = QuotaGate(upstreams, signer)
    buckets = TokenBuckets(
        {
            "general": settings.rate_general_per_min,
            "execution": settings.rate_execution_per_min,
            "signin": settings.rate_signin_per_min,
            "suggest": settings.rate_suggest_per_min,
        }
    )
    openapi_cache: dict[str, Any] = {}

    def upstream_check(name: str) -> Callable[[], Awaitable[None]]:
        async def check() -> None:
            await upstreams.ready(name)  # type: ignore[arg-type]

        check.__name__ = name
        return check

    async def revocation_feed() -> None:
        await feed.ready()

    async def token_keys() -> None:
        await keys.ready()

    async def migration_phase() -> None:
        await phase_feed.ready()

    app = service_app(
        settings,
        title="AlgoItny API",
        description="Practise algorithm problems: catalogue, search, judged runs, hints, quotas.",
        readiness=[*(upstream_check(n) for n in ("problems", "search")), revocation_feed, token_keys, migration_phase],
        tasks={"revocation-feed": feed.run, "token-keys": keys.run, "migration-phase": phase_feed.run},
        on_stop=[upstreams.close],
        own_docs=False,
        body_limit=lambda method, path: (
            settings.max_upload_bytes if is_upload(method, path) else settings.max_body_bytes
        ),
        # Uploads are read only once the sender may upload, and streamed on as they arrive.
        streamed=is_upload,
        metrics_token=settings.admin_token.get_secret_value() or None,
        # Clients do not choose the trace (nor what is sampled): theirs is linked, not joined.
        trust_traceparent=False,
    )

    app.state.migration_phase = phase_feed  # the phase view (tests set it; the feed keeps it current)

    async def identify(request: Request) -> Identity:
        peer = request.client.host if request.client else None
        ip = client_address(peer, request.headers.get("x-forwarded-for"), settings.trusted_proxy_hops)
        authorization = request.headers.get("authorization")
        await keys.ensure(authorization)  # a key id not seen yet: accounts may have rotated
        return auth.identify(authorization, ip)

    @app.get(f"{API}/auth/whoami", response_model=Identity, tags=["auth"])
    async def whoami(request: Request) -> Identity:
        """The identity the gateway verified from the bearer token (answered by the gateway itself)."""
        return await identify(request)

    @app.get(f"{API}/migration/phase", include_in_schema=False)
    async def migration_phase_now() -> dict[str, Any]:
        """The migration's phase as this gateway knows it (answered by the gateway itself): whether
        writes to data the legacy database owns are taken (``writes_open``)."""
        view = phase_feed.view
        return {"phase": view.phase, "version": view.version, "since": view.changed_at, "writes_open": view.writes_open}

    @app.get(JWKS_PATH, tags=["auth"])
    async def jwks(response: Response) -> dict[str, Any]:
        """The public keys that verify access tokens (JWKS, Ed25519), as accounts publishes them."""
        if not keys.document()["keys"]:
            try:
                await keys.refresh()
            except (httpx.HTTPError, ValueError) as exc:
                raise AppError(ErrorCode.UPSTREAM_UNAVAILABLE, "The token keys are not available yet") from exc
        response.headers["cache-control"] = "public, max-age=60"
        return keys.document()

    def add_route(route: Route) -> None:
        upload = is_upload(route.method, route.public_path)  # the same test as the body limit's
        legacy_write = writes_legacy_data(route)

        async def forward(request: Request) -> Response:
            if any(has_dot_segment(str(v)) for v in request.path_params.values()):
                raise AppError(ErrorCode.NOT_FOUND, f"No route for {request.method} {request.url.path}")
            peer = request.client.host if request.client else None
            buckets.take(
                route.rate_class,
                client_address(peer, request.headers.get("x-forwarded-for"), settings.trusted_proxy_hops) or "unknown",
            )
            identity = await identify(request)
            authorize(identity, route.access)
            if legacy_write and not phase_feed.view.writes_open:
                # Refused, never accepted and lost: the legacy database still owns the data.
                raise AppError(
                    ErrorCode.MIGRATION_READ_ONLY,
                    "The platform is read-only while the data moves from the legacy application "
                    f"(migration phase {phase_feed.view.phase}); sign-in and reads work. Retry later.",
                    headers={"retry-after": str(RETRY_AFTER_S)},
                    reason=READ_ONLY_REASON,
                    phase=phase_feed.view.phase,
                )
            # Only listed headers travel on: any identity header a client sent is dropped here,
            # and the one the service believes is the assertion signed below.
            headers = {h: request.headers[h] for h in FORWARDED_HEADERS if h in request.headers}
            headers[REQUEST_ID_HEADER] = request_id_var.get() or ""
            upstream_path = route.upstream_path.format(
                **{k: _upstream_param(str(v)) for k, v in request.path_params.items()}
            )
            headers[IDENTITY_HEADER] = signer.sign(identity, route.method, upstream_path)
            if route.stream:
                return await stream_through(route, upstream_path, request, headers)
            if upload:
                # Read only now, who sends it being known, and passed on as it arrives.
                if "content-length" in request.headers:
                    headers["content-length"] = request.headers["content-length"]
                upstream_resp = await upstreams.send(
                    route.upstream,
                    route.method,
                    upstream_path,
                    params=request.query_params.multi_items(),
                    content=request.stream(),
                    headers=headers,
                )
                return answer(upstream_resp, request, {})
            body = await request.body()
            if route.metered and not route.charge_on_success:
                return await metered(route, upstream_path, request, identity, headers, body)
            upstream_resp = await upstreams.send(
                route.upstream,
                route.method,
                upstream_path,
                params=request.query_params.multi_items(),
                content=body,
                headers=headers,
            )
            extra: dict[str, str] = {}
            if route.metered and 200 <= upstream_resp.status_code < 300:
                # A read is charged when it delivers; over quota, its answer is withheld (429).
                day = datetime.now(UTC).strftime("%Y-%m-%d")
                key = (
                    templated_charge_key(route.charge_key, dict(request.path_params), day)
                    if route.charge_key
                    else uuid.uuid4().hex
                )
                charge = await quota.charge(identity, route.metered, key)
                if charge:
                    extra = charge.headers
            return answer(upstream_resp, request, extra)

        async def metered(
            route: Route,
            upstream_path: str,
            request: Request,
            identity: Identity,
            headers: dict[str, str],
            body: bytes,
        ) -> Response:
            """Charged before it runs; a retry under its Idempotency-Key gets the first answer."""
            key = parse_key(request.headers.get(IDEMPOTENCY_HEADER))
            query = request.query_params.multi_items()
            claim = (
                IdempotencyClaim(key=key, fingerprint=fingerprint(route.method, request.url.path, query, body))
                if key
                else None
            )
            assert route.metered is not None
            # A fresh charge id for every attempt, never one a client chose: an X-Request-ID or a
            # key sent twice would otherwise be charged once and run twice.
            admission = await quota.admit(identity, route.metered, uuid.uuid4().hex, claim)
            if admission.earlier is not None:
                assert claim is not None
                found = verdict(admission.earlier, claim.fingerprint)
                if found != "replay" or admission.earlier.response is None:
                    raise refusal(found)
                stored = admission.earlier.response
                replayed = {**stored.headers, **(admission.headers or {}), REPLAYED_HEADER: "true"}
                return Response(stored.body(), status_code=stored.status, headers=replayed)
            if admission.charge:
                headers[CHARGE_HEADER] = format_charge(admission.charge.day, admission.charge.request_id)
            try:
                upstream_resp = await upstreams.send(
                    route.upstream, route.method, upstream_path, params=query, content=body, headers=headers
                )
            except AppError as exc:
                await quota.undo(admission, exc.detail)
                raise
            if upstream_resp.status_code >= 400:
                # Nothing delivered (refused: 4xx, failed: 5xx): nothing charged, the key is free again.
                await quota.undo(admission, f"{route.upstream} answered {upstream_resp.status_code}")
                return answer(upstream_resp, request, {})
            response = answer(upstream_resp, request, admission.headers or {})
            await quota.complete(admission, response.status_code, dict(upstream_resp.headers), bytes(response.body))
            return response

        def answer(upstream_resp: httpx.Response, request: Request, extra: dict[str, str]) -> Response:
            passed = {h: upstream_resp.headers[h] for h in PASSED_BACK_HEADERS if h in upstream_resp.headers}
            passed.update(extra)
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
