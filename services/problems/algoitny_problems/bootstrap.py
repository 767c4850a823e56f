"""Composition root of the problems service: builds adapters and use cases from settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from algoitny_problems.adapters.control import ControlRepository
from algoitny_problems.adapters.import_jobs import ImportJobStore
from algoitny_problems.adapters.page_fetcher import PageFetcher
from algoitny_problems.adapters.page_llm import LlmPageReader
from algoitny_problems.adapters.page_parsers import READERS
from algoitny_problems.adapters.plans import HttpPlanCaps, PlanCaps
from algoitny_problems.adapters.repository import ProblemRepository
from algoitny_problems.adapters.tables import GENERATION_OUTBOX, PROBLEMS_INBOX, PROBLEMS_OUTBOX
from algoitny_problems.adapters.test_cases import TestCaseStore
from algoitny_problems.generation.adapters.authoring import ProgramAuthor
from algoitny_problems.generation.adapters.jobs import GenerationJobRepository
from algoitny_problems.generation.adapters.sandbox import SandboxObjects
from algoitny_problems.generation.service_layer.jobs import GenerationService, GenerationSettings
from algoitny_problems.service_layer.imports import ImportService
from algoitny_problems.service_layer.maintenance import ExecutionCounter, GarbageCollector
from algoitny_problems.service_layer.test_sets import TestSetService
from algoitny_problems.service_layer.use_cases import ProblemService
from algoitny_problems.settings import ProblemsSettings
from algoitny_shared.cursor import CursorCodec
from algoitny_shared.dynamo import s3
from algoitny_shared.identity import Identity, IdentitySigner
from algoitny_shared.kafka import EventConsumer
from algoitny_shared.kit.composition import OutboxParts, outbox_parts
from algoitny_shared.llm import GeminiClient
from algoitny_shared.outbox import Outbox
from algoitny_shared.tables import TableSpec
from algoitny_shared.topics import EXECUTION_EVENTS, PROBLEMS_GROUP
from algoitny_shared.uow import DynamoUnitOfWork
from algoitny_shared.upstream import upstream_client


@dataclass
class Container(OutboxParts[ProblemsSettings]):
    s3: Any
    repo: ProblemRepository
    store: TestCaseStore
    control: ControlRepository
    service: ProblemService
    test_sets: TestSetService
    gc: GarbageCollector
    counter: ExecutionCounter
    consumer: EventConsumer
    generation: GenerationService
    plan_caps: PlanCaps
    imports: ImportService


def build(settings: ProblemsSettings | None = None, *, outbox: TableSpec = PROBLEMS_OUTBOX) -> Container:
    """``outbox``: the table its units of work write events to and its relay publishes (the
    generation process has its own)."""
    kit = outbox_parts(settings or ProblemsSettings(), outbox)
    settings, client, uow = kit.settings, kit.dynamodb, kit.uow
    blobs = s3(settings)
    repo = ProblemRepository(client, settings.namespace)
    store = TestCaseStore(
        client,
        blobs,
        repo.test_cases,
        settings.bucket(),
        inline_max_bytes=settings.inline_case_max_bytes,
        concurrency=settings.test_set_write_concurrency,
    )
    control = ControlRepository(client, repo.control)
    cursors = CursorCodec(settings.cursor_secret.get_secret_value())

    jobs = GenerationJobRepository(client, settings.namespace)
    gc = GarbageCollector(repo, store, control, jobs, SandboxObjects(blobs, settings.sandbox_bucket()))
    service = ProblemService(repo, uow, cursors, control=control, purge=gc.purge_now)
    test_sets = TestSetService(
        repo,
        store,
        control,
        uow,
        cursors,
        gc_grace_s=settings.test_set_gc_grace_s,
        stale_upload_s=settings.test_set_stale_upload_s,
        fault_points=settings.fault_points,
    )
    inbox = kit.inbox(PROBLEMS_INBOX)
    counter = ExecutionCounter(repo, inbox, uow)
    consumer = kit.consume(PROBLEMS_GROUP, [EXECUTION_EVENTS], counter.handlers())
    gen_settings = GenerationSettings.of(settings)
    gemini = GeminiClient(settings)
    author = ProgramAuthor(gemini)
    # Every event of a generation job goes through the generation process's outbox (its relay keeps
    # one job's events in order): the API's creation, cancel and retry too.
    job_outbox = kit.outbox if outbox == GENERATION_OUTBOX else Outbox(client, GENERATION_OUTBOX, settings.namespace)

    def job_uow() -> DynamoUnitOfWork:
        return DynamoUnitOfWork(client, job_outbox, settings.fault_points)

    generation = GenerationService(jobs, repo, job_uow, cursors, author, test_sets, gen_settings)
    plan_caps = HttpPlanCaps(
        upstream_client(settings.ratelimit_url, name="ratelimit", timeout=5.0),
        IdentitySigner(settings.internal_secret.get_secret_value()),
    )

    async def registrar_cap(identity: Identity) -> tuple[str, int] | None:
        """What a registrar's new problem counts against (admins: nothing), as POST /problems does."""
        if identity.is_admin or identity.user_id is None:
            return None
        return identity.user_id, await plan_caps.max_problems(identity.plan)

    imports = ImportService(
        ImportJobStore(client, repo.control),
        PageFetcher(
            set(settings.import_hosts),
            origin_overrides=settings.import_origin_overrides,
            max_bytes=settings.import_max_page_bytes,
            timeout_s=settings.import_timeout_s,
        ),
        service,
        hosts=settings.import_hosts,
        readers=READERS,
        llm=LlmPageReader(gemini),
        plan_cap=registrar_cap,
        max_active_per_user=settings.import_max_active_per_user,
    )
    return Container(
        **kit.fields(),
        s3=blobs,
        repo=repo,
        store=store,
        control=control,
        service=service,
        test_sets=test_sets,
        gc=gc,
        counter=counter,
        consumer=consumer,
        generation=generation,
        plan_caps=plan_caps,
        imports=imports,
    )
