"""Test-case generation's use cases and its worker on the in-memory unit of work (no moto server,
no Kafka, no judge): the problems service's own repositories on an in-process DynamoDB and S3, a
fake sandbox that answers like the judge (the "programs" are Python functions keyed by their
code), a fake author in place of Gemini.

Checked: a job is staged in batches and flips once (samples first, every event committed with its
write); a worker killed midway leaves its lease to expire and the next worker continues from the
recorded progress with exactly the cases the seed alone gives; a job cancelled while a worker
runs it stops and its staged version goes to garbage collection; Gemini-authored generator and
solution (the solution becomes the problem's once it passes the samples, a failing one ends the
job); transient sandbox failures are retried up to the attempts then given up, and a retry
starts a new life; deterministic failures end the job with the reason (generator prints
nothing, does not compile, too few distinct inputs, reference solution fails, deleted problem);
the API's refusals (over the cap, deleted problem, no solution, no author) and its follow stream.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from support.inprocess import Store, in_process_dynamo
from support.polling import eventually_async

from algoitny_problems.adapters.buckets import TEST_CASE_PAYLOADS
from algoitny_problems.adapters.control import ControlRepository, upload_pk
from algoitny_problems.adapters.repository import ProblemRepository
from algoitny_problems.adapters.test_cases import TestCaseStore
from algoitny_problems.domain.models import NewProblem, Problem
from algoitny_problems.generation.adapters.authoring import AuthoredProgram
from algoitny_problems.generation.adapters.jobs import GenerationJobRepository
from algoitny_problems.generation.adapters.sandbox import RunOutput, SandboxOutcome
from algoitny_problems.generation.domain.jobs import GenerationJob, GenerationRequest, generator_stdin
from algoitny_problems.generation.service_layer.jobs import GenerationService, GenerationSettings
from algoitny_problems.generation.service_layer.worker import GenerationWorker
from algoitny_problems.service_layer.maintenance import GarbageCollector
from algoitny_problems.service_layer.test_sets import TestSetService
from algoitny_problems.service_layer.use_cases import ProblemService
from algoitny_shared.cursor import CursorCodec
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.events.catalog import SandboxLimits
from algoitny_shared.identity import Identity

REGISTRAR = Identity(user_id="reg-1", role="user", may_register=True)
GEN = "gen: two numbers from the seed"
COIN = "gen: 0 or 1"
SILENT = "gen: prints nothing"
BROKEN = "does not compile"
SOLUTION = "sol: a + b"
WRONG = "sol: a - b"


def _two_numbers(stdin: bytes) -> bytes:
    seed, _size = stdin.split()
    r = random.Random(int(seed))
    return f"{r.randint(0, 10**9)} {r.randint(0, 10**9)}\n".encode()


def _sum(stdin: bytes, sign: int = 1) -> bytes:
    a, b = map(int, stdin.split())
    return f"{a + sign * b}\n".encode()


PROGRAMS: dict[str, Callable[[bytes], bytes]] = {
    GEN: _two_numbers,
    COIN: lambda stdin: f"{random.Random(int(stdin.split()[0])).randint(0, 1)}\n".encode(),
    SILENT: lambda stdin: b"",
    SOLUTION: _sum,
    WRONG: lambda stdin: _sum(stdin, -1),
}


class FakeSandbox:
    """Answers like the judge: CE for an unknown program, IE while ``broken``, else one run per
    input (WA when an expected output differs). ``hold_from``: the run of that step waits until
    ``release`` is set (or its worker is "killed" while it waits)."""

    def __init__(self) -> None:
        self.runs: list[str] = []
        self.broken = False
        self.hold_from: str | None = None
        self.held = asyncio.Event()
        self.release = asyncio.Event()

    async def run(
        self,
        run_id: str,
        language: str,
        code: str,
        inputs: Sequence[bytes],
        limits: SandboxLimits,
        *,
        expected: Sequence[bytes] | None = None,
        abandoned: asyncio.Event | None = None,
        **_: Any,
    ) -> SandboxOutcome:
        self.runs.append(run_id)
        if self.hold_from and run_id.endswith(self.hold_from):
            self.held.set()
            await self.release.wait()
        if self.broken:
            return SandboxOutcome("IE", detail="sandbox broken")
        program = PROGRAMS.get(code)
        if program is None:
            return SandboxOutcome("CE", compile_message="syntax error")
        runs = []
        for i, data in enumerate(inputs):
            out = program(data)
            verdict = "AC" if expected is None or out.split() == expected[i].split() else "WA"
            runs.append(RunOutput(i, verdict, "", out))
        return SandboxOutcome(next((r.verdict for r in runs if r.verdict != "AC"), "AC"), runs=runs)


class FakeAuthor:
    """Gemini's stand-in: writes the given programs."""

    def __init__(self, generator: str = GEN, solution: str = SOLUTION, enabled: bool = True) -> None:
        self.enabled = enabled
        self._generator, self._solution = generator, solution

    async def generator(self, problem: Problem) -> AuthoredProgram:
        return AuthoredProgram("python3", self._generator, "fake-model")

    async def solution(self, problem: Problem) -> AuthoredProgram:
        return AuthoredProgram("python3", self._solution, "fake-model")


