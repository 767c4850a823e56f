"""HTTP clients to another service that may run as several replicas.

A service's address setting (``ALGOITNY_PROBLEMS_URL`` and the like) may list several replicas,
comma-separated: ``http://10.0.0.5:8002,http://10.0.0.6:8002``. :func:`upstream_client` returns an
``httpx.AsyncClient`` whose transport spreads requests over them (round robin), and retries on
another replica

* any request that never reached a replica (the connection was refused or could not be made), and
* an idempotent request (GET, HEAD, OPTIONS, or a write carrying an ``Idempotency-Key``) whose
  replica failed while it was sent or answered (connection reset, server gone, read timeout),

provided the body can be sent again (bytes; a streamed upload only when it was never sent).
A replica that failed is ejected for ``eject_s`` (passive health); while every replica is ejected,
all are tried again. One replica behaves as a plain client. Every request carries the W3C
``traceparent`` of the span at hand (:mod:`algoitny_shared.tracing`).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from http.cookiejar import CookieJar
from typing import Any

import aiohttp
import httpx
from yarl import URL

from algoitny_shared.metrics import UPSTREAM_RETRIES
from algoitny_shared.tracing import inject_headers

log = logging.getLogger(__name__)

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
IDEMPOTENCY_KEY = "idempotency-key"
# The request never reached a replica: safe to send elsewhere whatever it does.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# The replica may have received it: only an idempotent request is sent again. (A read timeout is
# not among them: a slow replica is not a dead one, and a retry would double its load.)
MAYBE_SENT = (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)


def replica_urls(setting: str) -> list[str]:
    """The replicas named by an address setting (comma-separated, blanks ignored)."""
    urls = [u.strip().rstrip("/") for u in setting.split(",") if u.strip()]
    if not urls:
        raise ValueError("an upstream address setting names no URL")
    return urls


def first_url(setting: str) -> str:
    """The first replica (for a caller that needs one address, e.g. a one-off tool)."""
    return replica_urls(setting)[0]


# A caller marks a write it knows to be idempotent (e.g. keyed by a request id the service dedupes on):
# ``client.build_request(..., extensions={RETRY_SAFE: True})``.
RETRY_SAFE = "algoitny.retry_safe"


def is_idempotent(request: httpx.Request) -> bool:
    return (
        request.method in IDEMPOTENT_METHODS
        or IDEMPOTENCY_KEY in request.headers
        or bool(request.extensions.get(RETRY_SAFE))
    )


class _AiohttpBody(httpx.AsyncByteStream):
    """An aiohttp response body as httpx reads it (chunks as they arrive; closing frees the connection)."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _as_httpx_errors():
            async for chunk in self._response.content.iter_any():
                yield chunk

    async def aclose(self) -> None:
        self._response.release()


@contextmanager
def _as_httpx_errors() -> Iterator[None]:
    """aiohttp's errors as the httpx ones every caller (and the replica retries) handles."""
    try:
        yield
    except aiohttp.ConnectionTimeoutError as exc:  # no connection (pool or connect): nothing sent
        raise httpx.ConnectTimeout(str(exc) or "connect timeout") from exc
    except aiohttp.ServerTimeoutError as exc:  # the answer did not come in time
        raise httpx.ReadTimeout(str(exc) or "read timeout") from exc
    except aiohttp.ClientConnectorError as exc:  # refused, unreachable: nothing sent
        raise httpx.ConnectError(str(exc)) from exc
    except aiohttp.ServerDisconnectedError as exc:
        raise httpx.RemoteProtocolError(str(exc) or "server disconnected") from exc
    except (aiohttp.ClientPayloadError, aiohttp.ClientOSError) as exc:
        raise httpx.ReadError(str(exc)) from exc
    except aiohttp.ClientResponseError as exc:  # a malformed answer
        raise httpx.RemoteProtocolError(str(exc)) from exc
    except aiohttp.ClientError as exc:
        raise httpx.NetworkError(str(exc)) from exc


