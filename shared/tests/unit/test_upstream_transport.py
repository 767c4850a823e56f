"""The aiohttp transport under the upstream clients, against a real local server: bodies both
ways (whole and streamed), the path as sent, errors as httpx's, no cookies kept."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web

from algoitny_shared.upstream import AiohttpTransport, BalancedTransport, UnsafePath, balanced, upstream_client


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


def _app(seen: list[dict[str, object]]) -> web.Application:
    async def echo(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        seen.append(
            {
                "path": request.raw_path,
                "cookie": request.headers.get("cookie"),
                "body": body,
                "chunked": request.headers.get("transfer-encoding"),
            }
        )
        if request.path.endswith("/stream"):
            resp = web.StreamResponse(headers={"content-type": "text/event-stream"})
            await resp.prepare(request)
            for n in range(3):
                await resp.write(f"data: {n}\n\n".encode())
                await asyncio.sleep(0.01)
            await resp.write_eof()
            return resp
        if request.path.endswith("/slow"):
            await asyncio.sleep(2)
        if request.path.endswith("/drop"):
            assert request.transport is not None
            request.transport.close()
            await asyncio.sleep(0.1)
        return web.json_response(
            {"len": len(body)}, status=201, headers={"set-cookie": "s=alice; Path=/", "etag": '"7"'}
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", echo)
    return app


async def test_requests_and_answers_pass_through_unchanged() -> None:
    seen: list[dict[str, object]] = []
    runner, url = await _serve(_app(seen))
    try:
        async with upstream_client(url, name="t", transports=[AiohttpTransport()]) as client:
            resp = await client.post("/problems/a/%2E%2E?x=1", content=b'{"a": 1}', headers={"x-k": "v"})
            assert resp.status_code == 201 and resp.json() == {"len": 8} and resp.headers["etag"] == '"7"'
            again = await client.get("/second")
            assert again.status_code == 201

            async def upload() -> AsyncIterator[bytes]:
                for part in (b"ab", b"cd", b"ef"):
                    yield part

            streamed = await client.put("/up", content=upload(), headers={"content-length": "6"})
            assert streamed.json() == {"len": 6}
            unsized = await client.put("/up", content=upload())
            assert unsized.json() == {"len": 6}

            async with client.stream("GET", "/events/stream") as events:
                got = b"".join([chunk async for chunk in events.aiter_raw()])
            assert got == b"data: 0\n\ndata: 1\n\ndata: 2\n\n"
    finally:
        await runner.cleanup()
    assert seen[0]["path"] == "/problems/a/%2E%2E?x=1"  # sent as built, never normalised
    assert [s["cookie"] for s in seen] == [None] * 5
    assert seen[2]["body"] == b"abcdef" and seen[2]["chunked"] is None
    assert seen[3]["body"] == b"abcdef" and seen[3]["chunked"] == "chunked"


def _closed_port() -> int:
    """A loopback port nothing listens on (bound for a moment, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_transport_errors_are_httpx_errors() -> None:
    closed = _closed_port()
    transport = AiohttpTransport()
    async with httpx.AsyncClient(transport=transport, base_url=f"http://127.0.0.1:{closed}") as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("/x")

    seen: list[dict[str, object]] = []
    runner, url = await _serve(_app(seen))
    try:
        async with httpx.AsyncClient(transport=AiohttpTransport(), base_url=url) as client:
            with pytest.raises(httpx.ReadTimeout):
                await client.get("/slow", timeout=httpx.Timeout(5.0, read=0.3))
            with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
                await client.get("/drop")
    finally:
        await runner.cleanup()


async def test_a_refused_replica_is_skipped_for_the_next() -> None:
    seen: list[dict[str, object]] = []
    runner, url = await _serve(_app(seen))
    closed = _closed_port()
    try:
        transports = [AiohttpTransport(), AiohttpTransport()]
        async with upstream_client(f"http://127.0.0.1:{closed},{url}", name="t", transports=transports) as client:
            statuses = [(await client.post("/w", content=b"x")).status_code for _ in range(2)]
        assert statuses == [201, 201]
    finally:
        await runner.cleanup()
    assert len(seen) == 2


async def test_clients_default_to_aiohttp_and_outlive_the_services_keep_alive_closes() -> None:
    """Every upstream client runs on the aiohttp transport; a connection the service closed while
    idle (its keep-alive ran out between two quota calls) is not reused: the next metered POST is
    answered, not failed."""
    seen: list[dict[str, object]] = []
    runner = web.AppRunner(_app(seen), keepalive_timeout=0.2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    try:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=50, keepalive_expiry=2.0)
        async with upstream_client(url, name="t", limits=limits) as client:
            transport = client._transport
            assert isinstance(transport, BalancedTransport)
            assert all(isinstance(r.transport, AiohttpTransport) for r in transport.replicas)
            statuses = []
            for _ in range(3):
                resp = await client.post(
                    "/quota/consume", content=b'{"a": 1}', headers={"content-type": "application/json"}
                )
                statuses.append(resp.status_code)
                await asyncio.sleep(0.4)  # the service closes the idle connection meanwhile
        assert statuses == [201, 201, 201] and len(seen) == 3
    finally:
        await runner.cleanup()


async def test_the_whole_body_hop_sends_the_path_as_given_and_refuses_one_that_would_change() -> None:
    """``send_bytes`` (the gateway's forwarding hop, straight on aiohttp): path, query, body and
    headers arrive as given, the answer comes back whole; a refused replica is skipped; a path a
    URL parser or a server could turn into another (dot segments, a query, a space) is never sent."""
    seen: list[dict[str, object]] = []
    runner, url = await _serve(_app(seen))
    closed = _closed_port()
    try:
        async with upstream_client(f"{url},http://127.0.0.1:{closed}", name="t") as client:
            transport = balanced(client)
            resp = await transport.send_bytes(
                "POST", "/problems/a/%2E%2E", query="x=1", headers={"x-k": "v"}, content=b'{"a": 1}', timeout_s=5
            )
            assert resp.status_code == 201 and resp.json() == {"len": 8} and resp.headers["etag"] == '"7"'
            # The second turn starts at the refused replica: nothing was sent there, so the next takes it.
            again = await transport.send_bytes("POST", "/w", headers={}, content=b"x", timeout_s=5)
            assert again.status_code == 201 and again.content == b'{"len": 1}'
            for unsafe in ("/a/../metrics", "/a/./b", "/a?x=1", "/a#f", "/a b", "/..", "a"):
                with pytest.raises(UnsafePath):
                    await transport.send_bytes("GET", unsafe, headers={}, content=b"", timeout_s=5)
            with pytest.raises(httpx.ReadTimeout):
                await transport.send_bytes("GET", "/slow", headers={}, content=b"", timeout_s=0.3)
    finally:
        await runner.cleanup()
    assert seen[0]["path"] == "/problems/a/%2E%2E?x=1" and seen[0]["body"] == b'{"a": 1}'
    assert [s["path"] for s in seen] == ["/problems/a/%2E%2E?x=1", "/w", "/slow"]
