"""The stats consumer: one consumer group over five topics, applied in batches.

The platform's ``EventConsumer`` handles one message at a time; statistics are cheaper and
just as exact in batches (one transaction for many events, see the applier), so this is a
FastStream batch subscriber: up to ``max_records`` messages are applied, and only then are the
group's offsets committed (``AckPolicy.NACK_ON_ERROR``: a failed batch is sought back and
redelivered). A crash (even SIGKILL) before the commit redelivers the batch; the inbox items
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
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError

from algoitny_shared import tracing
from algoitny_shared.events import REGISTRY, EventEnvelope, UnknownEventType
from algoitny_shared.kafka import dead_letter
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
        broker: KafkaBroker,
        namespace: str,
        group: str,
        topics: Iterable[TopicSpec],
        max_records: int = 500,
        max_attempts: int = 3,
    ) -> None:
        self._applier = applier
        self._broker = broker
        self.group = group
        self.group_id = f"{namespace}.{group}"
        self.topics = [t.physical(namespace) for t in topics]
        self.dead_letter_topic = dead_letter_topic(group).physical(namespace)
        self._max_records = max_records
        self._max_attempts = max_attempts
        self._newest = 0.0
        self.totals = ApplyReport()
        self.running = False
        self._registered = False

    def _count(self, event_type: str, outcome: str, n: int = 1) -> None:
        if n:
            EVENTS_CONSUMED.labels(self.group, event_type, outcome).inc(n)

    def register(self) -> None:
        """The batch subscriber on the broker (once)."""
        if self._registered:
            return
        self._registered = True
        subscriber = self._broker.subscriber(
            *self.topics,
            group_id=self.group_id,
            batch=True,
            max_records=self._max_records,
            batch_timeout_ms=500,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.NACK_ON_ERROR,
            title=f"{self.group} batch consumer",
        )

        async def on_batch(msg: KafkaMessage) -> None:
            raw = msg.raw_message
            await self._handle(list(raw) if isinstance(raw, tuple) else [raw])

        subscriber(on_batch)

    async def run_forever(self, restart_delay_s: float = 2.0) -> None:
        """Start the broker with the subscriber (again after ``restart_delay_s`` while Kafka is
        away) and keep it running until cancelled. Once started FastStream reconnects by itself;
        a batch that failed (an outage) is redelivered, and the inbox makes that harmless."""
        self.register()
        while True:
            try:
                await self._broker.start()
                break
            except Exception as exc:
                log.warning("stats consumer not started (%s); retrying in %.1f s", exc, restart_delay_s)
                await self._broker.stop()
                await asyncio.sleep(restart_delay_s)
        self.running = True
        try:
            await asyncio.Event().wait()
        finally:
            self.running = False
            await self._broker.stop()

    async def _handle(self, records: list[Any]) -> None:
        started_ns = time.time_ns()
        events: list[tuple[Event, Any]] = []
        for record in records:
            try:
                envelope = EventEnvelope.from_bytes(record.value)
            except (ValidationError, ValueError, TypeError) as exc:
                await self._dead_letter(record, "undecodable", exc)
                self._count("<undecodable>", "dead_lettered")
                continue
            if envelope.event_type not in STATS_EVENT_TYPES:
                self._count(envelope.event_type, "skipped")
                continue
            try:
                payload = REGISTRY.decode(envelope)
            except (UnknownEventType, ValidationError) as exc:
                await self._dead_letter(record, "invalid_payload", exc)
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
                    await self._dead_letter(record, "handler_failed", single, self._max_attempts)
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

    async def _dead_letter(self, record: Any, reason: str, exc: BaseException, attempts: int = 1) -> None:
        await dead_letter(
            self._broker,
            record,
            group=self.group,
            topic=self.dead_letter_topic,
            reason=reason,
            exc=exc,
            attempts=attempts,
        )
