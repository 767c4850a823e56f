"""Search API (reached through the gateway at /api/v1/problems/search)."""

from __future__ import annotations

from typing import Annotated

from fastapi import FastAPI, Query, Request
from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from opensearchpy.exceptions import ConnectionTimeout as OpenSearchConnectionTimeout

from algoitny_search_indexer.bootstrap import Container, build
from algoitny_search_indexer.domain.documents import SearchPage, SuggestPage
from algoitny_search_indexer.domain.query import (
    MAX_QUERY_CHARS,
    MAX_SUGGEST_CHARS,
    SEARCH_PARAMS,
    SUGGEST_PARAMS,
    make_spec,
    make_suggest_spec,
)
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.identity import CurrentIdentity
from algoitny_shared.kit.app_factory import parts_app

FilterValues = Annotated[list[str] | None, Query(max_length=400)]


def _refuse_unknown(request: Request, known: frozenset[str]) -> None:
    unknown = sorted(set(request.query_params.keys()) - known)
    if unknown:
        raise AppError(ErrorCode.VALIDATION_FAILED, f"Unknown parameters: {', '.join(unknown)}")


def _unavailable() -> AppError:
    # OpenSearch down or unreachable (the fault suite cuts it off): a 503 the caller may retry,
    # not a 500 that says the service is broken.
    return AppError(
        ErrorCode.UPSTREAM_UNAVAILABLE, "Search is unavailable right now; retry shortly", headers={"retry-after": "5"}
    )


def make_app(container: Container | None = None) -> FastAPI:
    c = container or build()
    lag_s = c.settings.lag_poll_interval_s
    app = parts_app(
        c,
        title="AlgoItny search",
        readiness=[c.index.ping],
        tasks={"consumer-lag": lambda: c.lag.run(lag_s)} if lag_s > 0 else {},
        on_start=[c.index.ensure],
        on_stop=[c.opensearch.close],
    )

    @app.get("/search", response_model=SearchPage, tags=["search"])
    async def search(
        request: Request,
        identity: CurrentIdentity,
        q: Annotated[
            str, Query(min_length=1, max_length=MAX_QUERY_CHARS, description="Title words, problem id or tag")
        ],
        platform: FilterValues = None,
        tags: Annotated[list[str] | None, Query(max_length=400, description="All of these tags")] = None,
        language: FilterValues = None,
        status: Annotated[
            list[str] | None, Query(max_length=40, description="completed (default); draft: admins only")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=50)] = 20,
        cursor: Annotated[str | None, Query(max_length=4096)] = None,
    ) -> SearchPage:
        """Relevance-ranked problems (exact id and title first) with highlighted titles and facet
        counts by platform and tag. `q` is plain text: query-syntax characters carry no meaning."""
        _refuse_unknown(request, SEARCH_PARAMS)
        spec = make_spec(
            q,
            platform=platform,
            tags=tags,
            language=language,
            status=status,
            limit=limit,
            may_see_drafts=identity.is_admin,
        )
        try:
            return await c.search.search(spec, cursor)
        except (OpenSearchConnectionError, OpenSearchConnectionTimeout) as exc:
            raise _unavailable() from exc

    @app.get("/suggest", response_model=SuggestPage, tags=["search"])
    async def suggest(
        request: Request,
        q: Annotated[
            str,
            Query(
                min_length=1,
                max_length=MAX_SUGGEST_CHARS,
                description="What the user typed so far: the start of title words (any script), a problem id, "
                "a platform name or nickname and an id (`boj 10`, `cf4`), or a problem URL",
            ),
        ],
        platform: FilterValues = None,
        limit: Annotated[int, Query(ge=1, le=20)] = 8,
    ) -> SuggestPage:
        """Suggestions as you type, for a search box: a few completed problems, best first (an id or a
        platform-prefixed id, then titles whose words start with the typed words). No totals, facets or
        paging, so it answers fast enough for every keystroke."""
        _refuse_unknown(request, SUGGEST_PARAMS)
        spec = make_suggest_spec(q, platform=platform, limit=limit)
        try:
            return await c.search.suggest(spec)
        except (OpenSearchConnectionError, OpenSearchConnectionTimeout) as exc:
            raise _unavailable() from exc

    return app
