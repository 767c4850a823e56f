"""Kafka on FastStream/aiokafka: an idempotent producer (replaced when it breaks), at-least-once
consumers with bounded retries and a dead-letter topic, and idempotent topic creation."""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    InvalidProducerEpoch,
    OutOfOrderSequenceNumber,
    ProducerFenced,
    TopicAlreadyExistsError,
    UnknownProducerId,
)
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.publisher.producer import AioKafkaFastProducerImpl
from pydantic import ValidationError

from algoitny_shared import tracing
from algoitny_shared.events import REGISTRY, EventEnvelope, UnknownEventType
from algoitny_shared.logging import event_id_var, trace_id_var
from algoitny_shared.metrics import EVENT_HANDLER_RETRIES, EVENT_LAG_SECONDS, EVENTS_CONSUMED, EVENTS_PUBLISHED
from algoitny_shared.settings import ServiceSettings
from algoitny_shared.topics import TopicSpec, dead_letter_topic

log = logging.getLogger(__name__)

# A handler may return False to say the event changed nothing (already applied, or stale): it is
# counted as outcome "duplicate" instead of "processed".
EventHandler = Callable[[EventEnvelope, Any], Awaitable[bool | None]]

# Every header _dead_letter adds to a dead-lettered message (documented in docs/asyncapi.yaml).
DLQ_HEADERS = (
    "x-dlq-reason",
    "x-dlq-error",
    "x-dlq-consumer",
    "x-dlq-attempts",
    "x-dlq-failed-at",
    "x-dlq-source-topic",
    "x-dlq-partition",
    "x-dlq-offset",
)


def make_broker(settings: ServiceSettings) -> KafkaBroker:
    """A broker whose producer waits for all in-sync replicas and never duplicates on retry."""
    tracing.configure_tracing(settings)
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id=f"{settings.namespace}.{settings.service_name}",
        acks="all",
        enable_idempotence=True,
        allow_auto_create_topics=False,
        graceful_timeout=15.0,
        logger=logging.getLogger(f"faststream.{settings.service_name}"),
        log_level=logging.DEBUG,
    )


# Errors after which an idempotent aiokafka producer (0.14) never publishes again. It gives a
# batch its sequence number when the batch is first drained and never rewinds it, asks for a new
# producer id or bumps its epoch (the Java client does, KIP-360). So once a batch holding a
# sequence number is lost (refused by the broker, or failed locally: a batch of a leaderless
# partition older than request_timeout_ms is failed in MessageAccumulator.drain_by_nodes, which
# happens around a broker restart), the broker refuses every later batch of that partition as
# out of order. Only a new producer (new id, sequences from 0) publishes again.
FATAL_PRODUCER_ERRORS: tuple[type[BaseException], ...] = (
    OutOfOrderSequenceNumber,
    UnknownProducerId,
    InvalidProducerEpoch,
    ProducerFenced,
)


def producer_is_broken(producer: Any, exc: BaseException) -> bool:
    """Whether ``exc`` from a publish means ``producer`` will never publish again: a fatal
    error, or its sender task is gone (after which every send re-raises the task's error)."""
    if isinstance(exc, FATAL_PRODUCER_ERRORS):
        return True
    task = getattr(getattr(producer, "_sender", None), "sender_task", None)
    return task is not None and task.done()


