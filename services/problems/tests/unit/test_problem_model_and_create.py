from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from algoitny_problems.domain.models import MAX_INLINE_CASES, NewProblem, Problem
from algoitny_problems.service_layer.use_cases import ProblemService
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.events import REGISTRY, EventEnvelope
from algoitny_shared.uow import TransactionConflict


def _cmd(**overrides: Any) -> NewProblem:
    data: dict[str, Any] = {"platform": "baekjoon", "problem_id": "1000", "title": "A+B"}
    return NewProblem.model_validate({**data, **overrides})


@pytest.mark.parametrize(
    "bad",
    [
        {"platform": "Baekjoon!"},
        {"problem_id": "x" * 40},
        {"title": ""},
        {"title": "t" * 201},
        {"tags": [f"t{i}" for i in range(21)]},
        {"tags": [""]},
        {"time_limit_ms": 10},
        {"memory_limit_mb": 4096},
        {"checker": "regex"},
        {"test_cases": [{"input": "1", "output": "1"}] * (MAX_INLINE_CASES + 1)},
        {"test_cases": [{"input": "1"}]},
        {"unknown": True},
    ],
)
def test_bad_problems_are_rejected(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        _cmd(**bad)


def test_tags_are_normalised_and_deduplicated() -> None:
    assert _cmd(tags=["DP", "dp ", "Graphs"]).tags == ["dp", "graphs"]


def test_register_sets_counts_versions_and_visibility() -> None:
    problem = Problem.register(
        _cmd(test_cases=[{"input": "1 2", "output": "3"}]), actor="admin", numeric_id=7, incarnation="abc"
    )
    assert problem.version == 1 and problem.test_case_count == 1 and problem.test_set_version == 1
    assert problem.id == 7 and problem.test_set_seq == 1
    assert problem.status == "draft"
    assert problem.visible_to(can_manage=True) and not problem.visible_to(can_manage=False)
    assert problem.model_copy(update={"status": "completed"}).visible_to(can_manage=False)


class FakeRepo:
    def __init__(self) -> None:
        self.problems: dict[str, Problem] = {}

    def put_new(self, problem: Problem) -> dict[str, Any]:
        return {"kind": "problem", "problem": problem}

    def put_test_case(self, problem: Problem, ordinal: int, case: Any) -> dict[str, Any]:
        return {"kind": "case", "ordinal": ordinal, "case": case}

    def add_platform(self, platform: str) -> dict[str, Any]:
        return {"kind": "platform", "platform": platform}

    async def allocate_id(self) -> int:
        return len(self.problems) + 1


class FakeUnitOfWork:
    """All-or-nothing like TransactWriteItems: a duplicate problem cancels everything."""

    def __init__(self, repo: FakeRepo, log: list[list[Any]]) -> None:
        self.repo = repo
        self.log = log
        self.items: list[dict[str, Any]] = []
        self.events: list[EventEnvelope] = []

    def add(self, item: dict[str, Any]) -> None:
        self.items.append(item)

    def publish(self, envelope: EventEnvelope) -> None:
        self.events.append(envelope)

    async def commit(self) -> None:
        problem = self.items[0]["problem"]
        if problem.key in self.repo.problems:
            raise TransactionConflict(["ConditionalCheckFailed"] + ["None"] * (len(self.items) - 1))
        self.repo.problems[problem.key] = problem
        self.log.append([*self.items, *self.events])


async def test_create_writes_problem_cases_and_event_in_one_commit() -> None:
    repo, log = FakeRepo(), []
    service = ProblemService(repo, lambda: FakeUnitOfWork(repo, log))  # type: ignore[arg-type,return-value]
    cmd = _cmd(
        status="completed",
        test_cases=[{"input": "5 4", "output": "9"}, {"input": "1 2", "output": "3", "is_sample": True}],
    )
    view = await service.create(cmd, actor="admin")
    assert view.platform == "baekjoon" and view.samples[0].input == "1 2"
    [commit] = log
    kinds = [c.get("kind") if isinstance(c, dict) else "event" for c in commit]
    assert kinds == ["problem", "platform", "case", "case", "event"]
    assert commit[2]["case"].is_sample  # samples are stored first
    event = commit[-1]
    assert event.event_type == "problems.ProblemCreated"
    assert event.aggregate_id == "baekjoon/1000" and event.aggregate_version == 1
    assert REGISTRY.decode(event).test_case_count == 2


async def test_duplicate_create_is_409_and_writes_nothing() -> None:
    repo, log = FakeRepo(), []
    service = ProblemService(repo, lambda: FakeUnitOfWork(repo, log))  # type: ignore[arg-type,return-value]
    await service.create(_cmd(), actor="admin")
    with pytest.raises(AppError) as err:
        await service.create(_cmd(title="Other"), actor="admin")
    assert err.value.code is ErrorCode.ALREADY_EXISTS
    assert len(log) == 1
