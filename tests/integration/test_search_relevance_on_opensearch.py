"""Relevance on the real OpenSearch: 100 judged queries over 240 problems.

Reports precision at 1 (the best answer, or another relevant one, ranks first) and recall
at 10 (share of the relevant problems among the first ten), overall and per kind of query,
in the test output and in bench/results/search_relevance.json.
"""

from __future__ import annotations

import json
import os
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from opensearchpy import AsyncOpenSearch
from support.search_corpus import JUDGEMENTS, corpus, envelope_of

from algoitny_search_indexer.adapters.opensearch_index import ProblemIndex
from algoitny_search_indexer.domain.query import make_spec, make_suggest_spec
from algoitny_search_indexer.service_layer.indexing import Indexer
from algoitny_shared.events import REGISTRY

pytestmark = pytest.mark.integration
RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results" / "search_relevance.json"
# Measured on main before issue 20 (its code, the 62 queries it had): every query right at rank 1.
# On the grown set (101 queries) that code scored precision@1 0.733 and recall@10 0.752.
BASELINE_PRECISION_AT_1 = 1.0
# Issue 20's kinds: a platform name before the id, a pasted problem URL, a number apart from or
# glued to its Korean word. Each must be right at rank 1.
ISSUE_20_KINDS = ("platform-id", "url", "hangul-number")


@pytest.fixture(scope="module")
async def index(stack_env: dict[str, str]) -> AsyncIterator[ProblemIndex]:
    """The judged corpus (and a draft and a deleted problem), written by the consumer's own path."""
    client = AsyncOpenSearch(hosts=[os.environ["ALGOITNY_OPENSEARCH_URL"]])
    idx = ProblemIndex(client, f"rel{uuid.uuid4().hex[:8]}")
    await idx.ensure()
    indexer = Indexer(idx)
    hidden = [("baekjoon", "2165", "카드3 초안", "draft", 1), ("baekjoon", "2166", "카드4 삭제됨", "deleted", 2)]
    for n, (platform, pid, title, tags) in enumerate(corpus()):
        env = envelope_of(platform, pid, title, tags, n)
        assert await indexer.apply(env, REGISTRY.decode(env))  # type: ignore[arg-type]
    for platform, pid, title, status, version in hidden:
        env = envelope_of(platform, pid, title, ["queue"], 0, version=version, status=status)
        assert await indexer.apply(env, REGISTRY.decode(env))  # type: ignore[arg-type]
    await idx.refresh()
    yield idx
    await client.indices.delete(index=f"{idx.alias}-*", ignore_unavailable=True)
    await client.close()


