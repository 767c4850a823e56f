"""Server-sent events shared by the executions and generation-job progress routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.http import event_stream_response


async def _body(response: Any) -> bytes:
    return b"".join([chunk async for chunk in response.body_iterator])


async def test_events_are_numbered_and_heartbeats_are_comments() -> None:
    async def source() -> AsyncIterator[tuple[str, Any]]:
        yield "status", {"status": "running"}
        yield "heartbeat", None
        yield "completed", {"verdict": "AC"}

    response = await event_stream_response(source())
    assert response.media_type == "text/event-stream" and response.headers["cache-control"] == "no-cache"
    assert await _body(response) == (
        b'id: 1\nevent: status\ndata: {"status": "running"}\n\n'
        b": keep-alive\n\n"
        b'id: 3\nevent: completed\ndata: {"verdict": "AC"}\n\n'
    )


async def test_an_error_before_the_first_event_is_raised_not_streamed() -> None:
    async def source() -> AsyncIterator[tuple[str, Any]]:
        raise AppError(ErrorCode.NOT_FOUND, "no such job")
        yield "never", None

    with pytest.raises(AppError):
        await event_stream_response(source())
