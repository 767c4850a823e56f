"""At-least-once consumption on the real broker: poison events go to the dead-letter topic
with their error, the consumer carries on, offsets are committed only after processing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from support.kafka_tools import produce, read_topic
from support.polling import eventually_async

from algoitny_shared.events import REGISTRY, EventEnvelope
from algoitny_shared.events.catalog import ProblemCreated
from algoitny_shared.kafka import EventConsumer, EventPublisher, ensure_topics, make_broker
from algoitny_shared.settings import ServiceSettings
from algoitny_shared.topics import TopicSpec, dead_letter_topic

pytestmark = pytest.mark.integration


def _event(problem_id: str, title: str = "ok") -> EventEnvelope:
    now = datetime.now(UTC)
    payload = ProblemCreated(
        platform="itest", problem_id=problem_id, title=title, status="completed", created_at=now, updated_at=now
    )
    return REGISTRY.envelope(payload, producer="problems", aggregate_id=f"itest/{problem_id}", aggregate_version=1)


@pytest.fixture
async def topic_and_group(provisioned: dict[str, Any]) -> tuple[ServiceSettings, TopicSpec, str]:
    settings = ServiceSettings(service_name="itest", consumer_max_attempts=2, consumer_retry_backoff_s=0.05)
    suffix = uuid.uuid4().hex[:6]
    topic = TopicSpec(f"itest-{suffix}.events", "test topic")
    group = f"itest-{suffix}"
    await ensure_topics(settings, [topic, dead_letter_topic(group)])
    return settings, topic, group


async def test_poison_events_are_dead_lettered_and_the_consumer_goes_on(
    topic_and_group: tuple[ServiceSettings, TopicSpec, str],
) -> None:
    settings, topic, group = topic_and_group
    handled: list[str] = []

    async def handler(envelope: EventEnvelope, payload: ProblemCreated) -> None:
        if payload.title == "poison":
            raise RuntimeError("this event always fails")
        handled.append(payload.problem_id)

    broker = make_broker(settings)
    EventConsumer(
        broker=broker, settings=settings, group=group, topics=[topic], handlers={"problems.ProblemCreated": handler}
    ).register()
    physical = topic.physical(settings.namespace)
    # All on one key, hence one partition: the good event is behind both poison ones.
    await produce(settings.kafka_bootstrap_servers, physical, b"{not json", key=b"itest/same")
    poison = _event("same", title="poison")
    await produce(settings.kafka_bootstrap_servers, physical, poison.to_bytes(), key=b"itest/same")
    good = _event("same", title="fine")
    await produce(settings.kafka_bootstrap_servers, physical, good.to_bytes(), key=b"itest/same")

    await broker.start()
    try:
        await eventually_async(lambda: handled == ["same"], timeout_s=30)
    finally:
        await broker.stop()

    dead = await read_topic(
        settings.kafka_bootstrap_servers, dead_letter_topic(group).physical(settings.namespace), expect=2
    )
    assert len(dead) == 2
    by_reason = {dict(r.headers)["x-dlq-reason"].decode(): r for r in dead}
    assert set(by_reason) == {"undecodable", "handler_failed"}
    assert by_reason["undecodable"].value == b"{not json"
    failed = by_reason["handler_failed"]
    assert EventEnvelope.from_bytes(failed.value) == poison
    assert b"this event always fails" in dict(failed.headers)["x-dlq-error"]
    assert dict(failed.headers)["x-dlq-attempts"] == b"2"
    assert failed.key == b"itest/same"

    # Offsets were committed after processing: all three are behind the group.
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(f"{settings.namespace}.{group}")
    finally:
        await admin.close()
    assert sum(meta.offset for tp, meta in offsets.items() if tp.topic == physical) == 3


async def test_an_event_whose_dead_letter_cannot_be_written_is_not_lost(
    topic_and_group: tuple[ServiceSettings, TopicSpec, str],
) -> None:
    """If even the dead-letter publish fails, the offset is not committed: redelivery follows."""
    settings, topic, _ = topic_and_group
    group_without_dlq = f"nodlq-{uuid.uuid4().hex[:6]}"  # its dead-letter topic does not exist
    attempts: list[int] = []

    async def handler(envelope: EventEnvelope, payload: ProblemCreated) -> None:
        attempts.append(1)
        raise RuntimeError("fails")

    broker = make_broker(settings)
    consumer = EventConsumer(
        broker=broker,
        settings=settings,
        group=group_without_dlq,
        topics=[topic],
        handlers={"problems.ProblemCreated": handler},
    )
    consumer.register()
    await produce(
        settings.kafka_bootstrap_servers, topic.physical(settings.namespace), _event("x").to_bytes(), key=b"k"
    )
    await broker.start()
    try:
        # Two attempts per delivery; more than two means the message came back.
        await eventually_async(lambda: len(attempts) >= 4, timeout_s=60)
        await ensure_topics(settings, [dead_letter_topic(group_without_dlq)])
        dlq = dead_letter_topic(group_without_dlq).physical(settings.namespace)
        records = await read_topic(settings.kafka_bootstrap_servers, dlq, expect=1, timeout_s=60)
    finally:
        await broker.stop()
    assert records and dict(records[0].headers)["x-dlq-reason"] == b"handler_failed"


async def test_publisher_uses_idempotent_acks_all_producer(
    topic_and_group: tuple[ServiceSettings, TopicSpec, str],
) -> None:
    settings, topic, _ = topic_and_group
    broker = make_broker(settings)
    await broker.start()
    try:
        await EventPublisher(broker, settings).publish(_event("p"), topic.physical(settings.namespace))
        producer = broker.config.producer._producer.producer  # type: ignore[attr-defined]
        assert producer._txn_manager is not None, "idempotence enabled"
        assert producer._sender._acks == -1, "acks=all"
    finally:
        await broker.stop()
    records = await read_topic(settings.kafka_bootstrap_servers, topic.physical(settings.namespace), expect=1)
    assert records[-1].key == b"itest/p"
