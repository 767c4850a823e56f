"""The app factory: a service's HTTP app with its lifespan and readiness checks.

Every service's app runs the same things beside its routes: its start hooks, then the Kafka
broker (producer and consumers) and the outbox relay when it has them, its background tasks;
on the way out all of that stops in reverse order and its stop hooks run (each once, even when
the start failed half-way). Readiness: the service's main DynamoDB table answers, Kafka
answers (a service with a broker), and the service's own checks. /healthz, /readyz and
/metrics come from :func:`algoitny_shared.http.create_app`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI

from algoitny_shared.http import ReadinessCheck, create_app
from algoitny_shared.kafka import kafka_readiness
from algoitny_shared.runtime import BackgroundTasks, dynamodb_readiness, event_runtime
from algoitny_shared.settings import ServiceSettings

Hook = Callable[[], Awaitable[Any]]


def service_app(
    settings: ServiceSettings,
    *,
    title: str,
    dynamodb: Any = None,
    table: str | None = None,
    broker: Any = None,
    relay: Any = None,
    readiness: Sequence[ReadinessCheck] = (),
    tasks: Mapping[str, Hook] | None = None,
    on_start: Sequence[Hook] = (),
    on_stop: Sequence[Hook] = (),
    **options: Any,
) -> FastAPI:
    """The app of a service: ``table`` (on client ``dynamodb``) is the table whose answer makes
    the service ready; ``broker`` and ``relay`` (either may be None) run while the app runs,
    ``tasks`` beside them (name -> coroutine factory). ``on_start`` hooks run first, in order;
    ``on_stop`` hooks last, in order. ``options`` go to :func:`create_app` (``description``, ...)."""
    checks: list[ReadinessCheck] = []
    if table is not None:
        checks.append(dynamodb_readiness(dynamodb, table))
    if broker is not None:
        checks.append(kafka_readiness(broker))
    checks.extend(readiness)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            for stop in reversed(on_stop):
                stack.push_async_callback(stop)
            for start in on_start:
                await start()
            if broker is not None:
                await stack.enter_async_context(event_runtime(broker, relay, settings, tasks=dict(tasks or {})))
            else:
                background = BackgroundTasks()
                stack.push_async_callback(background.stop)
                for name, factory in (tasks or {}).items():
                    background.start(name, factory)
            yield

    return create_app(settings, title=title, readiness=checks, lifespan=lifespan, **options)


def parts_app(c: Any, *, title: str, table: str | None = None, **options: Any) -> FastAPI:
    """:func:`service_app` on a container built from :mod:`algoitny_shared.kit.composition`'s
    parts (its settings, DynamoDB client, broker and relay, where it has them)."""
    return service_app(
        c.settings,
        title=title,
        dynamodb=getattr(c, "dynamodb", None),
        table=table,
        broker=getattr(c, "broker", None),
        relay=getattr(c, "relay", None),
        **options,
    )