class ProducerRecovery:
    """Publishing through a broker's producer that replaces the producer when it is broken
    (``producer_is_broken``), then publishes once more. Only the producer is replaced: the
    broker's consumers keep running. One per broker (``producer_recovery``), shared by the
    outbox relay's publisher and the dead-letter publishes of its consumers."""

    def __init__(self, broker: KafkaBroker, stop_timeout_s: float = 10.0) -> None:
        self._broker = broker
        self._stop_timeout_s = stop_timeout_s
        self._lock = asyncio.Lock()
        self.replacements = 0
        self._closing: set[asyncio.Future[None]] = set()

    def current(self) -> AIOKafkaProducer | None:
        """The aiokafka producer the broker publishes through (None before it is connected)."""
        state = getattr(getattr(getattr(self._broker, "config", None), "producer", None), "_producer", None)
        return state.producer if state else None

    async def publish(self, body: bytes, *, topic: str, key: bytes | None, headers: dict[str, str]) -> None:
        producer = self.current()
        try:
            await self._broker.publish(body, topic=topic, key=key, headers=headers)
            return
        except Exception as exc:
            if producer is None or not producer_is_broken(producer, exc):
                raise
            log.warning("Kafka producer unusable after %s: %s; replacing it", type(exc).__name__, exc)
            await self.replace(producer)
        await self._broker.publish(body, topic=topic, key=key, headers=headers)

    async def replace(self, broken: AIOKafkaProducer) -> None:
        """Connect a new producer with the broker's settings in place of ``broken`` (unless a
        concurrent publish did already), then close ``broken``. Raises if the new one cannot
        start (the cluster is away): the broken one stays and the next failure tries again."""
        async with self._lock:
            fast = self._broker.config.producer
            current = self.current()
            if current is None or current is not broken or not isinstance(fast, AioKafkaFastProducerImpl):
                return
            fresh: AIOKafkaProducer = AIOKafkaProducer(**self._broker._connection_kwargs)
            try:
                await fast.connect(fresh, serializer=fast.serializer, codec=fast.codec)
            except BaseException:
                await fresh.stop()
                raise
            self.replacements += 1
        # stop() first flushes its pending batches (those of other partitions may still be
        # delivered); a flush stuck on a leaderless partition goes on in the background rather
        # than being cancelled half-way, which would leave its sender task running.
        closing = asyncio.ensure_future(current.stop())
        self._closing.add(closing)
        closing.add_done_callback(self._closed)
        done, _ = await asyncio.wait({closing}, timeout=self._stop_timeout_s)
        if not done:
            log.warning("the replaced Kafka producer is still flushing; closing it in the background")

    def _closed(self, closing: asyncio.Future[None]) -> None:
        self._closing.discard(closing)
        if not closing.cancelled() and closing.exception() is not None:
            log.warning("closing the replaced Kafka producer failed: %s", closing.exception())


_RECOVERIES: weakref.WeakKeyDictionary[KafkaBroker, ProducerRecovery] = weakref.WeakKeyDictionary()


def producer_recovery(broker: KafkaBroker) -> ProducerRecovery:
    """The broker's one ProducerRecovery (so that one failure replaces the producer once)."""
    recovery = _RECOVERIES.get(broker)
    if recovery is None:
        recovery = _RECOVERIES[broker] = ProducerRecovery(broker)
    return recovery


class EventPublisher:
    def __init__(self, broker: KafkaBroker, settings: ServiceSettings) -> None:
        self._producer = producer_recovery(broker)
        self._settings = settings

    async def publish(self, envelope: EventEnvelope, topic: str) -> None:
        """Publish and wait for the broker's acknowledgement (acks=all); a broken producer is
        replaced and the publish tried once more on the new one."""
        headers = {
            "content-type": "application/json",
            "event-type": envelope.event_type,
            "event-id": str(envelope.event_id),
            "schema-version": str(envelope.schema_version),
        }
        tracing.inject_headers(headers)  # the W3C traceparent of the publishing span
        await self._producer.publish(envelope.to_bytes(), topic=topic, key=envelope.key, headers=headers)
        EVENTS_PUBLISHED.labels(self._settings.service_name, envelope.event_type).inc()


class DependencyUnavailable(Exception):
    """The handler could not reach a dependency; the event itself is fine. Raised after the
    retries so that the message is redelivered instead of dead-lettered."""


def default_is_transient(exc: BaseException) -> bool:
    """Outages of the things a handler talks to: wait for them, never dead-letter for them."""
    return isinstance(exc, (ConnectionError, TimeoutError, DependencyUnavailable))


