"""Composition root of the generation process: the problems service's own parts (its container,
with the API's consumers off, on the process's own outbox, which its relay publishes), the
generation worker, the consumer group that files sandbox answers
and kicks the worker on job events (no inbox: filing an answer again puts the same item, a kick
is harmless), and the feed that wakes waiting runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from algoitny_problems.adapters.tables import GENERATION_OUTBOX
from algoitny_problems.bootstrap import Container
from algoitny_problems.bootstrap import build as build_problems
from algoitny_problems.generation.adapters.answer_feed import AnswerFeed
from algoitny_problems.generation.adapters.authoring import ProgramAuthor
from algoitny_problems.generation.adapters.jobs import GenerationJobRepository
from algoitny_problems.generation.adapters.sandbox import KafkaSandbox, SandboxAnswers, SandboxMailbox
from algoitny_problems.generation.service_layer.jobs import GenerationSettings
from algoitny_problems.generation.service_layer.worker import GenerationWorker
from algoitny_problems.settings import ProblemsSettings
from algoitny_shared.events import EventEnvelope
from algoitny_shared.events.catalog import GenerationJobProgressed
from algoitny_shared.kafka import EventConsumer
from algoitny_shared.llm import GeminiClient
from algoitny_shared.topics import EXECUTION_EVENTS, PROBLEM_EVENTS, PROBLEMS_GENERATION_GROUP


@dataclass
class GenerationContainer:
    problems: Container
    settings: ProblemsSettings
    answers: SandboxAnswers
    worker: GenerationWorker
    consumer: EventConsumer
    feed: AnswerFeed


def job_handlers(worker: GenerationWorker) -> dict[str, Any]:
    """A created job, or one given back for another try (retry: ``pending`` again), wakes a worker."""

    async def created(envelope: EventEnvelope, payload: Any) -> None:
        worker.kick()

    async def progressed(envelope: EventEnvelope, payload: GenerationJobProgressed) -> None:
        if payload.status == "pending":
            worker.kick()

    return {"problems.GenerationJobCreated": created, "problems.GenerationJobProgressed": progressed}


def build(settings: ProblemsSettings | None = None) -> GenerationContainer:
    settings = settings or ProblemsSettings()
    problems = build_problems(settings.model_copy(update={"consumers_enabled": False}), outbox=GENERATION_OUTBOX)
    client, uow = problems.dynamodb, problems.uow

    answers = SandboxAnswers()
    sandbox = KafkaSandbox(
        problems.s3,
        settings.sandbox_bucket(),
        client,
        problems.repo.control,
        uow,
        answers,
        timeout_s=settings.generation_sandbox_timeout_s,
    )
    worker = GenerationWorker(
        GenerationJobRepository(client, settings.namespace),
        problems.repo,
        problems.service,
        problems.test_sets,
        sandbox,
        ProgramAuthor(GeminiClient(settings)),
        uow,
        GenerationSettings.of(settings),
    )
    consumer = EventConsumer(
        broker=problems.broker,
        settings=settings,
        group=PROBLEMS_GENERATION_GROUP,
        topics=[EXECUTION_EVENTS, PROBLEM_EVENTS],
        handlers={**SandboxMailbox(client, problems.repo.control, answers).handlers(), **job_handlers(worker)},
    )
    feed = AnswerFeed(problems.broker, settings, answers)
    if settings.consumers_enabled:
        consumer.register()
        feed.register()
    return GenerationContainer(problems, settings, answers, worker, consumer, feed)
