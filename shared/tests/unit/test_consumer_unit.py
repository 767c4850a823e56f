"""EventConsumer's decisions with a fake broker: dead letters, retries, duplicates, skips."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from algoitny_shared.events import REGISTRY, EventEnvelope
from algoitny_shared.events.catalog import ProblemCreated
from algoitny_shared.kafka import EventConsumer
from algoitny_shared.settings import ServiceSettings
from algoitny_shared.topics import PROBLEM_EVENTS


@dataclass
class FakeRecord:
    topic: str = "ns.problems.events"
    partition: int = 1
    offset: int = 42
    key: bytes | None = b"baekjoon/1000"


@dataclass
class FakeMessage:
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    raw_message: FakeRecord = field(default_factory=FakeRecord)


class FakeBroker:
    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    async def publish(self, message: bytes, topic: str, key: Any = None, headers: Any = None) -> None:
        self.published.append({"message": message, "topic": topic, "key": key, "headers": headers})


def _event() -> EventEnvelope:
    now = datetime.now(UTC)
    payload = ProblemCreated(
        platform="baekjoon", problem_id="1000", title="A+B", status="completed", created_at=now, updated_at=now
    )
    return REGISTRY.envelope(payload, producer="problems", aggregate_id="baekjoon/1000", aggregate_version=1)


def _consumer(handlers: dict[str, Any]) -> tuple[EventConsumer, FakeBroker]:
    broker = FakeBroker()
    settings = ServiceSettings(namespace="ns", consumer_max_attempts=3, consumer_retry_backoff_s=0)
    consumer = EventConsumer(
        broker=broker,  # type: ignore[arg-type]
        settings=settings,
        group="search-indexer",
        topics=[PROBLEM_EVENTS],
        handlers=handlers,
    )
    return consumer, broker


async def test_undecodable_message_is_dead_lettered_verbatim() -> None:
    consumer, broker = _consumer({})
    outcome = await consumer.process(FakeMessage(b"\x00garbage"))
    assert outcome == "dead_lettered"
    [dead] = broker.published
    assert dead["topic"] == "ns.search-indexer.dlq"
    assert dead["message"] == b"\x00garbage"
    assert dead["key"] == b"baekjoon/1000"
    assert dead["headers"]["x-dlq-reason"] == "undecodable"
    assert dead["headers"]["x-dlq-offset"] == "42"
    assert dead["headers"]["x-dlq-source-topic"] == "ns.problems.events"


async def test_failing_handler_is_retried_then_dead_lettered() -> None:
    calls = 0

    async def always_fails(envelope: EventEnvelope, payload: Any) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("index rejected the document")

    consumer, broker = _consumer({"problems.ProblemCreated": always_fails})
    event = _event()
    assert await consumer.process(FakeMessage(event.to_bytes())) == "dead_lettered"
    assert calls == 3
    [dead] = broker.published
    assert dead["headers"]["x-dlq-reason"] == "handler_failed"
    assert "index rejected the document" in dead["headers"]["x-dlq-error"]
    assert dead["headers"]["x-dlq-attempts"] == "3"
    assert EventEnvelope.from_bytes(dead["message"]) == event


async def test_transient_failure_recovers_without_dead_letter() -> None:
    attempts = 0

    async def flaky(envelope: EventEnvelope, payload: Any) -> None:
        nonlocal attempts
        attempts += 1
        if attempts < 2:
            raise ConnectionError("blip")

    consumer, broker = _consumer({"problems.ProblemCreated": flaky})
    assert await consumer.process(FakeMessage(_event().to_bytes())) == "processed"
    assert broker.published == []


async def test_a_handler_that_changed_nothing_is_counted_as_a_duplicate() -> None:
    async def already_applied(envelope: EventEnvelope, payload: Any) -> bool:
        return False

    async def applied(envelope: EventEnvelope, payload: Any) -> bool:
        return True

    stale, _ = _consumer({"problems.ProblemCreated": already_applied})
    assert await stale.process(FakeMessage(_event().to_bytes())) == "duplicate"
    fresh, broker = _consumer({"problems.ProblemCreated": applied})
    assert await fresh.process(FakeMessage(_event().to_bytes())) == "processed"
    assert broker.published == []


async def test_unhandled_known_type_is_skipped_and_unknown_type_dead_lettered() -> None:
    consumer, broker = _consumer({})
    assert await consumer.process(FakeMessage(_event().to_bytes())) == "skipped"
    unknown = _event().model_copy(update={"event_type": "problems.FromTheFuture"})
    assert await consumer.process(FakeMessage(unknown.to_bytes())) == "dead_lettered"
    assert broker.published[0]["headers"]["x-dlq-reason"] == "unknown_event_type"


async def test_invalid_payload_is_dead_lettered() -> None:
    consumer, broker = _consumer({"problems.ProblemCreated": lambda e, p: None})
    bad = _event().model_copy(update={"payload": {"platform": "x"}})
    assert await consumer.process(FakeMessage(bad.to_bytes())) == "dead_lettered"
    assert broker.published[0]["headers"]["x-dlq-reason"] == "invalid_payload"


@pytest.mark.parametrize("attempts", [1, 2])
async def test_attempt_budget_is_respected(attempts: int) -> None:
    calls = 0

    async def fails(envelope: EventEnvelope, payload: Any) -> None:
        nonlocal calls
        calls += 1
        raise ValueError("no")

    broker = FakeBroker()
    consumer = EventConsumer(
        broker=broker,  # type: ignore[arg-type]
        settings=ServiceSettings(namespace="ns", consumer_max_attempts=attempts, consumer_retry_backoff_s=0),
        group="g",
        topics=[PROBLEM_EVENTS],
        handlers={"problems.ProblemCreated": fails},
    )
    await consumer.process(FakeMessage(_event().to_bytes()))
    assert calls == attempts


async def test_dependency_outage_is_redelivered_not_dead_lettered() -> None:
    from algoitny_shared.kafka import DependencyUnavailable

    async def outage(envelope: EventEnvelope, payload: Any) -> None:
        raise ConnectionError("search engine unreachable")

    consumer, broker = _consumer({"problems.ProblemCreated": outage})
    with pytest.raises(DependencyUnavailable):
        await consumer.process(FakeMessage(_event().to_bytes()))
    assert broker.published == []  # nothing dead-lettered: the message will come back