class EventConsumer:
    """At-least-once consumption of domain events by one consumer group.

    Offsets are committed only after the message was handled, skipped as a duplicate,
    or written to the dead-letter topic. A handler failure is retried a few times; then
    a failure of the event (a poison event) goes to the dead-letter topic, while an outage
    of a dependency (``is_transient``) leaves the message unacknowledged so it is
    redelivered once the dependency is back (NACK_ON_ERROR seeks back). If even the
    dead-letter publish fails, the message is likewise redelivered.

    Redelivery makes each handler responsible for its idempotence, in one of two ways (there
    is no inbox check and mark around the handler, outside its transaction: a crash between
    the effect and the mark would apply it twice): a handler that writes DynamoDB applies the
    event through ``inbox.handle_once`` (the inbox record commits in the handler's own unit of
    work); a projection whose writes are idempotent by the event's version or by the state it
    moves (search documents, plan copies, a hint request's status) says so in its docstring.
    """

    def __init__(
        self,
        *,
        broker: KafkaBroker,
        settings: ServiceSettings,
        group: str,
        topics: Iterable[TopicSpec],
        handlers: dict[str, EventHandler],
        is_transient: Callable[[BaseException], bool] = default_is_transient,
        max_poll_records: int = 50,
        max_poll_interval_ms: int = 300_000,
    ) -> None:
        """``max_poll_records``: small for slow handlers (a judge job takes seconds), so a batch
        never outlasts Kafka's max poll interval; ``max_poll_interval_ms`` raises that interval
        for handlers that may take minutes (the client's default is 5 minutes)."""
        self._broker = broker
        self._max_poll_records = max_poll_records
        self._max_poll_interval_ms = max_poll_interval_ms
        self._is_transient = is_transient
        self._settings = settings
        self.group = group
        self._topics = [t.physical(settings.namespace) for t in topics]
        self._handlers = handlers
        self.dead_letter_topic = dead_letter_topic(group).physical(settings.namespace)

    def register(self) -> None:
        subscriber = self._broker.subscriber(
            *self._topics,
            group_id=f"{self._settings.namespace}.{self.group}",
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.NACK_ON_ERROR,
            max_poll_records=self._max_poll_records,
            max_poll_interval_ms=self._max_poll_interval_ms,
            title=f"{self.group} consumer",
        )

        async def on_message(msg: KafkaMessage) -> None:
            await self.process(msg)

        subscriber(on_message)

    async def process(self, msg: Any) -> str:
        """Handle one Kafka message; returns the outcome (for tests and metrics)."""
        raw: bytes = msg.body
        try:
            envelope = EventEnvelope.from_bytes(raw)
        except (ValidationError, ValueError) as exc:
            await self._dead_letter(msg, "undecodable", exc)
            return self._count("<undecodable>", "dead_lettered")

        event_id_var.set(str(envelope.event_id))
        trace_id_var.set(envelope.trace_id)
        handler = self._handlers.get(envelope.event_type)
        try:
            payload = REGISTRY.decode(envelope)
        except UnknownEventType as exc:
            await self._dead_letter(msg, "unknown_event_type", exc)
            return self._count(envelope.event_type, "dead_lettered")
        except ValidationError as exc:
            await self._dead_letter(msg, "invalid_payload", exc)
            return self._count(envelope.event_type, "dead_lettered")
        if handler is None:
            return self._count(envelope.event_type, "skipped")

        record = getattr(msg, "raw_message", None)
        with tracing.consumer_span(
            msg.headers, str(getattr(record, "topic", "")), self.group, envelope.event_type, str(envelope.event_id)
        ):
            return await self._handle(msg, envelope, handler, payload)

    async def _handle(self, msg: Any, envelope: EventEnvelope, handler: EventHandler, payload: Any) -> str:
        attempts = self._settings.consumer_max_attempts
        applied: bool | None = None
        for attempt in range(1, attempts + 1):
            try:
                applied = await handler(envelope, payload)
                break
            except Exception as exc:
                if attempt == attempts and self._is_transient(exc):
                    log.warning("dependency unavailable after %d attempts; will redeliver", attempts)
                    self._count(envelope.event_type, "redelivered")
                    await asyncio.sleep(self._settings.consumer_retry_backoff_s * 2**attempts)
                    raise DependencyUnavailable(str(exc)) from exc
                if attempt == attempts:
                    log.exception("handler failed %d times; dead-lettering", attempts)
                    await self._dead_letter(msg, "handler_failed", exc, attempts=attempts)
                    return self._count(envelope.event_type, "dead_lettered")
                EVENT_HANDLER_RETRIES.labels(self.group).inc()
                await asyncio.sleep(self._settings.consumer_retry_backoff_s * 2 ** (attempt - 1))

        EVENT_LAG_SECONDS.labels(self.group).observe(
            max(0.0, (datetime.now(UTC) - envelope.occurred_at).total_seconds())
        )
        return self._count(envelope.event_type, "duplicate" if applied is False else "processed")

    def _count(self, event_type: str, outcome: str) -> str:
        EVENTS_CONSUMED.labels(self.group, event_type, outcome).inc()
        return outcome

    async def _dead_letter(self, msg: Any, reason: str, exc: BaseException, attempts: int = 1) -> None:
        await dead_letter(
            self._broker,
            getattr(msg, "raw_message", None),
            body=msg.body,
            headers=msg.headers or {},
            group=self.group,
            topic=self.dead_letter_topic,
            reason=reason,
            exc=exc,
            attempts=attempts,
        )


