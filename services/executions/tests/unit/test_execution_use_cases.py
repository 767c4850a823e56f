"""Executions' use cases on the in-memory unit of work (no moto server, no Kafka, no sandbox):
submit, judge (the worker, with a fake judge and test-set source), follow and read back; a job
redelivered after completion; a gone test set and an unexpected judge failure end as IE; the
synchronous run with a busy, failing or working judge. The history repository is the service's
own, on an in-process DynamoDB."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from support.inprocess import Store, in_process_dynamo

from algoitny_executions.adapters.history_repository import HistoryRepository
from algoitny_executions.adapters.upstreams import ProblemGone
from algoitny_executions.domain.history import NewExecution, NewRun
from algoitny_executions.domain.judging import JudgeReport, RawRun, TestCase, TestResult, TestSet, Verdict
from algoitny_executions.service_layer.executions import ExecutionService, RunService
from algoitny_executions.service_layer.judge import JudgeBusy
from algoitny_executions.service_layer.worker import JudgeWorker
from algoitny_shared.cursor import CursorCodec
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.events import REGISTRY
from algoitny_shared.events.catalog import ChargeRef
from algoitny_shared.identity import Identity
from algoitny_shared.kafka import DependencyUnavailable

ANN = Identity(user_id="ann", role="user")
BOB = Identity(user_id="bob", role="user")
LANGUAGES = {"python3", "cpp17"}
PROBLEM = {"status": "completed", "title": "A+B", "test_set_version": 3, "incarnation": "inc1", "time_limit_ms": 1000}


class Problems:
    def __init__(self) -> None:
        self.problems = {("cf", "1A"): PROBLEM, ("cf", "2B"): {**PROBLEM, "status": "draft"}}

    async def get(self, identity: Identity, platform: str, problem_id: str) -> dict[str, Any]:
        if (platform, problem_id) not in self.problems:
            raise AppError(ErrorCode.NOT_FOUND, "no such problem")
        return self.problems[(platform, problem_id)]


class Profiles:
    async def display_name(self, identity: Identity) -> str | None:
        return f"{identity.user_id} (name)"


class TestSets:
    __test__ = False

    def __init__(self) -> None:
        self.gone = False

    async def load(
        self, platform: str, problem_id: str, version: int, incarnation: str | None = None, programs: str | None = None
    ) -> TestSet:
        if self.gone:
            raise ProblemGone(f"{platform}/{problem_id}")
        cases = tuple(TestCase(input=f"{i} {i}\n".encode(), output=f"{2 * i}\n".encode()) for i in range(3))
        return TestSet(problem_key=f"{platform}#{problem_id}", version=version, cases=cases, incarnation="inc1")


class FakeJudge:
    """Judges by the code: ``print('wrong')`` fails the second test, ``boom`` raises."""

    def __init__(self) -> None:
        self.busy = False
        self.report: JudgeReport | None = None

    async def judge_async(
        self, submission: Any, test_set: TestSet, limits: Any, options: Any, on_test: Callable[[TestResult], None]
    ) -> JudgeReport:
        if "boom" in submission.code:
            raise RuntimeError("the sandbox fell over")
        tests = []
        for i, _ in enumerate(test_set.cases):
            verdict = Verdict.WA if "wrong" in submission.code and i == 1 else Verdict.AC
            tests.append(TestResult(index=i, verdict=verdict, time_ms=10 + i, memory_kb=1000))
            on_test(tests[-1])
        failed = next((t.verdict for t in tests if t.verdict != Verdict.AC), Verdict.AC)
        return JudgeReport(verdict=failed, tests=tests)

    async def call(self, fn: Any, *args: Any, interactive: bool = False) -> Any:
        if self.busy:
            raise JudgeBusy(3)
        if self.report is not None:
            return self.report, None, None
        raw = RawRun(
            index=0, kind="E", code=0, cpu_us=5000, wall_us=6000, maxrss_kb=900, flags=0, stdout=b"42\n", stderr=b""
        )
        return None, raw, TestResult(index=0, verdict=Verdict.AC, time_ms=5, wall_ms=6, memory_kb=900)

    def run_custom(self, *args: Any) -> Any:
        raise AssertionError("called through call()")


class Executions:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.history = HistoryRepository(store.client, store.namespace)
        self.test_sets = TestSets()
        self.judge: FakeJudge | None = FakeJudge()
        cursors = CursorCodec("c" * 32)
        self.service = ExecutionService(
            self.history,
            Problems(),
            Profiles(),
            store.uow,
            lambda: LANGUAGES,
            cursors,  # type: ignore[arg-type]
        )
        self.worker = JudgeWorker(self.history, self.test_sets, lambda: self.judge, store.uow, 0.01)  # type: ignore[arg-type]
        self.runs = RunService(lambda: self.judge, lambda: LANGUAGES)  # type: ignore[arg-type, return-value]

    async def submit(self, code: str = "print(sum(map(int, input().split())))", **extra: Any) -> str:
        cmd = NewExecution(platform="cf", problem_id="1A", language="python3", code=code, **extra)
        charge = ChargeRef(request_id="request-0001", day="2026-05-01")
        return (await self.service.submit(cmd, ANN, charge)).execution_id

    async def judge_last(self) -> None:
        envelope = [e for e in self.store.events if e.event_type == "executions.ExecutionSubmitted"][-1]
        await self.worker.on_submitted(envelope, REGISTRY.decode(envelope))


@pytest.fixture
def store() -> Iterator[Store]:
    with in_process_dynamo("executions") as found:
        yield found


@pytest.fixture
def ex(store: Store) -> Executions:
    return Executions(store)


async def test_submit_judge_follow_and_read_back(ex: Executions) -> None:
    execution_id = await ex.submit(public=True)
    [submitted] = ex.store.payloads("executions.ExecutionSubmitted")
    assert (submitted.test_set_version, submitted.incarnation, submitted.time_limit_ms) == (3, "inc1", 1000)
    assert submitted.charge.request_id == "request-0001"
    assert (await ex.service.get(execution_id, ANN)).status == "queued"
    await ex.judge_last()
    [completed] = ex.store.payloads("executions.ExecutionCompleted")
    assert (completed.verdict, completed.passed_count, completed.total_count) == ("AC", 3, 3)
    assert completed.charge == submitted.charge  # ratelimit refunds an IE by it
    view = await ex.service.get(execution_id, ANN)
    assert view.status == "completed" and view.verdict == "AC" and len(view.tests) == 3
    assert (await ex.service.get(execution_id, BOB)).status == "completed"  # public: others may see it
    events = [name async for name, _ in ex.service.follow(execution_id, ANN)]
    assert events == ["status", "test", "test", "test", "completed"]
    await ex.judge_last()  # a redelivered job changes nothing
    assert len(ex.store.payloads("executions.ExecutionCompleted")) == 1
    mine = await ex.service.lists.list(ANN, "mine", None, 10)  # type: ignore[arg-type]
    assert [i.execution_id for i in mine.items] == [execution_id]


async def test_private_failed_execution_and_refusals(ex: Executions) -> None:
    execution_id = await ex.submit(code="print('wrong')")
    await ex.judge_last()
    view = await ex.service.get(execution_id, ANN)
    assert (view.verdict, view.passed) == ("WA", 2)
    with pytest.raises(AppError) as private:
        await ex.service.get(execution_id, BOB)
    assert private.value.code is ErrorCode.FORBIDDEN
    with pytest.raises(AppError) as missing:
        await ex.service.get("01JABCDEFGHJKMNPQRSTVWXYZ0", ANN)
    assert missing.value.code is ErrorCode.NOT_FOUND
    for cmd, code in (
        (NewExecution(platform="cf", problem_id="2B", language="python3", code="x=1"), ErrorCode.CONFLICT),
        (NewExecution(platform="cf", problem_id="1A", language="cobol", code="x=1"), ErrorCode.VALIDATION_FAILED),
        (NewExecution(platform="cf", problem_id="9Z", language="python3", code="x=1"), ErrorCode.NOT_FOUND),
    ):
        with pytest.raises(AppError) as err:
            await ex.service.submit(cmd, ANN, None)
        assert err.value.code is code
    with pytest.raises(AppError) as anonymous:
        await ex.service.submit(
            NewExecution(platform="cf", problem_id="1A", language="python3", code="x"), Identity(), None
        )
    assert anonymous.value.code is ErrorCode.UNAUTHENTICATED
    assert len(ex.store.payloads("executions.ExecutionSubmitted")) == 1


async def test_a_gone_test_set_or_a_judge_failure_ends_as_ie_and_no_judge_is_redelivered(ex: Executions) -> None:
    await ex.submit(code="boom")
    await ex.judge_last()
    ex.test_sets.gone = True
    await ex.submit()
    await ex.judge_last()
    verdicts = [(p.verdict, p.charge is not None) for p in ex.store.payloads("executions.ExecutionCompleted")]
    assert verdicts == [("IE", True), ("IE", True)]
    ex.judge = None
    await ex.submit()
    with pytest.raises(DependencyUnavailable):
        await ex.judge_last()  # not judged: the job stays for a worker whose judge is up


async def test_run_answers_busy_and_failing_judges_with_503(ex: Executions) -> None:
    run = NewRun(language="python3", code="print(42)")
    result = await ex.runs.run(run, ANN)
    assert (result.verdict, result.stdout, result.time_ms) == ("OK", "42\n", 5)
    with pytest.raises(AppError) as anonymous:
        await ex.runs.run(run, Identity())
    assert anonymous.value.code is ErrorCode.UNAUTHENTICATED
    with pytest.raises(AppError) as unknown:
        await ex.runs.run(NewRun(language="cobol", code="x"), ANN)
    assert unknown.value.code is ErrorCode.VALIDATION_FAILED
    assert ex.judge is not None
    ex.judge.report = JudgeReport(verdict=Verdict.CE, compile_message="syntax error")
    assert (await ex.runs.run(run, ANN)).compile_message == "syntax error"
    ex.judge.report = JudgeReport(verdict=Verdict.IE)
    with pytest.raises(AppError) as internal:
        await ex.runs.run(run, ANN)
    assert internal.value.code is ErrorCode.UPSTREAM_UNAVAILABLE
    ex.judge.busy = True
    with pytest.raises(AppError) as busy:
        await ex.runs.run(run, ANN)
    assert busy.value.code is ErrorCode.UPSTREAM_UNAVAILABLE and busy.value.headers == {"Retry-After": "3"}
    ex.judge = None
    with pytest.raises(AppError) as absent:
        await ex.runs.run(run, ANN)
    assert absent.value.code is ErrorCode.UPSTREAM_UNAVAILABLE
