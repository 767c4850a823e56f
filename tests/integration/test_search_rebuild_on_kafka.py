"""Delivery order and rebuilds against the real Kafka and OpenSearch.

* shuffled and repeated events leave the same index as in-order delivery;
* `reindex` replays the problems topic into a new physical index while searches run in a
  loop and live events keep arriving, switches the alias atomically, and ends equal to the
  live index;
* the fallback rebuild from the problems service's listing (a stand-in source here; the
  real service is exercised end to end) gives the same documents.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import os
import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from opensearchpy import AsyncOpenSearch
from support.search_corpus import CURATED, envelope_of

from algoitny_search_indexer.adapters.opensearch_index import INDEX_SETTINGS, SCHEMA_VERSION, ProblemIndex
from algoitny_search_indexer.adapters.replay import TopicReplayer
from algoitny_search_indexer.domain.query import make_spec, make_suggest_spec
from algoitny_search_indexer.service_layer.indexing import Indexer, write_of
from algoitny_search_indexer.service_layer.rebuild import Rebuilder
from algoitny_shared.events import REGISTRY, EventEnvelope
from algoitny_shared.events.catalog import (
    ProblemCompleted,
    ProblemCreated,
    ProblemDeleted,
    ProblemUpdated,
    TestSetReplaced,
)
from algoitny_shared.kafka import ensure_topics
from algoitny_shared.settings import ServiceSettings
from algoitny_shared.topics import PROBLEM_EVENTS

pytestmark = pytest.mark.integration
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def history(n: int, rng: random.Random, prefix: str = "p") -> list[EventEnvelope]:
    """The event history of problem n: created (draft or completed), then edits, a test-set
    replacement, a publication, and for some a delete; versions 1, 2, 3, ..."""
    key = f"hist/{prefix}{n}"
    snap: dict[str, Any] = {
        "platform": "hist",
        "problem_id": f"{prefix}{n}",
        "title": f"Problem {n} about {rng.choice(['graphs', 'strings', 'trees'])}",
        "tags": [rng.choice(["dp", "greedy", "math"])],
        "status": rng.choice(["draft", "completed"]),
        "created_at": T0,
        "updated_at": T0,
    }
    events: list[Any] = [ProblemCreated(**snap)]
    for step in range(rng.randint(0, 4)):
        snap = {**snap, "updated_at": T0 + timedelta(minutes=step + 1)}
        kind = rng.choice(["edit", "tests", "complete"])
        if kind == "edit":
            snap["title"] = f"Problem {n} renamed {step}"
            events.append(ProblemUpdated(**snap, changed=["title"]))
        elif kind == "tests":
            snap["test_case_count"] = step + 2
            events.append(TestSetReplaced(**snap, test_set_version=step + 2, mode="replace"))
        else:
            snap["status"] = "completed"
            events.append(ProblemCompleted(**snap))
    if rng.random() < 0.25:
        events.append(ProblemDeleted(**{**snap, "status": "deleted"}, hard=rng.random() < 0.5, deleted_at=T0))
    return [
        REGISTRY.envelope(e, producer="problems", aggregate_id=key, aggregate_version=v)
        for v, e in enumerate(events, start=1)
    ]


async def deliver(indexer: Indexer, env: EventEnvelope) -> None:
    await indexer.handlers()[env.event_type](env, REGISTRY.decode(env))


async def docs(index: ProblemIndex, name: str | None = None) -> list[dict[str, Any]]:
    await index.refresh(name)
    return [d async for d in index.documents(name)]


@pytest.fixture
async def opensearch(stack_env: dict[str, str]) -> AsyncIterator[AsyncOpenSearch]:
    client = AsyncOpenSearch(hosts=[os.environ["ALGOITNY_OPENSEARCH_URL"]])
    made: list[str] = []
    client.made = made  # type: ignore[attr-defined]
    yield client
    for alias in made:
        await client.indices.delete(index=f"{alias}-*", ignore_unavailable=True)
    await client.close()


def new_index(client: AsyncOpenSearch, prefix: str) -> ProblemIndex:
    idx = ProblemIndex(client, f"{prefix}{uuid.uuid4().hex[:8]}")
    client.made.append(idx.alias)  # type: ignore[attr-defined]
    return idx


async def test_shuffled_and_repeated_delivery_gives_the_in_order_index(opensearch: AsyncOpenSearch) -> None:
    rng = random.Random(42)
    events = [e for n in range(60) for e in history(n, rng)]
    in_order, shuffled = new_index(opensearch, "ord"), new_index(opensearch, "shf")
    for idx in (in_order, shuffled):
        await idx.ensure()
    for env in events:
        await deliver(Indexer(in_order), env)
    messy = events + rng.sample(events, len(events) // 2) + events[: len(events) // 4]  # duplicates
    rng.shuffle(messy)
    for env in messy:
        await deliver(Indexer(shuffled), env)
    expected, got = await docs(in_order), await docs(shuffled)
    assert len(expected) == 60 and got == expected
    assert any(d["status"] == "deleted" for d in got)  # tombstones held their ground


@pytest.fixture
async def topic(stack_env: dict[str, str]) -> AsyncIterator[tuple[str, str]]:
    """A problems topic of its own (the session topic also carries the e2e tests' events)."""
    settings = ServiceSettings(service_name="tests", namespace=f"rb{uuid.uuid4().hex[:8]}")
    await ensure_topics(settings, [PROBLEM_EVENTS])
    name = PROBLEM_EVENTS.physical(settings.namespace)
    yield settings.kafka_bootstrap_servers, name
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        await admin.delete_topics([name])
    finally:
        await admin.close()


async def test_reindex_while_searching_and_live_events_arrive(
    opensearch: AsyncOpenSearch, topic: tuple[str, str]
) -> None:
    bootstrap, topic_name = topic
    rng = random.Random(7)
    index = new_index(opensearch, "live")
    await index.ensure()
    live = Indexer(index)
    published: list[EventEnvelope] = []
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()

    async def publish_and_consume(envs: list[EventEnvelope]) -> None:
        """What the platform does: the outbox publishes, the live consumer writes through the alias."""
        sent = [await producer.send(topic_name, env.to_bytes(), key=env.key) for env in envs]
        await asyncio.gather(*sent)
        published.extend(envs)
        for env in envs:
            await deliver(live, env)

    before = [e for n in range(400) for e in history(n, rng)]
    await publish_and_consume(before)
    # Poison on the topic (the live consumer dead-letters these): a rebuild passes them by.
    poison = history(999, rng, prefix="poison")[0].model_copy(update={"aggregate_version": 2**63})
    for raw in (b"not an envelope", poison.to_bytes()):
        await producer.send_and_wait(topic_name, raw, key=b"poison")
    old_physical = await index.physical()

    failures: list[BaseException] = []
    answered = 0
    rebuilding = True

    async def query_loop() -> None:
        nonlocal answered
        queries = ["Problem", "renamed", "graphs", "p12", "problem 3 about"]
        while rebuilding:
            for q in queries:
                try:
                    resp = await index.search(make_spec(q, limit=10, may_see_drafts=True))
                    assert resp["hits"]["total"]["value"] > 0, q
                    answered += 1
                except BaseException as exc:
                    failures.append(exc)
            await asyncio.sleep(0)

    async def live_traffic() -> None:
        for n in range(400, 460):  # new problems and their edits while the rebuild runs
            await publish_and_consume(history(n, rng))
            await asyncio.sleep(0.005)

    loop_task = asyncio.create_task(query_loop())
    traffic = asyncio.create_task(live_traffic())
    replayer = TopicReplayer(bootstrap, topic_name)
    await replayer.start()
    try:
        report = await Rebuilder(index).from_topic(replayer)
        during = len(published)
        assert not traffic.done() or during > len(before)  # live events did arrive during the rebuild
        await traffic
        rebuilding = False
        await loop_task
    finally:
        await replayer.stop()
        await producer.stop()

    print(f"\nrebuild: {report}; searches answered meanwhile: {answered}; published by the end: {during}")
    assert failures == [] and answered > 0
    assert report.old_indices == old_physical and await index.physical() == [report.new_index]
    assert report.events_read >= len(before) + 2 and report.events_skipped == 2
    rebuilt = await docs(index, report.new_index)
    assert len(rebuilt) == 460
    # The live index: the old physical index, plus the events the live consumer wrote through the
    # alias after the switch (they went to the new index only). Giving the old index those too
    # (idempotent: versions) must leave it equal to the rebuilt one, document for document.
    for env in published:
        doc_id, document, version = write_of(env, REGISTRY.decode(env))  # type: ignore[arg-type]
        await index.upsert(doc_id, document, version, index=old_physical[0])
    assert await docs(index, old_physical[0]) == rebuilt


async def test_rebuild_from_the_problems_service_listing(opensearch: AsyncOpenSearch) -> None:
    index = new_index(opensearch, "fb")
    await index.ensure()
    rng = random.Random(3)
    events = [e for n in range(50) for e in history(n, rng)]
    for env in events:
        await deliver(Indexer(index), env)
    live = {d["_id"]: d for d in await docs(index)}

    class Listing:
        """The problems service's view: the last state and version of every problem it still holds."""

        async def problems(self) -> AsyncIterator[dict[str, Any]]:
            for d in live.values():
                if d["status"] == "deleted":
                    continue
                yield {**d, "version": d["_version"]}

    report = await Rebuilder(index).from_problems_service(Listing())
    rebuilt = await docs(index, report.new_index)
    assert await index.physical() == [report.new_index]
    assert rebuilt == [d for d in live.values() if d["status"] != "deleted"]


def schema_2_index_body() -> dict[str, Any]:
    """The index as schema 2 made it: numbers stay glued to words, no title.compact."""
    body = copy.deepcopy(INDEX_SETTINGS)
    analysis = body["settings"]["analysis"]
    del analysis["char_filter"]
    del analysis["filter"]["numbers_apart"]
    for analyzer in analysis["analyzer"].values():
        analyzer["filter"] = [f for f in analyzer["filter"] if f != "numbers_apart"]
    del analysis["normalizer"]["compact"]
    del body["mappings"]["properties"]["title"]["fields"]["compact"]
    body["mappings"]["_meta"] = {"schema": 2}
    return body


async def first_hit(index: ProblemIndex, q: str) -> str | None:
    hits = (await index.search(make_spec(q, limit=3)))["hits"]["hits"]
    return str(hits[0]["_id"]) if hits else None


async def first_suggestion(index: ProblemIndex, q: str) -> str | None:
    hits = (await index.suggest(make_suggest_spec(q, limit=3)))["hits"]["hits"]
    return str(hits[0]["_id"]) if hits else None


async def test_schema_2_index_keeps_serving_new_code_until_reindex_moves_it_to_schema_3(
    opensearch: AsyncOpenSearch, topic: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 20 changed analysis and sub-fields (schema 3) through the zero-downtime path: the new
    code keeps writing to and searching a schema-2 index, then `reindex` moves the alias."""
    bootstrap, topic_name = topic
    index = new_index(opensearch, "mig")
    await opensearch.indices.create(
        index=index.first_index, body={**schema_2_index_body(), "aliases": {index.alias: {}}}
    )
    with caplog.at_level(logging.WARNING):
        await index.ensure()
    assert "run `reindex`" in caplog.text
    events = [envelope_of(*problem, n) for n, problem in enumerate(CURATED)]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for env in events:
            await producer.send_and_wait(topic_name, env.to_bytes(), key=env.key)
            assert await Indexer(index).apply(env, REGISTRY.decode(env))  # type: ignore[arg-type]
    finally:
        await producer.stop()
    await index.refresh()
    # Schema 2 with the new code: platform-prefixed ids, URLs and suggestions already work.
    assert await first_hit(index, "boj 2178") == "baekjoon/2178"
    assert await first_hit(index, "https://leetcode.com/problems/two-sum/") == "leetcode/1"
    assert await first_suggestion(index, "theat") == "codeforces/1A"
    assert await first_hit(index, "카드 2") == "baekjoon/16194"  # not yet: schema 2 keeps 카드2 one word

    checks = [("boj 2178", "baekjoon/2178"), ("cf 4a", "codeforces/4A"), ("미로 탐색", "baekjoon/2178")]
    failures: list[object] = []
    answered = 0
    rebuilding = True

    async def query_loop() -> None:
        nonlocal answered
        while rebuilding:
            for q, expected in checks:
                try:
                    got = await first_hit(index, q)
                    if got != expected:
                        failures.append((q, got))
                    if await first_suggestion(index, q) != expected:
                        failures.append(("suggest", q))
                    answered += 1
                except Exception as exc:
                    failures.append(exc)
            await asyncio.sleep(0)

    loop_task = asyncio.create_task(query_loop())
    replayer = TopicReplayer(bootstrap, topic_name)
    await replayer.start()
    try:
        report = await Rebuilder(index).from_topic(replayer)
    finally:
        rebuilding = False
        await loop_task
        await replayer.stop()
    assert failures == [] and answered > 0
    assert await index.physical() == [report.new_index] and report.documents == len(CURATED)
    mapping = await opensearch.indices.get_mapping(index=report.new_index)
    assert mapping[report.new_index]["mappings"]["_meta"]["schema"] == SCHEMA_VERSION == 3
    # Schema 3: a number apart from or glued to its Korean word finds the same title.
    assert await first_hit(index, "카드 2") == "baekjoon/2164"
    assert await first_hit(index, "n과 m 1") == "baekjoon/15649"
    assert await first_suggestion(index, "카드 2") == "baekjoon/2164"
