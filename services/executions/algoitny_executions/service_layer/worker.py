"""The judge worker: one job (ExecutionSubmitted) -> a judged execution + ExecutionCompleted.

Workers form one consumer group on the jobs topic, so adding processes (up to the topic's
partitions) adds throughput. A job is idempotent: a redelivered job whose execution is
already completed is skipped (the final write is conditional on "not completed yet").
While judging, the worker writes progress (status, finished tests) to the history item at
most every ``progress_interval_s``; the SSE endpoint follows the item.

A job can outlast the consumer's poll interval (many tests at the time limit): Kafka then
hands it to another member while the first still judges. So a worker first takes a lease
on the execution (owner + expiry, renewed while it judges): a copy that finds a live lease
of another worker waits for that execution to complete (or for the lease to lapse, when its
worker died) and never judges it a second time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from algoitny_executions.adapters.history_repository import HistoryRepository
from algoitny_executions.adapters.upstreams import ProblemGone, TestSetSource, UpstreamError
from algoitny_executions.domain.history import COMPILE_MESSAGE_KEEP_CHARS, compact_tests, decompress_code, pack
from algoitny_executions.domain.judging import (
    JudgeOptions,
    JudgeReport,
    Limits,
    Submission,
    TestCase,
    TestResult,
    Verdict,
)
from algoitny_executions.service_layer.judge import Judge, UnknownLanguage
from algoitny_shared.events import REGISTRY, EventEnvelope
from algoitny_shared.events.catalog import ExecutionCompleted, ExecutionSubmitted, ProblemJudgeFailed
from algoitny_shared.kafka import DependencyUnavailable
from algoitny_shared.uow import DynamoUnitOfWork, TransactionConflict

log = logging.getLogger(__name__)
PRODUCER = "executions"


def _limits(job: ExecutionSubmitted) -> Limits:
    return Limits(
        time_limit_ms=min(max(job.time_limit_ms, 100), 15_000),
        memory_limit_mb=min(max(job.memory_limit_mb, 16), 1024),
    )


def _options(job: ExecutionSubmitted) -> JudgeOptions:
    checker = job.checker if job.checker in ("tokens", "lines", "exact", "float") else "tokens"
    tolerance = job.float_tolerance if checker == "float" else None
    return JudgeOptions(
        checker=checker,  # type: ignore[arg-type]
        float_tolerance=tolerance,
        stop_on_first_failure=job.stop_on_first_failure,
    )


def _judge_failed(job: ExecutionSubmitted, report: JudgeReport, at: datetime) -> EventEnvelope:
    """Tells the problem's registrar (through the problems service) that its checker or interactor failed."""
    program = "interactor" if "interactor" in report.program_failure else "checker"
    return REGISTRY.envelope(
        ProblemJudgeFailed(
            execution_id=job.execution_id,
            platform=job.platform,
            problem_id=job.problem_id,
            program=program,
            detail=report.program_failure[:500],
            programs_version=job.judge_programs,
            failed_at=at,
        ),
        producer=PRODUCER,
        aggregate_id=job.execution_id,
        aggregate_version=2,
    )


