"""Events the problem aggregate emits (types live in the shared catalogue)."""

from __future__ import annotations

from typing import Any

from algoitny_problems.domain.models import Problem, TestSetMode
from algoitny_shared.events.catalog import (
    ProblemCompleted,
    ProblemCreated,
    ProblemDeleted,
    ProblemUpdated,
    TestSetReplaced,
)


def _snapshot(problem: Problem) -> dict[str, Any]:
    return {
        "platform": problem.platform,
        "problem_id": problem.problem_id,
        "title": problem.title,
        "url": problem.url,
        "tags": problem.tags,
        "language": problem.language,
        "status": problem.status,
        "difficulty": problem.difficulty,
        "test_case_count": problem.test_case_count,
        "created_at": problem.created_at,
        "updated_at": problem.updated_at,
    }


def problem_created(problem: Problem) -> ProblemCreated:
    return ProblemCreated(**_snapshot(problem))


def problem_updated(problem: Problem, changed: list[str]) -> ProblemUpdated:
    return ProblemUpdated(**_snapshot(problem), changed=sorted(changed))


def problem_completed(problem: Problem) -> ProblemCompleted:
    return ProblemCompleted(**_snapshot(problem))


def problem_deleted(problem: Problem, *, hard: bool) -> ProblemDeleted:
    snapshot = {**_snapshot(problem), "status": "deleted"}
    return ProblemDeleted(**snapshot, hard=hard, deleted_at=problem.deleted_at or problem.updated_at)


def test_set_replaced(problem: Problem, mode: TestSetMode) -> TestSetReplaced:
    return TestSetReplaced(**_snapshot(problem), test_set_version=problem.test_set_version, mode=mode)


test_set_replaced.__test__ = False  # type: ignore[attr-defined]
