"""Search API (reached through the gateway at /api/v1/problems/search)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import FastAPI, Query

from algoitny_search_indexer.bootstrap import Container, build
from algoitny_search_indexer.domain.documents import MAX_QUERY_CHARS, SearchPage
from algoitny_shared.http import create_app
from algoitny_shared.identity import CurrentIdentity
from algoitny_shared.kafka import kafka_readiness


def make_app(container: Container | None = None) -> FastAPI:
    c = container or build()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await c.index.ensure()
        await c.broker.start()
        try:
            yield
        finally:
            await c.broker.stop()
            await c.opensearch.close()

    app = create_app(
        c.settings,
        title="AlgoItny search",
        readiness=[c.index.ping, kafka_readiness(c.broker)],
        lifespan=lifespan,
    )

    @app.get("/search", response_model=SearchPage, tags=["search"])
    async def search(
        identity: CurrentIdentity,
        q: Annotated[
            str, Query(min_length=1, max_length=MAX_QUERY_CHARS, description="Title words, problem id or tag")
        ],
        limit: Annotated[int, Query(ge=1, le=50)] = 20,
        cursor: Annotated[str | None, Query(max_length=4096)] = None,
    ) -> SearchPage:
        return await c.search.search(q, limit=limit, cursor=cursor, include_drafts=identity.is_admin)

    return app
