"""Every generation process follows the sandbox answers as they come (its own reader of
``executions.events``, no consumer group, from the end): the consumer group hands each answer to
one process, while the run waiting for it may wait in any. Nothing is committed or written here:
the group's consumer files the answers durably (:class:`~.sandbox.SandboxMailbox`)."""

from __future__ import annotations

import logging
from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError

from algoitny_problems.generation.adapters.sandbox import REQUESTER, SandboxAnswers
from algoitny_shared.events import REGISTRY, EventEnvelope
from algoitny_shared.events.catalog import SandboxRunCompleted
from algoitny_shared.settings import ServiceSettings
from algoitny_shared.topics import EXECUTION_EVENTS

log = logging.getLogger(__name__)
EVENT_TYPE = "executions.SandboxRunCompleted"


class AnswerFeed:
    def __init__(self, broker: KafkaBroker, settings: ServiceSettings, answers: SandboxAnswers) -> None:
        self._broker = broker
        self._topic = EXECUTION_EVENTS.physical(settings.namespace)
        self._answers = answers
        self.seen = 0

    def register(self) -> None:
        subscriber = self._broker.subscriber(
            self._topic,
            group_id=None,  # every process reads every partition: the waiting run may be anywhere
            auto_offset_reset="latest",
            ack_policy=AckPolicy.ACK_FIRST,
            title="generation sandbox answers",
        )

        async def on_message(msg: KafkaMessage) -> None:
            self.on_message(msg.headers, msg.body)

        subscriber(on_message)

    def on_message(self, headers: dict[str, Any] | None, body: bytes) -> bool:
        """Wake the run this answer is for, if it waits in this process (other events: ignored)."""
        if (headers or {}).get("event-type") != EVENT_TYPE:
            return False
        try:
            payload = REGISTRY.decode(EventEnvelope.from_bytes(body))
        except (ValidationError, ValueError):
            return False  # the group's consumer dead-letters it
        if not isinstance(payload, SandboxRunCompleted) or payload.requester != REQUESTER:
            return False
        self.seen += 1
        return self._answers.deliver(payload)