class Generation:
    def __init__(self, store: Store, author: FakeAuthor) -> None:
        self.store = store
        self.repo = ProblemRepository(store.client, store.namespace)
        cases = TestCaseStore(
            store.client,
            store.s3,
            self.repo.test_cases,
            TEST_CASE_PAYLOADS.physical(store.namespace),
            inline_max_bytes=4096,
        )
        self.control = ControlRepository(store.client, self.repo.control)
        cursors = CursorCodec("c" * 32)
        self.jobs = GenerationJobRepository(store.client, store.namespace)
        gc = GarbageCollector(self.repo, cases, self.control, self.jobs)
        self.problems = ProblemService(self.repo, store.uow, cursors, control=self.control, purge=gc.purge_now)  # type: ignore[arg-type]
        self.test_sets = TestSetService(
            self.repo, cases, self.control, store.uow, cursors, gc_grace_s=0, stale_upload_s=60
        )  # type: ignore[arg-type]
        self.settings = GenerationSettings(max_cases=50, batch_size=3, lease_s=1.5, poll_interval_s=0.05)
        self.author = author
        self.service = GenerationService(
            self.jobs,
            self.repo,
            store.uow,  # type: ignore[arg-type]
            cursors,
            author,  # type: ignore[arg-type]
            self.test_sets,
            self.settings,
        )

    def worker(self, sandbox: FakeSandbox) -> GenerationWorker:
        return GenerationWorker(
            self.jobs,
            self.repo,
            self.problems,
            self.test_sets,
            sandbox,
            self.author,  # type: ignore[arg-type]
            self.store.uow,  # type: ignore[arg-type]
            self.settings,
        )

    async def problem(self, **extra: Any) -> str:
        pid = f"p{len(self.store.events)}x{random.randrange(10**6)}"
        fields = {
            "platform": "gen",
            "problem_id": pid,
            "title": "A+B",
            "status": "completed",
            "language": "python3",
            "reference_solution": SOLUTION,
            "test_cases": [{"input": "1 2\n", "output": "3\n", "is_sample": True}],
            **extra,
        }
        await self.problems.create(NewProblem.model_validate(fields), "admin", quota=("admin", -1))
        return pid

    async def create(self, pid: str, code: str | None = GEN, seed: int = 7, **body: Any) -> str:
        fields = {"counts": {"small": 4, "large": 3}, "seed": seed, **body}
        if code is not None:
            fields["generator"] = {"language": "python3", "code": code}
        view = await self.service.create("gen", pid, GenerationRequest.model_validate(fields), REGISTRAR)
        return view.job_id

    async def drain(self, worker: GenerationWorker, limit: int = 10) -> None:
        for _ in range(limit):
            if not await worker.run_once():
                return

    async def job(self, job_id: str) -> GenerationJob:
        return await self.service.load(job_id)

    async def cases(self, pid: str) -> list[Any]:
        problem = await self.repo.get("gen", pid, consistent=True)
        assert problem is not None
        return (await self.test_sets.page(problem, limit=100, cursor=None)).items

    def job_events(self, job_id: str) -> list[str]:
        return [e.event_type.split(".")[1] for e in self.store.events if e.aggregate_id.startswith(job_id)]


