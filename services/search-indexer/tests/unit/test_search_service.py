from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from algoitny_search_indexer.adapters.opensearch_index import build_query, build_suggest
from algoitny_search_indexer.domain.documents import document_of
from algoitny_search_indexer.domain.query import (
    Interpretation,
    SearchSpec,
    SuggestSpec,
    hangul_being_typed,
    interpret,
    make_spec,
    make_suggest_spec,
)
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


@pytest.mark.parametrize(
    ("typed", "platform", "problem_id", "rest"),
    [
        ("boj 1000", "baekjoon", "1000", "1000"),
        ("BOJ 2178", "baekjoon", "2178", "2178"),
        ("boj1000", "baekjoon", "1000", "1000"),
        ("백준1753", "baekjoon", "1753", "1753"),
        ("acmicpc: 9663", "baekjoon", "9663", "9663"),
        ("cf 4a", "codeforces", "4a", "4a"),
        ("CF4A", "codeforces", "4A", "4A"),
        ("cf#4A", "codeforces", "4A", "4A"),
        ("codeforces 158 A", "codeforces", "158A", "158 A"),
        ("LC20", "leetcode", "20", "20"),
        ("lc two-sum", "leetcode", "two-sum", "two-sum"),
        ("백준 1000번", "baekjoon", "1000", "1000"),  # 번: number
        ("백준1000번", "baekjoon", "1000", "1000"),
        ("2178번", None, None, "2178"),
        ("백준 미로 탐색", "baekjoon", None, "미로 탐색"),  # a platform, then title words
        ("1000", None, None, "1000"),  # an id alone, as before
        ("lcm", None, None, "lcm"),  # a word that starts like a nickname
        ("cfg 3", None, None, "cfg 3"),
        ("cf", None, None, "cf"),  # a nickname alone is a word
        ("Bit++", None, None, "Bit++"),
    ],
)
def test_platform_names_before_an_id(typed: str, platform: str | None, problem_id: str | None, rest: str) -> None:
    meaning = interpret(typed)
    assert (meaning.platform, meaning.problem_id, meaning.rest) == (platform, problem_id, rest)


def test_a_pasted_url_names_its_problem_and_nothing_else() -> None:
    meaning = interpret("https://codeforces.com/contest/1520/problem/A")
    assert meaning == Interpretation("", "codeforces", "1520A") and meaning.is_url
    query = build_query(make_spec("https://leetcode.com/problems/two-sum/"))
    assert [c["constant_score"]["filter"]["bool"]["filter"][0] for c in query["bool"]["should"]] == [
        {"term": {"platform": "leetcode"}}
    ] * 2  # the title slug, compact or as a phrase, on LeetCode only


def test_user_text_reaches_regexp_only_as_an_id() -> None:
    hostile = 'title:"x" OR .* (a~ | b^9) \\ /re/'
    for spec in (make_suggest_spec(hostile), make_suggest_spec("cf " + hostile), make_suggest_spec("cf 4.*")):
        found = re.findall(r'"regexp": \{"problem_id": \{"value": "([^"]*)"', json.dumps(build_suggest(spec)))
        assert all(re.fullmatch(r"[a-z0-9_-]+\[a-z\]\[0-9\]\?", v) for v in found), found
    assert "regexp" not in json.dumps(build_suggest(make_suggest_spec(hostile)))
    # Punctuation alone is an empty compact title, which every title would start with.
    assert "title.compact" not in json.dumps(build_suggest(make_suggest_spec("+-?!")))


@pytest.mark.parametrize(("q", "limit"), [("   ", 8), ("x" * 101, 8)])
def test_bad_suggest_queries_are_rejected(q: str, limit: int) -> None:
    with pytest.raises(AppError) as err:
        make_suggest_spec(q, limit=limit)
    assert err.value.code is ErrorCode.VALIDATION_FAILED
    with pytest.raises(AppError):
        make_suggest_spec("x", platform=["Not A Platform"])


async def test_suggest_answers_items_and_the_platform_it_understood() -> None:
    class SuggestIndex:
        async def suggest(self, spec: SuggestSpec) -> dict[str, Any]:
            self.spec = spec
            source = {"platform": "codeforces", "problem_id": "4A", "title": "Watermelon", "url": None}
            return {"hits": {"hits": [{"_source": source, "highlight": {"title.prefix": ["<em>Water</em>melon"]}}]}}

    index = SuggestIndex()
    page = await SearchService(index, CursorCodec("k")).suggest(make_suggest_spec("  CF4  ", limit=3))  # type: ignore[arg-type]
    assert index.spec.text == "CF4" and index.spec.limit == 3
    assert page.query == "CF4" and page.platform == "codeforces"
    assert page.items[0].problem_id == "4A" and page.items[0].highlight == "<em>Water</em>melon"
    page = await SearchService(index, CursorCodec("k")).suggest(make_suggest_spec("water<"))  # type: ignore[arg-type]
    assert page.platform is None


@pytest.mark.parametrize(
    ("typed", "before", "prefixes"),
    [
        ("미로 타", "미로", 28),  # 타 may become 탁, 탄, .., 탐, ..
        ("미로 탐", "미로", 2),  # 탐 itself, or 타 whose ㅁ starts the next syllable
        ("달", "", 9),  # 달, 닭, 닮, .. (a final that can still double), or 다
        ("탐ㅅ", "", 1),  # a consonant typed alone: 탐 is complete
        ("미로 ㅌ", "미로", 0),
    ],
)
def test_a_korean_syllable_still_being_composed(typed: str, before: str, prefixes: int) -> None:
    found = hangul_being_typed(typed)
    assert found is not None and found[0] == before and len(found[1]) == prefixes
    if prefixes:
        assert found[1][0] == typed.split()[-1].rstrip("ㅅ")  # what is on screen comes first


def test_nothing_is_being_composed_without_trailing_hangul() -> None:
    assert hangul_being_typed("theat") is None and hangul_being_typed("카드2") is None
    assert hangul_being_typed("ㅋㅋ") is None
    assert "탐" in hangul_being_typed("미로 타")[1]  # type: ignore[index]
