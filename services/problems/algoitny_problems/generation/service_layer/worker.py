"""The durable generation worker, run by the generation process (``python -m algoitny_problems.generation``).

The worker (:class:`GenerationWorker`; ``ALGOITNY_GENERATION_JOBS_PER_PROCESS`` jobs at once per
process, more processes = more workers) claims a pending job, or a running one whose lease
expired, by a conditional write (attempts + 1, lease = now + ``lease_s``), heartbeats the lease,
and:

1. prepares once: has Gemini write the generator (and the reference solution, if asked and
   missing), checks the solution on the problem's samples in the sandbox, opens a staged
   test-set version (upload record: GC collects it if the job is abandoned) and writes the
   samples as its first cases;
2. per batch of cases: runs the generator in the sandbox for the batch's (seed, index)
   stdins, re-rolls duplicates deterministically, runs the validator (if any) and the
   reference solution, stages the cases at fixed ordinals (a rewrite is idempotent), then
   records the progress (count, input digests) conditioned on still holding the lease;
3. flips the staged version current and marks the job succeeded in one transaction.

Driven by events: a job's ``GenerationJobCreated`` (or its retry) wakes an idle worker at once
(:meth:`GenerationWorker.kick`), and each sandbox run's ``SandboxRunCompleted`` wakes the worker
waiting for it (the sandbox adapter). An idle worker also sweeps for claimable jobs every
``poll_interval_s``, which only matters for a job whose event it missed or whose worker died.

A worker that dies leaves its lease to expire; the next claim continues from the recorded
progress, and regenerates any batch that was staged but not recorded into the same ordinals,
so no case is ever duplicated. A deterministic failure (the generator crashes, loops, prints
nothing or too much; the solution fails its samples; the problem is gone) ends the job with
the reason; anything else is retried up to ``max_attempts`` claims.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import time
import uuid
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from algoitny_problems.adapters.repository import ProblemRepository
from algoitny_problems.domain.models import MAX_CASE_FIELD_CHARS, Problem, ProblemPatch, TestCaseIn
from algoitny_problems.generation.adapters.authoring import ProgramAuthor
from algoitny_problems.generation.adapters.jobs import GenerationJobRepository
from algoitny_problems.generation.adapters.sandbox import Abandoned, Sandbox, SandboxOutcome, SandboxUnavailable
from algoitny_problems.generation.domain.jobs import (
    MAX_REROLLS,
    GenerationJob,
    generator_stdin,
    input_digest,
    size_class_of,
    solution_output_kb,
)
from algoitny_problems.generation.service_layer.jobs import GenerationSettings, failed_event, job_event, job_snapshot
from algoitny_problems.service_layer.test_sets import ExtraConditionFailed, TestSetService
from algoitny_problems.service_layer.use_cases import ProblemService
from algoitny_shared.errors import AppError
from algoitny_shared.events import EventEnvelope
from algoitny_shared.events.catalog import GenerationJobProgressed, GenerationJobSucceeded, SandboxLimits
from algoitny_shared.judge_programs import PROGRAM_FAILURE_PREFIX
from algoitny_shared.llm import LlmUnavailable
from algoitny_shared.uow import DynamoUnitOfWork, TransactionConflict

log = logging.getLogger(__name__)
SPECULATIVE_REROLLS = 3


class JobFailed(Exception):
    """A deterministic failure: the job ends with this reason (no retry would help)."""


class Transient(Exception):
    """Worth another attempt (another claim, possibly by another worker)."""


def _programs(problem: Problem) -> dict[str, Any]:
    """The problem's checker or interactor for a sandbox run with expected outputs (none: no argument,
    so sandboxes that predate them still serve ordinary problems)."""
    programs: dict[str, Any] = {}
    if problem.checker_program is not None:
        programs["checker_program"] = problem.checker_program
    if problem.interactor is not None:
        programs["interactor"] = problem.interactor
    return programs


class GenerationWorker:
    def __init__(
        self,
        jobs: GenerationJobRepository,
        problems: ProblemRepository,
        problem_service: ProblemService,
        test_sets: TestSetService,
        sandbox: Sandbox,
        author: ProgramAuthor,
        uow: Callable[[], DynamoUnitOfWork],
        settings: GenerationSettings,
        worker_id: str | None = None,
    ) -> None:
        self._jobs = jobs
        self._problems = problems
        self._problem_service = problem_service
        self._test_sets = test_sets
        self._box = sandbox
        self._author = author
        self._uow = uow
        self._s = settings
        self.worker_id = worker_id or f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"
        self.processed = 0
        self._kicked = asyncio.Event()
        self._active: set[str] = set()  # jobs this process works on

    # ------------------------------------------------------------------ the loop

    def kick(self) -> None:
        """A job may be claimable now (its creation or retry event arrived): wake idle workers."""
        self._kicked.set()

    async def run_forever(self, concurrency: int = 1) -> None:
        """Claim and work on up to ``concurrency`` jobs at once (a job waiting for the sandbox costs
        nothing). One claim loop per process: it looks for jobs when kicked by an event, or every
        ``poll_interval_s`` while a slot is free, never while every slot is busy."""
        slots = asyncio.Semaphore(max(1, concurrency))
        working: set[asyncio.Task[None]] = set()
        try:
            while True:
                await slots.acquire()
                self._kicked.clear()
                try:
                    job = await self.claim()
                except Exception:
                    log.exception("claiming a generation job failed; retrying later")
                    job = None
                if job is None:
                    slots.release()
                    # Until the next job event, or the sweep that catches jobs whose worker died.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._kicked.wait(), self._s.poll_interval_s * random.uniform(0.7, 1.3))
                    continue
                task = asyncio.create_task(self._work(job, slots), name=f"generation-job-{job.job_id}")
                working.add(task)
                task.add_done_callback(working.discard)
        finally:
            for task in working:
                task.cancel()
            await asyncio.gather(*working, return_exceptions=True)

    async def _work(self, job: GenerationJob, slots: asyncio.Semaphore) -> None:
        self._active.add(job.job_id)
        try:
            await self.process(job)
            self.processed += 1
        except Exception:
            log.exception("job %s: processing failed; its lease will expire", job.job_id)
        finally:
            self._active.discard(job.job_id)
            slots.release()
            self.kick()  # a free slot: another pending job may be waiting

    async def run_once(self) -> bool:
        """Claim and process one job; False when there was nothing to claim."""
        job = await self.claim()
        if job is None:
            return False
        await self.process(job)
        self.processed += 1
        return True

    async def claim(self) -> GenerationJob | None:
        pending, _ = await self._jobs.query("StatusIndex", "status", "pending", limit=10, oldest_first=True)
        running, _ = await self._jobs.query("StatusIndex", "status", "running", limit=25, oldest_first=True)
        now = time.time()
        for job in [*pending, *(j for j in running if not j.lease_live(now))]:
            if job.job_id in self._active:
                continue  # this process works on it (a late heartbeat): its lease is renewed, not retaken
            if job.attempts >= job.max_attempts:
                reason = job.error or "the worker was lost"
                failed = job.changed(
                    status="failed",
                    error=f"gave up after {job.attempts} attempts: {reason}"[:1000],
                    lease_holder=None,
                    lease_expires_at=None,
                    finished_at=job.updated_at,
                )
                await self._end(job, failed, failed_event(failed))
                continue
            claimed = job.changed(
                status="running",
                attempts=job.attempts + 1,
                lease_holder=self.worker_id,
                lease_expires_at=now + self._s.lease_s,
                started_at=job.started_at or job.updated_at,
            )
            if await self._jobs.save(claimed, expected_version=job.version):
                log.info("claimed generation job %s (attempt %d)", job.job_id, claimed.attempts)
                return claimed
        return None

    async def _end(self, before: GenerationJob, after: GenerationJob, event: EventEnvelope) -> bool:
        uow = self._uow()
        holder = before.lease_holder if before.lease_holder == self.worker_id else None
        uow.add(self._jobs.put(after, expected_version=before.version, lease_holder=holder))
        uow.publish(event)
        try:
            await uow.commit()
        except TransactionConflict:
            return False
        if after.status in ("failed", "cancelled") and before.staged_version:
            await self._test_sets.abandon_staged(
                None, before.platform, before.problem_id, before.incarnation, before.staged_version
            )
        return True

    # ------------------------------------------------------------------ one job

    async def process(self, job: GenerationJob) -> None:
        lost = asyncio.Event()
        beat = asyncio.create_task(self._heartbeat(job.job_id, lost))
        state = _JobState(job)
        try:
            await self._run(state, lost)
        except Abandoned:
            log.info("job %s: lease lost or cancelled; stopping", job.job_id)
            await self._after_loss(state.job)
        except JobFailed as exc:
            await self._fail(state, str(exc))
        except (Transient, SandboxUnavailable, LlmUnavailable, TransactionConflict, OSError) as exc:
            reason = getattr(exc, "reason", None) or str(exc) or type(exc).__name__
            await self._release(state, f"{type(exc).__name__}: {reason}"[:500])
        except Exception as exc:
            log.exception("job %s: unexpected error", job.job_id)
            await self._release(state, f"internal error: {type(exc).__name__}: {exc}"[:500])
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat

    async def _heartbeat(self, job_id: str, lost: asyncio.Event) -> None:
        while True:
            await asyncio.sleep(self._s.lease_s / 3)
            try:
                ok = await self._jobs.extend_lease(job_id, self.worker_id, time.time() + self._s.lease_s)
            except Exception:
                log.warning("heartbeat of %s failed; trying again", job_id, exc_info=True)
                continue
            if not ok:
                lost.set()
                return

    async def _after_loss(self, job: GenerationJob) -> None:
        current = await self._jobs.get(job.job_id)
        if current is not None and current.status == "cancelled" and job.staged_version:
            await self._test_sets.abandon_staged(
                None, job.platform, job.problem_id, job.incarnation, job.staged_version
            )

    async def _fail(self, state: _JobState, reason: str) -> None:
        job = state.job
        log.info("job %s failed: %s", job.job_id, reason)
        failed = job.changed(
            status="failed", error=reason[:1000], lease_holder=None, lease_expires_at=None, finished_at=job.updated_at
        )
        if not await self._end(job, failed, failed_event(failed)):
            await self._after_loss(job)

    async def _release(self, state: _JobState, reason: str) -> None:
        """Give the job back for another attempt (or end it when the attempts are used up)."""
        job = state.job
        if job.attempts >= job.max_attempts:
            await self._fail(state, f"gave up after {job.attempts} attempts: {reason}")
            return
        log.warning("job %s attempt %d failed transiently: %s", job.job_id, job.attempts, reason)
        released = job.changed(status="pending", error=reason, lease_holder=None, lease_expires_at=None)
        uow = self._uow()
        uow.add(self._jobs.put(released, expected_version=job.version, lease_holder=self.worker_id))
        with contextlib.suppress(TransactionConflict):
            await uow.commit()
        self.kick()  # claimable again at once (by this process or any other)

    async def _save(self, state: _JobState, new: GenerationJob, event: BaseModel | None = None) -> None:
        """Record the job's new state while holding the lease (else: Abandoned). The write renews the
        lease too: the item is replaced whole, so it must not carry back an older expiry than the
        heartbeat wrote."""
        if new.lease_holder == self.worker_id:
            new = new.model_copy(update={"lease_expires_at": time.time() + self._s.lease_s})
        uow = self._uow()
        uow.add(self._jobs.put(new, expected_version=state.job.version, lease_holder=self.worker_id))
        if event is not None:
            uow.publish(job_event(new, event))
        try:
            await uow.commit()
        except TransactionConflict as exc:
            raise Abandoned(state.job.job_id) from exc
        state.job = new

    async def _load_problem(self, job: GenerationJob) -> Problem:
        problem = await self._problems.get(job.platform, job.problem_id, consistent=True)
        if problem is None or problem.incarnation != job.incarnation:
            raise JobFailed(f"the problem {job.platform}/{job.problem_id} was deleted")
        if problem.status == "deleted":
            raise JobFailed(f"the problem {job.platform}/{job.problem_id} was deleted")
        return problem

    def _run_id(self, job: GenerationJob, step: str) -> str:
        return f"{job.job_id}.{job.life}.{job.attempts}.{step}"

    async def _sandbox(
        self,
        state: _JobState,
        lost: asyncio.Event,
        step: str,
        language: str,
        code: str,
        inputs: list[bytes],
        limits: SandboxLimits,
        **kwargs: Any,
    ) -> SandboxOutcome:
        t0 = time.monotonic()
        outcome = await self._box.run(
            self._run_id(state.job, step), language, code, inputs, limits, abandoned=lost, **kwargs
        )
        log.info(
            "job %s: sandbox run %s (%d inputs) %s in %.2f s",
            state.job.job_id,
            step,
            len(inputs),
            outcome.verdict,
            time.monotonic() - t0,
        )
        if outcome.verdict == "IE":
            if outcome.detail.startswith(PROGRAM_FAILURE_PREFIX):  # the problem's fault: retrying will not help
                raise JobFailed(outcome.detail[:500])
            raise Transient(f"the sandbox failed internally: {outcome.detail}")
        return outcome

    def _generator_limits(self) -> SandboxLimits:
        return SandboxLimits(
            time_limit_ms=self._s.generator_time_limit_ms,
            memory_limit_mb=self._s.generator_memory_limit_mb,
            output_limit_kb=self._s.max_input_kb,
        )

    def _solution_limits(self, problem: Problem) -> SandboxLimits:
        return SandboxLimits(
            time_limit_ms=problem.time_limit_ms,
            memory_limit_mb=problem.memory_limit_mb,
            output_limit_kb=solution_output_kb(self._s.max_input_kb),
        )

    async def _run(self, state: _JobState, lost: asyncio.Event) -> None:
        problem = await self._load_problem(state.job)
        if not state.job.prepared:
            await self._prepare(state, lost, problem)
        job = state.job
        assert job.staged_version is not None and job.generator_code and job.generator_language
        digests = job.digest_list()[: job.done]
        seen = set(digests)
        while state.job.done < job.total:
            if lost.is_set():
                raise Abandoned(job.job_id)
            start = state.job.done
            end = min(start + self._s.effective_batch_size, job.total)
            inputs = await self._generate(state, lost, start, end, seen)
            await self._validate(state, lost, start, inputs)
            outputs = await self._solve(state, lost, problem, start, inputs)
            cases = [TestCaseIn(input=i.decode(), output=o.decode()) for i, o in zip(inputs, outputs, strict=True)]
            await self._test_sets.stage(problem, job.staged_version, state.job.sample_count + start + 1, cases)
            new_digests = [input_digest(x) for x in inputs]
            seen.update(new_digests)
            digests.extend(new_digests)
            new = state.job.changed(done=end, digests="".join(digests), error=None)
            await self._save(state, new, GenerationJobProgressed(**job_snapshot(new)))
        await self._finish(state, problem)

    async def _prepare(self, state: _JobState, lost: asyncio.Event, problem: Problem) -> None:
        job = state.job
        updates: dict[str, Any] = {}
        if job.generator_source == "llm" and not job.generator_code:
            authored = await self._author.generator(problem)
            updates.update(
                generator_language=authored.language, generator_code=authored.code, generator_author=authored.model
            )
        if problem.reference_solution and problem.language:
            updates.update(
                solution_source="problem", solution_language=problem.language, solution_code=problem.reference_solution
            )
            authored_solution = False
        elif job.llm_solution:
            if not problem.samples:
                raise JobFailed("an authored reference solution must pass the problem's samples, and it has none")
            written = await self._author.solution(problem)
            updates.update(
                solution_source="llm",
                solution_language=written.language,
                solution_code=written.code,
                solution_author=written.model,
            )
            authored_solution = True
        else:
            raise JobFailed(f"the problem {problem.key} has no reference solution")
        job = job.model_copy(update=updates)
        state.job = job
        if problem.samples:
            outcome = await self._sandbox(
                state,
                lost,
                "samples",
                str(job.solution_language),
                str(job.solution_code),
                [s.input.encode() for s in problem.samples],
                self._solution_limits(problem),
                expected=[s.output.encode() for s in problem.samples],
                checker=problem.checker,
                float_tolerance=problem.float_tolerance,
                **_programs(problem),
            )
            who = "the authored reference solution" if authored_solution else "the reference solution"
            if outcome.verdict == "CE":
                raise JobFailed(f"{who} does not compile: {outcome.compile_message[:300]}")
            bad = next((r for r in outcome.runs if r.verdict != "AC"), None)
            if bad is not None or outcome.verdict != "AC":
                where = f"sample {bad.index + 1}: {bad.verdict} {bad.detail}" if bad else outcome.verdict
                raise JobFailed(f"{who} fails {where}"[:500])
        if authored_solution:
            # Accepted on the samples: it becomes the problem's reference solution.
            patch = ProblemPatch.model_validate(
                {"language": job.solution_language, "reference_solution": job.solution_code}
            )
            with contextlib.suppress(AppError):
                await self._problem_service.update(job.platform, job.problem_id, patch)
        staged_problem, version = await self._test_sets.open_staged(
            job.platform, job.problem_id, self._s.stale_upload_s
        )
        samples = (
            [TestCaseIn(input=s.input, output=s.output, is_sample=True) for s in problem.samples]
            if job.include_samples
            else []
        )
        if samples:
            await self._test_sets.stage(staged_problem, version, 1, samples)
        new = state.job.changed(prepared=True, staged_version=version, sample_count=len(samples), done=0, digests="")
        await self._save(state, new)

    async def _generate(
        self, state: _JobState, lost: asyncio.Event, start: int, end: int, seen: set[str]
    ) -> list[bytes]:
        """Inputs start..end-1: case i is the first re-roll r whose input differs from every earlier case."""
        job = state.job
        language, code = str(job.generator_language), str(job.generator_code)
        limits = self._generator_limits()
        candidates: dict[tuple[int, int], bytes] = {}

        async def produce(keys: list[tuple[int, int]], tag: str) -> None:
            outcome = await self._sandbox(
                state,
                lost,
                tag,
                language,
                code,
                [generator_stdin(job.seed, job.counts, i, r) for i, r in keys],
                limits,
            )
            if outcome.verdict == "CE":
                raise JobFailed(f"the generator does not compile: {outcome.compile_message[:300]}")
            if len(outcome.runs) != len(keys):
                raise Transient("the sandbox returned fewer runs than asked")
            for (i, r), run in zip(keys, outcome.runs, strict=True):
                size = size_class_of(job.counts, i)
                if run.verdict != "AC":
                    raise JobFailed(f"the generator failed on case {i} ({size}): {run.verdict} {run.detail}"[:500])
                if not run.stdout.strip():
                    raise JobFailed(f"the generator printed nothing for case {i} ({size})")
                try:
                    text = run.stdout.decode("utf-8")
                except UnicodeDecodeError:
                    raise JobFailed(f"the generator printed non-UTF-8 bytes for case {i} ({size})") from None
                if len(text) > MAX_CASE_FIELD_CHARS:
                    raise JobFailed(f"the generator printed more than {MAX_CASE_FIELD_CHARS} characters for case {i}")
                candidates[(i, r)] = run.stdout

        await produce([(i, 0) for i in range(start, end)], f"gen-{start}")
        accepted: list[bytes] = []
        local = set(seen)

        def speculate(i: int, reroll: int) -> list[tuple[int, int]]:
            """Re-rolls likely needed from case i on, made in one sandbox run: the next few of case i
            and a few of every later case whose first input already repeats (the rule stays the
            same: only the first unrepeated re-roll of each case is kept)."""
            keys = [(i, r) for r in range(reroll, min(reroll + SPECULATIVE_REROLLS, MAX_REROLLS + 1))]
            taken = set(local)
            for j in range(i + 1, end):
                digest = input_digest(candidates[(j, 0)])
                if digest in taken:
                    keys += [(j, r) for r in range(1, SPECULATIVE_REROLLS + 1)]
                taken.add(digest)
            return [k for k in keys if k not in candidates]

        for i in range(start, end):
            reroll = 0
            while input_digest(candidates[(i, reroll)]) in local:
                reroll += 1
                if reroll > MAX_REROLLS:
                    raise JobFailed(
                        f"the generator keeps repeating earlier inputs for case {i} ({size_class_of(job.counts, i)}) "
                        f"after {MAX_REROLLS} re-rolls: it cannot make {job.total} distinct cases"
                    )
                if (i, reroll) not in candidates:
                    await produce(speculate(i, reroll), f"gen-{i}-r{reroll}")
            data = candidates[(i, reroll)]
            local.add(input_digest(data))
            accepted.append(data)
        return accepted

    async def _validate(self, state: _JobState, lost: asyncio.Event, start: int, inputs: list[bytes]) -> None:
        job = state.job
        if not job.validator_code or not job.validator_language:
            return
        outcome = await self._sandbox(
            state, lost, f"val-{start}", job.validator_language, job.validator_code, inputs, self._generator_limits()
        )
        if outcome.verdict == "CE":
            raise JobFailed(f"the validator does not compile: {outcome.compile_message[:300]}")
        bad = next((r for r in outcome.runs if r.verdict != "AC"), None)
        if bad is not None:
            raise JobFailed(f"the validator rejected case {start + bad.index}: {bad.verdict} {bad.detail}"[:500])

    async def _solve(
        self, state: _JobState, lost: asyncio.Event, problem: Problem, start: int, inputs: list[bytes]
    ) -> list[bytes]:
        job = state.job
        outcome = await self._sandbox(
            state,
            lost,
            f"ref-{start}",
            str(job.solution_language),
            str(job.solution_code),
            inputs,
            self._solution_limits(problem),
            # An interactive problem's answer file is the case's input (its interactor knows the rest);
            # the reference solution must still win against the interactor on every case.
            **({"expected": inputs, **_programs(problem)} if problem.interactor else {}),
        )
        if outcome.verdict == "CE":
            raise JobFailed(f"the reference solution does not compile: {outcome.compile_message[:300]}")
        if len(outcome.runs) != len(inputs):
            raise Transient("the sandbox returned fewer runs than asked")
        outputs = []
        for run in outcome.runs:
            if run.verdict != "AC":
                raise JobFailed(
                    f"the reference solution failed on case {start + run.index}: {run.verdict} {run.detail}"[:500]
                )
            try:
                run.stdout.decode("utf-8")
            except UnicodeDecodeError:
                raise JobFailed(f"the reference solution printed non-UTF-8 bytes on case {start + run.index}") from None
            outputs.append(run.stdout)
        return list(inputs) if problem.interactor else outputs

    async def _finish(self, state: _JobState, problem: Problem) -> None:
        job = state.job
        assert job.staged_version is not None
        count = job.sample_count + job.total
        samples = list(problem.samples) if job.include_samples else []

        def extra(result: Any) -> tuple[list[dict[str, Any]], list[EventEnvelope]]:
            done = job.changed(
                status="succeeded",
                test_set_version=result.test_set_version,
                test_case_count=result.test_case_count,
                lease_holder=None,
                lease_expires_at=None,
                finished_at=job.updated_at,
                error=None,
            )
            state.finished = done
            item = self._jobs.put(done, expected_version=job.version, lease_holder=self.worker_id)
            event = job_event(
                done,
                GenerationJobSucceeded(
                    **job_snapshot(done),
                    test_set_version=result.test_set_version,
                    test_case_count=result.test_case_count,
                ),
            )
            return [item], [event]

        try:
            await self._test_sets.finish_staged(problem, job.staged_version, count, samples, None, extra)
        except ExtraConditionFailed as exc:
            raise Abandoned(job.job_id) from exc
        except AppError as exc:
            raise JobFailed(f"the test set could not be stored: {exc.detail}") from exc
        log.info("job %s succeeded: %d cases at version %d", job.job_id, count, job.staged_version)


class _JobState:
    def __init__(self, job: GenerationJob) -> None:
        self.job = job
        self.finished: GenerationJob | None = None
