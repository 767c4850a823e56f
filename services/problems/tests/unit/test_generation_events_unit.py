"""The generation process is driven by events (no moto, no Kafka): a sandbox run waits for its
answer's event instead of polling its mailbox item, is given up at once when its job is lost, reads
the filed answer only at the timeout; the answer feed wakes only runs of this service; job events
wake an idle worker."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from faststream.kafka import KafkaBroker

from algoitny_problems.generation.adapters.answer_feed import AnswerFeed
from algoitny_problems.generation.adapters.sandbox import (
    REQUESTER,
    Abandoned,
    KafkaSandbox,
    SandboxAnswers,
    SandboxMailbox,
    SandboxUnavailable,
)
from algoitny_problems.generation.bootstrap import job_handlers
from algoitny_shared.events import REGISTRY, EventEnvelope
from algoitny_shared.events.catalog import GenerationJobProgressed, SandboxLimits, SandboxRunCompleted
from algoitny_shared.settings import ServiceSettings

LIMITS = SandboxLimits(time_limit_ms=100, memory_limit_mb=64, output_limit_kb=64)


def completed(run_id: str, requester: str = REQUESTER, verdict: str = "CE") -> SandboxRunCompleted:
    return SandboxRunCompleted(
        run_id=run_id, requester=requester, verdict=verdict, compile_message="nope", completed_at=datetime.now(UTC)
    )


class FakeS3:
    def __init__(self) -> None:
        self.puts: list[str] = []

    def put_object(self, **kw: Any) -> dict[str, Any]:
        self.puts.append(kw["Key"])
        return {}


class FakeDynamo:
    """The Control table's mailbox: counts the reads of the answer item."""

    def __init__(self, filed: dict[str, Any] | None = None) -> None:
        self.filed = filed
        self.reads = 0

    def get_item(self, **kw: Any) -> dict[str, Any]:
        self.reads += 1
        if self.filed is None:
            return {}
        return {"Item": {k: {"S": v} for k, v in self.filed.items()}}


class FakeUow:
    """Commits by handing the published request to ``on_commit`` (the judge, in these tests)."""

    def __init__(self, on_commit: Any) -> None:
        self.published: list[EventEnvelope] = []
        self._on_commit = on_commit

    def publish(self, envelope: EventEnvelope) -> None:
        self.published.append(envelope)

    async def commit(self) -> None:
        for envelope in self.published:
            self._on_commit(envelope)


def sandbox(answers: SandboxAnswers, db: FakeDynamo, on_commit: Any, timeout_s: float = 300.0) -> KafkaSandbox:
    return KafkaSandbox(FakeS3(), "bucket", db, "control", lambda: FakeUow(on_commit), answers, timeout_s=timeout_s)  # type: ignore[arg-type]


async def test_a_run_wakes_on_its_answer_event_without_polling_the_mailbox() -> None:
    answers = SandboxAnswers()
    db = FakeDynamo()
    loop = asyncio.get_running_loop()

    def judge(envelope: EventEnvelope) -> None:  # answers 50 ms after the request, as an event
        run_id = envelope.payload["run_id"]
        loop.call_later(0.05, answers.deliver, completed(run_id))

    t0 = time.monotonic()
    outcome = await sandbox(answers, db, judge).run("job.1.1.gen-0", "python3", "print(1)", [b"1 small\n"], LIMITS)
    assert outcome.verdict == "CE" and outcome.compile_message == "nope"
    assert time.monotonic() - t0 < 5
    assert db.reads == 1  # the one look for an answer filed before the request; no polling while waiting
    assert answers.waiting == 0 and answers.delivered == 1


async def test_a_lost_job_stops_waiting_at_once() -> None:
    answers = SandboxAnswers()
    lost = asyncio.Event()
    asyncio.get_running_loop().call_later(0.05, lost.set)
    t0 = time.monotonic()
    with pytest.raises(Abandoned):
        await sandbox(answers, FakeDynamo(), lambda e: None).run(
            "job.1.1.gen-0", "python3", "print(1)", [b"x"], LIMITS, abandoned=lost
        )
    assert time.monotonic() - t0 < 5 and answers.waiting == 0


async def test_at_the_timeout_the_filed_answer_is_read_once_else_the_sandbox_is_unavailable() -> None:
    answers = SandboxAnswers()
    empty = FakeDynamo()
    with pytest.raises(SandboxUnavailable):
        await sandbox(answers, empty, lambda e: None)._wait("r1", answers.expect("r1"), 0.05, None)
    assert empty.reads == 1
    filed = FakeDynamo({"verdict": "AC", "detail": "", "compile_message": ""})
    answer = await sandbox(answers, filed, lambda e: None)._wait("r2", answers.expect("r2"), 0.05, None)
    assert answer["verdict"] == "AC" and filed.reads == 1  # an answer whose event this process missed


def test_the_answer_feed_wakes_only_this_services_runs() -> None:
    answers = SandboxAnswers()
    feed = AnswerFeed(KafkaBroker(), ServiceSettings(service_name="problems"), answers)

    async def scenario() -> None:
        mine = answers.expect("job.1.1.ref-0")

        def message(payload: Any) -> tuple[dict[str, str], bytes]:
            envelope = REGISTRY.envelope(payload, producer="executions", aggregate_id="x", aggregate_version=1)
            return {"event-type": envelope.event_type}, envelope.to_bytes()

        assert not feed.on_message({"event-type": "executions.ExecutionCompleted"}, b"{}")
        assert not feed.on_message(*message(completed("job.1.1.ref-0", requester="hints")))
        assert not feed.on_message(*message(completed("someone-else")))  # waits in another process
        assert not mine.done()
        assert feed.on_message(*message(completed("job.1.1.ref-0")))
        assert mine.done() and mine.result()["verdict"] == "CE"

    asyncio.run(scenario())


