"""The transactional outbox against moto (DynamoDB) and the relay against real Kafka."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from support.kafka_tools import read_topic

from algoitny_problems.adapters.tables import PROBLEMS
from algoitny_shared.dynamo import dynamodb, to_item
from algoitny_shared.events import REGISTRY, EventEnvelope
from algoitny_shared.events.catalog import ProblemCreated
from algoitny_shared.kafka import EventPublisher, make_broker
from algoitny_shared.outbox import SHARDS, Outbox, OutboxRelay
from algoitny_shared.settings import ServiceSettings
from algoitny_shared.tables import all_tables, ensure_tables, outbox_table
from algoitny_shared.topics import PROBLEM_EVENTS
from algoitny_shared.uow import DynamoUnitOfWork, TransactionConflict

pytestmark = pytest.mark.integration


def _event(problem_id: str, version: int = 1) -> EventEnvelope:
    now = datetime.now(UTC)
    payload = ProblemCreated(
        platform="itest",
        problem_id=problem_id,
        title=f"T {problem_id}",
        status="completed",
        created_at=now,
        updated_at=now,
    )
    return REGISTRY.envelope(
        payload, producer="problems", aggregate_id=f"itest/{problem_id}", aggregate_version=version
    )


def _problem_put(settings: ServiceSettings, problem_id: str) -> dict[str, Any]:
    return {
        "Put": {
            "TableName": PROBLEMS.physical(settings.namespace),
            "Item": to_item(
                {
                    "platform": "itest",
                    "problem_id": problem_id,
                    "title": "T",
                    "status": "completed",
                    "created_at": "2026-01-01T00:00:00",
                }
            ),
            "ConditionExpression": "attribute_not_exists(platform)",
        }
    }


# An outbox of the tests' own: the e2e services running in the same namespace have relays
# of their own that would otherwise publish these events first.
TEST_OUTBOX = outbox_table("outbox-tests")


@pytest.fixture
def settings(provisioned: dict[str, Any]) -> ServiceSettings:
    settings = ServiceSettings(service_name="problems", outbox_poll_interval_s=0.2)
    ensure_tables(dynamodb(settings), settings.namespace, [TEST_OUTBOX])
    return settings


def test_table_creation_is_idempotent(settings: ServiceSettings) -> None:
    assert ensure_tables(dynamodb(settings), settings.namespace, all_tables()) == []


async def test_state_and_event_commit_together_and_the_relay_publishes_them(settings: ServiceSettings) -> None:
    client = dynamodb(settings)
    outbox = Outbox(client, TEST_OUTBOX, settings.namespace)
    uow = DynamoUnitOfWork(client, outbox)
    event = _event("r1")
    uow.add(_problem_put(settings, "r1"))
    uow.publish(event)
    await uow.commit()

    broker = make_broker(settings)
    relay = OutboxRelay(client, outbox, EventPublisher(broker, settings), "problems", 0.2)
    pending = [p for p in await relay.pending() if p["event_id"] == str(event.event_id)]
    key = {"event_id": {"S": str(event.event_id)}}
    if not pending:
        # When the e2e platform runs in the same session and namespace, its problems relay may
        # have published the event already: then its item must be gone, as checked below.
        assert "Item" not in client.get_item(TableName=outbox.table, Key=key, ConsistentRead=True)
    await broker.start()
    try:
        drained = await relay.drain_once()
        # Either this relay sent it, or the platform's relay held the lease and sends it (quickly).
        deadline = time.monotonic() + 10
        while drained < len(pending) and time.monotonic() < deadline:
            if "Item" not in client.get_item(TableName=outbox.table, Key=key, ConsistentRead=True):
                break
            await asyncio.sleep(0.2)
            drained += await relay.drain_once()
    finally:
        await broker.stop()
    # Published: the item is deleted (Kafka is the record), so the table keeps only pending events.
    assert "Item" not in client.get_item(TableName=outbox.table, Key=key, ConsistentRead=True)
    assert all(p["event_id"] != str(event.event_id) for p in await relay.pending())

    def is_mine(record: Any) -> bool:  # other tests share the topic, some with undecodable records
        try:
            return EventEnvelope.from_bytes(record.value).event_id == event.event_id
        except ValueError:
            return False

    mine = await read_topic(
        settings.kafka_bootstrap_servers, PROBLEM_EVENTS.physical(settings.namespace), expect=1, match=is_mine
    )
    assert len(mine) == 1
    assert mine[0].key == b"itest/r1"
    assert dict(mine[0].headers)["event-type"] == b"problems.ProblemCreated"


async def test_a_failed_condition_writes_neither_state_nor_event(settings: ServiceSettings) -> None:
    client = dynamodb(settings)
    outbox = Outbox(client, TEST_OUTBOX, settings.namespace)
    first = DynamoUnitOfWork(client, outbox)
    first.add(_problem_put(settings, "dup"))
    first.publish(_event("dup"))
    await first.commit()

    second = DynamoUnitOfWork(client, outbox)
    second.add(_problem_put(settings, "dup"))
    lost = _event("dup")
    second.publish(lost)
    with pytest.raises(TransactionConflict) as err:
        await second.commit()
    assert err.value.reasons[0] == "ConditionalCheckFailed"
    assert "Item" not in client.get_item(TableName=outbox.table, Key={"event_id": {"S": str(lost.event_id)}})


async def test_transactions_over_100_items_are_refused_before_dynamodb(settings: ServiceSettings) -> None:
    client = dynamodb(settings)
    uow = DynamoUnitOfWork(client, Outbox(client, TEST_OUTBOX, settings.namespace))
    for i in range(101):
        uow.add(_problem_put(settings, f"big{i}"))
    with pytest.raises(ValueError):
        await uow.commit()
    assert "Item" not in client.get_item(
        TableName=PROBLEMS.physical(settings.namespace), Key={"platform": {"S": "itest"}, "problem_id": {"S": "big0"}}
    )


async def test_relays_split_the_shards_never_own_one_together_and_hand_them_over_on_stop(
    settings: ServiceSettings,
) -> None:
    spec = outbox_table(f"lease-{uuid.uuid4().hex[:6]}")  # a table of its own: no other relay
    client = dynamodb(settings)
    ensure_tables(client, settings.namespace, [spec])
    outbox = Outbox(client, spec, settings.namespace)
    a = OutboxRelay(client, outbox, None, "problems", 1)  # type: ignore[arg-type]
    b = OutboxRelay(client, outbox, None, "problems", 1)  # type: ignore[arg-type]
    everything = {str(n) for n in range(SHARDS)}
    assert await a.balance() == everything  # alone: every shard
    assert await b.balance() == set()  # a holds them all for now
    assert len(await a.balance()) == SHARDS // 2  # two live relays: a gives half back
    owned_b = await b.balance()
    assert owned_b == everything - a.owned.keys() and len(owned_b) == SHARDS // 2
    await a.release_all()  # a stops: its shards and its heartbeat go at once
    assert await b.balance() == everything
    assert await a.balance() == set()  # back again: b's leases hold until b gives half back
    await a.release_all()  # and gone: below, b publishes alone however slow the writes are

    # One aggregate's events land in one shard, published in the order they were written.
    publisher = Recorder()
    b._publisher = publisher
    for version in range(1, 6):
        uow = DynamoUnitOfWork(client, outbox)
        uow.publish(_event("ordered", version=version))
        uow.publish(_event(f"other{version}"))
        await uow.commit()
    assert await b.drain_once() == 10
    mine = [e.aggregate_version for e in publisher.sent if e.aggregate_id == "itest/ordered"]
    assert mine == [1, 2, 3, 4, 5]
    assert await b.pending() == []

    # The publisher fails mid-page: what was published is deleted, the rest stays pending and is
    # published at the next pass (at least once, in order); then the table holds only the leases.
    b._publisher = Failing(publisher, after=2)
    uow = DynamoUnitOfWork(client, outbox)
    for version in range(1, 5):
        uow.publish(_event("broken", version=version))
    await uow.commit()
    with pytest.raises(RuntimeError):
        await b.drain_once()
    assert [EventEnvelope.model_validate_json(p["envelope"]).aggregate_version for p in await b.pending()] == [3, 4]
    b._publisher = publisher
    assert await b.drain_once() == 2
    mine = [e.aggregate_version for e in publisher.sent if e.aggregate_id == "itest/broken"]
    assert mine == [1, 2, 3, 4]
    assert [i["event_id"]["S"] for i in client.scan(TableName=outbox.table)["Items"]] == ["leases"]


class Failing:
    """Publishes through ``inner`` ``after`` times, then fails."""

    def __init__(self, inner: Recorder, after: int) -> None:
        self._inner, self._left = inner, after

    async def publish(self, envelope: EventEnvelope, topic: str) -> None:
        if self._left == 0:
            raise RuntimeError("broker away")
        self._left -= 1
        await self._inner.publish(envelope, topic)


class Recorder:
    def __init__(self) -> None:
        self.sent: list[EventEnvelope] = []

    async def publish(self, envelope: EventEnvelope, topic: str) -> None:
        self.sent.append(envelope)
