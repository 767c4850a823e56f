"""Composition root of the accounts service."""

from __future__ import annotations

from dataclasses import dataclass

from algoitny_accounts.adapters.google import GoogleVerifier
from algoitny_accounts.adapters.plan_copies import PlanCopyRepository
from algoitny_accounts.adapters.refresh_tokens import RefreshTokenStore
from algoitny_accounts.adapters.sign_in_attempts import SignInAttempts
from algoitny_accounts.adapters.tables import ACCOUNTS_OUTBOX
from algoitny_accounts.adapters.user_repository import UserRepository
from algoitny_accounts.service_layer.accounts import AccountUseCases, ThrottlePolicy
from algoitny_accounts.service_layer.plan_sync import PlanSync
from algoitny_accounts.settings import AccountsSettings
from algoitny_shared.cursor import CursorCodec
from algoitny_shared.kafka import EventConsumer
from algoitny_shared.kit.composition import OutboxParts, outbox_parts
from algoitny_shared.topics import ACCOUNTS_GROUP, RATELIMIT_EVENTS


@dataclass
class Container(OutboxParts[AccountsSettings]):
    users: UserRepository
    accounts: AccountUseCases
    plans: PlanCopyRepository
    plan_sync: PlanSync
    consumer: EventConsumer


def build(settings: AccountsSettings | None = None) -> Container:
    kit = outbox_parts(settings or AccountsSettings(), ACCOUNTS_OUTBOX)
    settings, client = kit.settings, kit.dynamodb
    users = UserRepository(client, settings.namespace)
    plans = PlanCopyRepository(client, settings.namespace)
    plan_sync = PlanSync(plans, users)
    consumer = kit.consume(ACCOUNTS_GROUP, [RATELIMIT_EVENTS], plan_sync.handlers())
    accounts = AccountUseCases.wire(
        users,
        RefreshTokenStore(client, settings.namespace, settings.refresh_token_ttl_s),
        SignInAttempts(client, settings.namespace, settings.signin_window_s),
        GoogleVerifier(settings.google_jwks_url, settings.google_client_ids, settings.google_issuers),
        kit.uow,
        settings.signing_keys(),
        settings.access_token_ttl_s,
        settings.admin_emails,
        ThrottlePolicy(settings.signin_max_failures_per_account, settings.signin_max_failures_per_address),
        CursorCodec(settings.cursor_secret.get_secret_value()),
        plans,
    )
    plan_sync.leave_deleted_plan = accounts.writes.leave_deleted_plan
    return Container(
        **kit.fields(),
        users=users,
        accounts=accounts,
        plans=plans,
        plan_sync=plan_sync,
        consumer=consumer,
    )
