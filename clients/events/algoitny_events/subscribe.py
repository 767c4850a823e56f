"""Subscribing with FastStream: at-least-once delivery, deduplicated by event id.

* offsets are committed only after the handler returned (FastStream ``AckPolicy.NACK_ON_ERROR``
  with auto-commit off): a crash or an exception before that redelivers the messages (an
  exception seeks back to the first record of the failed message or batch);
* events whose id the deduplicator has seen are skipped, and new ids are remembered after the
  handler returned, so a redelivered event reaches the handler again only if the process died
  between the handler's return and ``remember`` (make the handler's store the deduplicator to
  close that gap, see :mod:`algoitny_events.dedup`);
* ``start="earliest"`` reads a new consumer group's topics from their beginning (domain topics
  keep their whole history), ``"latest"`` from now on; a group that has committed offsets always
  resumes where it left off.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Iterable
from typing import Any, Literal

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from algoitny_events._generated import EVENT_TYPES, TOPICS
from algoitny_events.decoding import DecodeError, Event, NotAnEnvelope, UnknownEventType, decode, parse_envelope
from algoitny_events.dedup import Deduplicator, MemoryDeduplicator

log = logging.getLogger("algoitny_events")

EventHandler = Callable[[Event[Any]], Awaitable[None]]
BatchHandler = Callable[[list[Event[Any]]], Awaitable[None]]
ErrorHandler = Callable[[bytes, DecodeError], Awaitable[None]]
Start = Literal["earliest", "latest"]


def make_broker(bootstrap_servers: str, *, client_id: str = "algoitny-events-client") -> KafkaBroker:
    """A FastStream Kafka broker for consumers (add ``acks``/``enable_idempotence`` if you publish)."""
    return KafkaBroker(bootstrap_servers, client_id=client_id, logger=log)


def physical_topics(namespace: str, topics: Iterable[str] | None = None) -> list[str]:
    """``<namespace>.<topic>`` for the given topics (default: every domain topic)."""
    names = list(topics) if topics is not None else sorted(TOPICS)
    unknown = [t for t in names if t not in TOPICS]
    if unknown:
        raise ValueError(f"unknown topics {unknown}; known: {sorted(TOPICS)}")
    return [f"{namespace}.{t}" for t in names]


def topics_for(event_types: Iterable[str]) -> list[str]:
    """The topics carrying these event types."""
    return sorted({EVENT_TYPES[t][2] for t in event_types})


async def _skip_undecodable(raw: bytes, error: DecodeError) -> None:
    log.warning("skipping an undecodable message: %s", error)


class _Pipeline:
    def __init__(
        self,
        event_types: Collection[str] | None,
        dedup: Deduplicator,
        on_error: ErrorHandler | None,
        retry_backoff_s: float,
    ) -> None:
        self.event_types = set(event_types) if event_types is not None else None
        self.dedup = dedup
        self.on_error = on_error
        self.retry_backoff_s = retry_backoff_s
        self.handled = 0
        self.duplicates = 0

    async def decode_all(self, values: list[bytes]) -> list[Event[Any]]:
        events: list[Event[Any]] = []
        for raw in values:
            try:
                envelope = parse_envelope(raw)
                if self.event_types is not None and envelope.event_type not in self.event_types:
                    continue
                events.append(decode(envelope))
            except (NotAnEnvelope, UnknownEventType) as exc:
                await (self.on_error or _skip_undecodable)(raw, exc)
            except DecodeError as exc:
                # A newer version or an invalid payload: never silently dropped unless asked to.
                if self.on_error is None:
                    raise
                await self.on_error(raw, exc)
        return events

    async def fresh(self, events: list[Event[Any]]) -> list[Event[Any]]:
        seen = await self.dedup.seen([e.event_id for e in events])
        out: list[Event[Any]] = []
        batch_ids = set()
        for event in events:
            if event.event_id in seen or event.event_id in batch_ids:
                self.duplicates += 1
                continue
            batch_ids.add(event.event_id)
            out.append(event)
        return out

    async def guarded(self, work: Awaitable[None]) -> None:
        try:
            await work
        except Exception:
            log.exception("handler failed; the messages will be redelivered")
            await asyncio.sleep(self.retry_backoff_s)
            raise


def _values(msg: Any) -> list[bytes]:
    raw = msg.raw_message
    records = raw if isinstance(raw, (tuple, list)) else (raw,)
    return [r.value for r in records]


def subscribe(
    broker: KafkaBroker,
    *,
    namespace: str,
    group: str,
    handler: EventHandler,
    topics: Iterable[str] | None = None,
    event_types: Collection[str] | None = None,
    start: Start = "earliest",
    dedup: Deduplicator | None = None,
    on_error: ErrorHandler | None = None,
    max_records: int = 100,
    retry_backoff_s: float = 1.0,
) -> Any:
    """Call ``handler`` once per new event of ``event_types`` (default: all) on ``topics``
    (default: those of ``event_types``, or all). Group id: ``<namespace>.<group>``."""
    pipeline = _Pipeline(event_types, dedup or MemoryDeduplicator(), on_error, retry_backoff_s)
    names = topics if topics is not None else (topics_for(event_types) if event_types else None)
    subscriber = broker.subscriber(
        *physical_topics(namespace, names),
        group_id=f"{namespace}.{group}",
        auto_offset_reset=start,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        max_poll_records=max_records,
    )

    async def on_message(msg: KafkaMessage) -> None:
        async def work() -> None:
            for event in await pipeline.fresh(await pipeline.decode_all(_values(msg))):
                await handler(event)
                await pipeline.dedup.remember([event.event_id])
                pipeline.handled += 1

        await pipeline.guarded(work())

    subscriber(on_message)
    return pipeline


def subscribe_batch(
    broker: KafkaBroker,
    *,
    namespace: str,
    group: str,
    handler: BatchHandler,
    topics: Iterable[str] | None = None,
    event_types: Collection[str] | None = None,
    start: Start = "earliest",
    dedup: Deduplicator | None = None,
    on_error: ErrorHandler | None = None,
    max_records: int = 500,
    batch_timeout_ms: int = 500,
    retry_backoff_s: float = 1.0,
) -> Any:
    """Like :func:`subscribe`, but ``handler`` gets up to ``max_records`` new events at a time
    (for sinks that write in bulk); the batch's offsets are committed after it returned."""
    pipeline = _Pipeline(event_types, dedup or MemoryDeduplicator(), on_error, retry_backoff_s)
    names = topics if topics is not None else (topics_for(event_types) if event_types else None)
    subscriber = broker.subscriber(
        *physical_topics(namespace, names),
        group_id=f"{namespace}.{group}",
        auto_offset_reset=start,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        batch=True,
        max_records=max_records,
        batch_timeout_ms=batch_timeout_ms,
    )

    async def on_batch(msg: KafkaMessage) -> None:
        async def work() -> None:
            events = await pipeline.fresh(await pipeline.decode_all(_values(msg)))
            if events:
                await handler(events)
                await pipeline.dedup.remember([e.event_id for e in events])
                pipeline.handled += len(events)

        await pipeline.guarded(work())

    subscriber(on_batch)
    return pipeline
