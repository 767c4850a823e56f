"""Composition root of the hints service."""

from __future__ import annotations

from dataclasses import dataclass

from algoitny_hints.adapters.gemini import GeminiHints
from algoitny_hints.adapters.repository import DynamoHintStore
from algoitny_hints.adapters.sources import HttpExecutionSource, HttpProblemSource, HttpRefunds
from algoitny_hints.adapters.tables import HINTS, HINTS_OUTBOX
from algoitny_hints.service_layer.hints import HintService
from algoitny_hints.settings import HintsSettings
from algoitny_shared.identity import IdentitySigner
from algoitny_shared.kafka import EventConsumer
from algoitny_shared.kit.composition import OutboxParts, outbox_parts
from algoitny_shared.topics import HINT_EVENTS, HINTS_GROUP


@dataclass
class Container(OutboxParts[HintsSettings]):
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
    kit = outbox_parts(settings or HintsSettings(), HINTS_OUTBOX)
    settings = kit.settings
    store = DynamoHintStore(kit.dynamodb, kit.outbox, settings.namespace, settings.fault_points)
    signer = IdentitySigner(settings.internal_secret.get_secret_value())
    timeout = settings.upstream_timeout_s
    executions = HttpExecutionSource(settings.executions_url, signer, timeout, settings.max_field_chars)
    problems = HttpProblemSource(settings.problems_url, signer, timeout)
    refunds = HttpRefunds(settings.ratelimit_url, signer, timeout)
    service = HintService(settings, store, executions, problems, refunds, GeminiHints(settings))
    consumer = kit.consume(HINTS_GROUP, [HINT_EVENTS], service.handlers())
    assert HINTS.owner == "hints"
    return Container(
        **kit.fields(),
        store=store,
        executions=executions,
        problems=problems,
        refunds=refunds,
        service=service,
        consumer=consumer,
    )
