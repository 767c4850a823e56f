"""Events the problem aggregate emits (types live in the shared catalogue)."""

from __future__ import annotations

from algoitny_problems.domain.models import Problem
from algoitny_shared.events.catalog import ProblemCreated


def problem_created(problem: Problem) -> ProblemCreated:
    return ProblemCreated(
        platform=problem.platform,
        problem_id=problem.problem_id,
        title=problem.title,
        url=problem.url,
        tags=problem.tags,
        language=problem.language,
        status=problem.status,
        difficulty=problem.difficulty,
        test_case_count=problem.test_case_count,
        created_at=problem.created_at,
        updated_at=problem.updated_at,
    )
