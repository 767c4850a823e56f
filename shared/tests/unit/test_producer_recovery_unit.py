"""ProducerRecovery with fake aiokafka producers behind a real (unconnected) FastStream broker:
a producer that can never publish again is replaced, once, and the publish goes through."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaError,
    OutOfOrderSequenceNumber,
    ProducerFenced,
    UnknownProducerId,
)

from algoitny_shared import kafka
from algoitny_shared.events import REGISTRY, EventEnvelope
from algoitny_shared.events.catalog import ProblemCreated
from algoitny_shared.kafka import EventPublisher, ProducerRecovery, make_broker, producer_recovery
from algoitny_shared.settings import ServiceSettings


class FakeSender:
    def __init__(self) -> None:
        self.sender_task: asyncio.Future[None] = asyncio.get_running_loop().create_future()


class FakeProducer:
    """Answers each send with the next of ``failures`` (an exception), then successes."""

    built: list[FakeProducer] = []

    def __init__(self, failures: list[BaseException] | None = None, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.failures = list(failures or [])
        self.sent: list[dict[str, Any]] = []
        self.started = self.stopped = False
        self.start_error: BaseException | None = None
        self._sender = FakeSender()

    async def start(self) -> None:
        if self.start_error is not None:
            raise self.start_error
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    async def send(self, **record: Any) -> asyncio.Future[Any]:
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self.failures:
            done.set_exception(self.failures.pop(0))
        else:
            self.sent.append(record)
            done.set_result(None)
        return done


@pytest.fixture
def settings() -> ServiceSettings:
    return ServiceSettings(service_name="problems")


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> list[FakeProducer]:
    """The producers ProducerRecovery builds in place of a broken one."""
    built: list[FakeProducer] = []

    def build(**kwargs: Any) -> FakeProducer:
        built.append(FakeProducer(**kwargs))
        return built[-1]

    monkeypatch.setattr(kafka, "AIOKafkaProducer", build)
    return built


async def _broker_with(settings: ServiceSettings, producer: FakeProducer) -> Any:
    broker = make_broker(settings)
    await broker.config.producer.connect(producer, serializer=None)  # type: ignore[attr-defined]
    return broker


def _event() -> EventEnvelope:
    now = datetime.now(UTC)
    payload = ProblemCreated(
        platform="baekjoon", problem_id="1000", title="A+B", status="completed", created_at=now, updated_at=now
    )
    return REGISTRY.envelope(payload, producer="problems", aggregate_id="baekjoon/1000", aggregate_version=1)


@pytest.mark.parametrize("fatal", [OutOfOrderSequenceNumber(), UnknownProducerId(), ProducerFenced()])
async def test_a_fatal_producer_error_replaces_the_producer_and_the_publish_goes_through(
    settings: ServiceSettings, fresh: list[FakeProducer], fatal: BaseException
) -> None:
    # the stuck producer of the fault suite: every send refused, forever
    broken = FakeProducer([fatal] * 1000)
    broker = await _broker_with(settings, broken)
    await EventPublisher(broker, settings).publish(_event(), "ns.problems.events")

    [new] = fresh
    assert broken.stopped and new.started
    assert new.kwargs["enable_idempotence"] is True and new.kwargs["acks"] == "all"
    assert [r["topic"] for r in new.sent] == ["ns.problems.events"] and new.sent[0]["key"] == b"baekjoon/1000"
    assert producer_recovery(broker).current() is new and producer_recovery(broker).replacements == 1


async def test_a_producer_whose_sender_task_died_is_replaced(
    settings: ServiceSettings, fresh: list[FakeProducer]
) -> None:
    broken = FakeProducer([KafkaError("Unexpected error during batch delivery")] * 1000)
    broken._sender.sender_task.set_result(None)
    broker = await _broker_with(settings, broken)
    await EventPublisher(broker, settings).publish(_event(), "ns.problems.events")
    assert len(fresh) == 1 and len(fresh[0].sent) == 1


async def test_a_transient_error_keeps_the_producer(settings: ServiceSettings, fresh: list[FakeProducer]) -> None:
    producer = FakeProducer([KafkaConnectionError()])
    broker = await _broker_with(settings, producer)
    publisher = EventPublisher(broker, settings)
    with pytest.raises(KafkaConnectionError):
        await publisher.publish(_event(), "ns.problems.events")
    await publisher.publish(_event(), "ns.problems.events")  # the relay's next pass
    assert fresh == [] and not producer.stopped and len(producer.sent) == 1


async def test_concurrent_failures_replace_the_producer_once_and_a_failed_start_is_retried(
    settings: ServiceSettings, fresh: list[FakeProducer], monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = FakeProducer([OutOfOrderSequenceNumber()] * 1000)
    broker = await _broker_with(settings, broken)
    publisher = EventPublisher(broker, settings)
    await asyncio.gather(*(publisher.publish(_event(), "ns.problems.events") for _ in range(5)))
    assert len(fresh) == 1 and len(fresh[0].sent) == 5

    # The cluster is away when the second replacement is due: the error surfaces, the broken
    # producer stays, and the next publish (the relay's next pass) replaces it.
    fresh[0].failures = [OutOfOrderSequenceNumber()] * 1000
    real_build = kafka.AIOKafkaProducer

    def unreachable(**kwargs: Any) -> FakeProducer:
        producer = real_build(**kwargs)
        producer.start_error = KafkaConnectionError("Unable to bootstrap from cluster")
        return producer

    monkeypatch.setattr(kafka, "AIOKafkaProducer", unreachable)
    with pytest.raises(KafkaConnectionError):
        await publisher.publish(_event(), "ns.problems.events")
    assert producer_recovery(broker).current() is fresh[0] and fresh[1].stopped
    monkeypatch.setattr(kafka, "AIOKafkaProducer", real_build)
    await publisher.publish(_event(), "ns.problems.events")
    assert producer_recovery(broker).current() is fresh[2] and fresh[0].stopped and len(fresh[2].sent) == 1


async def test_a_broken_producer_stuck_flushing_does_not_hold_up_publishing(
    settings: ServiceSettings, fresh: list[FakeProducer]
) -> None:
    release = asyncio.Event()

    class StuckFlush(FakeProducer):
        async def stop(self) -> None:  # a batch of a leaderless partition, retried until it has a leader
            await release.wait()
            self.stopped = True

    broken = StuckFlush([OutOfOrderSequenceNumber()] * 1000)
    broker = await _broker_with(settings, broken)
    recovery = ProducerRecovery(broker, stop_timeout_s=0.05)
    await recovery.publish(b"x", topic="ns.problems.events", key=b"k", headers={})
    assert len(fresh[0].sent) == 1 and not broken.stopped
    release.set()
    await asyncio.wait_for(asyncio.gather(*recovery._closing), 1)
    assert broken.stopped and not recovery._closing
