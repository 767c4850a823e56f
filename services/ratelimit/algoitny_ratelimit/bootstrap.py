"""Composition root of the ratelimit service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from faststream.kafka import KafkaBroker

from algoitny_ratelimit.adapters.plan_repository import PlanRepository
from algoitny_ratelimit.adapters.usage_repository import UsageRepository
from algoitny_ratelimit.adapters.user_plan_repository import UserPlanRepository
from algoitny_ratelimit.domain.quota import Clock, utc_now
from algoitny_ratelimit.service_layer.legacy_import import LEGACY_TABLES, LegacyRatelimitImport
from algoitny_ratelimit.service_layer.membership import PlanMembership
from algoitny_ratelimit.service_layer.plans import PlanService
from algoitny_ratelimit.service_layer.quotas import QuotaService
from algoitny_ratelimit.service_layer.refunds import ExecutionRefunds
from algoitny_ratelimit.settings import RatelimitSettings
from algoitny_shared.dynamo import dynamodb
from algoitny_shared.inbox import Inbox
from algoitny_shared.kafka import EventConsumer, EventPublisher, make_broker
from algoitny_shared.legacy.importer import LegacyConsumer, LegacyImportStore
from algoitny_shared.outbox import Outbox, OutboxRelay
from algoitny_shared.tables import RATELIMIT_INBOX, RATELIMIT_LEGACY, RATELIMIT_OUTBOX
from algoitny_shared.topics import ACCOUNT_EVENTS, EXECUTION_EVENTS, RATELIMIT_GROUP
from algoitny_shared.uow import DynamoUnitOfWork


@dataclass
class Container:
    settings: RatelimitSettings
    dynamodb: Any
    broker: KafkaBroker
    outbox: Outbox
    relay: OutboxRelay
    plans: PlanRepository
    usage: UsageRepository
    quotas: QuotaService
    plan_admin: PlanService
    consumer: EventConsumer
    legacy_store: LegacyImportStore
    legacy: LegacyRatelimitImport
    legacy_consumer: LegacyConsumer


def build(
    settings: RatelimitSettings | None = None, clock: Clock = utc_now, *, legacy_importer: bool | None = None
) -> Container:
    """``legacy_importer``: register the legacy importer (default: ``settings.legacy_import_enabled``)."""
    settings = settings or RatelimitSettings()
    client = dynamodb(settings)
    broker = make_broker(settings)
    outbox = Outbox(client, RATELIMIT_OUTBOX, settings.namespace)
    relay = OutboxRelay(
        client, outbox, EventPublisher(broker, settings), settings.service_name, settings.outbox_poll_interval_s
    )
    plans = PlanRepository(client, settings.namespace)
    usage = UsageRepository(client, settings.namespace)
    user_plans = UserPlanRepository(client, settings.namespace)

    def uow() -> DynamoUnitOfWork:
        return DynamoUnitOfWork(client, outbox, settings.fault_points)

    membership = PlanMembership(plans, user_plans, Inbox(client, RATELIMIT_INBOX, settings.namespace), uow)
    quotas = QuotaService(plans, usage, user_plans, uow, clock)
    consumer = EventConsumer(
        broker=broker,
        settings=settings,
        group=RATELIMIT_GROUP,
        topics=[ACCOUNT_EVENTS, EXECUTION_EVENTS],
        handlers={**membership.handlers(), **ExecutionRefunds(quotas).handlers()},
    )
    if settings.consumers_enabled:
        consumer.register()
    legacy_store = LegacyImportStore(client, RATELIMIT_LEGACY, settings.namespace)
    legacy = LegacyRatelimitImport(plans, usage, user_plans, membership, legacy_store, uow)
    legacy_consumer = LegacyConsumer(
        broker,
        settings,
        legacy.importer(max_attempts=settings.consumer_max_attempts, backoff_s=settings.consumer_retry_backoff_s),
        LEGACY_TABLES,
    )
    if settings.legacy_import_enabled if legacy_importer is None else legacy_importer:
        legacy_consumer.register()
    return Container(
        settings,
        client,
        broker,
        outbox,
        relay,
        plans,
        usage,
        quotas,
        PlanService(plans, uow),
        consumer,
        legacy_store,
        legacy,
        legacy_consumer,
    )
