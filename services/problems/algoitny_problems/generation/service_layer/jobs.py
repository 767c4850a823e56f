"""Test-case generation jobs: the registrar's use cases (served by the problems API).

:class:`GenerationService`: create (checks the problem, the cap, the reference solution and
whether LLM authoring is possible), read, list, follow (server-sent progress), cancel and retry.
Every state change is written with its event in one transaction (outbox); the generation process
(:mod:`algoitny_problems.generation.service_layer.worker`) picks a created or retried job up from
its event.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from algoitny_problems.adapters.repository import ProblemRepository
from algoitny_problems.domain.models import MAX_SET_CASES
from algoitny_problems.generation.adapters.authoring import ProgramAuthor
from algoitny_problems.generation.adapters.jobs import GenerationJobRepository
from algoitny_problems.generation.domain.jobs import (
    GenerationJob,
    GenerationRequest,
    JobPage,
    JobSummary,
    JobView,
    batch_size_for,
    new_job_id,
)
from algoitny_problems.service_layer.test_sets import TestSetService
from algoitny_problems.service_layer.use_cases import not_found
from algoitny_problems.settings import ProblemsSettings
from algoitny_shared.cursor import CursorCodec
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.events import REGISTRY, EventEnvelope
from algoitny_shared.events.catalog import (
    GenerationJobCancelled,
    GenerationJobCreated,
    GenerationJobFailed,
    GenerationJobProgressed,
)
from algoitny_shared.identity import Identity
from algoitny_shared.uow import DynamoUnitOfWork, TransactionConflict

log = logging.getLogger(__name__)
PRODUCER = "problems"
RETRIES = 5


def job_snapshot(job: GenerationJob) -> dict[str, Any]:
    return {
        "job_id": job.job_id,
        "platform": job.platform,
        "problem_id": job.problem_id,
        "status": job.status,
        "total": job.total,
        "done": job.done,
        "attempts": job.attempts,
        "updated_at": job.updated_at,
    }


def job_event(job: GenerationJob, payload: BaseModel, trace_id: str | None = None) -> EventEnvelope:
    return REGISTRY.envelope(
        payload, producer=PRODUCER, aggregate_id=job.job_id, aggregate_version=job.version, trace_id=trace_id
    )


def failed_event(job: GenerationJob) -> EventEnvelope:
    return job_event(job, GenerationJobFailed(**job_snapshot(job), error=job.error or "failed"))


class GenerationSettings(BaseModel):
    max_cases: int = 2000
    batch_size: int = 50
    lease_s: float = 30.0
    poll_interval_s: float = 1.0
    max_attempts: int = 3
    generator_time_limit_ms: int = 2000
    generator_memory_limit_mb: int = 256
    max_input_kb: int = 4096
    batch_max_mb: int = 128
    stale_upload_s: float = 6 * 3600

    @classmethod
    def of(cls, settings: ProblemsSettings) -> GenerationSettings:
        return cls(
            max_cases=settings.generation_max_cases,
            batch_size=settings.generation_batch_size,
            lease_s=settings.generation_lease_s,
            poll_interval_s=settings.generation_poll_interval_s,
            max_attempts=settings.generation_max_attempts,
            generator_time_limit_ms=settings.generation_time_limit_ms,
            generator_memory_limit_mb=settings.generation_memory_limit_mb,
            max_input_kb=settings.generation_max_input_kb,
            batch_max_mb=settings.generation_batch_max_mb,
        )

    @property
    def effective_batch_size(self) -> int:
        return batch_size_for(self.batch_size, self.max_input_kb, self.batch_max_mb)


class GenerationService:
    def __init__(
        self,
        jobs: GenerationJobRepository,
        problems: ProblemRepository,
        uow: Callable[[], DynamoUnitOfWork],
        cursors: CursorCodec,
        author: ProgramAuthor,
        test_sets: TestSetService,
        settings: GenerationSettings,
    ) -> None:
        self._jobs = jobs
        self._problems = problems
        self._uow = uow
        self._cursors = cursors
        self._author = author
        self._test_sets = test_sets
        self._settings = settings

    async def create(
        self, platform: str, problem_id: str, body: GenerationRequest, identity: Identity, trace_id: str | None = None
    ) -> JobView:
        total = body.counts.total
        cap = min(self._settings.max_cases, MAX_SET_CASES)
        if total > cap:
            raise AppError(ErrorCode.VALIDATION_FAILED, f"At most {cap} cases per job, not {total}", reason="over_cap")
        problem = await self._problems.get(platform, problem_id, consistent=True)
        if problem is None:
            raise not_found(platform, problem_id)
        if problem.status == "deleted":
            raise AppError(ErrorCode.CONFLICT, f"Problem {problem.key} is deleted", reason="problem_deleted")
        has_solution = bool(problem.reference_solution and problem.language)
        if (body.llm_generator or (body.llm_solution and not has_solution)) and not self._author.enabled:
            raise AppError(
                ErrorCode.VALIDATION_FAILED,
                "LLM authoring is not available: no Gemini API key is configured on the problems service "
                "(ALGOITNY_GEMINI_API_KEY). Send a generator program (and set a reference solution) instead.",
                reason="llm_unavailable",
            )
        if not has_solution and not body.llm_solution:
            raise AppError(
                ErrorCode.VALIDATION_FAILED,
                f"Problem {problem.key} has no reference solution to compute outputs: set one (PATCH language and "
                "reference_solution) or send llm_solution=true",
                reason="no_reference_solution",
            )
        at = datetime.now(UTC)
        job = GenerationJob(
            job_id=new_job_id(),
            platform=platform,
            problem_id=problem_id,
            incarnation=problem.incarnation,
            generator_source="llm" if body.llm_generator else "registrar",
            generator_language=body.generator.language if body.generator else None,
            generator_code=body.generator.code if body.generator else None,
            generator_author=identity.user_id if body.generator else None,
            validator_language=body.validator.language if body.validator else None,
            validator_code=body.validator.code if body.validator else None,
            llm_solution=body.llm_solution,
            counts=body.counts.as_dict(),
            total=total,
            seed=body.seed if body.seed is not None else random.randrange(2**63),
            include_samples=body.include_samples,
            max_attempts=self._settings.max_attempts,
            created_by=identity.user_id,
            created_at=at,
            updated_at=at,
        )
        uow = self._uow()
        uow.add(self._jobs.put_new(job))
        uow.publish(
            job_event(
                job,
                GenerationJobCreated(
                    **job_snapshot(job),
                    generator_source=job.generator_source,
                    generator_language=job.generator_language,
                    counts=job.counts,
                    seed=job.seed,
                    created_by=job.created_by,
                ),
                trace_id,
            )
        )
        await uow.commit()
        return JobView.of(job)

    async def load(self, job_id: str) -> GenerationJob:
        job = await self._jobs.get(job_id)
        if job is None:
            raise AppError(ErrorCode.NOT_FOUND, f"Generation job {job_id} does not exist")
        return job

    async def get(self, job_id: str) -> JobView:
        return JobView.of(await self.load(job_id))

    async def list_jobs(
        self,
        *,
        status: str | None,
        platform: str | None,
        problem_id: str | None,
        cursor: str | None,
        limit: int,
        created_by: str | None = None,
    ) -> JobPage:
        """AP-76/77/78: newest first: all jobs, by status, by platform, or by problem (with status as a
        filter on the platform's or problem's jobs); ``created_by``: only that registrar's jobs."""
        if problem_id and not platform:
            raise AppError(ErrorCode.VALIDATION_FAILED, "problem_id needs platform")
        scope = f"genjobs:{status or ''}:{platform or ''}:{problem_id or ''}:{created_by or ''}"
        before = None
        if cursor:
            position = self._cursors.decode(cursor, scope)
            before = position.get("j")
            if not isinstance(before, str) or len(before) != 26:
                raise AppError(ErrorCode.INVALID_CURSOR, "The cursor does not fit this listing")
        if platform and problem_id:
            jobs, more = await self._jobs.query(
                "ProblemIndex",
                "problem_key",
                f"{platform}#{problem_id}",
                limit=limit,
                before=before,
                status=status,
                created_by=created_by,
            )
        elif platform:
            jobs, more = await self._jobs.query(
                "PlatformIndex", "platform", platform, limit=limit, before=before, status=status, created_by=created_by
            )
        elif status:
            jobs, more = await self._jobs.query(
                "StatusIndex", "status", status, limit=limit, before=before, created_by=created_by
            )
        else:
            jobs, more = await self._jobs.query(
                "AllJobsIndex", "listed", "JOB", limit=limit, before=before, created_by=created_by
            )
        page = JobPage(items=[JobSummary.of(j) for j in jobs])
        if more and jobs:
            page.next_cursor = self._cursors.encode({"j": jobs[-1].job_id}, scope)
        return page

    async def cancel(self, job_id: str, identity: Identity, trace_id: str | None = None) -> JobView:
        for _ in range(RETRIES):
            job = await self.load(job_id)
            new = job.cancelled()
            uow = self._uow()
            uow.add(self._jobs.put(new, expected_version=job.version))
            uow.publish(
                job_event(new, GenerationJobCancelled(**job_snapshot(new), cancelled_by=identity.user_id), trace_id)
            )
            try:
                await uow.commit()
            except TransactionConflict:
                continue  # a worker wrote progress meanwhile: read again
            if job.staged_version and (job.status == "pending" or not job.lease_live()):
                # Nobody is writing it: give the staged version to GC now (a live worker does it itself).
                await self._test_sets.abandon_staged(
                    None, job.platform, job.problem_id, job.incarnation, job.staged_version
                )
            return JobView.of(new)
        raise AppError(ErrorCode.CONFLICT, f"Job {job_id} is changing too often; retry")

    async def retry(self, job_id: str, trace_id: str | None = None) -> JobView:
        for _ in range(RETRIES):
            job = await self.load(job_id)
            new = job.retried()
            uow = self._uow()
            uow.add(self._jobs.put(new, expected_version=job.version))
            uow.publish(job_event(new, GenerationJobProgressed(**job_snapshot(new)), trace_id))
            try:
                await uow.commit()
            except TransactionConflict:
                continue
            return JobView.of(new)
        raise AppError(ErrorCode.CONFLICT, f"Job {job_id} is changing too often; retry")

    async def follow(self, job_id: str, *, max_s: float = 300.0) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """(event, data): ``status`` on each status change, ``progress`` as cases are done, then the
        final ``succeeded``/``failed``/``cancelled`` with the job summary, and the stream ends."""
        job = await self.load(job_id)
        last: tuple[str, int] | None = None
        deadline = time.monotonic() + max_s
        delay = 0.1
        last_beat = time.monotonic()
        while True:
            if last is None or job.status != last[0]:
                yield "status", {"job_id": job_id, "status": job.status, "done": job.done, "total": job.total}
            elif job.done != last[1]:
                yield "progress", {"job_id": job_id, "status": job.status, "done": job.done, "total": job.total}
            changed = last != (job.status, job.done)
            last = (job.status, job.done)
            if job.status in ("succeeded", "failed", "cancelled"):
                yield job.status, JobSummary.of(job).model_dump(mode="json")
                return
            if time.monotonic() > deadline:
                yield "timeout", {"job_id": job_id, "status": job.status}
                return
            if time.monotonic() - last_beat > 15:
                last_beat = time.monotonic()
                yield "heartbeat", {}
            delay = 0.1 if changed else min(delay * 1.5, 1.0)
            await asyncio.sleep(delay)
            job = await self.load(job_id)
