"""Use cases of the problems service."""

from __future__ import annotations

from collections.abc import Callable

from algoitny_problems.adapters.repository import ProblemRepository
from algoitny_problems.domain.events import problem_created
from algoitny_problems.domain.models import NewProblem, Problem, ProblemView
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.events import REGISTRY
from algoitny_shared.uow import DynamoUnitOfWork, TransactionConflict

PRODUCER = "problems"


class ProblemService:
    def __init__(self, repo: ProblemRepository, uow_factory: Callable[[], DynamoUnitOfWork]) -> None:
        self._repo = repo
        self._uow = uow_factory

    async def create(self, cmd: NewProblem, actor: str | None, trace_id: str | None = None) -> ProblemView:
        problem = Problem.register(cmd, actor)
        # Samples first, so that reading samples is a short key-range query.
        ordered = sorted(cmd.test_cases, key=lambda c: not c.is_sample)
        uow = self._uow()
        uow.add(self._repo.put_new(problem))
        for ordinal, case in enumerate(ordered, start=1):
            uow.add(self._repo.put_test_case(problem, ordinal, case))
        uow.publish(
            REGISTRY.envelope(
                problem_created(problem),
                producer=PRODUCER,
                aggregate_id=problem.key,
                aggregate_version=problem.version,
                trace_id=trace_id,
            )
        )
        try:
            await uow.commit()
        except TransactionConflict as exc:
            if exc.reasons and exc.reasons[0] == "ConditionalCheckFailed":
                raise AppError(
                    ErrorCode.ALREADY_EXISTS, f"Problem {problem.key} already exists", problem=problem.key
                ) from exc
            raise
        samples = [c for c in ordered if c.is_sample][:10]
        return ProblemView.of(problem, samples, is_admin=True)

    async def get(self, platform: str, problem_id: str, is_admin: bool) -> ProblemView:
        problem = await self._repo.get(platform, problem_id)
        if problem is None or not problem.visible_to(is_admin):
            raise AppError(ErrorCode.NOT_FOUND, f"Problem {platform}/{problem_id} does not exist")
        return ProblemView.of(problem, await self._repo.samples(problem), is_admin)
