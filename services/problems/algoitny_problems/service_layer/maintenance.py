"""Background upkeep: garbage collection of test sets, and the execution counter.

GC visits only what the sparse GcIndex lists (no Scan): uploads whose writer died (stale),
sets superseded by a flip (after a grace period), and purges of hard-deleted problems.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from algoitny_problems.adapters.control import ControlRepository, purge_pk
from algoitny_problems.adapters.repository import ProblemRepository
from algoitny_problems.adapters.test_cases import TestCaseStore, location
from algoitny_problems.domain.models import JudgeHealth, Problem
from algoitny_problems.generation.adapters.jobs import GenerationJobRepository
from algoitny_problems.generation.adapters.sandbox import SandboxObjects
from algoitny_shared.events import EventEnvelope
from algoitny_shared.events.catalog import ExecutionCompleted, ProblemJudgeFailed
from algoitny_shared.inbox import Inbox, handle_once
from algoitny_shared.topics import PROBLEMS_GROUP
from algoitny_shared.uow import TransactionConflict, UnitOfWork

log = logging.getLogger(__name__)
COLLECT_LEASE_S = 600.0


@dataclass
class GcReport:
    visited: int = 0
    versions_removed: int = 0
    purges: int = 0
    items_deleted: int = 0
    skipped: int = 0
    records: list[str] = field(default_factory=list)


class GarbageCollector:
    def __init__(
        self,
        repo: ProblemRepository,
        store: TestCaseStore,
        control: ControlRepository,
        jobs: GenerationJobRepository | None = None,
        sandbox_objects: SandboxObjects | None = None,
    ) -> None:
        self._repo = repo
        self._store = store
        self._control = control
        self._jobs = jobs
        self._sandbox_objects = sandbox_objects

    async def _purge(self, platform: str, problem_id: str, incarnation: str) -> int:
        """Everything one incarnation of a hard-deleted problem left: test cases and payloads, its
        generation jobs (programs included) and their sandbox objects."""
        deleted = await self._store.delete_everything(location(platform, problem_id, incarnation))
        if self._jobs is None:
            return deleted
        before: str | None = None
        while True:
            jobs, more = await self._jobs.query(
                "ProblemIndex", "problem_key", f"{platform}#{problem_id}", limit=100, before=before
            )
            for job in jobs:
                if job.incarnation != incarnation:
                    continue  # a job of a later incarnation under the same key
                if self._sandbox_objects is not None:
                    await self._sandbox_objects.delete_job(job.job_id)
                await self._jobs.delete(job.job_id)
            if not more or not jobs:
                return deleted
            before = jobs[-1].job_id

    async def run_once(self, now: datetime | None = None, limit: int = 50) -> GcReport:
        now = now or datetime.now(UTC)
        report = GcReport()
        for record in await self._control.due(now, limit):
            report.visited += 1
            if not await self._control.claim(record, now, COLLECT_LEASE_S):
                report.skipped += 1  # another collector took it, or its writer just committed
                continue
            loc = location(record["platform"], record["problem_id"], record["incarnation"])
            if record.get("kind") == "purge":
                report.items_deleted += await self._purge(
                    record["platform"], record["problem_id"], record["incarnation"]
                )
                report.purges += 1
            else:
                version = int(record["version"])
                current = await self._repo.get(record["platform"], record["problem_id"], consistent=True)
                if current and current.incarnation == record["incarnation"] and current.test_set_version == version:
                    log.error("GC refused to collect the current test set %s", record["pk"])
                    report.skipped += 1
                    continue
                report.items_deleted += await self._store.delete_version(loc, version)
                report.versions_removed += 1
            await self._control.delete(record["pk"])
            report.records.append(record["pk"])
        return report

    async def purge_now(self, problem: Problem) -> int:
        """Run a hard delete's purge at once (GC finds the record anyway if this dies midway)."""
        record = await self._control.get(purge_pk(problem.platform, problem.problem_id, problem.incarnation))
        if record is None or not await self._control.claim(record, datetime.now(UTC), COLLECT_LEASE_S):
            return 0
        deleted = await self._purge(problem.platform, problem.problem_id, problem.incarnation)
        await self._control.delete(record["pk"])
        return deleted

    async def run_forever(self, interval_s: float) -> None:
        while True:
            try:
                report = await self.run_once()
                if report.visited:
                    log.info("gc pass", extra={"gc": report.__dict__})
                    if report.visited - report.skipped > 0:
                        continue  # more may be due
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("gc pass failed; retrying later")
            await asyncio.sleep(interval_s)


class ExecutionCounter:
    """Keeps each problem's execution count from executions events (exactly once per event)."""

    def __init__(self, repo: ProblemRepository, inbox: Inbox, uow: Callable[[], UnitOfWork]) -> None:
        self._repo = repo
        self._inbox = inbox
        self._uow = uow
        self.outcomes: dict[str, int] = {}

    async def _count(self, envelope: EventEnvelope, payload: ExecutionCompleted) -> str:
        """+1 and the inbox mark in one transaction (a redelivery never counts twice); the event
        of a problem that does not exist (any more) is marked alone."""

        async def count(uow: UnitOfWork) -> None:
            uow.add(self._repo.add_execution(payload.platform, payload.problem_id))

        async def nothing(uow: UnitOfWork) -> None:
            return None

        try:
            applied = await handle_once(self._inbox, PROBLEMS_GROUP, envelope, self._uow, count)
        except TransactionConflict as exc:
            if exc.reasons[1:2] != ["ConditionalCheckFailed"]:
                raise
            applied = await handle_once(self._inbox, PROBLEMS_GROUP, envelope, self._uow, nothing)
            return "unknown_problem" if applied else "duplicate"
        return "counted" if applied else "duplicate"

    async def on_execution_completed(self, envelope: EventEnvelope, payload: ExecutionCompleted) -> None:
        outcome = await self._count(envelope, payload)
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    async def on_judge_failed(self, envelope: EventEnvelope, payload: ProblemJudgeFailed) -> None:
        """The problem's checker or interactor failed in the judge: its registrar sees it as the
        problem's ``judge_health`` (a failure of a program since replaced is ignored)."""
        for _ in range(3):
            problem = await self._repo.get(payload.platform, payload.problem_id, consistent=True)
            if problem is None or (payload.programs_version and problem.programs_version != payload.programs_version):
                self.outcomes["stale_failure"] = self.outcomes.get("stale_failure", 0) + 1
                return
            previous = problem.judge_health
            same = previous is not None and previous.programs_version == problem.programs_version
            health = JudgeHealth(
                program=payload.program,
                detail=payload.detail[:500],
                execution_id=payload.execution_id,
                programs_version=problem.programs_version,
                failures=(previous.failures + 1) if same and previous else 1,
                last_failure_at=payload.failed_at,
            )
            outcome = await self._repo.record_judge_health(
                payload.platform,
                payload.problem_id,
                problem.version,
                health.model_dump(mode="json"),
                self._inbox.put_request(PROBLEMS_GROUP, str(envelope.event_id)),
            )
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
            if outcome != "changed":
                return
            log.warning("judge failure of %s/%s raced an edit; again", payload.platform, payload.problem_id)
        raise TransactionConflict(["judge health kept racing edits"])

    def handlers(self) -> dict[str, Any]:
        return {
            "executions.ExecutionCompleted": self.on_execution_completed,
            "executions.ProblemJudgeFailed": self.on_judge_failed,
        }
