"""The outbox relay keeps publishing across a restart of its (private) Kafka broker, also when its
idempotent producer comes out of the outage desynchronised (the fault suite's relay that failed
every publish with OutOfOrderSequenceNumber until the test timed out).

How aiokafka (0.14) gets there by itself: a batch whose partition has no leader once it is
older than the producer's request timeout (40 s) is failed in
``MessageAccumulator.drain_by_nodes`` through ``_pop_batch``, which takes a sequence number for
it (or it had one from an earlier attempt) although it never reaches the broker; the broker then
refuses every later batch of the partition as out of order. That needs a leaderless window seen
by a metadata refresh at the right moment, too rare for a test: ``desynchronise`` leaves the
producer in the state such a lost batch leaves behind."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from faults.kafka_broker import PrivateKafka
from support.kafka_tools import desynchronise, read_topic
from support.polling import eventually_async

from algoitny_shared.dynamo import dynamodb
from algoitny_shared.events import REGISTRY, EventEnvelope
from algoitny_shared.events.catalog import ProblemCreated
from algoitny_shared.kafka import EventPublisher, ensure_topics, make_broker, producer_recovery
from algoitny_shared.outbox import Outbox, OutboxRelay
from algoitny_shared.settings import ServiceSettings
from algoitny_shared.tables import ensure_tables, outbox_table
from algoitny_shared.topics import PROBLEM_EVENTS
from algoitny_shared.uow import DynamoUnitOfWork

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

RESTART_OUTBOX = outbox_table("outbox-restart-tests")


@pytest.fixture
async def kafka() -> AsyncIterator[PrivateKafka]:
    broker = PrivateKafka()
    try:
        await asyncio.to_thread(broker.start)
        yield broker
    finally:
        await asyncio.to_thread(broker.close)


def _event(n: int) -> EventEnvelope:
    now = datetime.now(UTC)
    payload = ProblemCreated(
        platform="itest", problem_id=f"restart{n}", title="t", status="completed", created_at=now, updated_at=now
    )
    # one aggregate: every event goes to the same partition, in order
    return REGISTRY.envelope(payload, producer="problems", aggregate_id="itest/restart", aggregate_version=n)


async def test_the_relay_keeps_publishing_across_a_broker_restart(
    provisioned: dict[str, Any], kafka: PrivateKafka
) -> None:
    settings = ServiceSettings(
        service_name="problems", kafka_bootstrap_servers=kafka.bootstrap, outbox_poll_interval_s=0.2
    )
    client = dynamodb(settings)
    ensure_tables(client, settings.namespace, [RESTART_OUTBOX])
    await ensure_topics(settings, [PROBLEM_EVENTS])
    topic = PROBLEM_EVENTS.physical(settings.namespace)
    outbox = Outbox(client, RESTART_OUTBOX, settings.namespace)
    broker = make_broker(settings)
    relay = OutboxRelay(client, outbox, EventPublisher(broker, settings), "problems", 0.2)

    async def commit(n: int) -> str:
        uow = DynamoUnitOfWork(client, outbox)
        event = _event(n)
        uow.publish(event)
        await uow.commit()
        outbox.notify()
        return str(event.event_id)

    def sent(event_id: str) -> bool:  # the relay deletes what it has published
        item = client.get_item(TableName=outbox.table, Key={"event_id": {"S": event_id}}, ConsistentRead=True)
        return "Item" not in item

    await broker.start()
    task = asyncio.create_task(relay.run())
    try:
        first = await commit(1)
        await eventually_async(lambda: sent(first), timeout_s=30)

        await asyncio.to_thread(kafka.stop)
        during = await commit(2)  # the relay keeps trying while the broker is away
        broken = producer_recovery(broker).current()
        desynchronise(broken, topic)
        await asyncio.to_thread(kafka.start)
        after = await commit(3)

        await eventually_async(lambda: sent(during) and sent(after), timeout_s=90)
        assert producer_recovery(broker).current() is not broken
        assert producer_recovery(broker).replacements == 1
    finally:
        relay.stop()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, 10)
        await broker.stop()

    records = await read_topic(kafka.bootstrap, topic, expect=3)
    ids = [EventEnvelope.from_bytes(r.value).payload["problem_id"] for r in records]
    assert ids == ["restart1", "restart2", "restart3"]
