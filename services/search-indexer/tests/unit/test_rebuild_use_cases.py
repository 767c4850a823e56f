"""The search index rebuild with no real part (a fake index with OpenSearch's external versions
and alias, a fake replayer instead of Kafka): from the topic (catch-up passes, then the alias
moves, then the events written meanwhile), and from the problems service when the topic is lost.
The live indexer (Indexer) writes through the alias during the rebuild; newest versions win."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from algoitny_search_indexer.service_layer.indexing import Indexer
from algoitny_search_indexer.service_layer.rebuild import Rebuilder
from algoitny_shared.events import REGISTRY, EventEnvelope
from algoitny_shared.events.catalog import ProblemCreated, ProblemDeleted, ProblemUpdated

AT = datetime(2026, 5, 1, tzinfo=UTC)


class FakeIndex:
    alias = "problems"

    def __init__(self) -> None:
        self.indices: dict[str, dict[str, tuple[dict[str, Any], int]]] = {"problems-v1": {}}
        self.points_at = "problems-v1"
        self.dropped: list[str] = []

    async def create_physical(self) -> str:
        name = f"problems-v{len(self.indices) + 1}"
        self.indices[name] = {}
        return name

    async def bulk_upsert(self, writes: list[tuple[str, dict[str, Any], int]], index: str) -> tuple[int, int, int]:
        applied = stale = 0
        docs = self.indices[self.points_at if index == self.alias else index]
        for doc_id, document, version in writes:
            if doc_id in docs and docs[doc_id][1] >= version:
                stale += 1
            else:
                docs[doc_id] = (document, version)
                applied += 1
        return applied, stale, 0

    async def upsert(self, doc_id: str, document: dict[str, Any], version: int) -> bool:
        return (await self.bulk_upsert([(doc_id, document, version)], self.alias))[0] == 1

    async def refresh(self, index: str) -> None:
        pass

    async def switch_alias(self, target: str) -> list[str]:
        old, self.points_at = self.points_at, target
        return [old]

    async def count(self, index: str) -> int:
        return len(self.indices[index])

    async def drop(self, index: str) -> None:
        self.dropped.append(index)
        del self.indices[index]


def event(problem_id: str, version: int, kind: type = ProblemCreated, title: str = "T") -> EventEnvelope:
    fields: dict[str, Any] = {
        "platform": "cf",
        "problem_id": problem_id,
        "title": title,
        "status": "completed",
        "created_at": AT,
        "updated_at": AT,
    }
    if kind is ProblemDeleted:
        fields["deleted_at"] = AT
    return REGISTRY.envelope(
        kind(**fields), producer="problems", aggregate_id=f"cf/{problem_id}", aggregate_version=version
    )


class Topic:
    """A replayable topic of one partition; ``during`` runs after each page is read (the live
    side producing and indexing while the rebuild replays)."""

    def __init__(self, values: list[bytes]) -> None:
        self.values = values
        self.during: list[Any] = []

    async def beginning_offsets(self) -> dict[int, int]:
        return {0: 0}

    async def end_offsets(self) -> dict[int, int]:
        return {0: len(self.values)}

    async def read(self, start: dict[int, int], end: dict[int, int]) -> AsyncIterator[list[bytes]]:
        for at in range(start[0], end[0], 2):
            yield self.values[at : min(at + 2, end[0])]
            if self.during:
                await self.during.pop(0)()


async def test_rebuild_from_the_topic_keeps_what_the_live_side_wrote_meanwhile() -> None:
    index = FakeIndex()
    live = Indexer(index)  # type: ignore[arg-type]
    history = [event("1A", 1), event("2B", 1), event("1A", 2, ProblemUpdated, "T2"), event("3C", 1)]
    for e in history:
        await live.apply(e, REGISTRY.decode(e))
    topic = Topic([e.to_bytes() for e in history] + [b"garbage"])

    async def produce_during_the_rebuild() -> None:
        late = event("2B", 2, ProblemDeleted)
        topic.values.append(late.to_bytes())
        await live.apply(late, REGISTRY.decode(late))  # into the old index, through the alias

    topic.during.append(produce_during_the_rebuild)
    report = await Rebuilder(index).from_topic(topic, drop_old=True)  # type: ignore[arg-type]
    assert index.points_at == report.new_index == "problems-v2" and index.dropped == ["problems-v1"]
    docs = index.indices["problems-v2"]
    assert {k: (d["title"], d["status"], v) for k, (d, v) in docs.items()} == {
        "cf/1A": ("T2", "completed", 2),
        "cf/2B": ("T", "deleted", 2),
        "cf/3C": ("T", "completed", 1),
    }
    assert report.events_skipped == 1 and report.documents == 3 and report.catch_up_passes >= 1
    stale = event("1A", 1, ProblemUpdated, "old")
    assert not await live.apply(stale, REGISTRY.decode(stale))  # an older event changes nothing


async def test_rebuild_from_the_problems_service_then_the_events_published_meanwhile() -> None:
    index = FakeIndex()
    topic = Topic([event("9Z", 1).to_bytes()])  # before the scan: the service's list has it

    class Problems:
        async def problems(self) -> AsyncIterator[dict[str, object]]:
            for pid in ("1A", "9Z"):
                yield {
                    "platform": "cf",
                    "problem_id": pid,
                    "title": "From the service",
                    "status": "completed",
                    "version": 3,
                    "created_at": AT.isoformat(),
                    "updated_at": AT.isoformat(),
                }
            topic.values.append(event("1A", 4, ProblemUpdated, "Edited during the scan").to_bytes())

    report = await Rebuilder(index).from_problems_service(Problems(), topic)  # type: ignore[arg-type]
    assert index.points_at == report.new_index and report.documents == 2
    assert report.old_indices == ["problems-v1"] and "problems-v1" in index.indices  # kept without drop_old
    docs = index.indices[report.new_index]
    assert {k: (d["title"], v) for k, (d, v) in docs.items()} == {
        "cf/1A": ("Edited during the scan", 4),
        "cf/9Z": ("From the service", 3),
    }