class AiohttpTransport(httpx.AsyncBaseTransport):
    """One replica's connections, kept alive, on aiohttp; callers keep httpx's API.

    Measured on the 2-core machine: httpx's own transport (httpcore over anyio) costs about 0.65 ms
    of CPU per request, aiohttp's about 0.15 ms; every service-to-service hop pays it. Answers are
    passed on undecoded (httpx decodes them, as with its own transport); no cookies are kept."""

    def __init__(self, limits: httpx.Limits | None = None) -> None:
        self._limits = limits or httpx.Limits()
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _session_now(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            # A client made before its loop ran, or used by a later loop (tests): a session per loop.
            expiry = self._limits.keepalive_expiry
            connector = aiohttp.TCPConnector(
                limit=self._limits.max_connections or 0,
                keepalive_timeout=expiry if expiry is not None else 5.0,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=False,
                cookie_jar=aiohttp.DummyCookieJar(),
                skip_auto_headers=("User-Agent", "Accept-Encoding", "Accept", "Content-Type"),
            )
            self._loop = loop
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout = request.extensions.get("timeout", {})
        body: Any
        failed: list[Exception] = []  # what the caller's own body stream raised (e.g. too large)
        if isinstance(request.stream, httpx.ByteStream):
            body = await request.aread()
        else:
            stream = request.stream
            assert isinstance(stream, AsyncIterable)

            async def chunks() -> AsyncIterator[bytes]:
                try:
                    async for chunk in stream:
                        yield chunk
                except Exception as exc:
                    failed.append(exc)
                    raise

            body = chunks()
        try:
            response = await self._send(request, body, timeout)
        except Exception:
            if failed:
                raise failed[0] from None  # the caller's error, not a transport one
            raise
        return httpx.Response(
            status_code=response.status,
            headers=list(response.raw_headers),
            stream=_AiohttpBody(response),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": (response.reason or "").encode()},
        )

    async def _send(self, request: httpx.Request, body: Any, timeout: dict[str, Any]) -> aiohttp.ClientResponse:
        with _as_httpx_errors():
            return await self._session_now().request(
                request.method,
                URL(str(request.url), encoded=True),
                # aiohttp frames a streamed body itself (chunked unless a length was given).
                headers=[
                    (k.decode("latin-1"), v.decode("latin-1"))
                    for k, v in request.headers.raw
                    if k.lower() != b"transfer-encoding"
                ],
                data=body,
                allow_redirects=False,
                compress=None,
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    connect=timeout.get("pool"),
                    sock_connect=timeout.get("connect"),
                    sock_read=timeout.get("read"),
                ),
            )

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed and self._loop is asyncio.get_running_loop():
            await self._session.close()
        self._session = None


# A path as it may travel: "/"-separated segments of unreserved, sub-delims, ":", "@" and %XX escapes.
_SAFE_PATH = re.compile(r"(?:/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})*)+")


class UnsafePath(ValueError):
    """A path that would not reach the upstream as given (dot segments, a query or fragment in it)."""


class Replica:
    def __init__(self, url: str, transport: httpx.AsyncBaseTransport) -> None:
        parsed = httpx.URL(url)
        self.url = url
        self.scheme = parsed.scheme
        self.host = parsed.host
        self.port = parsed.port
        self.netloc = parsed.netloc.decode("ascii")
        self.base_path = parsed.raw_path.decode("ascii").split("?", 1)[0].rstrip("/")
        self.transport = transport
        self.ejected_until = 0.0


