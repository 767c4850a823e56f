"""The search document of a problem and the query model (no I/O)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from algoitny_search_indexer.domain.query import MAX_QUERY_CHARS as MAX_QUERY_CHARS
from algoitny_shared.events.catalog import ProblemCard, ProblemSnapshot


def document_of(snapshot: ProblemSnapshot) -> dict[str, Any]:
    return {
        "key": f"{snapshot.platform}/{snapshot.problem_id}",
        "platform": snapshot.platform,
        "problem_id": snapshot.problem_id,
        "title": snapshot.title,
        "url": snapshot.url,
        "tags": snapshot.tags,
        "language": snapshot.language,
        "status": snapshot.status,
        "difficulty": snapshot.difficulty,
        "test_case_count": snapshot.test_case_count,
        "created_at": snapshot.created_at.isoformat(),
        "updated_at": snapshot.updated_at.isoformat(),
    }


class SearchHit(ProblemCard):
    score: float | None = None
    updated_at: datetime | None = None
    highlight: str | None = Field(
        default=None, description="The title with matched parts in <em>…</em> (HTML-escaped otherwise)"
    )


class FacetCount(BaseModel):
    value: str
    count: int


class Facets(BaseModel):
    platform: list[FacetCount] = Field(default_factory=list)
    tags: list[FacetCount] = Field(default_factory=list)


class SearchPage(BaseModel):
    items: list[SearchHit]
    total: int
    facets: Facets = Field(default_factory=Facets)
    next_cursor: str | None = None


class Suggestion(BaseModel):
    platform: str
    problem_id: str
    title: str
    url: str | None = None
    difficulty: str | None = None
    highlight: str = Field(description="The title HTML-escaped, with the words the query prefixes in <em>…</em>")


class SuggestPage(BaseModel):
    """Suggestions for a query typed so far, best first (completed problems only)."""

    query: str = Field(description="The query as understood (spaces collapsed)")
    platform: str | None = Field(
        default=None, description="The platform the query names (a nickname such as boj or cf, or a problem URL)"
    )
    items: list[Suggestion]
