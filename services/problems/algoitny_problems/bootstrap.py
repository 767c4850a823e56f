"""Composition root of the problems service: builds adapters and use cases from settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from faststream.kafka import KafkaBroker

from algoitny_problems.adapters.repository import ProblemRepository
from algoitny_problems.service_layer.use_cases import ProblemService
from algoitny_problems.settings import ProblemsSettings
from algoitny_shared.dynamo import dynamodb
from algoitny_shared.kafka import EventPublisher, make_broker
from algoitny_shared.outbox import Outbox, OutboxRelay
from algoitny_shared.tables import PROBLEMS_OUTBOX
from algoitny_shared.uow import DynamoUnitOfWork


@dataclass
class Container:
    settings: ProblemsSettings
    dynamodb: Any
    broker: KafkaBroker
    outbox: Outbox
    relay: OutboxRelay
    service: ProblemService


def build(settings: ProblemsSettings | None = None) -> Container:
    settings = settings or ProblemsSettings()
    client = dynamodb(settings)
    broker = make_broker(settings)
    outbox = Outbox(client, PROBLEMS_OUTBOX, settings.namespace)
    relay = OutboxRelay(
        client, outbox, EventPublisher(broker, settings), settings.service_name, settings.outbox_poll_interval_s
    )
    repo = ProblemRepository(client, settings.namespace)
    service = ProblemService(repo, lambda: DynamoUnitOfWork(client, outbox, settings.fault_points))
    return Container(settings, client, broker, outbox, relay, service)