class BalancedTransport(httpx.AsyncBaseTransport):
    """Round robin over replicas with retries on another one and passive ejection."""

    def __init__(
        self,
        urls: Sequence[str],
        *,
        name: str = "upstream",
        eject_s: float = 5.0,
        limits: httpx.Limits | None = None,
        transports: Sequence[httpx.AsyncBaseTransport] | None = None,
    ) -> None:
        # aiohttp under httpx (AiohttpTransport): about 4x less CPU per hop than httpcore, on every
        # gateway and service-to-service call; callers keep httpx's API and errors.
        made = transports or [AiohttpTransport(limits=limits) for _ in urls]
        self.replicas = [Replica(u, t) for u, t in zip(urls, made, strict=True)]
        self.name = name
        self.eject_s = eject_s
        self._turn = itertools.count()

    def _order(self) -> list[Replica]:
        """Every replica once, starting at the next in turn, healthy ones first."""
        n = len(self.replicas)
        start = next(self._turn) % n
        ring = self.replicas[start:] + self.replicas[:start]
        now = time.monotonic()
        return [r for r in ring if r.ejected_until <= now] + [r for r in ring if r.ejected_until > now]

    async def _across_replicas(
        self, send: Callable[[Replica], Awaitable[httpx.Response]], resend_if_maybe_sent: bool
    ) -> httpx.Response:
        """``send`` to each replica in turn until one answers: always again when nothing was
        written (NOT_SENT), again after a maybe-sent failure only if ``resend_if_maybe_sent``."""
        order = self._order()
        for attempt, replica in enumerate(order):
            try:
                response = await send(replica)
            except NOT_SENT as exc:
                # Nothing was written: even a streamed body is still unread.
                if not self._retry(replica, exc, attempt, order, True):
                    raise
                continue
            except MAYBE_SENT as exc:
                if not self._retry(replica, exc, attempt, order, resend_if_maybe_sent):
                    raise
                continue
            replica.ejected_until = 0.0
            return response
        raise AssertionError("unreachable: the last attempt raises")  # pragma: no cover

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        def send(replica: Replica) -> Awaitable[httpx.Response]:
            request.url = request.url.copy_with(scheme=replica.scheme, host=replica.host, port=replica.port)
            request.headers["host"] = replica.netloc
            return replica.transport.handle_async_request(request)

        resendable = isinstance(request.stream, httpx.ByteStream)
        return await self._across_replicas(send, resendable and is_idempotent(request))

    def _retry(self, replica: Replica, exc: Exception, attempt: int, order: list[Replica], allowed: bool) -> bool:
        replica.ejected_until = time.monotonic() + self.eject_s
        if not allowed or attempt + 1 >= len(order):
            return False
        UPSTREAM_RETRIES.labels(self.name, type(exc).__name__).inc()
        log.warning(
            "%s replica %s failed (%s); trying another", self.name, replica.url, type(exc).__name__, exc_info=False
        )
        return True

    async def send_bytes(
        self,
        method: str,
        path: str,
        *,
        query: str = "",
        headers: dict[str, str],
        content: bytes,
        timeout_s: float,
        retry_safe: bool = False,
    ) -> httpx.Response:
        """A request with a whole body, answered whole: the gateway's forwarding hop.

        The same replicas, order, retries and ejection as :meth:`handle_async_request`, and the same
        ``traceparent``, but straight on aiohttp where a replica has it: building and sending an
        ``httpx.Request`` (URL parsing and merging, header normalising, cookie and redirect hooks)
        cost the gateway about as much CPU as the rest of a forwarded request. ``path`` is relative
        to the replicas' base path; ``query`` is already encoded. Errors are httpx's."""
        inject_headers(headers)
        idempotent = method in IDEMPOTENT_METHODS or IDEMPOTENCY_KEY in headers or retry_safe
        return await self._across_replicas(
            lambda replica: self._send_bytes_to(replica, method, path, query, headers, content, timeout_s), idempotent
        )

    async def _send_bytes_to(
        self,
        replica: Replica,
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        content: bytes,
        timeout_s: float,
    ) -> httpx.Response:
        raw_path = replica.base_path + path
        target = f"{replica.url}{path}?{query}" if query else f"{replica.url}{path}"
        if not isinstance(replica.transport, AiohttpTransport):  # e.g. a test's transport
            request = httpx.Request(
                method,
                target,
                headers=headers,
                content=content,
                extensions={"timeout": httpx.Timeout(timeout_s).as_dict()},
            )
            response = await replica.transport.handle_async_request(request)
            await response.aread()
            return response
        if not _SAFE_PATH.fullmatch(path) or any(seg in (".", "..") for seg in path.split("/")):
            # Sent as it is (no URL parser in between): never another path than the caller's
            # (dot segments a server might resolve, a query or fragment, bytes no URL may carry).
            raise UnsafePath(path)
        url = URL(target, encoded=True)
        if url.raw_path != raw_path:
            raise UnsafePath(path)
        timeout = aiohttp.ClientTimeout(total=None, connect=timeout_s, sock_connect=timeout_s, sock_read=timeout_s)
        with _as_httpx_errors():
            async with replica.transport._session_now().request(
                method,
                url,
                headers=headers,
                data=content,
                allow_redirects=False,
                compress=None,
                timeout=timeout,
            ) as answer:
                body = await answer.read()
        return httpx.Response(status_code=answer.status, headers=list(answer.raw_headers), content=body)

    async def aclose(self) -> None:
        for replica in self.replicas:
            await replica.transport.aclose()


class _NoCookies(CookieJar):
    """A jar that keeps nothing. One service-to-service client serves every user: a cookie an
    upstream set in one user's answer would otherwise travel with the next user's request.
    (Not parsing Set-Cookie on every answer also saves the forwarding hop a little CPU.)"""

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None

    def add_cookie_header(self, request: Any) -> None:
        return None


async def _trace(request: httpx.Request) -> None:
    inject_headers(request.headers)


def upstream_client(
    setting: str,
    *,
    name: str = "upstream",
    timeout: Any = 10.0,
    limits: httpx.Limits | None = None,
    eject_s: float = 5.0,
    transports: Sequence[httpx.AsyncBaseTransport] | None = None,
    **kwargs: Any,
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` for the replicas an address setting names (see the module's doc).
    Paths are relative to the first URL's path; replicas differ in scheme, host and port only."""
    urls = replica_urls(setting)
    transport = BalancedTransport(urls, name=name, eject_s=eject_s, limits=limits, transports=transports)
    return httpx.AsyncClient(
        base_url=urls[0],
        timeout=timeout,
        transport=transport,
        event_hooks={"request": [_trace]},
        cookies=_NoCookies(),
        **kwargs,
    )


def balanced(client: httpx.AsyncClient) -> BalancedTransport:
    """The replicas' transport of a client made by :func:`upstream_client`."""
    transport = client._transport  # httpx keeps the transport it was given here
    if not isinstance(transport, BalancedTransport):
        raise TypeError("not a client made by upstream_client")
    return transport
