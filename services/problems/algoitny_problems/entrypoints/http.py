"""HTTP API of the problems service (reached through the gateway under /api/v1)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Header, Path, Query, Response
from fastapi.responses import StreamingResponse

from algoitny_problems.adapters.tables import PROBLEMS, PROBLEMS_LEGACY, PROBLEMS_QUARANTINE
from algoitny_problems.bootstrap import Container, build
from algoitny_problems.domain.access import is_registrar, manages, owner_filter, require_manager, require_registrar
from algoitny_problems.domain.imports import IMPORT_ID_PATTERN, ImportRequest, ImportView
from algoitny_problems.domain.models import (
    PLATFORM_PATTERN,
    PROBLEM_ID_PATTERN,
    CatalogueStats,
    Language,
    NewProblem,
    Problem,
    ProblemPage,
    ProblemPatch,
    ProblemView,
    ProblemWithTestCases,
    Status,
    TestCasePage,
    TestSetIn,
    TestSetMode,
    TestSetResult,
    sample_cases,
    samples_page,
)
from algoitny_problems.generation.domain.jobs import JOB_ID_PATTERN, GenerationRequest, JobPage, JobStatus, JobView
from algoitny_problems.service_layer.use_cases import not_found
from algoitny_problems.settings import ProblemsSettings
from algoitny_shared.aws import AsyncS3
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.http import event_stream_response
from algoitny_shared.idempotency import KEY_PATTERN, REPLAYED_HEADER
from algoitny_shared.identity import CurrentIdentity, Identity
from algoitny_shared.kit.app_factory import parts_app
from algoitny_shared.legacy.row_importer import LegacyStore
from algoitny_shared.logging import trace_id_var

PlatformPath = Annotated[str, Path(pattern=PLATFORM_PATTERN)]
ProblemIdPath = Annotated[str, Path(pattern=PROBLEM_ID_PATTERN)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=KEY_PATTERN,
        description="Makes a retried upload a no-op (kept 24 h, per problem).",
    ),
]
CreateIdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=KEY_PATTERN,
        description="A retried create under the same key gets the first answer back "
        "(`Idempotent-Replayed: true`) instead of 409; kept 24 h.",
    ),
]
Include = Annotated[Literal["testcases"] | None, Query(description="`testcases`: the whole current test set too")]
MAX_ORDINALS = 100
JobIdPath = Annotated[str, Path(pattern=JOB_ID_PATTERN)]
ImportIdPath = Annotated[str, Path(pattern=IMPORT_ID_PATTERN)]


def _ordinals(raw: str | None) -> list[int] | None:
    if raw is None:
        return None
    try:
        values = [int(p) for p in raw.split(",") if p.strip()]
    except ValueError:
        raise AppError(ErrorCode.VALIDATION_FAILED, "ordinals must be comma-separated numbers") from None
    if not values or len(values) > MAX_ORDINALS or any(not 1 <= v <= 999_999 for v in values):
        raise AppError(ErrorCode.VALIDATION_FAILED, f"ordinals takes 1 to {MAX_ORDINALS} numbers from 1 to 999999")
    return sorted(set(values))


def _if_match(raw: str | None) -> int | None:
    if raw is None:
        return None
    try:
        return int(raw.strip().strip('"').removeprefix("W/").strip('"'))
    except ValueError:
        raise AppError(ErrorCode.BAD_REQUEST, "If-Match must carry the problem's version number") from None


def make_app(container: Container | None = None) -> FastAPI:
    c = container or build()

    tasks: dict[str, Callable[[], Awaitable[Any]]] = {}
    if c.settings.gc_interval_s > 0:
        tasks["test-set-gc"] = lambda: c.gc.run_forever(c.settings.gc_interval_s)

    async def s3_ready() -> None:
        await AsyncS3(c.s3).head_bucket(Bucket=c.settings.bucket())

    app = parts_app(
        c,
        title="AlgoItny problems service",
        table=PROBLEMS.physical(c.settings.namespace),
        readiness=[s3_ready],
        tasks=tasks,
        on_stop=[c.imports.close, c.plan_caps.close],
    )

    # ------------------------------------------------------------------ catalogue

    @app.get("/problems", response_model=ProblemPage, tags=["problems"])
    async def list_problems(
        identity: CurrentIdentity,
        platform: Annotated[str | None, Query(pattern=PLATFORM_PATTERN)] = None,
        language: Language | None = None,
        status: Status = "completed",
        cursor: Annotated[str | None, Query(max_length=4096)] = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
    ) -> ProblemPage:
        """Newest first, by platform, language or status (drafts and deleted: admins all, a registrar
        their own)."""
        return await c.service.list_problems(
            status=status,
            platform=platform,
            language=language,
            limit=limit,
            cursor=cursor,
            can_manage=is_registrar(identity),
            created_by=owner_filter(identity),
        )

    @app.post("/problems", status_code=201, response_model=ProblemView, tags=["problems"])
    async def create_problem(
        body: NewProblem,
        identity: CurrentIdentity,
        response: Response,
        idempotency_key: CreateIdempotencyKey = None,
    ) -> ProblemView:
        """Admins, and registrars up to their plan's `max_registered_problems` (403 `max_problems`)."""
        require_registrar(identity)
        quota = None
        if not identity.is_admin:
            assert identity.user_id is not None
            quota = (identity.user_id, await c.plan_caps.max_problems(identity.plan))
        created = await c.service.create_once(
            body, identity.user_id, idempotency_key, trace_id=trace_id_var.get(), quota=quota
        )
        view = created.view
        if created.replayed:
            response.headers[REPLAYED_HEADER] = "true"
        response.headers["Location"] = f"/api/v1/problems/{view.platform}/{view.problem_id}"
        response.headers["ETag"] = f'"{view.version}"'
        return view

    @app.get("/problems/platforms", response_model=list[str], tags=["problems"])
    async def platforms() -> list[str]:
        return await c.service.platforms()

    @app.get("/problems/stats", response_model=CatalogueStats, tags=["problems"])
    async def stats(identity: CurrentIdentity) -> CatalogueStats:
        require_registrar(identity)
        return await c.service.stats()

    @app.get("/problems/id/{numeric_id}", response_model=ProblemWithTestCases, tags=["problems"])
    async def get_by_id(
        numeric_id: Annotated[int, Path(ge=1, le=2**53)], identity: CurrentIdentity, include: Include = None
    ) -> ProblemWithTestCases:
        problem, manage = await c.service.load_by_id_for(numeric_id, identity)
        return await _detail(problem, manage, include)

    legacy_rows = LegacyStore(
        c.dynamodb, PROBLEMS_LEGACY.physical(c.settings.namespace), PROBLEMS_QUARANTINE.physical(c.settings.namespace)
    )

    @app.get("/problems/legacy/{legacy_id}", response_model=ProblemWithTestCases, tags=["problems"])
    async def get_by_legacy_id(
        legacy_id: Annotated[int, Path(ge=1, le=2**63 - 1)], identity: CurrentIdentity, include: Include = None
    ) -> ProblemWithTestCases:
        """A problem migrated from the legacy application, by its legacy id (same answer and access
        rules as by its key)."""
        state = await legacy_rows.get_state("problems", str(legacy_id))
        if state is None or state.status != "imported" or "platform" not in state.refs:
            raise AppError(ErrorCode.NOT_FOUND, f"No problem was migrated from legacy problem {legacy_id}")
        problem, manage = await c.service.load_for(state.refs["platform"], state.refs["problem_id"], identity)
        return await _detail(problem, manage, include)

    @app.get("/problems/{platform}/{problem_id}", response_model=ProblemWithTestCases, tags=["problems"])
    async def get_problem(
        platform: PlatformPath,
        problem_id: ProblemIdPath,
        identity: CurrentIdentity,
        response: Response,
        include: Include = None,
    ) -> ProblemWithTestCases:
        problem, manage = await c.service.load_for(platform, problem_id, identity)
        response.headers["ETag"] = f'"{problem.version}"'
        return await _detail(problem, manage, include)

    async def _detail(problem: Problem, manage: bool, include: str | None) -> ProblemWithTestCases:
        """The whole test set goes to the problem's managers only; everyone else gets its samples."""
        if include == "testcases" and manage:
            return await c.test_sets.with_test_cases(problem, manage)
        view = ProblemWithTestCases(**ProblemView.of(problem, manage).model_dump())
        if include == "testcases":
            view.test_cases = sample_cases(problem)
        return view

    def guard(identity: Identity) -> Callable[[Problem], None]:
        """Refuses a change to a problem the caller does not manage: 404 if they may not even see
        it (someone else's draft), 403 otherwise."""

        def check(problem: Problem) -> None:
            if not problem.visible_to(False) and not manages(identity, problem.created_by):
                raise not_found(problem.platform, problem.problem_id)
            require_manager(identity, problem.created_by, f"problem {problem.key}")

        return check

    async def _owned(platform: str, problem_id: str, identity: Identity) -> Problem:
        require_registrar(identity)
        problem = await c.service.load_visible(platform, problem_id, can_manage=True)
        guard(identity)(problem)
        return problem

    @app.patch("/problems/{platform}/{problem_id}", response_model=ProblemView, tags=["problems"])
    async def update_problem(
        platform: PlatformPath,
        problem_id: ProblemIdPath,
        body: ProblemPatch,
        identity: CurrentIdentity,
        if_match: Annotated[str | None, Header(alias="If-Match", max_length=40)] = None,
    ) -> ProblemView:
        require_registrar(identity)
        return await c.service.update(
            platform,
            problem_id,
            body,
            trace_id=trace_id_var.get(),
            expected_version=_if_match(if_match),
            guard=guard(identity),
        )

    @app.post("/problems/{platform}/{problem_id}/complete", response_model=ProblemView, tags=["problems"])
    async def complete_problem(
        platform: PlatformPath, problem_id: ProblemIdPath, identity: CurrentIdentity
    ) -> ProblemView:
        require_registrar(identity)
        return await c.service.complete(platform, problem_id, trace_id=trace_id_var.get(), guard=guard(identity))

    @app.delete("/problems/{platform}/{problem_id}", status_code=200, tags=["problems"])
    async def delete_problem(
        platform: PlatformPath,
        problem_id: ProblemIdPath,
        identity: CurrentIdentity,
        hard: bool = False,
        reason: Annotated[str | None, Query(max_length=500)] = None,
    ) -> dict[str, object]:
        """Soft by default (status deleted); `hard=true` removes the item, every test case and payload."""
        require_registrar(identity)
        if hard:
            removed = await c.service.hard_delete(
                platform, problem_id, trace_id=trace_id_var.get(), guard=guard(identity)
            )
            return {"platform": platform, "problem_id": problem_id, "deleted": "hard", "test_cases_removed": removed}
        view = await c.service.soft_delete(
            platform, problem_id, reason, trace_id=trace_id_var.get(), guard=guard(identity)
        )
        return {"platform": platform, "problem_id": problem_id, "deleted": "soft", "version": view.version}

    # ------------------------------------------------------------------ test cases

    @app.get("/problems/{platform}/{problem_id}/testcases", response_model=TestCasePage, tags=["test cases"])
    async def list_test_cases(
        platform: PlatformPath,
        problem_id: ProblemIdPath,
        identity: CurrentIdentity,
        cursor: Annotated[str | None, Query(max_length=4096)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        ordinals: Annotated[str | None, Query(max_length=800, description="e.g. 1,5,9 (at most 100)")] = None,
    ) -> TestCasePage:
        """The whole current set for the problem's registrar and admins; the samples for everyone
        else (a submitter sees the failed tests' input and expected output in their execution)."""
        wanted = _ordinals(ordinals)
        problem, manage = await c.service.load_for(platform, problem_id, identity)
        if manage:
            page = await c.test_sets.page(problem, limit=limit, cursor=cursor, ordinals=wanted)
            return page.model_copy(
                update={"checker_program": problem.checker_program, "interactor": problem.interactor}
            )
        if wanted is not None or cursor is not None:
            raise AppError(
                ErrorCode.FORBIDDEN,
                "Hidden test cases are for the problem's registrar and admins; the samples are on the first page",
                reason="hidden_test_cases",
            )
        return samples_page(problem)

    async def _write(
        platform: str, problem_id: str, body: TestSetIn, mode: TestSetMode, identity: Identity, key: str | None
    ) -> TestSetResult:
        await _owned(platform, problem_id, identity)
        return await c.test_sets.write(platform, problem_id, body, mode, key, trace_id=trace_id_var.get())

    @app.put("/problems/{platform}/{problem_id}/testcases", response_model=TestSetResult, tags=["test cases"])
    async def replace_test_cases(
        platform: PlatformPath,
        problem_id: ProblemIdPath,
        body: TestSetIn,
        identity: CurrentIdentity,
        idempotency_key: IdempotencyKey = None,
    ) -> TestSetResult:
        """Replace the whole set: written under a new version, then made current at once."""
        return await _write(platform, problem_id, body, "replace", identity, idempotency_key)

    @app.post("/problems/{platform}/{problem_id}/testcases", response_model=TestSetResult, tags=["test cases"])
    async def append_test_cases(
        platform: PlatformPath,
        problem_id: ProblemIdPath,
        body: TestSetIn,
        identity: CurrentIdentity,
        idempotency_key: IdempotencyKey = None,
    ) -> TestSetResult:
        """Append cases: the current set plus these, written as a new version, then made current."""
        return await _write(platform, problem_id, body, "append", identity, idempotency_key)

    # ------------------------------------------------------------------ import from a problem page

    @app.post("/problem-imports", status_code=202, response_model=ImportView, tags=["problem imports"])
    async def start_import(body: ImportRequest, identity: CurrentIdentity, response: Response) -> ImportView:
        """Import a problem from its page (Codeforces, Baekjoon, AtCoder; other configured sites through
        Gemini): a job fetches the page and creates a draft with the samples as test cases. Poll the job
        (Location); 422 `import_refused` says why an address cannot be imported."""
        view = await c.imports.start(str(body.url), identity, trace_id=trace_id_var.get())
        response.headers["Location"] = f"/api/v1/problem-imports/{view.id}"
        return view

    @app.get("/problem-imports/{import_id}", response_model=ImportView, tags=["problem imports"])
    async def get_import(import_id: ImportIdPath, identity: CurrentIdentity) -> ImportView:
        """The import's state; once `succeeded`, `problem_path` is the new draft."""
        return await c.imports.get(import_id, identity)

    # ------------------------------------------------------------------ generation jobs

    @app.post(
        "/problems/{platform}/{problem_id}/generation-jobs",
        status_code=201,
        response_model=JobView,
        tags=["generation jobs"],
    )
    async def create_generation_job(
        platform: PlatformPath,
        problem_id: ProblemIdPath,
        body: GenerationRequest,
        identity: CurrentIdentity,
        response: Response,
    ) -> JobView:
        """Generate test cases: a generator program (or one Gemini writes) runs in the judge's sandbox,
        the reference solution gives the outputs, the result becomes a new test-set version."""
        await _owned(platform, problem_id, identity)
        view = await c.generation.create(platform, problem_id, body, identity, trace_id=trace_id_var.get())
        response.headers["Location"] = view.links["self"]
        return view

    @app.get("/generation-jobs", response_model=JobPage, tags=["generation jobs"])
    async def list_generation_jobs(
        identity: CurrentIdentity,
        status: JobStatus | None = None,
        platform: Annotated[str | None, Query(pattern=PLATFORM_PATTERN)] = None,
        problem_id: Annotated[str | None, Query(pattern=PROBLEM_ID_PATTERN)] = None,
        cursor: Annotated[str | None, Query(max_length=4096)] = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
    ) -> JobPage:
        """Newest first: all jobs, or by status, platform, or platform and problem (a registrar: their
        own jobs only)."""
        require_registrar(identity)
        return await c.generation.list_jobs(
            status=status,
            platform=platform,
            problem_id=problem_id,
            cursor=cursor,
            limit=limit,
            created_by=owner_filter(identity),
        )

    async def _own_job(job_id: str, identity: Identity) -> None:
        """A registrar reaches only the jobs they started (others' are 404); admins every job."""
        require_registrar(identity)
        job = await c.generation.load(job_id)
        if not manages(identity, job.created_by):
            raise AppError(ErrorCode.NOT_FOUND, f"Generation job {job_id} does not exist")

    @app.get("/generation-jobs/{job_id}", response_model=JobView, tags=["generation jobs"])
    async def get_generation_job(job_id: JobIdPath, identity: CurrentIdentity) -> JobView:
        await _own_job(job_id, identity)
        return await c.generation.get(job_id)

    @app.get(
        "/generation-jobs/{job_id}/events",
        tags=["generation jobs"],
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def generation_job_events(job_id: JobIdPath, identity: CurrentIdentity) -> StreamingResponse:
        """Server-sent events: `status` changes, `progress` as cases are made, then `succeeded`,
        `failed` or `cancelled` with the job, and the stream ends."""
        await _own_job(job_id, identity)
        # An unknown job becomes problem+json before the stream starts.
        return await event_stream_response(c.generation.follow(job_id, max_s=c.settings.generation_sse_max_s))

    @app.post("/generation-jobs/{job_id}/cancel", response_model=JobView, tags=["generation jobs"])
    async def cancel_generation_job(job_id: JobIdPath, identity: CurrentIdentity) -> JobView:
        """Stop a pending or running job; nothing it staged becomes current (409 once it has ended)."""
        await _own_job(job_id, identity)
        return await c.generation.cancel(job_id, identity, trace_id=trace_id_var.get())

    @app.post("/generation-jobs/{job_id}/retry", response_model=JobView, tags=["generation jobs"])
    async def retry_generation_job(job_id: JobIdPath, identity: CurrentIdentity) -> JobView:
        """Run a failed or cancelled job again from the start, with the same seed."""
        await _own_job(job_id, identity)
        return await c.generation.retry(job_id, trace_id=trace_id_var.get())

    return app


def main_app() -> FastAPI:
    return make_app(build(ProblemsSettings()))
