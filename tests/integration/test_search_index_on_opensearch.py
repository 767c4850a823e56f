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
from algoitny_search_indexer.domain.query import make_spec
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
        resp = await index.search(make_spec(q, limit=10, may_see_drafts=drafts))
        return [h["_source"]["key"] for h in resp["hits"]["hits"]]

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


async def test_lifecycle_events_keep_the_index_consistent_and_deletes_win(index: ProblemIndex) -> None:
    """Updated/completed/test-set events upsert at the aggregate version; a delete leaves a tombstone
    at its version, so an older update delivered late cannot resurrect the problem."""
    from algoitny_search_indexer.service_layer.indexing import Indexer
    from algoitny_shared.events import REGISTRY
    from algoitny_shared.events.catalog import ProblemDeleted, ProblemUpdated, TestSetReplaced

    now = datetime.now(UTC)
    snap = {
        "platform": "baekjoon",
        "problem_id": "77",
        "title": "Lifecycle",
        "status": "completed",
        "created_at": now,
        "updated_at": now,
    }
    indexer = Indexer(index)

    async def deliver(payload: object, version: int) -> None:
        env = REGISTRY.envelope(payload, producer="problems", aggregate_id="baekjoon/77", aggregate_version=version)  # type: ignore[arg-type]
        await indexer.handlers()[env.event_type](env, REGISTRY.decode(env))

    await deliver(ProblemCreated(**snap), 1)
    await deliver(TestSetReplaced(**{**snap, "test_case_count": 9}, test_set_version=2, mode="replace"), 2)
    await deliver(ProblemUpdated(**{**snap, "title": "Renamed lifecycle", "test_case_count": 9}), 3)
    stored = await index.get("baekjoon/77")
    assert stored and stored["title"] == "Renamed lifecycle" and stored["test_case_count"] == 9
    await deliver(ProblemDeleted(**{**snap, "status": "deleted"}, hard=True, deleted_at=now), 4)
    await deliver(ProblemUpdated(**{**snap, "title": "Stale update"}), 3)  # late and older: ignored
    await index.refresh()
    stored = await index.get("baekjoon/77")
    assert stored and stored["status"] == "deleted" and stored["_version"] == 4
    hits = (await index.search(make_spec("Lifecycle", limit=10, may_see_drafts=True)))["hits"]["hits"]
    assert all(h["_id"] != "baekjoon/77" for h in hits)
