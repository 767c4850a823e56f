"""Use case: import a problem from its page's address into a draft with the samples as tests.

``start`` checks what can be checked at once (a registrar, an allowed host, a way to read
the page, no such problem yet, the registrar's cap on unfinished imports) and answers 202
with the job; the fetch and extraction run in the background in this process, holding a
lease that they renew. The draft is created through :class:`ProblemService` like any
registrar's problem (plan cap, events, search), so an imported problem is ordinary from then
on: editable, and ready for test generation.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol
from urllib.parse import urlsplit

from algoitny_problems.adapters.import_jobs import ImportJobStore
from algoitny_problems.adapters.page_fetcher import PageFetcher
from algoitny_problems.domain.imports import (
    ExtractedProblem,
    ImportJob,
    ImportRefused,
    ImportView,
    new_import_id,
    now_utc,
    problem_id_from_path,
)
from algoitny_problems.service_layer.use_cases import ProblemService
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.identity import Identity
from algoitny_shared.llm import LlmUnavailable
from algoitny_shared.platforms import problem_of_url
from algoitny_shared.uow import TransactionConflict

log = logging.getLogger(__name__)
LEASE_S = 60.0
PageReader = Callable[[str], ExtractedProblem]


class LlmReader(Protocol):
    @property
    def enabled(self) -> bool: ...

    async def read(self, markup: str) -> ExtractedProblem: ...


class ImportService:
    def __init__(
        self,
        jobs: ImportJobStore,
        fetcher: PageFetcher,
        problems: ProblemService,
        *,
        hosts: dict[str, str],
        readers: dict[str, PageReader],
        llm: LlmReader | None,
        plan_cap: Callable[[Identity], Awaitable[tuple[str, int] | None]],
        max_active_per_user: int = 3,
    ) -> None:
        self._jobs = jobs
        self._fetcher = fetcher
        self._problems = problems
        self._hosts = {h.lower().removeprefix("www."): p for h, p in hosts.items()}
        self._readers = readers
        self._llm = llm
        self._plan_cap = plan_cap
        self._max_active = max_active_per_user
        self._active: dict[str, set[str]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def _problem_key(self, url: str) -> tuple[str, str, str]:
        """(platform, problem id, method) for ``url``; raises ImportRefused."""
        host = self._fetcher.check(url)
        platform = self._hosts[host]
        ref = problem_of_url(url)
        if ref is not None and ref.platform == platform:
            if ref.problem_id is None:
                raise ImportRefused("this page names its problem by title only; give the problem's numbered address")
            problem_id = ref.problem_id
        else:
            found = problem_id_from_path(urlsplit(url).path)
            if found is None:
                raise ImportRefused("the address does not name a problem")
            problem_id = found
        if platform in self._readers:
            return platform, problem_id, f"parser:{platform}"
        if self._llm is None or not self._llm.enabled:
            raise ImportRefused(
                f"pages of {host} are read by the LLM, which is not configured here (offline); "
                "enter the problem by hand instead"
            )
        return platform, problem_id, "llm"

    async def start(self, url: str, identity: Identity, trace_id: str | None = None) -> ImportView:
        if not identity.may_register_problems:
            raise AppError(ErrorCode.FORBIDDEN, "Only registrars and admins can import problems")
        try:
            platform, problem_id, method = self._problem_key(url)
        except ImportRefused as exc:
            raise AppError(ErrorCode.VALIDATION_FAILED, exc.reason, reason="import_refused") from None
        if await self._problems.exists(platform, problem_id):
            raise AppError(
                ErrorCode.ALREADY_EXISTS,
                f"Problem {platform}/{problem_id} is already registered",
                problem=f"{platform}/{problem_id}",
            )
        user = identity.user_id or "admin"
        active = self._active.setdefault(user, set())
        if len(active) >= self._max_active:
            raise AppError(
                ErrorCode.RATE_LIMITED,
                f"At most {self._max_active} imports may run at once; wait for one to finish",
                headers={"Retry-After": "5"},
            )
        now = now_utc()
        job = ImportJob(
            id=new_import_id(),
            url=url,
            platform=platform,
            problem_id=problem_id,
            requested_by=identity.user_id,
            method=method,
            created_at=now,
            updated_at=now,
            lease_expires_at=time.time() + LEASE_S,
        )
        job = await self._jobs.save(job, expected_version=None)
        active.add(job.id)
        task = asyncio.create_task(self._run(job, identity, trace_id), name=f"import-{job.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return ImportView.of(job, time.time())

    async def get(self, job_id: str, identity: Identity) -> ImportView:
        job = await self._jobs.get(job_id)
        if job is None or not (identity.is_admin or (identity.user_id and job.requested_by == identity.user_id)):
            raise AppError(ErrorCode.NOT_FOUND, f"Import {job_id} does not exist")
        return ImportView.of(job, time.time())

    async def wait_idle(self) -> None:
        """Let running imports finish (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _run(self, job: ImportJob, identity: Identity, trace_id: str | None) -> None:
        user = identity.user_id or "admin"
        try:
            job = await self._advance(job, status="running")
            try:
                page = await self._fetcher.fetch(job.url)
                extracted = await self._read(job, page.text)
                command = extracted.to_new_problem(job.platform, job.problem_id, job.url)
                quota = await self._plan_cap(identity)
                await self._problems.create(command, identity.user_id, trace_id=trace_id, quota=quota)
            except ImportRefused as exc:
                await self._advance(job, status="failed", error=exc.reason)
            except AppError as exc:
                await self._advance(job, status="failed", error=exc.detail)
            except LlmUnavailable as exc:
                await self._advance(
                    job, status="failed", error=f"the LLM could not read the page ({exc.reason}); retry later"
                )
            else:
                await self._advance(job, status="succeeded")
        except Exception:
            log.exception("import %s failed unexpectedly", job.id)
            with contextlib.suppress(Exception):
                latest = await self._jobs.get(job.id)
                if latest is not None and latest.status in ("pending", "running"):
                    await self._advance(latest, status="failed", error="internal error while importing; retry")
        finally:
            self._active.get(user, set()).discard(job.id)

    async def _read(self, job: ImportJob, markup: str) -> ExtractedProblem:
        reader = self._readers.get(job.platform)
        if reader is not None:
            return reader(markup)
        if self._llm is None or not self._llm.enabled:
            raise ImportRefused("the LLM reader is not configured (offline)")
        return await self._llm.read(markup)

    async def _advance(self, job: ImportJob, *, status: str, error: str | None = None) -> ImportJob:
        lease = time.time() + LEASE_S if status == "running" else None
        changed = job.model_copy(
            update={"status": status, "error": error, "updated_at": now_utc(), "lease_expires_at": lease}
        )
        try:
            return await self._jobs.save(changed, expected_version=job.version)
        except TransactionConflict:
            log.warning("import %s changed under its worker; keeping the other write", job.id)
            return job
