"""The generation process: ``python -m algoitny_problems.generation`` (or ``algoitny-problems
generation``). Works on generation jobs as their events come; serves only health, readiness and
metrics on ``ALGOITNY_PORT``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from algoitny_problems.adapters.tables import SCRIPT_GENERATION_JOBS
from algoitny_problems.generation.bootstrap import GenerationContainer, build
from algoitny_problems.settings import ProblemsSettings
from algoitny_shared.http import create_app
from algoitny_shared.kafka import kafka_readiness
from algoitny_shared.logging import configure_logging
from algoitny_shared.runtime import dynamodb_readiness, event_runtime, serve


def make_app(container: GenerationContainer | None = None) -> FastAPI:
    c = container or build()
    core = c.problems

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        tasks: dict[str, Callable[[], Awaitable[Any]]] = {
            "generation-worker": lambda: c.worker.run_forever(c.settings.generation_jobs_per_process)
        }
        try:
            async with event_runtime(core.broker, core.relay, c.settings, tasks=tasks):
                yield
        finally:
            await core.imports.close()
            await core.plan_caps.close()

    return create_app(
        c.settings,
        title="AlgoItny problems: test-case generation",
        readiness=[
            dynamodb_readiness(core.dynamodb, SCRIPT_GENERATION_JOBS.physical(c.settings.namespace)),
            kafka_readiness(core.broker),
        ],
        lifespan=lifespan,
        own_docs=False,
    )


def main() -> None:
    settings = ProblemsSettings()
    configure_logging(settings.service_name, settings.log_level)
    serve(make_app(build(settings)), settings)
