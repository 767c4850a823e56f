from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from algoitny_search_indexer.domain.documents import document_of
from algoitny_search_indexer.service_layer.indexing import SearchService
from algoitny_shared.cursor import CursorCodec
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.events.catalog import ProblemCreated


class FakeIndex:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def search(self, text: str, **kwargs: Any) -> tuple[list[dict[str, Any]], int]:
        self.calls.append({"text": text, **kwargs})
        hit = {
            "_source": {"platform": "baekjoon", "problem_id": "1000", "title": "A+B", "status": "completed"},
            "_score": 1.0,
            "sort": [1.0, "baekjoon/1000"],
        }
        return [hit], 5


async def test_search_normalises_query_and_pages_with_signed_cursor() -> None:
    index = FakeIndex()
    service = SearchService(index, CursorCodec("k"))  # type: ignore[arg-type]
    page = await service.search("  a+b   sum ", limit=1, cursor=None, include_drafts=False)
    assert index.calls[0]["text"] == "a+b sum"
    assert page.items[0].problem_id == "1000" and page.next_cursor
    await service.search("a+b sum", limit=1, cursor=page.next_cursor, include_drafts=False)
    assert index.calls[1]["search_after"] == [1.0, "baekjoon/1000"]
    with pytest.raises(AppError) as err:  # cursor from another query
        await service.search("other", limit=1, cursor=page.next_cursor, include_drafts=False)
    assert err.value.code is ErrorCode.INVALID_CURSOR


@pytest.mark.parametrize("q", ["   ", "x" * 201])
async def test_empty_or_overlong_queries_are_rejected(q: str) -> None:
    with pytest.raises(AppError) as err:
        await SearchService(FakeIndex(), CursorCodec("k")).search(q, limit=5, cursor=None, include_drafts=False)  # type: ignore[arg-type]
    assert err.value.code is ErrorCode.VALIDATION_FAILED


def test_document_of_snapshot() -> None:
    now = datetime.now(UTC)
    doc = document_of(
        ProblemCreated(
            platform="baekjoon", problem_id="1920", title="수 찾기", status="completed", created_at=now, updated_at=now
        )
    )
    assert doc["key"] == "baekjoon/1920" and doc["title"] == "수 찾기"


def test_outages_are_transient_but_rejections_are_not() -> None:
    from opensearchpy.exceptions import ConnectionError as OSConnectionError
    from opensearchpy.exceptions import RequestError, TransportError

    from algoitny_search_indexer.service_layer.indexing import Indexer

    assert Indexer.is_transient(OSConnectionError("N/A", "refused", None))
    assert Indexer.is_transient(TransportError(503, "unavailable", {}))
    assert Indexer.is_transient(TransportError(429, "too many", {}))
    assert not Indexer.is_transient(RequestError(400, "mapper_parsing_exception", {}))
    assert not Indexer.is_transient(ValueError("bad"))
