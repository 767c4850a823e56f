"""Issue 23 item 7: a judge job longer than the consumer's poll interval is not judged twice.

When a handler outlasts Kafka's max poll interval, the group rebalances and another member
gets the same job while the first still judges. Here that redelivery is played directly:
a second worker receives the job while the first is judging it. The lease on the execution
item (SearchHistory on moto) makes the second wait for the first's result instead of judging
again; a worker that died holding the lease is taken over once the lease lapses.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from algoitny_executions.adapters.history_repository import HistoryRepository
from algoitny_executions.adapters.tables import EXECUTIONS_OUTBOX
from algoitny_executions.domain.history import compress_code
from algoitny_executions.domain.judging import JudgeReport, TestCase, TestResult, TestSet, Verdict
from algoitny_executions.service_layer.worker import JudgeWorker
from algoitny_executions.settings import ExecutionsSettings
from algoitny_shared.dynamo import dynamodb
from algoitny_shared.events import REGISTRY, EventEnvelope
from algoitny_shared.events.catalog import ExecutionSubmitted
from algoitny_shared.outbox import Outbox
from algoitny_shared.uow import DynamoUnitOfWork

pytestmark = pytest.mark.integration

JUDGING_S = 1.5


class SlowJudge:
    """Stands in for the sandbox: counts how often a submission is judged."""

    def __init__(self) -> None:
        self.calls = 0
        self._lock = threading.Lock()

    async def judge_async(self, *args: Any, **kwargs: Any) -> JudgeReport:
        with self._lock:
            self.calls += 1
        await asyncio.sleep(JUDGING_S)
        return JudgeReport(verdict=Verdict.AC, tests=[TestResult(index=0, verdict=Verdict.AC)])


class OneCase:
    async def load(
        self, platform: str, problem_id: str, version: int, incarnation: str | None = None, programs: str | None = None
    ) -> TestSet:
        return TestSet(
            problem_key=f"{platform}/{problem_id}", version=version, cases=(TestCase(input=b"", output=b""),)
        )


async def _new_job(repo: HistoryRepository, uow: Any) -> tuple[EventEnvelope, ExecutionSubmitted]:
    execution_id = f"01LEASE{uuid.uuid4().hex[:19].upper()}"
    now = datetime.now(UTC)
    item = {
        "execution_id": execution_id,
        "user_id": "u-lease",
        "platform": "p",
        "problem_id": "lease",
        "problem_key": "p/lease",
        "language": "python3",
        "code_z": compress_code("print()"),
        "public": False,
        "status": "queued",
        "created_at": now.isoformat(),
    }
    work = uow()
    work.add(repo.put_new(item))
    await work.commit()
    job = ExecutionSubmitted(
        execution_id=execution_id,
        user_id="u-lease",
        platform="p",
        problem_id="lease",
        language="python3",
        public=False,
        test_set_version=1,
        time_limit_ms=1000,
        memory_limit_mb=64,
        submitted_at=now,
    )
    envelope = REGISTRY.envelope(job, producer="executions", aggregate_id=execution_id, aggregate_version=1)
    return envelope, job


async def test_a_redelivered_job_is_not_judged_twice(provisioned: dict[str, Any]) -> None:
    settings = ExecutionsSettings()
    client = dynamodb(settings)
    repo = HistoryRepository(client, settings.namespace)
    outbox = Outbox(client, EXECUTIONS_OUTBOX, settings.namespace)

    def uow() -> DynamoUnitOfWork:
        return DynamoUnitOfWork(client, outbox)

    judge = SlowJudge()

    def worker() -> JudgeWorker:
        return JudgeWorker(repo, OneCase(), lambda: judge, uow, progress_interval_s=0.1, lease_s=2.0)  # type: ignore[arg-type,return-value]

    envelope, job = await _new_job(repo, uow)
    first, second = worker(), worker()
    judging = asyncio.create_task(first.on_submitted(envelope, job))
    await asyncio.sleep(0.3)  # the first worker is judging; Kafka hands the job to another member
    t0 = time.monotonic()
    await second.on_submitted(envelope, job)
    waited = time.monotonic() - t0
    await judging
    item = await repo.get(job.execution_id, consistent=True)
    assert item is not None and item["status"] == "completed" and item["verdict"] == "AC"
    assert judge.calls == 1, "the redelivered job was judged a second time"
    assert waited >= JUDGING_S - 0.5, "the second worker returned before the first finished"

    # A worker that died holding the lease does not leave the job unjudged: its lease lapses.
    envelope, job = await _new_job(repo, uow)
    assert await repo.claim(job.execution_id, "dead-worker", 1.0, {"status": "running"}) == "claimed"
    await worker().on_submitted(envelope, job)
    item = await repo.get(job.execution_id, consistent=True)
    assert item is not None and item["status"] == "completed" and judge.calls == 2


class BrokenJudge:
    async def judge_async(self, *args: Any, **kwargs: Any) -> JudgeReport:
        raise RuntimeError("something the judge did not expect")


async def test_an_unexpected_judge_error_completes_the_execution_as_ie(provisioned: dict[str, Any]) -> None:
    """Nothing leaves an execution "running" while its job is dead-lettered: IE, refunded."""
    settings = ExecutionsSettings()
    client = dynamodb(settings)
    repo = HistoryRepository(client, settings.namespace)
    outbox = Outbox(client, EXECUTIONS_OUTBOX, settings.namespace)

    def uow() -> DynamoUnitOfWork:
        return DynamoUnitOfWork(client, outbox)

    envelope, job = await _new_job(repo, uow)
    worker = JudgeWorker(repo, OneCase(), lambda: BrokenJudge(), uow, progress_interval_s=0.1)  # type: ignore[arg-type,return-value]
    await worker.on_submitted(envelope, job)
    item = await repo.get(job.execution_id, consistent=True)
    assert item is not None and item["status"] == "completed" and item["verdict"] == "IE"