async def test_created_and_retried_jobs_wake_an_idle_worker() -> None:
    class Worker:
        kicks = 0

        def kick(self) -> None:
            self.kicks += 1

    worker = Worker()
    handlers = job_handlers(worker)  # type: ignore[arg-type]
    envelope: Any = None
    now = datetime.now(UTC)
    await handlers["problems.GenerationJobCreated"](envelope, None)
    snapshot = {"job_id": "j", "platform": "p", "problem_id": "1", "total": 5, "updated_at": now}
    await handlers["problems.GenerationJobProgressed"](envelope, GenerationJobProgressed(**snapshot, status="running"))
    await handlers["problems.GenerationJobProgressed"](envelope, GenerationJobProgressed(**snapshot, status="pending"))
    assert worker.kicks == 2


async def test_the_group_files_fresh_answers_of_this_service_and_wakes_their_run() -> None:
    class Control:
        def __init__(self) -> None:
            self.items: list[dict[str, Any]] = []

        def put_item(self, **kw: Any) -> dict[str, Any]:
            self.items.append(kw["Item"])
            return {}

    control, answers = Control(), SandboxAnswers()
    mailbox = SandboxMailbox(control, "control", answers)
    waiting = answers.expect("job.1.1.val-0")
    stale = completed("job.1.1.gen-0").model_copy(update={"completed_at": datetime(2020, 1, 1, tzinfo=UTC)})
    envelope: Any = None
    await mailbox.on_completed(envelope, stale)
    await mailbox.on_completed(envelope, completed("job.1.1.val-0", requester="hints"))
    assert control.items == []
    await mailbox.on_completed(envelope, completed("job.1.1.val-0"))
    assert [i["pk"]["S"] for i in control.items] == ["SANDBOXRUN#job.1.1.val-0"]
    assert waiting.done() and waiting.result()["compile_message"] == "nope"


async def test_one_claim_loop_works_on_up_to_n_jobs_and_claims_at_once_when_kicked() -> None:
    from algoitny_problems.generation.service_layer.jobs import GenerationSettings
    from algoitny_problems.generation.service_layer.worker import GenerationWorker

    class Worker(GenerationWorker):
        def __init__(self) -> None:
            none: Any = None
            super().__init__(none, none, none, none, none, none, none, GenerationSettings(poll_interval_s=60))
            self.pending: list[str] = []
            self.claims = 0
            self.busy = 0
            self.most = 0
            self.release = asyncio.Event()

        async def claim(self) -> Any:
            self.claims += 1
            return SimpleNamespace(job_id=self.pending.pop()) if self.pending else None

        async def process(self, job: Any) -> None:
            self.busy += 1
            self.most = max(self.most, self.busy)
            await self.release.wait()
            self.busy -= 1

    w = Worker()
    w.pending = ["a", "b", "c"]
    loop = asyncio.create_task(w.run_forever(concurrency=2))
    await asyncio.sleep(0.05)
    assert w.busy == 2 and w.claims == 2  # every slot busy: no sweeping meanwhile
    w.release.set()
    await asyncio.sleep(0.05)
    assert w.processed == 3 and w.most == 2
    claims = w.claims
    w.release.clear()
    w.pending = ["d"]
    w.kick()  # a created job's event: claimed now, not after the 60 s sweep
    await asyncio.sleep(0.05)
    assert w.claims > claims and w.busy == 1
    loop.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await loop


async def test_a_job_this_process_works_on_is_never_reclaimed_by_its_own_sweep() -> None:
    from algoitny_problems.generation.domain.jobs import GenerationJob
    from algoitny_problems.generation.service_layer.jobs import GenerationSettings
    from algoitny_problems.generation.service_layer.worker import GenerationWorker

    now = datetime.now(UTC)
    late = GenerationJob(
        job_id="J1", platform="p", problem_id="1", incarnation="i", status="running", generator_source="registrar",
        counts={"small": 1}, total=1, seed=1, attempts=1, lease_holder="me", lease_expires_at=time.time() - 1,
        created_at=now, updated_at=now,
    )  # fmt: skip

    class Jobs:
        saved: list[GenerationJob] = []

        async def query(self, index: str, name: str, status: str, **kw: Any) -> tuple[list[GenerationJob], bool]:
            return ([late] if status == "running" else []), False

        async def save(self, job: GenerationJob, **kw: Any) -> bool:
            self.saved.append(job)
            return True

    none: Any = None
    jobs: Any = Jobs()
    w = GenerationWorker(jobs, none, none, none, none, none, none, GenerationSettings(), worker_id="me")
    w._active.add("J1")  # its heartbeat is late, and the worker is alive: the lease is renewed, not retaken
    assert await w.claim() is None and Jobs.saved == []
    w._active.clear()  # a dead worker's job is taken over (a new attempt)
    claimed = await w.claim()
    assert claimed is not None and claimed.attempts == 2
