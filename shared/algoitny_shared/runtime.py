"""Process-level wiring shared by services: serve the HTTP app, run background parts."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI

from algoitny_shared.aws import AsyncDynamoDB
from algoitny_shared.http_protocol import CoalescingHttpToolsProtocol
from algoitny_shared.settings import ServiceSettings

log = logging.getLogger(__name__)


class BackgroundTasks:
    """Long-running coroutines (outbox relay, pollers) started with the app and cancelled with it."""

    def __init__(self) -> None:
        self._tasks: list[asyncio.Task[Any]] = []

    def start(self, name: str, factory: Callable[[], Awaitable[Any]]) -> None:
        async def guarded() -> None:
            try:
                await factory()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background task %s died", name)
                raise

        self._tasks.append(asyncio.create_task(guarded(), name=name))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
        lifespan="on",
        # A response's head and body in one write: one TCP segment, one wake-up of the caller.
        http=CoalescingHttpToolsProtocol,
    )


@asynccontextmanager
async def event_runtime(
    broker: Any,
    relay: Any | None,
    settings: ServiceSettings,
    *,
    tasks: dict[str, Callable[[], Awaitable[Any]]] | None = None,
) -> AsyncIterator[None]:
    """What every service with an outbox runs beside its HTTP app: the Kafka broker (producer
    and any consumers), the outbox relay (unless disabled) and further background tasks;
    all stopped in reverse order when the app stops. ``relay=None``: a service without an outbox."""
    background = BackgroundTasks()
    await broker.start()
    if relay is not None and settings.outbox_relay_enabled:
        background.start("outbox-relay", relay.run)
    for name, factory in (tasks or {}).items():
        background.start(name, factory)
    try:
        yield
    finally:
        if relay is not None:
            relay.stop()
        await background.stop()
        await broker.stop()


def dynamodb_readiness(client: Any, table: str) -> Callable[[], Awaitable[None]]:
    """A readiness check that the service's main table answers."""

    db = AsyncDynamoDB(client)

    async def dynamodb() -> None:
        await db.describe_table(TableName=table)

    return dynamodb
