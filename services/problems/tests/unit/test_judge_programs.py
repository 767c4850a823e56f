"""A problem's checker program or interactor: accepted, kept from non-managers, failures recorded."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from algoitny_problems.domain.models import JudgeHealth, NewProblem, Problem, ProblemPatch, ProblemView
from algoitny_problems.service_layer.maintenance import ExecutionCounter
from algoitny_shared.errors import AppError
from algoitny_shared.events import REGISTRY, EventEnvelope
from algoitny_shared.events.catalog import ProblemJudgeFailed
from algoitny_shared.uow import InMemoryUnitOfWork

CHECKER = {"language": "python3", "code": "import sys\nsys.exit(0)"}
INTERACTOR = {"language": "cpp", "code": "int main(){return 0;}"}


def _problem(**overrides: Any) -> Problem:
    data: dict[str, Any] = {"platform": "codeforces", "problem_id": "1A", "title": "Split", **overrides}
    return Problem.register(NewProblem.model_validate(data), actor="reg-1", numeric_id=1, incarnation="i1")


def test_a_checker_program_is_the_managers_and_the_public_sees_only_its_version() -> None:
    problem = _problem(checker_program=CHECKER)
    assert problem.checker_program is not None and problem.programs_version
    public = ProblemView.of(problem, can_manage=False)
    assert public.checker_program is None and public.interactor is None and public.judge_health is None
    assert public.judge_programs == problem.programs_version and not public.interactive
    assert "sys.exit" not in public.model_dump_json()
    manager = ProblemView.of(problem, can_manage=True)
    assert manager.checker_program is not None and manager.checker_program.code == CHECKER["code"]


def test_an_interactor_makes_the_problem_interactive() -> None:
    problem = _problem(interactor=INTERACTOR)
    assert problem.interactor is not None and problem.interactor.language == "cpp17"
    assert ProblemView.of(problem, can_manage=False).interactive


@pytest.mark.parametrize(
    "bad",
    [
        {"checker_program": {"language": "cobol", "code": "x"}},
        {"checker_program": {"language": "c", "code": ""}},
        {"checker_program": {"language": "c", "code": "x" * (64 * 1024 + 1)}},
        {"checker_program": {"language": "c", "code": "x", "argv": ["rm"]}},
        {"interactor": "int main(){}"},
    ],
)
def test_bad_programs_are_rejected(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        NewProblem.model_validate({"platform": "codeforces", "problem_id": "1A", "title": "t", **bad})


def test_checker_and_interactor_together_are_refused() -> None:
    with pytest.raises((AppError, ValidationError)):
        _problem(checker_program=CHECKER, interactor=INTERACTOR)
    problem = _problem(checker_program=CHECKER)
    with pytest.raises(AppError) as err:
        problem.edited(ProblemPatch.model_validate({"interactor": INTERACTOR}).changes())
    assert err.value.code.status == 422


def test_a_new_program_clears_the_judge_health_and_null_removes_it() -> None:
    problem = _problem(checker_program=CHECKER)
    failing = problem.model_copy(
        update={
            "judge_health": JudgeHealth(
                program="checker",
                detail="killed by SIGSEGV",
                programs_version=problem.programs_version,
                last_failure_at=datetime.now(UTC),
            )
        }
    )
    assert failing.edited({"title": "Other"}).judge_health is not None
    fixed = failing.edited(ProblemPatch.model_validate({"checker_program": {**CHECKER, "code": "pass"}}).changes())
    assert fixed.judge_health is None and fixed.programs_version != problem.programs_version
    removed = failing.edited(ProblemPatch.model_validate({"checker_program": None}).changes())
    assert removed.checker_program is None and removed.programs_version is None


class Repo:
    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.recorded: list[dict[str, Any]] = []
        self.race = 0

    async def get(self, platform: str, problem_id: str, consistent: bool = False) -> Problem | None:
        return self.problem

    async def record_judge_health(
        self, platform: str, problem_id: str, expected_version: int, health: dict[str, Any], inbox_put: dict[str, Any]
    ) -> str:
        if self.race:
            self.race -= 1
            return "changed"
        assert expected_version == self.problem.version
        self.recorded.append(health)
        self.problem = self.problem.model_copy(update={"judge_health": JudgeHealth.model_validate(health)})
        return "recorded"


class Inbox:
    def put_request(self, group: str, event_id: str) -> dict[str, Any]:
        return {"group": group, "event_id": event_id}


def _failed(problem: Problem, version: str | None) -> tuple[EventEnvelope, ProblemJudgeFailed]:
    payload = ProblemJudgeFailed(
        execution_id="e-1",
        platform=problem.platform,
        problem_id=problem.problem_id,
        program="checker",
        detail="the checker was killed by SIGSEGV",
        programs_version=version,
        failed_at=datetime.now(UTC),
    )
    envelope = REGISTRY.envelope(payload, producer="executions", aggregate_id="e-1", aggregate_version=2)
    return envelope, payload


async def test_a_judge_failure_is_recorded_for_the_registrar_and_counted() -> None:
    problem = _problem(checker_program=CHECKER)
    repo = Repo(problem)
    counter = ExecutionCounter(repo, Inbox(), InMemoryUnitOfWork)
    assert "executions.ProblemJudgeFailed" in counter.handlers()
    repo.race = 1  # an edit raced the first write: read again and retry
    await counter.on_judge_failed(*_failed(problem, problem.programs_version))
    await counter.on_judge_failed(*_failed(problem, problem.programs_version))
    assert [h["failures"] for h in repo.recorded] == [1, 2]
    assert repo.recorded[-1]["detail"] == "the checker was killed by SIGSEGV"
    assert repo.problem.judge_health is not None and repo.problem.judge_health.execution_id == "e-1"
    # A failure of a program the registrar has since replaced is not recorded.
    await counter.on_judge_failed(*_failed(problem, "0000000000000000.-"))
    assert len(repo.recorded) == 2 and counter.outcomes["stale_failure"] == 1
