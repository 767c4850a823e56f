"""Use cases of the problems service: the problem lifecycle and its reads."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from algoitny_problems.adapters.control import ControlRepository, create_idem_pk
from algoitny_problems.adapters.repository import ProblemRepository
from algoitny_problems.domain.access import check_problem_cap, manages
from algoitny_problems.domain.events import problem_completed, problem_created, problem_deleted, problem_updated
from algoitny_problems.domain.models import (
    CatalogueStats,
    NewProblem,
    Problem,
    ProblemPage,
    ProblemPatch,
    ProblemSummary,
    ProblemView,
)
from algoitny_shared.cursor import CursorCodec
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.events import REGISTRY
from algoitny_shared.idempotency import refusal
from algoitny_shared.identity import Identity
from algoitny_shared.languages import normalise_or_none
from algoitny_shared.uow import DynamoUnitOfWork, TransactionConflict

PRODUCER = "problems"
OPTIMISTIC_RETRIES = 5
Guard = Callable[[Problem], None]


@dataclass(frozen=True)
class Created:
    view: ProblemView
    replayed: bool


def envelope(payload: BaseModel, problem: Problem, trace_id: str | None) -> Any:
    return REGISTRY.envelope(
        payload, producer=PRODUCER, aggregate_id=problem.key, aggregate_version=problem.version, trace_id=trace_id
    )


def not_found(platform: str, problem_id: str) -> AppError:
    return AppError(ErrorCode.NOT_FOUND, f"Problem {platform}/{problem_id} does not exist")


def _valid_start_key(position: Any) -> dict[str, Any]:
    """A cursor's DynamoDB key, checked for shape (the HMAC already rules out tampering)."""
    if not isinstance(position, dict) or not position or len(position) > 6:
        raise AppError(ErrorCode.INVALID_CURSOR, "The cursor does not fit this listing")
    for value in position.values():
        if not (isinstance(value, dict) and len(value) == 1 and next(iter(value)) in ("S", "N")):
            raise AppError(ErrorCode.INVALID_CURSOR, "The cursor does not fit this listing")
    return position


