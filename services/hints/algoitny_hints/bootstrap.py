"""Composition root of the hints service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from faststream.kafka import KafkaBroker

from algoitny_hints.adapters.gemini import GeminiHints
from algoitny_hints.adapters.repository import DynamoHintStore
from algoitny_hints.adapters.sources import HttpExecutionSource, HttpProblemSource, HttpRefunds
from algoitny_hints.service_layer.hints import HintService
from algoitny_hints.settings import HintsSettings
from algoitny_shared.dynamo import dynamodb
from algoitny_shared.identity import IdentitySigner
from algoitny_shared.kafka import EventConsumer, EventPublisher, make_broker
from algoitny_shared.outbox import Outbox, OutboxRelay
from algoitny_shared.tables import HINTS, HINTS_OUTBOX
from algoitny_shared.topics import HINT_EVENTS, HINTS_GROUP


@dataclass
class Container:
    settings: HintsSettings
    dynamodb: Any
    broker: KafkaBroker
    relay: OutboxRelay
    store: DynamoHintStore
    executions: HttpExecutionSource
    problems: HttpProblemSource
    refunds: HttpRefunds
    service: HintService
    consumer: EventConsumer

    async def close(self) -> None:
        for client in (self.executions, self.problems, self.refunds):
            await client.close()


def build(settings: HintsSettings | None = None) -> Container:
    settings = settings or HintsSettings()
    client = dynamodb(settings)
    broker = make_broker(settings)
    outbox = Outbox(client, HINTS_OUTBOX, settings.namespace)
    relay = OutboxRelay(
        client, outbox, EventPublisher(broker, settings), settings.service_name, settings.outbox_poll_interval_s
    )
    store = DynamoHintStore(client, outbox, settings.namespace, settings.fault_points)
    signer = IdentitySigner(settings.internal_secret.get_secret_value())
    timeout = settings.upstream_timeout_s
    executions = HttpExecutionSource(settings.executions_url, signer, timeout, settings.max_field_chars)
    problems = HttpProblemSource(settings.problems_url, signer, timeout)
    refunds = HttpRefunds(settings.ratelimit_url, signer, timeout)
    service = HintService(settings, store, executions, problems, refunds, GeminiHints(settings))
    consumer = EventConsumer(
        broker=broker,
        settings=settings,
        group=HINTS_GROUP,
        topics=[HINT_EVENTS],
        handlers=service.handlers(),
    )
    if settings.consumers_enabled:
        consumer.register()
    assert HINTS.owner == "hints"
    return Container(settings, client, broker, relay, store, executions, problems, refunds, service, consumer)
