"""Generation jobs on moto with the worker driven in-process: a local stand-in for the sandbox runs
the (Python) programs in a subprocess, so the worker's rules are checked without Kafka or the
judge (the e2e tests use the real sandbox). A namespace of its own keeps the e2e platform's
workers away from these jobs.

Checked: a job staged in batches flips exactly once with samples first; listing by status,
platform and problem uses the GSIs (no Scan) with working cursors; no API key -> LLM authoring
refused with a reason; a generator with too few distinct inputs, a deleted problem and a sandbox
that keeps failing each end the job with the reason and leave the current set untouched.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from support.problems_tools import CallRecorder

from algoitny_problems.adapters.buckets import TEST_CASE_PAYLOADS
from algoitny_problems.adapters.control import upload_pk
from algoitny_problems.bootstrap import Container, build
from algoitny_problems.domain.models import NewProblem
from algoitny_problems.generation.adapters.jobs import GenerationJobRepository
from algoitny_problems.generation.adapters.sandbox import RunOutput, SandboxOutcome
from algoitny_problems.generation.domain.jobs import GenerationRequest
from algoitny_problems.generation.service_layer.jobs import GenerationSettings
from algoitny_problems.generation.service_layer.worker import GenerationWorker
from algoitny_problems.settings import ProblemsSettings
from algoitny_shared.buckets import ensure_buckets
from algoitny_shared.dynamo import dynamodb, s3
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.events.catalog import SandboxLimits
from algoitny_shared.identity import Identity
from algoitny_shared.judge_programs import PROGRAM_FAILURE_PREFIX, JudgeProgram
from algoitny_shared.tables import ensure_tables, tables_of
from algoitny_shared.uow import DynamoUnitOfWork

pytestmark = pytest.mark.integration

GEN = (
    "import random\nseed, size = input().split()\nr = random.Random(int(seed))\n"
    "print(r.randint(0, 10**9), r.randint(0, 10**9))\n"
)
SOLUTION = "a, b = map(int, input().split())\nprint(a + b)\n"
REGISTRAR = Identity(user_id="reg-1", role="user", may_register=True)


class LocalSandbox:
    """Runs Python programs in a subprocess, like the judge would answer (AC/RE/WA per run)."""

    def __init__(self) -> None:
        self.runs: list[str] = []
        self.broken = False
        self.programs: list[tuple[str, JudgeProgram | None, JudgeProgram | None]] = []

    async def run(
        self,
        run_id: str,
        language: str,
        code: str,
        inputs: Sequence[bytes],
        limits: SandboxLimits,
        *,
        expected: Sequence[bytes] | None = None,
        checker: str = "tokens",
        float_tolerance: float | None = None,
        abandoned: asyncio.Event | None = None,
        checker_program: JudgeProgram | None = None,
        interactor: JudgeProgram | None = None,
    ) -> SandboxOutcome:
        self.runs.append(run_id)
        self.programs.append((run_id, checker_program, interactor))
        if self.broken:
            return SandboxOutcome("IE", detail="sandbox broken")
        if checker_program is not None and "crash" in checker_program.code:
            # What the judge answers when the problem's own checker fails (not the sandbox).
            return SandboxOutcome("IE", detail=PROGRAM_FAILURE_PREFIX + "the checker was killed by SIGSEGV")
        outs = []
        for i, data in enumerate(inputs):
            proc = await asyncio.to_thread(
                subprocess.run, [sys.executable, "-c", code], input=data, capture_output=True, timeout=20
            )
            verdict = "AC" if proc.returncode == 0 else "RE"
            if verdict == "AC" and expected is not None and proc.stdout.split() != expected[i].split():
                verdict = "WA"
            outs.append(RunOutput(i, verdict, "", proc.stdout))
        return SandboxOutcome(next((r.verdict for r in outs if r.verdict != "AC"), "AC"), runs=outs)


@pytest.fixture(scope="module")
def c(provisioned: dict[str, Any]) -> Iterator[Container]:
    settings = ProblemsSettings(
        namespace=f"g{uuid.uuid4().hex[:8]}", consumers_enabled=False, outbox_relay_enabled=False
    )
    db = dynamodb(settings)
    ensure_tables(db, settings.namespace, tables_of("problems"))
    ensure_buckets(s3(settings), settings.namespace, [TEST_CASE_PAYLOADS])
    container = build(settings)
    yield container
    for spec in tables_of("problems"):
        db.delete_table(TableName=spec.physical(settings.namespace))


@pytest.fixture(scope="module")
def calls(c: Container) -> Iterator[CallRecorder]:
    recorder = CallRecorder()
    recorder.attach(c.dynamodb, "dynamodb")
    yield recorder
    recorder.detach()


def worker(c: Container, sandbox: LocalSandbox, **settings: Any) -> GenerationWorker:
    s = GenerationSettings(**{"batch_size": 3, "lease_s": 5, "poll_interval_s": 0.1, **settings})

    def uow() -> DynamoUnitOfWork:
        return DynamoUnitOfWork(c.dynamodb, c.outbox)

    jobs = GenerationJobRepository(c.dynamodb, c.settings.namespace)
    return GenerationWorker(jobs, c.repo, c.service, c.test_sets, sandbox, c.generation._author, uow, s)


async def problem(c: Container, **extra: Any) -> tuple[str, str]:
    pid = f"p{uuid.uuid4().hex[:8]}"
    cmd = NewProblem.model_validate(
        {
            "platform": "gen",
            "problem_id": pid,
            "title": "A+B",
            "status": "completed",
            "language": "python",
            "reference_solution": SOLUTION,
            "test_cases": [{"input": "1 2\n", "output": "3\n", "is_sample": True}],
            **extra,
        }
    )
    await c.service.create(cmd, "admin")
    return "gen", pid


def request(code: str = GEN, **counts: int) -> GenerationRequest:
    return GenerationRequest.model_validate({"generator": {"language": "python3", "code": code}, "counts": counts})


async def drain(w: GenerationWorker, limit: int = 10) -> None:
    for _ in range(limit):
        if not await w.run_once():
            return


async def test_job_stages_in_batches_and_flips_once(c: Container, calls: CallRecorder) -> None:
    platform, pid = await problem(c)
    view = await c.generation.create(platform, pid, request(small=4, large=3), REGISTRAR)
    sandbox = LocalSandbox()
    await drain(worker(c, sandbox))
    job = await c.generation.get(view.job_id)
    assert job.status == "succeeded" and job.done == 7 and job.attempts == 1, job
    assert job.test_case_count == 8 and job.solution_source == "problem" and job.solution_language == "python3"
    current = await c.repo.get(platform, pid, consistent=True)
    assert current is not None and current.test_set_version == job.test_set_version and current.test_case_count == 8
    page = await c.test_sets.page(current, limit=100, cursor=None)
    assert [i.ordinal for i in page.items] == list(range(1, 9)) and page.items[0].is_sample
    for case in page.items[1:]:
        a, b = map(int, case.input.split())
        assert int(case.output) == a + b
    # samples once, then 3 batches of (generate, solve): ids carry job, life, attempt and step
    assert sandbox.runs[0].endswith(".1.1.samples") and len(sandbox.runs) == 7
    assert calls.scans == []


async def test_listing_uses_the_indexes_with_cursors(c: Container, calls: CallRecorder) -> None:
    platform, pid = await problem(c)
    ids = [(await c.generation.create(platform, pid, request(small=1), REGISTRAR)).job_id for _ in range(3)]
    with calls.window() as used:
        first = await c.generation.list_jobs(status=None, platform=platform, problem_id=pid, cursor=None, limit=2)
        assert [j.job_id for j in first.items] == ids[::-1][:2] and first.next_cursor
        rest = await c.generation.list_jobs(
            status=None, platform=platform, problem_id=pid, cursor=first.next_cursor, limit=2
        )
        assert [j.job_id for j in rest.items] == [ids[0]] and rest.next_cursor is None
        pending = await c.generation.list_jobs(status="pending", platform=None, problem_id=None, cursor=None, limit=100)
        assert set(ids) <= {j.job_id for j in pending.items}
        on_platform = await c.generation.list_jobs(
            status="pending", platform=platform, problem_id=None, cursor=None, limit=100
        )
        assert set(ids) <= {j.job_id for j in on_platform.items}
        newest = await c.generation.list_jobs(status=None, platform=None, problem_id=None, cursor=None, limit=3)
        assert [j.job_id for j in newest.items] == ids[::-1]
    assert "Scan" not in used and used["Query"] >= 5
    with pytest.raises(AppError) as err:
        await c.generation.list_jobs(status=None, platform=platform, problem_id=pid, cursor="forged", limit=2)
    assert err.value.code is ErrorCode.INVALID_CURSOR
    for job_id in ids:
        await c.generation.cancel(job_id, REGISTRAR)
    assert calls.scans == []


async def test_without_an_api_key_llm_authoring_is_refused_with_a_reason(c: Container) -> None:
    platform, pid = await problem(c)
    body = GenerationRequest.model_validate({"llm_generator": True, "counts": {"small": 1}})
    with pytest.raises(AppError) as err:
        await c.generation.create(platform, pid, body, REGISTRAR)
    problem_json = err.value.to_problem()
    assert problem_json["status"] == 422 and problem_json["reason"] == "llm_unavailable"
    assert "Gemini" in problem_json["detail"]
    bare, bare_pid = await problem(c, reference_solution=None, language=None)
    with pytest.raises(AppError) as err:
        await c.generation.create(bare, bare_pid, request(small=1), REGISTRAR)
    assert err.value.to_problem()["reason"] == "no_reference_solution"
    with_llm = GenerationRequest.model_validate(
        {"generator": {"language": "python3", "code": GEN}, "llm_solution": True, "counts": {"small": 1}}
    )
    with pytest.raises(AppError) as err:
        await c.generation.create(bare, bare_pid, with_llm, REGISTRAR)
    assert err.value.to_problem()["reason"] == "llm_unavailable"


async def test_too_few_distinct_inputs_fails_and_nothing_becomes_current(c: Container) -> None:
    platform, pid = await problem(c)
    before = await c.repo.get(platform, pid, consistent=True)
    coin = "import random\nseed, size = input().split()\nprint(random.Random(int(seed)).randint(0, 1))\n"
    view = await c.generation.create(platform, pid, request(coin, small=5), REGISTRAR)
    await drain(worker(c, LocalSandbox()))
    job = await c.generation.load(view.job_id)
    assert job.status == "failed" and job.error and "distinct" in job.error, job.error
    after = await c.repo.get(platform, pid, consistent=True)
    assert before is not None and after is not None
    assert after.test_set_version == before.test_set_version and after.test_case_count == 1
    assert job.staged_version is not None
    record = await c.control.get(upload_pk(platform, pid, after.incarnation, job.staged_version))
    assert record is not None and record["state"] == "garbage"  # GC removes the staged cases


async def test_deleted_problem_ends_the_job(c: Container) -> None:
    platform, pid = await problem(c)
    view = await c.generation.create(platform, pid, request(small=2), REGISTRAR)
    await c.service.soft_delete(platform, pid, "gone")
    await drain(worker(c, LocalSandbox()))
    job = await c.generation.load(view.job_id)
    assert job.status == "failed" and job.error == f"the problem {platform}/{pid} was deleted"
    with pytest.raises(AppError) as err:
        await c.generation.create(platform, pid, request(small=2), REGISTRAR)
    assert err.value.code is ErrorCode.CONFLICT


async def test_a_sandbox_that_keeps_failing_uses_up_the_attempts(c: Container) -> None:
    platform, pid = await problem(c)
    view = await c.generation.create(platform, pid, request(small=2), REGISTRAR)
    sandbox = LocalSandbox()
    sandbox.broken = True
    await drain(worker(c, sandbox), limit=10)
    job = await c.generation.load(view.job_id)
    assert job.status == "failed" and job.attempts == 3, job
    assert job.error and job.error.startswith("gave up after 3 attempts") and "sandbox failed" in job.error
    # retry starts over with the same seed and a new life; a working sandbox then succeeds
    retried = await c.generation.retry(view.job_id)
    assert retried.status == "pending" and retried.attempts == 0
    sandbox.broken = False
    await drain(worker(c, sandbox))
    done = await c.generation.load(view.job_id)
    assert done.status == "succeeded" and done.life == 2 and done.seed == job.seed
    assert any(r.startswith(f"{view.job_id}.2.1.") for r in sandbox.runs)


async def test_over_the_cap_is_refused(c: Container) -> None:
    platform, pid = await problem(c)
    with pytest.raises(AppError) as err:
        await c.generation.create(platform, pid, request(max=c.settings.generation_max_cases + 1), REGISTRAR)
    assert err.value.code is ErrorCode.VALIDATION_FAILED and err.value.to_problem()["reason"] == "over_cap"


async def test_a_validator_checks_every_input(c: Container) -> None:
    platform, pid = await problem(c)
    small_only = "a, b = map(int, input().split())\nraise SystemExit(0 if a + b < 10**9 else 3)\n"
    accepting = "input()\n"
    for validator, status in ((accepting, "succeeded"), (small_only, "failed")):
        body = GenerationRequest.model_validate(
            {
                "generator": {"language": "python3", "code": GEN},
                "validator": {"language": "python3", "code": validator},
                "counts": {"large": 4},
                "seed": 3,
            }
        )
        view = await c.generation.create(platform, pid, body, REGISTRAR)
        sandbox = LocalSandbox()
        await drain(worker(c, sandbox))
        job = await c.generation.load(view.job_id)
        assert job.status == status, job.error
        assert any(".val-0" in r for r in sandbox.runs)
        if status == "failed":
            assert job.error and job.error.startswith("the validator rejected case")


async def test_the_samples_run_with_the_problems_checker_and_a_failing_checker_ends_the_job(c: Container) -> None:
    checker = {"language": "python3", "code": "import sys\nsys.exit(0)"}
    platform, pid = await problem(c, checker_program=checker)
    view = await c.generation.create(platform, pid, request(small=2), REGISTRAR)
    sandbox = LocalSandbox()
    await drain(worker(c, sandbox))
    job = await c.generation.get(view.job_id)
    assert job.status == "succeeded", job
    samples = [(run_id, chk, inter) for run_id, chk, inter in sandbox.programs if run_id.endswith(".samples")]
    assert len(samples) == 1 and samples[0][1] is not None and samples[0][1].code == checker["code"]
    assert samples[0][2] is None

    crashing, crashing_pid = await problem(c, checker_program={"language": "c", "code": "int main(){/* crash */}"})
    view = await c.generation.create(crashing, crashing_pid, request(small=2), REGISTRAR)
    sandbox = LocalSandbox()
    await drain(worker(c, sandbox))
    job = await c.generation.get(view.job_id)
    assert job.status == "failed" and job.attempts == 1, job  # the problem's fault: not retried
    assert job.error is not None and "checker" in job.error and "SIGSEGV" in job.error