class ProblemService:
    def __init__(
        self,
        repo: ProblemRepository,
        uow_factory: Callable[[], DynamoUnitOfWork],
        cursors: CursorCodec | None = None,
        control: ControlRepository | None = None,
        purge: Callable[[Problem], Any] | None = None,
    ) -> None:
        self._repo = repo
        self._uow = uow_factory
        self._cursors = cursors or CursorCodec("unit-tests")
        self._control = control
        self._purge = purge

    # ------------------------------------------------------------------ writes

    async def create(
        self,
        cmd: NewProblem,
        actor: str | None,
        trace_id: str | None = None,
        *,
        quota: tuple[str, int] | None = None,
    ) -> ProblemView:
        """AP-35/AP-37 (and AP-34: the duplicate check is the Put's condition).

        ``quota`` = (registrar, plan cap): the problem counts against the registrar's cap in the
        same transaction (-1: unlimited, still counted). Versions start above the last version a
        hard-deleted problem under the same key reached."""
        return await self._register(cmd, actor, trace_id, quota, None)

    async def create_once(
        self,
        cmd: NewProblem,
        actor: str | None,
        idempotency_key: str | None,
        trace_id: str | None = None,
        *,
        quota: tuple[str, int] | None = None,
    ) -> Created:
        """:meth:`create` under an ``Idempotency-Key``: a retry of a create that committed (its
        answer lost with a gateway or a connection) gets the first answer back, marked replayed,
        instead of 409 already-exists. The record commits with the problem, so it exists exactly
        when the create did; the same key with another body or caller is refused (422)."""
        if not idempotency_key or self._control is None:
            return Created(await self.create(cmd, actor, trace_id, quota=quota), replayed=False)
        pk = create_idem_pk(cmd.platform, cmd.problem_id, idempotency_key)
        request_hash = cmd.fingerprint(actor)
        try:
            view = await self._register(cmd, actor, trace_id, quota, (pk, request_hash))
        except AppError as exc:
            if exc.code is not ErrorCode.ALREADY_EXISTS:
                raise
            record = await self._control.get(pk)
            if record is None:
                raise
            if record["request_hash"] != request_hash:
                raise refusal("mismatch") from exc
            return Created(ProblemView.model_validate_json(record["result"]), replayed=True)
        return Created(view, replayed=False)

    async def _register(
        self,
        cmd: NewProblem,
        actor: str | None,
        trace_id: str | None,
        quota: tuple[str, int] | None,
        idem: tuple[str, str] | None,
    ) -> ProblemView:
        after = await self._control.key_version(cmd.platform, cmd.problem_id) if self._control else 0
        numeric_id = await self._repo.allocate_id()
        problem = Problem.register(
            cmd,
            actor,
            numeric_id=numeric_id,
            incarnation=uuid.uuid4().hex[:12],
            after_version=after,
            quota_owner=quota[0] if quota else None,
        )
        # Samples first, so that the first page of test cases shows them.
        ordered = sorted(cmd.test_cases, key=lambda c: not c.is_sample)
        uow = self._uow()
        uow.add(self._repo.put_new(problem))
        uow.add(self._repo.add_platform(problem.platform))
        if self._control is not None:
            uow.add(self._control.check_key_version(problem.platform, problem.problem_id, after))
            if quota is not None:
                uow.add(self._control.count_registered(quota[0], quota[1]))
        for ordinal, case in enumerate(ordered, start=1):
            uow.add(self._repo.put_test_case(problem, ordinal, case))
        view = ProblemView.of(problem, can_manage=True)
        if idem is not None and self._control is not None:
            uow.add(self._control.put_created(idem[0], request_hash=idem[1], answer=view.model_dump_json()))
        uow.publish(envelope(problem_created(problem), problem, trace_id))
        try:
            await uow.commit()
        except TransactionConflict as exc:
            reasons = exc.reasons or []
            if reasons and reasons[0] == "ConditionalCheckFailed":
                raise AppError(
                    ErrorCode.ALREADY_EXISTS, f"Problem {problem.key} already exists", problem=problem.key
                ) from exc
            if quota is not None and len(reasons) > 3 and reasons[3] == "ConditionalCheckFailed":
                assert self._control is not None
                check_problem_cap(quota[1], await self._control.registered(quota[0]))
            raise AppError(ErrorCode.CONFLICT, "A concurrent write interfered; retry") from exc
        return view

    async def _change(
        self,
        platform: str,
        problem_id: str,
        change: Callable[[Problem], tuple[Problem, BaseModel]],
        trace_id: str | None,
        expected_version: int | None = None,
        guard: Guard | None = None,
    ) -> Problem:
        """Read, change, write back if nobody else wrote in between (else retry), with its event.
        ``guard`` sees the current problem first (who may change it) and raises to refuse."""
        for _ in range(OPTIMISTIC_RETRIES):
            current = await self._repo.get(platform, problem_id, consistent=True)
            if current is None:
                raise not_found(platform, problem_id)
            if guard is not None:
                guard(current)
            if expected_version is not None and current.version != expected_version:
                raise AppError(
                    ErrorCode.CONFLICT,
                    f"Problem {current.key} is at version {current.version}, not {expected_version}",
                    current_version=current.version,
                )
            new, payload = change(current)
            uow = self._uow()
            uow.add(self._repo.update(new, expected_version=current.version))
            uow.publish(envelope(payload, new, trace_id))
            try:
                await uow.commit()
            except TransactionConflict:
                continue  # the version moved on (an edit or a test-set flip): read again
            return new
        raise AppError(ErrorCode.CONFLICT, f"Problem {platform}/{problem_id} is changing too often; retry")

    async def update(
        self,
        platform: str,
        problem_id: str,
        patch: ProblemPatch,
        trace_id: str | None = None,
        expected_version: int | None = None,
        guard: Guard | None = None,
    ) -> ProblemView:
        """AP-36/AP-38: a partial edit (optionally conditional on If-Match: <version>)."""
        changes = patch.changes()

        def change(current: Problem) -> tuple[Problem, BaseModel]:
            new = current.edited(changes)
            return new, problem_updated(new, list(changes))

        return ProblemView.of(await self._change(platform, problem_id, change, trace_id, expected_version, guard), True)

    async def complete(
        self, platform: str, problem_id: str, trace_id: str | None = None, guard: Guard | None = None
    ) -> ProblemView:
        """AP-39: draft -> completed."""

        def change(current: Problem) -> tuple[Problem, BaseModel]:
            new = current.completed()
            return new, problem_completed(new)

        return ProblemView.of(await self._change(platform, problem_id, change, trace_id, guard=guard), True)

    async def soft_delete(
        self,
        platform: str,
        problem_id: str,
        reason: str | None,
        trace_id: str | None = None,
        guard: Guard | None = None,
    ) -> ProblemView:
        """AP-40: status deleted; hidden from users, kept for admins."""

        def change(current: Problem) -> tuple[Problem, BaseModel]:
            new = current.soft_deleted(reason)
            return new, problem_deleted(new, hard=False)

        return ProblemView.of(await self._change(platform, problem_id, change, trace_id, guard=guard), True)

    async def hard_delete(
        self, platform: str, problem_id: str, trace_id: str | None = None, guard: Guard | None = None
    ) -> int:
        """AP-41: the item goes with a purge record in one transaction; the purge (every test case
        and S3 object of this incarnation, its generation jobs and their sandbox objects) then runs
        at once, or by GC if this process dies. The key keeps the version the problem reached, so
        a problem created again under it starts above its tombstone; the registrar gets the slot
        back."""
        for _ in range(OPTIMISTIC_RETRIES):
            current = await self._repo.get(platform, problem_id, consistent=True)
            if current is None:
                raise not_found(platform, problem_id)
            if guard is not None:
                guard(current)
            gone = current.soft_deleted(current.deleted_reason) if current.status != "deleted" else current
            gone = gone.model_copy(update={"version": current.version + 1})
            uow = self._uow()
            uow.add(self._repo.delete(current))
            uow.add(self._control_purge(current))
            assert self._control is not None
            uow.add(self._control.put_key_version(platform, problem_id, gone.version))
            if current.quota_owner:
                uow.add(self._control.uncount_registered(current.quota_owner))
            uow.publish(envelope(problem_deleted(gone, hard=True), gone, trace_id))
            try:
                await uow.commit()
            except TransactionConflict:
                continue
            if self._purge is not None:
                return int(await self._purge(current))
            return 0
        raise AppError(ErrorCode.CONFLICT, f"Problem {platform}/{problem_id} is changing too often; retry")

    def _control_purge(self, problem: Problem) -> dict[str, Any]:
        if self._control is None:
            raise RuntimeError("hard delete needs the control repository")
        return self._control.put_purge(problem.platform, problem.problem_id, problem.incarnation)

    # ------------------------------------------------------------------ reads

    async def load_visible(self, platform: str, problem_id: str, can_manage: bool) -> Problem:
        problem = await self._repo.get(platform, problem_id)
        if problem is None or not problem.visible_to(can_manage):
            raise not_found(platform, problem_id)
        return problem

    async def load_for(self, platform: str, problem_id: str, identity: Identity) -> tuple[Problem, bool]:
        """The problem as ``identity`` may see it, and whether they manage it (admins: all; a
        registrar: their own). 404 for what they may not see (drafts, deleted) or what is not there."""
        problem = await self._repo.get(platform, problem_id)
        manage = problem is not None and manages(identity, problem.created_by)
        if problem is None or not problem.visible_to(manage):
            raise not_found(platform, problem_id)
        return problem, manage

    async def load_by_id_for(self, numeric_id: int, identity: Identity) -> tuple[Problem, bool]:
        problem = await self._repo.get_by_id(numeric_id)
        manage = problem is not None and manages(identity, problem.created_by)
        if problem is None or not problem.visible_to(manage):
            raise AppError(ErrorCode.NOT_FOUND, f"Problem #{numeric_id} does not exist")
        return problem, manage

    async def exists(self, platform: str, problem_id: str) -> bool:
        """Whether any problem (draft, completed or deleted) holds this key."""
        return await self._repo.get(platform, problem_id) is not None

    async def get(self, platform: str, problem_id: str, can_manage: bool) -> ProblemView:
        """AP-25: one GetItem (samples are on the item)."""
        return ProblemView.of(await self.load_visible(platform, problem_id, can_manage), can_manage)

    async def load_by_id(self, numeric_id: int, can_manage: bool) -> Problem:
        """AP-24: one Query on IdIndex."""
        problem = await self._repo.get_by_id(numeric_id)
        if problem is None or not problem.visible_to(can_manage):
            raise AppError(ErrorCode.NOT_FOUND, f"Problem #{numeric_id} does not exist")
        return problem

    async def list_problems(
        self,
        *,
        status: str,
        platform: str | None,
        language: str | None,
        limit: int,
        cursor: str | None,
        can_manage: bool,
        created_by: str | None = None,
    ) -> ProblemPage:
        """AP-28/29/31/32/33: newest first, by platform, language or status, cursor-paged.
        Drafts and deleted problems: admins see all, a registrar (``created_by``) their own."""
        if status != "completed" and not can_manage:
            raise AppError(ErrorCode.FORBIDDEN, "Only admins and registrars can list drafts or deleted problems")
        if status == "completed":
            created_by = None
        language = normalise_or_none(language)
        scope = f"problems:{status}:{platform or ''}:{language or ''}:{created_by or ''}"
        start = _valid_start_key(self._cursors.decode(cursor, scope)["k"]) if cursor else None
        problems, last = await self._repo.list_page(
            status=status, platform=platform, language=language, limit=limit, start_key=start, created_by=created_by
        )
        next_cursor = self._cursors.encode({"k": last}, scope) if last else None
        return ProblemPage(items=[ProblemSummary.of(p) for p in problems], next_cursor=next_cursor)

    async def stats(self) -> CatalogueStats:
        """AP-45: problems per status (Select=COUNT queries on CompletionIndex)."""
        return CatalogueStats(
            draft=await self._repo.count("draft"),
            completed=await self._repo.count("completed"),
            deleted=await self._repo.count("deleted"),
        )

    async def platforms(self) -> list[str]:
        """AP-43: one GetItem."""
        return await self._repo.platforms()
