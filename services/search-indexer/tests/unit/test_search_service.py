from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from algoitny_search_indexer.adapters.opensearch_index import build_query
from algoitny_search_indexer.domain.documents import document_of
from algoitny_search_indexer.domain.query import SearchSpec, make_spec
from algoitny_search_indexer.service_layer.indexing import SearchService
from algoitny_shared.cursor import CursorCodec
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.events.catalog import ProblemCreated


class FakeIndex:
    def __init__(self) -> None:
        self.calls: list[SearchSpec] = []

    async def search(self, spec: SearchSpec) -> dict[str, Any]:
        self.calls.append(spec)
        hit = {
            "_source": {"platform": "baekjoon", "problem_id": "1000", "title": "A+B", "status": "completed"},
            "_score": 1.0,
            "sort": [1.0, "baekjoon/1000"],
            "highlight": {"title": ["<em>A</em>+B"]},
        }
        return {
            "hits": {"hits": [hit], "total": {"value": 5}},
            "aggregations": {"platform": {"buckets": [{"key": "baekjoon", "doc_count": 5}]}},
        }


async def test_search_normalises_query_and_pages_with_signed_cursor() -> None:
    index = FakeIndex()
    service = SearchService(index, CursorCodec("k"))  # type: ignore[arg-type]
    page = await service.search(make_spec("  a+b   sum ", limit=1))
    assert index.calls[0].text == "a+b sum" and index.calls[0].statuses == ("completed",)
    assert page.items[0].problem_id == "1000" and page.next_cursor
    assert page.items[0].highlight == "<em>A</em>+B"
    assert page.facets.platform[0].value == "baekjoon" and page.facets.platform[0].count == 5
    await service.search(make_spec("a+b sum", limit=1), page.next_cursor)
    assert index.calls[1].search_after == [1.0, "baekjoon/1000"] and not index.calls[1].facets
    for other in (make_spec("other", limit=1), make_spec("a+b sum", limit=1, platform=["codeforces"])):
        with pytest.raises(AppError) as err:  # cursor from another query or other filters
            await service.search(other, page.next_cursor)
        assert err.value.code is ErrorCode.INVALID_CURSOR
    with pytest.raises(AppError) as err:
        await service.search(make_spec("a+b sum", limit=1), page.next_cursor[:-2] + "xx")
    assert err.value.code is ErrorCode.INVALID_CURSOR


@pytest.mark.parametrize("q", ["   ", "x" * 201])
def test_empty_or_overlong_queries_are_rejected(q: str) -> None:
    with pytest.raises(AppError) as err:
        make_spec(q)
    assert err.value.code is ErrorCode.VALIDATION_FAILED


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"language": ["cobol"]}, ErrorCode.VALIDATION_FAILED),
        ({"platform": ["Bad Platform"]}, ErrorCode.VALIDATION_FAILED),
        ({"status": ["deleted"]}, ErrorCode.VALIDATION_FAILED),
        ({"status": ["draft"]}, ErrorCode.FORBIDDEN),
        ({"tags": [",".join(f"t{i}" for i in range(11))]}, ErrorCode.VALIDATION_FAILED),
    ],
)
def test_bad_filters_are_rejected(kwargs: dict[str, Any], code: ErrorCode) -> None:
    with pytest.raises(AppError) as err:
        make_spec("x", **kwargs)
    assert err.value.code is code


def test_filters_and_visibility() -> None:
    spec = make_spec("x", tags=["DP,graphs", "dp"], platform=["baekjoon"], language=["python"])
    assert spec.tags == ("dp", "graphs") and spec.statuses == ("completed",)
    admin = make_spec("x", may_see_drafts=True)
    assert admin.statuses == ("completed", "draft")
    assert make_spec("x", status=["draft"], may_see_drafts=True).statuses == ("draft",)


def test_user_text_never_reaches_a_query_parser() -> None:
    hostile = 'title:"x" OR * AND (a~ | b^9) \\ /re/'
    query = json.dumps(build_query(make_spec(hostile)))
    assert "query_string" not in query and "simple_query_string" not in query
    assert json.dumps(make_spec(hostile).text)[1:-1] in query  # carried verbatim, as text


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
