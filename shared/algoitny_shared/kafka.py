"""Kafka on FastStream/aiokafka: an idempotent producer, at-least-once consumers with
bounded retries and a dead-letter topic, and idempotent topic creation."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError

from algoitny_shared.events import REGISTRY, EventEnvelope, UnknownEventType
from algoitny_shared.inbox import Inbox
from algoitny_shared.logging import event_id_var, trace_id_var
from algoitny_shared.metrics import EVENT_HANDLER_RETRIES, EVENT_LAG_SECONDS, EVENTS_CONSUMED, EVENTS_PUBLISHED
from algoitny_shared.settings import ServiceSettings
from algoitny_shared.topics import TopicSpec, dead_letter_topic

log = logging.getLogger(__name__)

EventHandler = Callable[[EventEnvelope, Any], Awaitable[None]]

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


class EventPublisher:
    def __init__(self, broker: KafkaBroker, settings: ServiceSettings) -> None:
        self._broker = broker
        self._settings = settings

    async def publish(self, envelope: EventEnvelope, topic: str) -> None:
        """Publish and wait for the broker's acknowledgement (acks=all)."""
        await self._broker.publish(
            envelope.to_bytes(),
            topic=topic,
            key=envelope.key,
            headers={
                "content-type": "application/json",
                "event-type": envelope.event_type,
                "event-id": str(envelope.event_id),
                "schema-version": str(envelope.schema_version),
            },
        )
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
    """

    def __init__(
        self,
        *,
        broker: KafkaBroker,
        settings: ServiceSettings,
        group: str,
        topics: Iterable[TopicSpec],
        handlers: dict[str, EventHandler],
        inbox: Inbox | None = None,
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
        self._inbox = inbox
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

        if self._inbox and await self._inbox.seen(self.group, str(envelope.event_id)):
            return self._count(envelope.event_type, "duplicate")

        attempts = self._settings.consumer_max_attempts
        for attempt in range(1, attempts + 1):
            try:
                await handler(envelope, payload)
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

        if self._inbox:
            await self._inbox.mark(self.group, str(envelope.event_id))
        EVENT_LAG_SECONDS.labels(self.group).observe(
            max(0.0, (datetime.now(UTC) - envelope.occurred_at).total_seconds())
        )
        return self._count(envelope.event_type, "processed")

    def _count(self, event_type: str, outcome: str) -> str:
        EVENTS_CONSUMED.labels(self.group, event_type, outcome).inc()
        return outcome

    async def _dead_letter(self, msg: Any, reason: str, exc: BaseException, attempts: int = 1) -> None:
        """Keep the original bytes and key verbatim (so it can be replayed); the error goes in headers."""
        record = getattr(msg, "raw_message", None)
        headers = {k: v for k, v in (msg.headers or {}).items() if k not in DLQ_HEADERS}
        headers.update(
            {
                "x-dlq-reason": reason,
                "x-dlq-error": f"{type(exc).__name__}: {exc}"[:2000],
                "x-dlq-consumer": self.group,
                "x-dlq-attempts": str(attempts),
                "x-dlq-failed-at": datetime.now(UTC).isoformat(),
                "x-dlq-source-topic": str(getattr(record, "topic", "")),
                "x-dlq-partition": str(getattr(record, "partition", "")),
                "x-dlq-offset": str(getattr(record, "offset", "")),
            }
        )
        key = getattr(record, "key", None)
        log.warning("dead-lettering message: %s", reason, extra={"dlq_topic": self.dead_letter_topic})
        await self._broker.publish(msg.body, topic=self.dead_letter_topic, key=key, headers=headers)


async def ensure_topics(settings: ServiceSettings, topics: Iterable[TopicSpec], timeout_s: float = 30.0) -> list[str]:
    """Create missing topics (idempotent); returns the names created."""
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
        wanted = [t for t in topics if t.physical(settings.namespace) not in existing]
        created = []
        for spec in wanted:
            name = spec.physical(settings.namespace)
            try:
                response = await admin.create_topics(
                    [
                        NewTopic(
                            name,
                            num_partitions=settings.kafka_topic_partitions,
                            replication_factor=settings.kafka_replication_factor,
                            topic_configs=dict(spec.config),
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