def expected_inputs(seed: int, counts: dict[str, int]) -> list[bytes]:
    """What the seed alone gives (GEN never repeats itself here, so no re-roll)."""
    return [_two_numbers(generator_stdin(seed, counts, i, 0)) for i in range(sum(counts.values()))]


@pytest.fixture
def store() -> Iterator[Store]:
    with in_process_dynamo("problems", buckets=True) as found:
        yield found


@pytest.fixture
def gen(store: Store) -> Generation:
    return Generation(store, FakeAuthor())


async def test_a_job_is_staged_in_batches_and_flips_once(gen: Generation) -> None:
    pid = await gen.problem()
    job_id = await gen.create(pid)
    sandbox = FakeSandbox()
    await gen.drain(gen.worker(sandbox))
    job = await gen.job(job_id)
    assert job.status == "succeeded" and job.done == 7 and job.attempts == 1 and job.lease_holder is None, job
    assert job.test_case_count == 8 and job.solution_source == "problem"
    cases = await gen.cases(pid)
    assert [c.ordinal for c in cases] == list(range(1, 9)) and cases[0].is_sample
    assert [c.input.encode() for c in cases[1:]] == expected_inputs(7, {"small": 4, "large": 3})
    assert all(int(c.output) == sum(map(int, c.input.split())) for c in cases)
    problem = await gen.repo.get("gen", pid, consistent=True)
    assert problem is not None and problem.test_set_version == job.test_set_version
    # samples once, then 3 batches of (generate, solve); run ids carry job, life, attempt and step
    assert sandbox.runs[0] == f"{job_id}.1.1.samples" and len(sandbox.runs) == 7
    events = gen.job_events(job_id)
    assert events[0] == "GenerationJobCreated" and events[-1] == "GenerationJobSucceeded"
    assert events.count("GenerationJobProgressed") == 3  # one per recorded batch
    assert not await gen.worker(sandbox).run_once()  # nothing left to claim


async def test_a_killed_worker_leaves_the_job_to_the_next_which_resumes_with_exactly_the_seeds_cases(
    gen: Generation,
) -> None:
    pid = await gen.problem()
    counts = {"small": 4, "medium": 4, "large": 4}
    job_id = await gen.create(pid, counts=counts, seed=99)
    first = FakeSandbox()
    first.hold_from = ".gen-6"  # the third batch: two recorded, then the worker "dies"
    dying = gen.worker(first)
    claimed = await dying.claim()
    assert claimed is not None and claimed.attempts == 1
    task = asyncio.create_task(dying.process(claimed))
    await asyncio.wait_for(first.held.wait(), 10)
    assert (await gen.job(job_id)).done == 6
    task.cancel()  # SIGKILL: nothing more is written, the heartbeat stops
    await asyncio.gather(task, return_exceptions=True)

    second = FakeSandbox()
    successor = gen.worker(second)
    assert await successor.claim() is None  # the lease still holds

    async def claimable() -> GenerationJob | None:
        return await successor.claim()

    taken = await eventually_async(claimable, timeout_s=10, interval_s=0.1)
    assert taken.attempts == 2 and taken.done == 6 and taken.lease_holder == successor.worker_id
    await successor.process(taken)
    job = await gen.job(job_id)
    assert job.status == "succeeded" and job.attempts == 2 and job.done == 12 and job.test_case_count == 13, job
    cases = await gen.cases(pid)
    assert [c.ordinal for c in cases] == list(range(1, 14))  # no duplicate, no gap
    assert [c.input.encode() for c in cases[1:]] == expected_inputs(99, counts)
    # the successor regenerated only the batches not recorded, and never the samples
    assert not any(r.endswith(".samples") for r in second.runs)
    assert sorted({r.rsplit(".", 1)[1] for r in second.runs if ".gen-" in r}) == ["gen-6", "gen-9"]