class JudgeWorker:
    def __init__(
        self,
        repo: HistoryRepository,
        test_sets: TestSetSource,
        judge: Callable[[], Judge | None],
        uow: Callable[[], DynamoUnitOfWork],
        progress_interval_s: float = 0.2,
        lease_s: float = 30.0,
    ) -> None:
        self._repo = repo
        self._test_sets = test_sets
        self._judge = judge
        self._uow = uow
        self._interval = progress_interval_s
        self._lease_s = lease_s
        self.worker_id = f"{uuid.uuid4().hex[:12]}"

    async def _claim(self, execution_id: str) -> bool:
        """True once this worker holds the judging lease; False when there is nothing to judge."""
        waited = False
        while True:
            fields = {"status": "running", "started_at": datetime.now(UTC).isoformat()}
            outcome = await self._repo.claim(execution_id, self.worker_id, self._lease_s, fields)
            if outcome == "claimed":
                return True
            if outcome != "held":
                return False
            if not waited:
                log.info("execution %s is being judged by another worker; waiting for it", execution_id)
                waited = True
            await asyncio.sleep(min(1.0, self._lease_s / 4))

    async def _keep_lease(self, execution_id: str, done: asyncio.Event) -> None:
        while not done.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), self._lease_s / 3)
            if not done.is_set():
                try:
                    await self._repo.claim(execution_id, self.worker_id, self._lease_s, {})
                except Exception:  # a missed renewal is retried; the lease has two more chances
                    log.warning("could not renew the lease on execution %s", execution_id, exc_info=True)

    def handlers(self) -> dict[str, Any]:
        return {"executions.ExecutionSubmitted": self.on_submitted}

    async def on_submitted(self, envelope: EventEnvelope, job: ExecutionSubmitted) -> None:
        item = await self._repo.get(job.execution_id, consistent=True)
        if item is None:
            log.warning("job for an unknown execution %s; skipped", job.execution_id)
            return
        if item.get("status") == "completed":
            return  # a redelivered job
        judge = self._judge()
        if judge is None:
            raise DependencyUnavailable("the judge is not started yet")
        if not await self._claim(job.execution_id):
            return  # completed meanwhile (by the worker that held it) or gone
        judged = asyncio.Event()
        keeper = asyncio.create_task(self._keep_lease(job.execution_id, judged))
        try:
            await self._judge_job(job, item, judge)
        except BaseException:
            # Not judged (the job will be redelivered): let the next worker take it at once.
            with contextlib.suppress(Exception):
                await self._repo.claim(job.execution_id, self.worker_id, 0, {})
            raise
        finally:
            judged.set()
            await keeper

    async def _judge_job(self, job: ExecutionSubmitted, item: dict[str, Any], judge: Judge) -> None:
        t0 = time.monotonic()
        try:
            test_set = await self._test_sets.load(
                job.platform, job.problem_id, job.test_set_version, job.incarnation, job.judge_programs
            )
        except ProblemGone:
            await self._finish(job, JudgeReport(verdict=Verdict.IE, detail="the problem's test set is gone"), t0)
            return
        except UpstreamError as exc:
            raise DependencyUnavailable(str(exc)) from exc

        results: list[TestResult] = []
        lock = threading.Lock()

        def on_test(result: TestResult) -> None:
            with lock:
                results.append(result)

        async def flush_progress(done: asyncio.Event) -> None:
            written = 0
            while not done.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(done.wait(), self._interval)
                with lock:
                    snapshot = list(results)
                if len(snapshot) > written and not done.is_set():
                    written = len(snapshot)
                    await self._repo.update(
                        job.execution_id,
                        {
                            "tests_z": pack(compact_tests(snapshot, test_set.cases)),
                            "tests_done": written,
                            "total": len(test_set.cases),
                        },
                    )

        done = asyncio.Event()
        flusher = asyncio.create_task(flush_progress(done))
        try:
            submission = Submission(language=job.language, code=decompress_code(item["code_z"]))
            options = _options(job).model_copy(
                update={"checker_program": test_set.checker_program, "interactor": test_set.interactor}
            )
            report = await judge.judge_async(submission, test_set, _limits(job), options, on_test)
        except UnknownLanguage as exc:
            report = JudgeReport(verdict=Verdict.IE, detail=str(exc))
        except ValueError as exc:  # code no longer valid for the judge (cannot happen for accepted input)
            report = JudgeReport(verdict=Verdict.IE, detail=f"invalid submission: {exc}"[:300])
        except Exception as exc:
            # Whatever the judge did not expect ends as IE (refunded), never as an execution left
            # "running" while its job goes to the dead-letter topic.
            log.exception("judging execution %s failed unexpectedly", job.execution_id)
            report = JudgeReport(verdict=Verdict.IE, detail=f"internal error: {type(exc).__name__}"[:300])
        finally:
            done.set()
            await flusher
        await self._finish(
            job, report, t0, test_count=len(test_set.cases), test_set_version=test_set.version, cases=test_set.cases
        )

    async def _finish(
        self,
        job: ExecutionSubmitted,
        report: JudgeReport,
        t0: float,
        test_count: int = 0,
        test_set_version: int | None = None,
        cases: Sequence[TestCase] = (),
    ) -> None:
        finished = datetime.now(UTC)
        fields: dict[str, Any] = {
            "status": "completed",
            "verdict": report.verdict.value,
            "passed": report.passed,
            "total": max(report.total, test_count if report.verdict != Verdict.CE else report.total),
            "tests_done": report.total,
            "max_time_ms": report.max_time_ms,
            "max_memory_kb": report.max_memory_kb,
            "tests_z": pack(compact_tests(report.tests, cases)),
            "compile_message": report.compile_message[:COMPILE_MESSAGE_KEEP_CHARS],
            "detail": report.detail[:500],
            "finished_at": finished.isoformat(),
            "attempts": report.attempts,
            **({"test_set_version": test_set_version} if test_set_version is not None else {}),
        }
        event = REGISTRY.envelope(
            ExecutionCompleted(
                execution_id=job.execution_id,
                user_id=job.user_id,
                platform=job.platform,
                problem_id=job.problem_id,
                language=job.language,
                public=job.public,
                verdict=report.verdict.value,
                test_set_version=test_set_version,
                passed_count=report.passed,
                total_count=int(fields["total"]),
                max_time_ms=report.max_time_ms,
                max_memory_kb=report.max_memory_kb,
                charge=job.charge,
                submitted_at=job.submitted_at,
                completed_at=finished,
                judge_ms=int((time.monotonic() - t0) * 1000),
            ),
            producer=PRODUCER,
            aggregate_id=job.execution_id,
            aggregate_version=2,
        )
        uow = self._uow()
        uow.add(self._repo.complete(job.execution_id, fields))
        uow.publish(event)
        if report.verdict == Verdict.IE and report.program_failure:
            uow.publish(_judge_failed(job, report, finished))
        try:
            await uow.commit()
        except TransactionConflict:
            log.info("execution %s was already completed", job.execution_id)
