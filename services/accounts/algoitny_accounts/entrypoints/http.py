"""HTTP app of the accounts service: access tokens (sign-up and Google sign-in come with the accounts issue)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from algoitny_accounts.bootstrap import Container, build
from algoitny_accounts.domain.users import TokenRequest, TokenResponse
from algoitny_shared.http import create_app
from algoitny_shared.kafka import kafka_readiness
from algoitny_shared.runtime import BackgroundTasks


def make_app(container: Container | None = None) -> FastAPI:
    c = container or build()
    background = BackgroundTasks()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await c.broker.start()
        if c.settings.outbox_relay_enabled:
            background.start("outbox-relay", c.relay.run)
        try:
            yield
        finally:
            c.relay.stop()
            await background.stop()
            await c.broker.stop()

    async def dynamodb_ready() -> None:
        await asyncio.to_thread(c.dynamodb.describe_table, TableName=c.users.table)

    app = create_app(
        c.settings,
        title="AlgoItny accounts service",
        readiness=[dynamodb_ready, kafka_readiness(c.broker)],
        lifespan=lifespan,
    )

    @app.post("/auth/token", response_model=TokenResponse, tags=["auth"])
    async def token(body: TokenRequest) -> TokenResponse:
        return await c.accounts.issue_token(body.email, body.password)

    return app