async def test_a_job_cancelled_while_running_stops_and_its_staged_version_goes_to_gc(gen: Generation) -> None:
    pid = await gen.problem()
    job_id = await gen.create(pid)
    sandbox = FakeSandbox()
    sandbox.hold_from = ".gen-3"
    worker = gen.worker(sandbox)
    claimed = await worker.claim()
    assert claimed is not None
    task = asyncio.create_task(worker.process(claimed))
    await asyncio.wait_for(sandbox.held.wait(), 10)
    cancelled = await gen.service.cancel(job_id, REGISTRAR)
    assert cancelled.status == "cancelled"
    assert not await gen.worker(FakeSandbox()).run_once()  # a cancelled job is never claimed
    # The worker that holds it learns of the loss on its next write, stops and hands the staged
    # version to GC (the API leaves that to a live worker).
    sandbox.release.set()
    await asyncio.wait_for(task, 10)
    job = await gen.job(job_id)
    assert job.status == "cancelled" and job.done == 3 and job.staged_version is not None
    problem = await gen.repo.get("gen", pid, consistent=True)
    assert problem is not None and problem.test_case_count == 1  # the current set is untouched
    record = await gen.control.get(upload_pk("gen", pid, problem.incarnation, job.staged_version))
    assert record is not None and record["state"] == "garbage"


async def test_gemini_writes_the_generator_and_a_solution_that_must_pass_the_samples(store: Store) -> None:
    gen = Generation(store, FakeAuthor(generator=GEN, solution=SOLUTION))
    pid = await gen.problem(reference_solution=None, language=None)
    job_id = await gen.create(pid, code=None, llm_generator=True, llm_solution=True)
    await gen.drain(gen.worker(FakeSandbox()))
    job = await gen.job(job_id)
    assert job.status == "succeeded" and job.generator_source == "llm" and job.generator_author == "fake-model"
    assert job.solution_source == "llm" and job.solution_author == "fake-model"
    problem = await gen.repo.get("gen", pid, consistent=True)
    assert problem is not None and problem.reference_solution == SOLUTION  # accepted: now the problem's

    wrong = Generation(store, FakeAuthor(solution=WRONG))
    other = await wrong.problem(reference_solution=None, language=None)
    job_id = await wrong.create(other, llm_solution=True)
    await wrong.drain(wrong.worker(FakeSandbox()))
    failed = await wrong.job(job_id)
    assert failed.status == "failed" and failed.attempts == 1  # deterministic: not retried
    assert failed.error and failed.error.startswith("the authored reference solution fails sample 1: WA")
    unchanged = await wrong.repo.get("gen", other, consistent=True)
    assert unchanged is not None and unchanged.reference_solution is None


async def test_a_failing_sandbox_is_retried_up_to_the_attempts_and_a_retry_starts_a_new_life(gen: Generation) -> None:
    pid = await gen.problem()
    job_id = await gen.create(pid)
    sandbox = FakeSandbox()
    sandbox.broken = True
    await gen.drain(gen.worker(sandbox))
    job = await gen.job(job_id)
    assert job.status == "failed" and job.attempts == 3, job
    assert job.error and job.error.startswith("gave up after 3 attempts") and "sandbox failed" in job.error
    assert [r.split(".")[2] for r in sandbox.runs] == ["1", "2", "3"]  # one claim each
    retried = await gen.service.retry(job_id)
    assert retried.status == "pending" and retried.attempts == 0
    sandbox.broken = False
    await gen.drain(gen.worker(sandbox))
    done = await gen.job(job_id)
    assert done.status == "succeeded" and done.life == 2 and done.seed == job.seed
    assert any(r.startswith(f"{job_id}.2.1.") for r in sandbox.runs)