def record_headers(record: Any) -> dict[str, str]:
    """A Kafka record's headers (the client's list of (name, bytes) pairs) as text."""
    return {k: (v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)) for k, v in record.headers or ()}


async def dead_letter(
    broker: KafkaBroker,
    record: Any,
    *,
    group: str,
    topic: str,
    reason: str,
    exc: BaseException,
    attempts: int = 1,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> None:
    """Send a message that cannot be processed to ``group``'s dead-letter ``topic``: the original
    bytes and key verbatim (so it can be replayed), the reason and error in ``DLQ_HEADERS``. The
    one dead-letter path of every consumer (single events and batches); ``record`` is the Kafka
    record, ``body``/``headers`` default to its own."""
    original = headers if headers is not None else record_headers(record)
    out = {k: v for k, v in original.items() if k not in DLQ_HEADERS}
    out.update(
        {
            "x-dlq-reason": reason,
            "x-dlq-error": f"{type(exc).__name__}: {exc}"[:2000],
            "x-dlq-consumer": group,
            "x-dlq-attempts": str(attempts),
            "x-dlq-failed-at": datetime.now(UTC).isoformat(),
            "x-dlq-source-topic": str(getattr(record, "topic", "")),
            "x-dlq-partition": str(getattr(record, "partition", "")),
            "x-dlq-offset": str(getattr(record, "offset", "")),
        }
    )
    value = body if body is not None else record.value
    log.warning("dead-lettering message: %s", reason, extra={"dlq_topic": topic})
    await producer_recovery(broker).publish(value, topic=topic, key=getattr(record, "key", None), headers=out)


async def ensure_topics(settings: ServiceSettings, topics: Iterable[TopicSpec], timeout_s: float = 30.0) -> list[str]:
    """Create missing topics (idempotent); returns the names created."""
    wanted = {t.physical(settings.namespace): dict(t.config) for t in topics}
    return await ensure_topic_names(settings, wanted, timeout_s)


async def ensure_topic_names(
    settings: ServiceSettings, topics: dict[str, dict[str, str]], timeout_s: float = 30.0
) -> list[str]:
    """Create the topics (physical name -> topic configs) that do not exist yet, with the
    settings' partitions and replication; returns the names created. Waits up to ``timeout_s``
    for the cluster to answer."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers, request_timeout_ms=10_000)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            await admin.start()
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(1)
    try:
        existing = set(await admin.list_topics())
        created = []
        for name, config in topics.items():
            if name in existing:
                continue
            try:
                response = await admin.create_topics(
                    [
                        NewTopic(
                            name,
                            num_partitions=settings.kafka_topic_partitions,
                            replication_factor=settings.kafka_replication_factor,
                            topic_configs=config,
                        )
                    ]
                )
            except TopicAlreadyExistsError:
                continue
            for _topic, code, message in getattr(response, "topic_errors", []):
                if code not in (0, TopicAlreadyExistsError.errno):
                    raise RuntimeError(f"creating topic {name} failed: {code} {message}")
            created.append(name)
        return created
    finally:
        await admin.close()


def kafka_readiness(broker: KafkaBroker) -> Callable[[], Awaitable[None]]:
    async def kafka() -> None:
        if not await broker.ping(timeout=2.0):
            raise ConnectionError("Kafka cluster does not answer")

    return kafka
