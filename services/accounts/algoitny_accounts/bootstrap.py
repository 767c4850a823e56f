"""Composition root of the accounts service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from faststream.kafka import KafkaBroker

from algoitny_accounts.adapters.google import GoogleVerifier
from algoitny_accounts.adapters.plan_copies import PlanCopyRepository
from algoitny_accounts.adapters.refresh_tokens import RefreshTokenStore
from algoitny_accounts.adapters.sign_in_attempts import SignInAttempts
from algoitny_accounts.adapters.user_repository import UserRepository
from algoitny_accounts.service_layer.accounts import AccountUseCases, ThrottlePolicy
from algoitny_accounts.service_layer.legacy_import import LEGACY_TABLES, LegacyUserImport
from algoitny_accounts.service_layer.plan_sync import PlanSync
from algoitny_accounts.settings import AccountsSettings
from algoitny_shared.cursor import CursorCodec
from algoitny_shared.dynamo import dynamodb
from algoitny_shared.inbox import Inbox
from algoitny_shared.kafka import EventConsumer, EventPublisher, make_broker
from algoitny_shared.legacy.importer import LegacyConsumer, LegacyImportStore
from algoitny_shared.outbox import Outbox, OutboxRelay
from algoitny_shared.tables import ACCOUNTS_INBOX, ACCOUNTS_LEGACY, ACCOUNTS_OUTBOX
from algoitny_shared.topics import ACCOUNTS_GROUP, RATELIMIT_EVENTS
from algoitny_shared.uow import DynamoUnitOfWork


@dataclass
class Container:
    settings: AccountsSettings
    dynamodb: Any
    broker: KafkaBroker
    outbox: Outbox
    relay: OutboxRelay
    users: UserRepository
    accounts: AccountUseCases
    plans: PlanCopyRepository
    plan_sync: PlanSync
    consumer: EventConsumer
    legacy_store: LegacyImportStore
    legacy: LegacyUserImport
    legacy_consumer: LegacyConsumer


def build(settings: AccountsSettings | None = None, *, legacy_importer: bool | None = None) -> Container:
    """``legacy_importer``: register the legacy importer (default: ``settings.legacy_import_enabled``)."""
    settings = settings or AccountsSettings()
    client = dynamodb(settings)
    broker = make_broker(settings)
    outbox = Outbox(client, ACCOUNTS_OUTBOX, settings.namespace)
    relay = OutboxRelay(
        client, outbox, EventPublisher(broker, settings), settings.service_name, settings.outbox_poll_interval_s
    )
    users = UserRepository(client, settings.namespace)
    plans = PlanCopyRepository(client, settings.namespace)
    plan_sync = PlanSync(plans, users)
    consumer = EventConsumer(
        broker=broker,
        settings=settings,
        group=ACCOUNTS_GROUP,
        topics=[RATELIMIT_EVENTS],
        handlers=plan_sync.handlers(),
        inbox=Inbox(client, ACCOUNTS_INBOX, settings.namespace),
    )
    if settings.consumers_enabled:
        consumer.register()
    accounts = AccountUseCases.wire(
        users,
        RefreshTokenStore(client, settings.namespace, settings.refresh_token_ttl_s),
        SignInAttempts(client, settings.namespace, settings.signin_window_s),
        GoogleVerifier(settings.google_jwks_url, settings.google_client_ids, settings.google_issuers),
        lambda: DynamoUnitOfWork(client, outbox, settings.fault_points),
        settings.signing_keys(),
        settings.access_token_ttl_s,
        settings.admin_emails,
        ThrottlePolicy(settings.signin_max_failures_per_account, settings.signin_max_failures_per_address),
        CursorCodec(settings.cursor_secret.get_secret_value()),
        plans,
    )
    plan_sync.leave_deleted_plan = accounts.writes.leave_deleted_plan
    legacy_store = LegacyImportStore(client, ACCOUNTS_LEGACY, settings.namespace)
    legacy = LegacyUserImport(
        users, legacy_store, lambda: DynamoUnitOfWork(client, outbox, settings.fault_points), accounts.writes.with_plan
    )
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
        users,
        accounts,
        plans,
        plan_sync,
        consumer,
        legacy_store,
        legacy,
        legacy_consumer,
    )