@pytest.mark.parametrize(
    ("code", "solution", "reason"),
    [
        (SILENT, SOLUTION, "the generator printed nothing for case 0 (small)"),
        (BROKEN, SOLUTION, "the generator does not compile: syntax error"),
        (COIN, SOLUTION, "it cannot make 7 distinct cases"),
        (GEN, WRONG, "the reference solution fails sample 1: WA "),
    ],
)
async def test_deterministic_failures_end_the_job_with_the_reason_and_leave_the_set(
    gen: Generation, code: str, solution: str, reason: str
) -> None:
    pid = await gen.problem(reference_solution=solution)
    job_id = await gen.create(pid, code=code)
    await gen.drain(gen.worker(FakeSandbox()))
    job = await gen.job(job_id)
    assert job.status == "failed" and job.attempts == 1 and job.error and reason in job.error, job.error
    assert gen.job_events(job_id)[-1] == "GenerationJobFailed"
    problem = await gen.repo.get("gen", pid, consistent=True)
    assert problem is not None and problem.test_case_count == 1


async def test_a_deleted_problem_ends_its_job_and_refuses_new_ones(gen: Generation) -> None:
    pid = await gen.problem()
    job_id = await gen.create(pid)
    await gen.problems.soft_delete("gen", pid, "gone")
    await gen.drain(gen.worker(FakeSandbox()))
    job = await gen.job(job_id)
    assert job.status == "failed" and job.error == f"the problem gen/{pid} was deleted"
    with pytest.raises(AppError) as err:
        await gen.create(pid)
    assert err.value.code is ErrorCode.CONFLICT and err.value.to_problem()["reason"] == "problem_deleted"


async def test_the_api_refuses_what_no_worker_could_do_with_a_reason(store: Store) -> None:
    gen = Generation(store, FakeAuthor(enabled=False))
    pid = await gen.problem()
    with pytest.raises(AppError) as over:
        await gen.create(pid, counts={"max": 51})
    assert over.value.to_problem()["reason"] == "over_cap"
    with pytest.raises(AppError) as llm:
        await gen.create(pid, code=None, llm_generator=True)
    assert llm.value.to_problem()["reason"] == "llm_unavailable" and llm.value.to_problem()["status"] == 422
    bare = await gen.problem(reference_solution=None, language=None)
    with pytest.raises(AppError) as none:
        await gen.create(bare)
    assert none.value.to_problem()["reason"] == "no_reference_solution"
    with pytest.raises(AppError) as missing:
        await gen.create("nope")
    assert missing.value.code is ErrorCode.NOT_FOUND
    assert [e.event_type for e in store.events if "GenerationJob" in e.event_type] == []  # nothing written


async def test_follow_streams_status_and_progress_until_the_end(gen: Generation) -> None:
    pid = await gen.problem()
    job_id = await gen.create(pid)
    seen: list[tuple[str, dict[str, Any]]] = []

    async def follow() -> None:
        async for event in gen.service.follow(job_id, max_s=20):
            seen.append(event)

    follower = asyncio.create_task(follow())
    await eventually_async(lambda: seen, timeout_s=5, interval_s=0.02)
    await gen.drain(gen.worker(FakeSandbox()))
    await asyncio.wait_for(follower, 10)
    names = [name for name, _ in seen]
    assert names[0] == "status" and seen[0][1]["status"] == "pending"
    assert names[-1] == "succeeded" and seen[-1][1]["status"] == "succeeded" and seen[-1][1]["done"] == 7
