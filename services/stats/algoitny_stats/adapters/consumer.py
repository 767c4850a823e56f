"""The stats consumer: one consumer group over five topics, applied in batches.

The platform's ``EventConsumer`` handles one message at a time; statistics are cheaper and
just as exact in batches (one transaction for many events, see the applier), so this loop
polls up to ``max_records`` messages, applies them, and only then commits the group's
offsets. A crash (even SIGKILL) before the commit redelivers the batch; the inbox items
written in the same transactions as the counters make the redelivery change nothing.

Messages that cannot be decoded, or whose payload is invalid, go to the group's dead-letter
topic with the same headers as ``EventConsumer`` uses; so does an event whose application
keeps failing for a reason other than an outage (the batch is then applied event by event
to single it out). Outages (DynamoDB unreachable) are waited out without committing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import botocore.exceptions
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import CommitFailedError, KafkaError
from pydantic import ValidationError

from algoitny_shared import tracing
from algoitny_shared.events import REGISTRY, EventEnvelope, UnknownEventType
from algoitny_shared.kafka import DLQ_HEADERS
from algoitny_shared.metrics import EVENT_LAG_SECONDS, EVENTS_CONSUMED
from algoitny_shared.topics import TopicSpec, dead_letter_topic
from algoitny_stats.adapters.metrics import STATS_APPLY_DELAY, STATS_LAST_APPLIED_EVENT_TIME
from algoitny_stats.domain.aggregation import STATS_EVENT_TYPES
from algoitny_stats.service_layer.applier import Applier, ApplyReport, Event

log = logging.getLogger(__name__)

TRANSIENT = (
    ConnectionError,
    TimeoutError,
    botocore.exceptions.EndpointConnectionError,
    botocore.exceptions.ConnectionClosedError,
    botocore.exceptions.ReadTimeoutError,
    botocore.exceptions.ConnectTimeoutError,
)


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, TRANSIENT):
        return True
    if isinstance(exc, botocore.exceptions.ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        return code in ("ProvisionedThroughputExceededException", "ThrottlingException", "InternalServerError")
    return False


class StatsConsumer:
    def __init__(
        self,
        *,
        applier: Applier,
        bootstrap: str,
        namespace: str,
        group: str,
        topics: Iterable[TopicSpec],
        max_records: int = 500,
        max_attempts: int = 3,
    ) -> None:
        self._applier = applier
        self._bootstrap = bootstrap
        self.group = group
        self.group_id = f"{namespace}.{group}"
        self.topics = [t.physical(namespace) for t in topics]
        self.dead_letter_topic = dead_letter_topic(group).physical(namespace)
        self._max_records = max_records
        self._max_attempts = max_attempts
        self._newest = 0.0
        self.totals = ApplyReport()
        self.running = False

    def _count(self, event_type: str, outcome: str, n: int = 1) -> None:
        if n:
            EVENTS_CONSUMED.labels(self.group, event_type, outcome).inc(n)

    async def run_forever(self, restart_delay_s: float = 2.0) -> None:
        """``run``, started again after a failure (Kafka away, a rebalance error): uncommitted
        messages are redelivered and the inbox makes that harmless."""
        while True:
            try:
                await self.run()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("stats consumer stopped; restarting in %.1f s", restart_delay_s)
                await asyncio.sleep(restart_delay_s)

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            *self.topics,
            bootstrap_servers=self._bootstrap,
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self._max_records,
            client_id=f"{self.group_id}-consumer",
        )
        producer = AIOKafkaProducer(bootstrap_servers=self._bootstrap, acks="all", enable_idempotence=True)
        await consumer.start()
        await producer.start()
        self.running = True
        try:
            while True:
                batch = await consumer.getmany(timeout_ms=500, max_records=self._max_records)
                records = [r for recs in batch.values() for r in recs]
                if not records:
                    continue
                await self._handle(records, producer)
                try:
                    await consumer.commit()
                except CommitFailedError:  # a rebalance took partitions away: they are redelivered
                    log.warning("offset commit failed after a rebalance; the batch will be redelivered")
        finally:
            self.running = False
            await consumer.stop()
            await producer.stop()

    async def _handle(self, records: list[Any], producer: AIOKafkaProducer) -> None:
        started_ns = time.time_ns()
        events: list[tuple[Event, Any]] = []
        for record in records:
            try:
                envelope = EventEnvelope.from_bytes(record.value)
            except (ValidationError, ValueError, TypeError) as exc:
                await self._dead_letter(producer, record, "undecodable", exc)
                self._count("<undecodable>", "dead_lettered")
                continue
            if envelope.event_type not in STATS_EVENT_TYPES:
                self._count(envelope.event_type, "skipped")
                continue
            try:
                payload = REGISTRY.decode(envelope)
            except (UnknownEventType, ValidationError) as exc:
                await self._dead_letter(producer, record, "invalid_payload", exc)
                self._count(envelope.event_type, "dead_lettered")
                continue
            events.append(((envelope, payload), record))
        if not events:
            return
        try:
            report = await self._apply_with_retries([e for e, _ in events])
        except Exception as exc:
            if is_transient(exc):
                raise
            log.exception("stats batch failed; applying its events one by one")
            report = ApplyReport()
            for event, record in events:
                try:
                    report.merge(await self._apply_with_retries([event]))
                except Exception as single:
                    if is_transient(single):
                        raise
                    await self._dead_letter(producer, record, "handler_failed", single, self._max_attempts)
                    self._count(event[0].event_type, "dead_lettered")
        self._record(report, [e for e, _ in events])
        ended_ns = time.time_ns()
        for (envelope, _), record in events:  # each event's trace gets its share of the batch
            tracing.record_consumed(
                record.headers,
                record.topic,
                self.group,
                envelope.event_type,
                str(envelope.event_id),
                started_ns,
                ended_ns,
            )

    async def _apply_with_retries(self, events: list[Event]) -> ApplyReport:
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._applier.apply(events)
            except Exception as exc:
                if is_transient(exc):
                    log.warning("DynamoDB unavailable (%s); waiting", exc)
                    await asyncio.sleep(min(5.0, 0.2 * attempt))
                    continue  # never commit past events we could not apply
                if attempt >= self._max_attempts:
                    raise
                await asyncio.sleep(0.1 * attempt)

    def _record(self, report: ApplyReport, events: list[Event]) -> None:
        self.totals.merge(report)
        now = datetime.now(UTC)
        oldest = min(e.occurred_at for e, _ in events)
        for envelope, _ in events:
            EVENT_LAG_SECONDS.labels(self.group).observe(max(0.0, (now - envelope.occurred_at).total_seconds()))
            self._newest = max(self._newest, envelope.occurred_at.timestamp())
        for envelope, _ in events:
            outcome = "processed" if str(envelope.event_id) in report.applied_ids else "duplicate"
            self._count(envelope.event_type, outcome)
        STATS_LAST_APPLIED_EVENT_TIME.set(self._newest)
        STATS_APPLY_DELAY.set(max(0.0, (now - oldest).total_seconds()))

    async def _dead_letter(
        self, producer: AIOKafkaProducer, record: Any, reason: str, exc: BaseException, attempts: int = 1
    ) -> None:
        headers = [(k, v) for k, v in (record.headers or []) if k not in DLQ_HEADERS]
        extra = {
            "x-dlq-reason": reason,
            "x-dlq-error": f"{type(exc).__name__}: {exc}"[:2000],
            "x-dlq-consumer": self.group,
            "x-dlq-attempts": str(attempts),
            "x-dlq-failed-at": datetime.now(UTC).isoformat(),
            "x-dlq-source-topic": str(record.topic),
            "x-dlq-partition": str(record.partition),
            "x-dlq-offset": str(record.offset),
        }
        headers.extend((k, v.encode()) for k, v in extra.items())
        log.warning("dead-lettering message: %s", reason, extra={"dlq_topic": self.dead_letter_topic})
        for attempt in range(1, 6):
            try:
                await producer.send_and_wait(self.dead_letter_topic, record.value, key=record.key, headers=headers)
                return
            except KafkaError:
                if attempt == 5:
                    raise
                await asyncio.sleep(0.2 * attempt)