async def test_relevance_precision_at_1_and_recall_at_10(index: ProblemIndex) -> None:
    problems = corpus()
    assert len(problems) >= 200 and len(JUDGEMENTS) >= 100
    per_kind: dict[str, list[tuple[float, float]]] = defaultdict(list)
    misses: list[dict[str, object]] = []
    for judged in JUDGEMENTS:
        resp = await index.search(make_spec(judged.query, limit=10))
        keys = [h["_source"]["key"] for h in resp["hits"]["hits"]]
        p1 = 1.0 if keys and keys[0] in judged.relevant else 0.0
        r10 = len(set(keys) & set(judged.relevant)) / len(judged.relevant)
        per_kind[judged.kind].append((p1, r10))
        if p1 < 1 or r10 < 1:
            misses.append({"query": judged.query, "expected": judged.relevant, "got": keys[:5]})
    scores = [s for v in per_kind.values() for s in v]
    report = {
        "problems": len(problems),
        "queries": len(JUDGEMENTS),
        "precision_at_1": round(sum(p for p, _ in scores) / len(scores), 4),
        "recall_at_10": round(sum(r for _, r in scores) / len(scores), 4),
        "by_kind": {
            kind: {
                "queries": len(v),
                "precision_at_1": round(sum(p for p, _ in v) / len(v), 3),
                "recall_at_10": round(sum(r for _, r in v) / len(v), 3),
            }
            for kind, v in sorted(per_kind.items())
        },
        "misses": misses,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print("\nsearch relevance:", json.dumps(report, ensure_ascii=False))
    assert report["precision_at_1"] >= BASELINE_PRECISION_AT_1, misses
    assert report["recall_at_10"] >= 0.95, misses
    by_kind = report["by_kind"]
    assert isinstance(by_kind, dict)
    for kind in ISSUE_20_KINDS:
        assert by_kind[kind]["queries"] >= 9 and by_kind[kind]["precision_at_1"] == 1.0, (kind, misses)


async def _suggest(index: ProblemIndex, q: str, limit: int = 8) -> list[str]:
    resp = await index.suggest(make_suggest_spec(q, limit=limit))
    return [h["_source"]["platform"] + "/" + h["_source"]["problem_id"] for h in resp["hits"]["hits"]]


@pytest.mark.parametrize(
    ("typed", "first"),
    [
        ("theat", "codeforces/1A"),  # the start of a title word
        ("theatre squ", "codeforces/1A"),  # every word a prefix
        ("Do Not Be Dis", "codeforces/1520A"),
        ("미로 탐", "baekjoon/2178"),  # Korean
        ("아기 상", "baekjoon/16236"),
        ("미로 타", "baekjoon/2178"),  # the last syllable still composing: 타 on the way to 탐
        ("미로 탐ㅅ", "baekjoon/2178"),  # the next syllable's first consonant typed alone
        ("아기 사", "baekjoon/16236"),  # 사 on the way to 상
        ("회의시", "baekjoon/1931"),  # 시 on the way to 실
        ("숨바꼭지", "baekjoon/1697"),
        ("白昼", "atcoder/abc049_c"),  # Japanese
        ("two s", "leetcode/1"),
        ("1520", "codeforces/1520A"),  # an id by prefix
        ("1920", "baekjoon/1920"),
        ("abc04", "atcoder/abc049_c"),
        ("boj 217", "baekjoon/2178"),  # a platform-prefixed id by prefix
        ("boj2178", "baekjoon/2178"),
        ("백준 1000", "baekjoon/1000"),
        ("lc 1000", "leetcode/1000"),
        ("CF4A", "codeforces/4A"),
        ("cf 1520", "codeforces/1520A"),
        ("카드2", "baekjoon/2164"),  # glued or apart, the same title
        ("카드 2", "baekjoon/2164"),
        ("n과 m (2", "baekjoon/15650"),
        ("https://codeforces.com/contest/1520/problem/A", "codeforces/1520A"),
        ("https://leetcode.com/problems/two-sum/", "leetcode/1"),
    ],
)
async def test_suggestions_as_you_type(index: ProblemIndex, typed: str, first: str) -> None:
    got = await _suggest(index, typed)
    assert got and got[0] == first, got


async def test_suggestions_keep_to_the_named_platform_and_to_completed_problems(index: ProblemIndex) -> None:
    cf = await _suggest(index, "cf 4", limit=5)
    assert cf[0] == "codeforces/4A" and all(k.startswith("codeforces/") for k in cf), cf
    boj = await _suggest(index, "boj 1", limit=8)
    assert len(boj) == 8 and all(k.startswith("baekjoon/1") for k in boj), boj
    cards = await _suggest(index, "카드", limit=20)
    assert {"baekjoon/2161", "baekjoon/2164", "baekjoon/16194"} <= set(cards)
    assert "baekjoon/2165" not in cards and "baekjoon/2166" not in cards  # a draft, a tombstone
    assert await _suggest(index, "zzqxv") == []
    resp = await index.suggest(make_suggest_spec("theat squ", limit=1))
    hit = resp["hits"]["hits"][0]
    assert hit["highlight"]["title.prefix"] == ["<em>Theatre</em> <em>Square</em>"]
    assert set(hit["_source"]) <= {"platform", "problem_id", "title", "url", "difficulty"}


async def test_an_id_that_starts_like_a_nickname_is_still_found(index: ProblemIndex) -> None:
    env = envelope_of("gym", "cf2024", "Nickname Lookalike", ["ad-hoc"], 0)
    assert await Indexer(index).apply(env, REGISTRY.decode(env))  # type: ignore[arg-type]
    await index.refresh()
    try:
        hits = (await index.search(make_spec("cf2024", limit=3)))["hits"]["hits"]
        assert hits[0]["_id"] == "gym/cf2024", hits
        assert (await index.suggest(make_suggest_spec("cf2024")))["hits"]["hits"][0]["_id"] == "gym/cf2024"
    finally:
        await index.client.delete(index=index.alias, id="gym/cf2024", refresh=True)


async def test_highlights_of_words_split_at_numbers_keep_their_offsets(index: ProblemIndex) -> None:
    for q, title in (
        ("카드 2", "<em>카드</em><em>2</em>"),
        ("n과 m 1", "<em>N</em><em>과</em> <em>M</em> (<em>1</em>)"),
    ):
        hit = (await index.search(make_spec(q, limit=1)))["hits"]["hits"][0]
        assert hit["highlight"]["title"] == [title], hit["highlight"]
    hit = (await index.suggest(make_suggest_spec("rgb거", limit=1)))["hits"]["hits"][0]
    assert hit["highlight"]["title.prefix"] == ["<em>RGB</em><em>거리</em>"]
