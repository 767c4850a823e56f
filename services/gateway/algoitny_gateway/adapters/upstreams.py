"""HTTP clients to the services behind the gateway (pooled, one per upstream)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterable
from typing import Any
from urllib.parse import urlencode

import httpx

from algoitny_gateway.domain.routes import Upstream
from algoitny_gateway.settings import GatewaySettings
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.upstream import RETRY_SAFE, UnsafePath, balanced, upstream_client


class Upstreams:
    def __init__(self, settings: GatewaySettings) -> None:
        bases: dict[Upstream, str] = {
            "problems": settings.problems_url,
            "search": settings.search_url,
            "accounts": settings.accounts_url,
            "ratelimit": settings.ratelimit_url,
            "executions": settings.executions_url,
            "hints": settings.hints_url,
            "stats": settings.stats_url,
        }
        # Idle connections are dropped before the services' own keep-alive timeout (uvicorn: 5 s)
        # closes them: at equal timeouts a request can go out on a connection the service is just
        # closing ("server disconnected"), which surfaced as a 503 in a fuzz run.
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=50, keepalive_expiry=2.0)
        self._timeout = settings.upstream_timeout_s
        # Each setting may list several replicas (comma-separated): requests are spread over them, and
        # one that never reached a replica, or an idempotent one, is retried on another.
        self._clients = {
            name: upstream_client(
                url, name=name, timeout=settings.upstream_timeout_s, limits=limits, eject_s=settings.upstream_eject_s
            )
            for name, url in bases.items()
        }
        self._transports = {name: balanced(client) for name, client in self._clients.items()}

    async def send(
        self,
        upstream: Upstream,
        method: str,
        path: str,
        *,
        params: Any,
        content: bytes | AsyncIterable[bytes],
        headers: dict[str, str],
        retry_safe: bool = False,
    ) -> httpx.Response:
        """``retry_safe``: the write may be sent again to another replica (see algoitny_shared.upstream)."""
        client = self._clients[upstream]
        transport = self._transports[upstream]
        if isinstance(content, bytes):
            # The whole-body hop (nearly every request) goes straight to the replicas' connections.
            try:
                return await transport.send_bytes(
                    method,
                    path,
                    query=urlencode(params) if params else "",  # as httpx.QueryParams encodes it
                    headers=dict(headers),
                    content=content,
                    timeout_s=self._timeout,
                    retry_safe=retry_safe,
                )
            except UnsafePath:
                raise AppError(ErrorCode.NOT_FOUND, "No such resource") from None
            except httpx.TimeoutException as exc:
                raise AppError(ErrorCode.UPSTREAM_TIMEOUT, f"The {upstream} service did not answer in time") from exc
            except httpx.TransportError as exc:
                raise AppError(ErrorCode.UPSTREAM_UNAVAILABLE, f"The {upstream} service is unavailable") from exc
        request = client.build_request(
            method, path, params=params, content=content, headers=headers, extensions={RETRY_SAFE: retry_safe}
        )
        if request.url.raw_path.split(b"?", 1)[0] != client.base_url.raw_path.rstrip(b"/") + path.encode():
            # The client would send another path than the route's (dot segments removed, say):
            # never forward a request that could reach what no route names (/metrics, /readyz).
            raise AppError(ErrorCode.NOT_FOUND, "No such resource")
        try:
            return await client.send(request)
        except httpx.TimeoutException as exc:
            raise AppError(ErrorCode.UPSTREAM_TIMEOUT, f"The {upstream} service did not answer in time") from exc
        except httpx.TransportError as exc:
            raise AppError(ErrorCode.UPSTREAM_UNAVAILABLE, f"The {upstream} service is unavailable") from exc

    async def open_stream(
        self, upstream: Upstream, method: str, path: str, *, params: Any, headers: dict[str, str]
    ) -> httpx.Response:
        """Send a request and return once the headers arrived; the body is read as it streams
        (no read timeout: an event stream may stay quiet). The caller closes the response."""
        client = self._clients[upstream]
        request = client.build_request(
            method, path, params=params, headers=headers, timeout=httpx.Timeout(self._timeout, read=None)
        )
        try:
            return await client.send(request, stream=True)
        except httpx.TimeoutException as exc:
            raise AppError(ErrorCode.UPSTREAM_TIMEOUT, f"The {upstream} service did not answer in time") from exc
        except httpx.TransportError as exc:
            raise AppError(ErrorCode.UPSTREAM_UNAVAILABLE, f"The {upstream} service is unavailable") from exc

    async def call_json(
        self, upstream: Upstream, method: str, path: str, body: dict[str, Any], headers: dict[str, str]
    ) -> httpx.Response:
        """An internal call made by the gateway itself (not a forwarded client request): its calls to
        ratelimit (consume, refund, settle) are keyed by the charge's request id, which ratelimit
        charges, refunds and settles once, so they may go to another replica after one failed."""
        return await self.send(
            upstream,
            method,
            path,
            params=None,
            content=json.dumps(body).encode(),
            headers={"content-type": "application/json", **headers},
            retry_safe=True,
        )

    async def openapi(self, upstream: Upstream) -> dict[str, Any]:
        resp = await self._clients[upstream].get("/openapi.json")
        resp.raise_for_status()
        doc: dict[str, Any] = resp.json()
        return doc

    async def ready(self, upstream: Upstream) -> None:
        resp = await self._clients[upstream].get("/healthz")
        resp.raise_for_status()

    async def close(self) -> None:
        for client in self._clients.values():
            await client.aclose()
