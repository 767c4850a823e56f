"""The problem index against the real OpenSearch engine: external versions and analysis."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from opensearchpy import AsyncOpenSearch

from algoitny_search_indexer.adapters.opensearch_index import ProblemIndex
from algoitny_search_indexer.domain.documents import document_of
from algoitny_shared.events.catalog import ProblemCreated

pytestmark = pytest.mark.integration


def _doc(problem_id: str, title: str, tags: list[str] | None = None, status: str = "completed") -> dict:
    now = datetime.now(UTC)
    return document_of(
        ProblemCreated(
            platform="baekjoon",
            problem_id=problem_id,
            title=title,
            tags=tags or [],
            status=status,
            created_at=now,
            updated_at=now,
        )
    )


@pytest.fixture
async def index(stack_env: dict[str, str]) -> AsyncIterator[ProblemIndex]:
    client = AsyncOpenSearch(hosts=[os.environ["ALGOITNY_OPENSEARCH_URL"]])
    idx = ProblemIndex(client, f"it{uuid.uuid4().hex[:8]}")
    await idx.ensure()
    await idx.ensure()  # idempotent
    yield idx
    await client.indices.delete(index=f"{idx.alias}-*", ignore_unavailable=True)
    await client.close()


async def test_external_versions_make_stale_and_duplicate_writes_harmless(index: ProblemIndex) -> None:
    assert await index.upsert("baekjoon/1", _doc("1", "first title"), 1)
    assert await index.upsert("baekjoon/1", _doc("1", "second title"), 2)
    assert not await index.upsert("baekjoon/1", _doc("1", "first title"), 1)  # reordered, stale
    assert not await index.upsert("baekjoon/1", _doc("1", "second title"), 2)  # duplicate
    stored = await index.get("baekjoon/1")
    assert stored is not None and stored["_version"] == 2 and stored["title"] == "second title"


async def test_search_by_words_korean_fragment_id_tag_and_typo(index: ProblemIndex) -> None:
    await index.upsert("baekjoon/1920", _doc("1920", "수 찾기", ["binary-search"]), 1)
    await index.upsert("baekjoon/11053", _doc("11053", "가장 긴 증가하는 부분 수열", ["dp"]), 1)
    await index.upsert("baekjoon/4", _doc("4", "Watermelon", ["math"]), 1)
    await index.upsert("baekjoon/5", _doc("5", "Hidden draft", status="draft"), 1)
    await index.refresh()

    async def keys(q: str, drafts: bool = False) -> list[str]:
        hits, _ = await index.search(q, limit=10, include_drafts=drafts)
        return [h["_source"]["key"] for h in hits]

    assert (await keys("증가하는"))[0] == "baekjoon/11053"
    assert (await keys("부분 수열"))[0] == "baekjoon/11053"
    assert (await keys("1920"))[0] == "baekjoon/1920"
    assert (await keys("binary-search"))[0] == "baekjoon/1920"
    assert (await keys("watermelom"))[0] == "baekjoon/4"  # one typo
    assert await keys("hidden") == []
    assert await keys("hidden", drafts=True) == ["baekjoon/5"]
    assert await keys('title:"x" OR *') == []  # query syntax is text, not DSL


async def test_versions_beyond_java_long_are_rejected(index: ProblemIndex) -> None:
    from opensearchpy.exceptions import RequestError

    with pytest.raises(RequestError):
        await index.upsert("baekjoon/9", _doc("9", "x"), 2**63)
