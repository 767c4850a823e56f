"""The judge worker: one job (ExecutionSubmitted) -> a judged execution + ExecutionCompleted.

Workers form one consumer group on the jobs topic, so adding processes (up to the topic's
partitions) adds throughput. A job is idempotent: a redelivered job whose execution is
already completed is skipped (the final write is conditional on "not completed yet").
While judging, the worker writes progress (status, finished tests) to the history item at
most every ``progress_interval_s``; the SSE endpoint follows the item.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
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
from algoitny_shared.events.catalog import ExecutionCompleted, ExecutionSubmitted
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


class JudgeWorker:
    def __init__(
        self,
        repo: HistoryRepository,
        test_sets: TestSetSource,
        judge: Callable[[], Judge | None],
        uow: Callable[[], DynamoUnitOfWork],
        progress_interval_s: float = 0.2,
    ) -> None:
        self._repo = repo
        self._test_sets = test_sets
        self._judge = judge
        self._uow = uow
        self._interval = progress_interval_s

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
        started = datetime.now(UTC)
        if not await self._repo.update(job.execution_id, {"status": "running", "started_at": started.isoformat()}):
            return
        t0 = time.monotonic()
        try:
            test_set = await self._test_sets.load(job.platform, job.problem_id, job.test_set_version)
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
            report = await judge.judge_async(submission, test_set, _limits(job), _options(job), on_test)
        except UnknownLanguage as exc:
            report = JudgeReport(verdict=Verdict.IE, detail=str(exc))
        except ValueError as exc:  # code no longer valid for the judge (cannot happen for accepted input)
            report = JudgeReport(verdict=Verdict.IE, detail=f"invalid submission: {exc}"[:300])
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
        try:
            await uow.commit()
        except TransactionConflict:
            log.info("execution %s was already completed", job.execution_id)
