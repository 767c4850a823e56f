"""Outbound fetch of a problem page: only configured hosts, bounded in size and time.

This is the only place the problems service reaches the internet, on a registrar's request,
so it is built against server-side request forgery: the host must be configured, the
address it resolves to must be public (no loopback, private, link-local or reserved ranges:
no cloud metadata endpoint, no internal service), redirects are followed by hand (at most
three, each checked again), the body is read in chunks and cut at ``max_bytes``, and the
whole fetch has one deadline. Tests point hosts at a local server with ``origin_overrides``,
which settings refuse outside development and test.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from algoitny_problems.domain.imports import ImportRefused

MAX_REDIRECTS = 3
USER_AGENT = "AlgoItny-problem-import/1.0 (+registrar request)"


@dataclass(frozen=True)
class FetchedPage:
    url: str
    text: str


def page_host(url: str) -> str:
    """The host a problem URL names, lower case, without ``www.`` and port."""
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.")


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved)


class PageFetcher:
    def __init__(
        self,
        allowed_hosts: set[str],
        *,
        origin_overrides: dict[str, str] | None = None,
        max_bytes: int = 2 * 1024 * 1024,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._allowed = {h.lower().removeprefix("www.") for h in allowed_hosts}
        self._overrides = {h.lower().removeprefix("www."): o.rstrip("/") for h, o in (origin_overrides or {}).items()}
        self._max_bytes = max_bytes
        self._timeout_s = timeout_s
        self._transport = transport

    def check(self, url: str) -> str:
        """The URL's host if it may be fetched at all (scheme and host allowed); raises ImportRefused."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise ImportRefused("only http and https addresses can be imported")
        if parts.username or parts.password:
            raise ImportRefused("addresses with a user name or password are refused")
        host = page_host(url)
        if host not in self._allowed:
            allowed = ", ".join(sorted(self._allowed))
            raise ImportRefused(f"pages of {host or 'this address'} cannot be imported (allowed: {allowed})")
        return host

    async def _target(self, url: str) -> str:
        host = self.check(url)
        parts = urlsplit(url)
        override = self._overrides.get(host)
        if override is not None:
            return override + (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                parts.hostname, parts.port or 443, type=socket.SOCK_STREAM
            )
        except OSError as exc:
            raise ImportRefused(f"{host} could not be resolved") from exc
        if not infos or not all(_public(str(info[4][0])) for info in infos):
            raise ImportRefused(f"{host} resolves to an address that is not public; refused")
        return url

    async def fetch(self, url: str) -> FetchedPage:
        deadline = time.monotonic() + self._timeout_s
        try:
            return await asyncio.wait_for(self._fetch(url, deadline), timeout=self._timeout_s)
        except TimeoutError:
            raise ImportRefused(f"the page did not load within {self._timeout_s:g} s") from None
        except httpx.HTTPError as exc:
            raise ImportRefused(f"the page could not be fetched ({type(exc).__name__})") from None

    async def _fetch(self, url: str, deadline: float) -> FetchedPage:
        current = url
        async with httpx.AsyncClient(
            transport=self._transport,
            follow_redirects=False,
            timeout=httpx.Timeout(max(0.1, deadline - time.monotonic())),
            headers={"User-Agent": USER_AGENT, "Accept": "text/html,text/plain;q=0.9"},
            trust_env=False,  # never through a proxy from the environment
        ) as client:
            for _ in range(MAX_REDIRECTS + 1):
                target = await self._target(current)
                async with client.stream("GET", target) as response:
                    if response.status_code in (301, 302, 303, 307, 308):
                        location = response.headers.get("location")
                        if not location:
                            raise ImportRefused("the page redirected without saying where")
                        current = urljoin(current, location)
                        continue
                    if response.status_code != 200:
                        raise ImportRefused(f"the page answered HTTP {response.status_code}")
                    kind = response.headers.get("content-type", "text/html").split(";")[0].strip().lower()
                    if kind not in ("text/html", "application/xhtml+xml", "text/plain"):
                        raise ImportRefused(f"the address is not a web page ({kind})")
                    body = bytearray()
                    async for chunk in response.aiter_bytes():
                        body.extend(chunk)
                        if len(body) > self._max_bytes:
                            raise ImportRefused(f"the page is larger than {self._max_bytes // 1024} KB")
                    encoding = response.charset_encoding or "utf-8"
                    try:
                        text = body.decode(encoding, errors="replace")
                    except LookupError:
                        text = body.decode("utf-8", errors="replace")
                    return FetchedPage(url=current, text=text)
        raise ImportRefused(f"the page redirected more than {MAX_REDIRECTS} times")
