"""Composition root of the ratelimit service."""

from __future__ import annotations

from dataclasses import dataclass

from algoitny_ratelimit.adapters.plan_repository import PlanRepository
from algoitny_ratelimit.adapters.tables import RATELIMIT_INBOX, RATELIMIT_OUTBOX
from algoitny_ratelimit.adapters.usage_repository import UsageRepository
from algoitny_ratelimit.adapters.user_plan_repository import UserPlanRepository
from algoitny_ratelimit.domain.quota import Clock, utc_now
from algoitny_ratelimit.service_layer.membership import PlanMembership
from algoitny_ratelimit.service_layer.plans import PlanService
from algoitny_ratelimit.service_layer.quotas import QuotaService
from algoitny_ratelimit.service_layer.refunds import ExecutionRefunds
from algoitny_ratelimit.settings import RatelimitSettings
from algoitny_shared.kafka import EventConsumer
from algoitny_shared.kit.composition import OutboxParts, outbox_parts
from algoitny_shared.topics import ACCOUNT_EVENTS, EXECUTION_EVENTS, RATELIMIT_GROUP


@dataclass
class Container(OutboxParts[RatelimitSettings]):
    plans: PlanRepository
    usage: UsageRepository
    quotas: QuotaService
    plan_admin: PlanService
    consumer: EventConsumer
    user_plans: UserPlanRepository
    membership: PlanMembership


def build(settings: RatelimitSettings | None = None, clock: Clock = utc_now) -> Container:
    kit = outbox_parts(settings or RatelimitSettings(), RATELIMIT_OUTBOX)
    settings, client, uow = kit.settings, kit.dynamodb, kit.uow
    plans = PlanRepository(client, settings.namespace)
    usage = UsageRepository(client, settings.namespace)
    user_plans = UserPlanRepository(client, settings.namespace)
    membership = PlanMembership(plans, user_plans, kit.inbox(RATELIMIT_INBOX), uow)
    quotas = QuotaService(plans, usage, user_plans, uow, clock)
    consumer = kit.consume(
        RATELIMIT_GROUP,
        [ACCOUNT_EVENTS, EXECUTION_EVENTS],
        {**membership.handlers(), **ExecutionRefunds(quotas).handlers()},
    )
    return Container(
        **kit.fields(),
        plans=plans,
        usage=usage,
        quotas=quotas,
        plan_admin=PlanService(plans, uow),
        consumer=consumer,
        user_plans=user_plans,
        membership=membership,
    )
