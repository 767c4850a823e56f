"""The coalescing HTTP protocol: a response's head and body leave in one write, a stream's parts
as the app sends them, and a real server on it answers as uvicorn's own does."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import uvicorn
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from support.polling import eventually_async

from algoitny_shared.http_protocol import CoalescingHttpToolsProtocol, CoalescingTransport


class FakeTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str) -> Any:
        return f"info:{name}"


async def test_writes_of_one_loop_turn_leave_together_and_close_sends_what_was_written() -> None:
    real = FakeTransport()
    transport = CoalescingTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    transport.write(b"body")
    assert real.writes == [] and transport.get_write_buffer_size() == 23
    await asyncio.sleep(0)
    assert real.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
    transport.write(b"event 1")
    await asyncio.sleep(0)
    transport.write(b"event 2")
    transport.close()
    assert real.writes[1:] == [b"event 1", b"event 2"] and real.closed
    await asyncio.sleep(0)  # the scheduled flush finds nothing left
    assert len(real.writes) == 3
    transport.write(b"dropped")
    transport.abort()
    await asyncio.sleep(0)
    assert real.aborted and len(real.writes) == 3
    assert transport.get_extra_info("peername") == "info:peername"


async def test_a_server_on_it_answers_whole_and_streams_as_it_goes() -> None:
    app = FastAPI()

    @app.get("/json")
    async def whole() -> dict[str, Any]:
        return {"items": list(range(100))}

    @app.get("/events")
    async def events() -> StreamingResponse:
        async def parts() -> AsyncIterator[bytes]:
            for n in range(3):
                yield f"data: {n}\n\n".encode()
                await asyncio.sleep(0.05)

        return StreamingResponse(parts(), media_type="text/event-stream")

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, http=CoalescingHttpToolsProtocol, log_config=None)
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        await eventually_async(lambda: server.started, timeout_s=10, interval_s=0.01)
        async with aiohttp.ClientSession() as session:
            for _ in range(3):  # one kept-alive connection, several answers
                async with session.get(f"http://127.0.0.1:{port}/json") as resp:
                    assert resp.status == 200 and (await resp.json()) == {"items": list(range(100))}
            async with session.get(f"http://127.0.0.1:{port}/missing") as resp:
                assert resp.status == 404
            async with session.get(f"http://127.0.0.1:{port}/events") as resp:
                first = await resp.content.readuntil(b"\n\n")
                assert first == b"data: 0\n\n"  # before the stream ended
                rest = await resp.read()
            assert rest == b"data: 1\n\ndata: 2\n\n"
    finally:
        server.should_exit = True
        await serving
