"""The composition-root kit: the parts every service's ``bootstrap.build()`` starts from.

A service's container subclasses one of the parts classes and adds its own parts::

    @dataclass
    class Container(OutboxParts[AccountsSettings]):
        users: UserRepository
        ...

    def build(settings=None) -> Container:
        kit = outbox_parts(settings or AccountsSettings(), ACCOUNTS_OUTBOX)
        users = UserRepository(kit.dynamodb, kit.settings.namespace)
        kit.consume(ACCOUNTS_GROUP, [RATELIMIT_EVENTS], plan_sync.handlers())
        return Container(**kit.fields(), users=users, ...)

The parts are built the same way everywhere: one DynamoDB client, one broker, the outbox, its
relay (publishing through the broker) and units of work on them; consumers are registered
only while the settings enable consumers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from faststream.kafka import KafkaBroker

from algoitny_shared.dynamo import dynamodb
from algoitny_shared.inbox import Inbox
from algoitny_shared.kafka import EventConsumer, EventHandler, EventPublisher, make_broker
from algoitny_shared.outbox import Outbox, OutboxRelay
from algoitny_shared.settings import ServiceSettings
from algoitny_shared.tables import TableSpec
from algoitny_shared.topics import TopicSpec
from algoitny_shared.uow import DynamoUnitOfWork

S = TypeVar("S", bound=ServiceSettings)


@dataclass
class Parts(Generic[S]):
    """The settings and the DynamoDB client: what every service's container holds."""

    settings: S
    dynamodb: Any

    def fields(self) -> dict[str, Any]:
        """These parts by field name, to build the service's container from them."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def inbox(self, table: TableSpec) -> Inbox:
        return Inbox(self.dynamodb, table, self.settings.namespace)


@dataclass
class EventParts(Parts[S]):
    """And the Kafka broker (producer and consumers) of a service that consumes or publishes events."""

    broker: KafkaBroker

    def consume(
        self,
        group: str,
        topics: Iterable[TopicSpec],
        handlers: Mapping[str, EventHandler],
        *,
        enabled: bool = True,
        **options: Any,
    ) -> EventConsumer:
        """An event consumer of ``group`` on the broker (its handlers are idempotent: see
        ``EventConsumer``), registered when the settings enable consumers and ``enabled`` (the service's own switch).
        ``options``: :class:`EventConsumer`'s (``is_transient``, ``max_poll_records``, ...)."""
        consumer = EventConsumer(
            broker=self.broker,
            settings=self.settings,
            group=group,
            topics=list(topics),
            handlers=dict(handlers),
            **options,
        )
        if self.settings.consumers_enabled and enabled:
            consumer.register()
        return consumer


@dataclass
class OutboxParts(EventParts[S]):
    """And the outbox with its relay: a service whose units of work write events."""

    outbox: Outbox
    relay: OutboxRelay

    def uow(self) -> DynamoUnitOfWork:
        """A new unit of work (one transaction with the outbox rows of its events)."""
        return DynamoUnitOfWork(self.dynamodb, self.outbox, self.settings.fault_points)


def parts(settings: S) -> Parts[S]:
    return Parts(settings, dynamodb(settings))


def event_parts(settings: S) -> EventParts[S]:
    return EventParts(settings, dynamodb(settings), make_broker(settings))


def outbox_parts(settings: S, outbox: TableSpec) -> OutboxParts[S]:
    """The parts of a service with an outbox on table ``outbox``."""
    client = dynamodb(settings)
    broker = make_broker(settings)
    box = Outbox(client, outbox, settings.namespace)
    relay = OutboxRelay(
        client, box, EventPublisher(broker, settings), settings.service_name, settings.outbox_poll_interval_s
    )
    return OutboxParts(settings, client, broker, box, relay)
