"""A desynchronised idempotent producer on the real broker: plain publishing through it stays
refused (OutOfOrderSequenceNumber, the fault suite's stuck relay), EventPublisher replaces it and
publishes, and the broker's consumer keeps consuming throughout."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka.errors import OutOfOrderSequenceNumber
from support.kafka_tools import desynchronise, read_topic
from support.polling import eventually_async

from algoitny_shared.events import REGISTRY, EventEnvelope
from algoitny_shared.events.catalog import ProblemCreated
from algoitny_shared.kafka import EventConsumer, EventPublisher, ensure_topics, make_broker, producer_recovery
from algoitny_shared.settings import ServiceSettings
from algoitny_shared.topics import TopicSpec

pytestmark = pytest.mark.integration


def _event(problem_id: str) -> EventEnvelope:
    now = datetime.now(UTC)
    payload = ProblemCreated(
        platform="itest", problem_id=problem_id, title="t", status="completed", created_at=now, updated_at=now
    )
    # one aggregate: every event goes to the same partition
    return REGISTRY.envelope(payload, producer="problems", aggregate_id="itest/recovery", aggregate_version=1)


async def test_a_desynchronised_producer_is_replaced_and_the_consumer_goes_on(provisioned: dict[str, Any]) -> None:
    settings = ServiceSettings(service_name="itest")
    suffix = uuid.uuid4().hex[:6]
    spec = TopicSpec(f"itest-{suffix}.events", "test topic")
    topic = spec.physical(settings.namespace)
    await ensure_topics(settings, [spec])
    consumed: list[str] = []

    async def handler(envelope: EventEnvelope, payload: ProblemCreated) -> None:
        consumed.append(payload.problem_id)

    broker = make_broker(settings)
    EventConsumer(
        broker=broker,
        settings=settings,
        group=f"itest-{suffix}",
        topics=[spec],
        handlers={"problems.ProblemCreated": handler},
    ).register()
    publisher = EventPublisher(broker, settings)
    await broker.start()
    try:
        await publisher.publish(_event("first"), topic)
        broken = producer_recovery(broker).current()
        desynchronise(broken, topic)
        stuck = _event("stuck")
        for _ in range(2):  # refused, and refused again: no way back on this producer
            with pytest.raises(OutOfOrderSequenceNumber):
                await broker.publish(stuck.to_bytes(), topic=topic, key=stuck.key)

        await publisher.publish(_event("second"), topic)
        assert producer_recovery(broker).current() is not broken
        assert producer_recovery(broker).replacements == 1
        await publisher.publish(_event("third"), topic)
        await eventually_async(lambda: consumed == ["first", "second", "third"], timeout_s=30)
    finally:
        await broker.stop()

    records = await read_topic(settings.kafka_bootstrap_servers, topic, expect=3)
    assert [EventEnvelope.from_bytes(r.value).payload["problem_id"] for r in records] == ["first", "second", "third"]
