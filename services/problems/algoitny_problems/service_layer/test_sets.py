"""Test sets of any size that never half-write, and their reads.

A replace (PUT) or append (POST) is written under a new test-set version, in BatchWriteItem
chunks of at most 25, with big payloads gzipped to S3 first. Only then does one transaction
flip the problem's current version (conditional on what the writer started from), commit the
upload record, complete the idempotency key, mark the previous set as garbage and put the
TestSetReplaced event in the outbox. Readers always follow the problem's current version, so
they see the old set or the new one, never a mix. A writer that dies leaves an upload record
behind; GC removes its partial set once the record is stale, and a retry with the same
idempotency key resumes the same version and completes it exactly once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from algoitny_problems.adapters.control import ControlRepository, idem_pk, upload_pk
from algoitny_problems.adapters.repository import ProblemRepository
from algoitny_problems.adapters.test_cases import TestCaseStore, location
from algoitny_problems.domain.events import test_set_replaced
from algoitny_problems.domain.models import (
    MAX_SAMPLES_ON_ITEM,
    MAX_SET_CASES,
    Problem,
    ProblemWithTestCases,
    TestCaseIn,
    TestCaseOut,
    TestCasePage,
    TestSetIn,
    TestSetMode,
    TestSetResult,
    samples_of,
)
from algoitny_problems.service_layer.use_cases import OPTIMISTIC_RETRIES, envelope, not_found
from algoitny_shared.batch_write import MAX_BATCH_WRITE
from algoitny_shared.cursor import CursorCodec
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.events import EventEnvelope
from algoitny_shared.faults import crash_point
from algoitny_shared.uow import DynamoUnitOfWork, TransactionConflict

log = logging.getLogger(__name__)

# Fault point (ALGOITNY_FAULT_POINTS, tests only): midway through writing a test set's chunks, before the flip.
CRASH_MID_TEST_SET_UPLOAD = "crash_mid_test_set_upload"


class ExtraConditionFailed(Exception):
    """A condition of the items added to a flip failed (e.g. the generation job lost its lease)."""


class TestSetService:
    __test__ = False

    def __init__(
        self,
        repo: ProblemRepository,
        store: TestCaseStore,
        control: ControlRepository,
        uow_factory: Callable[[], DynamoUnitOfWork],
        cursors: CursorCodec,
        *,
        gc_grace_s: float,
        stale_upload_s: float,
        fault_points: frozenset[str] = frozenset(),
    ) -> None:
        self._repo = repo
        self._store = store
        self._control = control
        self._uow = uow_factory
        self._cursors = cursors
        self._grace = gc_grace_s
        self._stale = stale_upload_s
        self._faults = fault_points

    # ------------------------------------------------------------------ writing

    async def write(
        self,
        platform: str,
        problem_id: str,
        body: TestSetIn,
        mode: TestSetMode,
        idempotency_key: str | None = None,
        trace_id: str | None = None,
    ) -> TestSetResult:
        """AP-50 (replace) and append; AP-51 (outputs) is a replace with the computed outputs."""
        problem = await self._repo.get(platform, problem_id, consistent=True)
        if problem is None:
            raise not_found(platform, problem_id)
        problem.ensure_writable()
        fingerprint = body.fingerprint(mode)
        idem = idem_pk(platform, problem_id, problem.incarnation, idempotency_key) if idempotency_key else None

        record = await self._control.get(idem) if idem else None
        if record is not None:
            if record["request_hash"] != fingerprint:
                raise AppError(
                    ErrorCode.CONFLICT,
                    "This Idempotency-Key was used for a different request on this problem",
                )
            if record["state"] == "done":
                return TestSetResult(**{**json.loads(record["result"]), "replayed": True})
            version, base = int(record["version"]), int(record["base_version"])  # resume a dead writer's upload
            start = [
                self._control.put_upload(platform, problem_id, problem.incarnation, version, stale_after_s=self._stale)
            ]
        else:
            allocated = await self._repo.allocate_test_set_version(platform, problem_id)
            if allocated is None:
                raise AppError(ErrorCode.CONFLICT, f"Problem {problem.key} is deleted or gone")
            version = allocated
            base = problem.test_set_version
            start = [
                self._control.put_upload(platform, problem_id, problem.incarnation, version, stale_after_s=self._stale)
            ]
            if idem:
                start.append(
                    self._control.put_idempotency(
                        idem, request_hash=fingerprint, mode=mode, version=version, base_version=base
                    )
                )
        uow = self._uow()
        for item in start:
            uow.add(item)
        try:
            await uow.commit()
        except TransactionConflict as exc:
            raise AppError(ErrorCode.CONFLICT, "An upload with this Idempotency-Key is already running") from exc

        loc = location(platform, problem_id, problem.incarnation)
        existing: list[dict[str, Any]] = []
        if mode == "append" and base:
            existing, _ = await self._store.query_version(loc, base)
        total = len(existing) + len(body.test_cases)
        if total > MAX_SET_CASES:
            await self._control.abandon(upload_pk(platform, problem_id, problem.incarnation, version), idem)
            raise AppError(ErrorCode.VALIDATION_FAILED, f"A test set holds at most {MAX_SET_CASES} cases, not {total}")

        def job(ordinal: int) -> Awaitable[dict[str, Any]]:
            if ordinal <= len(existing):
                return self._store.copy_item(loc, existing[ordinal - 1], version, ordinal)
            return self._store.prepare_item(loc, version, ordinal, body.test_cases[ordinal - len(existing) - 1])

        chunks = [list(range(i, min(i + MAX_BATCH_WRITE, total + 1))) for i in range(1, total + 1, MAX_BATCH_WRITE)]
        midway = len(chunks) // 2
        written = 0
        in_s3 = 0

        async def write_chunk(index: int, ordinals: list[int]) -> None:
            nonlocal written, in_s3
            items = [await job(o) for o in ordinals]
            await self._store.batch_put(items)
            written += 1
            in_s3 += sum(1 for i in items if i.get("stored") == "s3")
            if written == midway:
                crash_point(CRASH_MID_TEST_SET_UPLOAD, self._faults)

        await self._store.gather(write_chunk(i, c) for i, c in enumerate(chunks))

        new_samples = samples_of(body.test_cases)
        return await self._flip(problem, mode, version, base, total, new_samples, in_s3, idem, trace_id)

    async def _flip(
        self,
        started: Problem,
        mode: TestSetMode,
        version: int,
        base: int,
        count: int,
        new_samples: list[Any],
        in_s3: int,
        idem: str | None,
        trace_id: str | None,
        extra: Callable[[TestSetResult], tuple[list[dict[str, Any]], list[EventEnvelope]]] | None = None,
    ) -> TestSetResult:
        """Make ``version`` current. ``extra`` adds items and events to the same transaction (a
        generation job's final state); if one of its conditions fails, :class:`ExtraConditionFailed`."""
        upload = upload_pk(started.platform, started.problem_id, started.incarnation, version)
        for _ in range(OPTIMISTIC_RETRIES):
            current = await self._repo.get(started.platform, started.problem_id, consistent=True)
            reason = self._refusal(current, started, mode, version, base)
            if reason is not None:
                await self._control.abandon(upload, idem)
                raise reason
            assert current is not None
            samples = new_samples if mode == "replace" else (current.samples + new_samples)[:MAX_SAMPLES_ON_ITEM]
            new = current.with_test_set(version, count, samples)
            result = TestSetResult(
                platform=new.platform,
                problem_id=new.problem_id,
                mode=mode,
                test_set_version=version,
                test_case_count=count,
                previous_version=current.test_set_version,
                stored_in_s3=in_s3,
            )
            uow = self._uow()
            uow.add(
                self._repo.update(
                    new,
                    expected_version=current.version,
                    condition="#st <> :deleted",
                    names={"#st": "status"},
                    values={":deleted": {"S": "deleted"}},
                )
            )
            uow.add(self._control.commit_upload(upload))
            if idem:
                uow.add(self._control.complete_idempotency(idem, result.model_dump(mode="json")))
            if current.test_set_version:
                uow.add(
                    self._control.supersede(
                        new.platform, new.problem_id, new.incarnation, current.test_set_version, grace_s=self._grace
                    )
                )
            uow.publish(envelope(test_set_replaced(new, mode), new, trace_id))
            first_extra = uow.size
            if extra is not None:
                items, events = extra(result)
                for item in items:
                    uow.add(item)
                for event in events:
                    uow.publish(event)
            try:
                await uow.commit()
            except TransactionConflict as exc:
                if any(r == "ConditionalCheckFailed" for r in exc.reasons[first_extra:]):
                    raise ExtraConditionFailed(exc.reasons) from exc
                if len(exc.reasons) > 1 and exc.reasons[1] == "ConditionalCheckFailed":
                    raise AppError(
                        ErrorCode.CONFLICT, "The upload was collected as abandoned before it finished; retry"
                    ) from exc
                if idem and len(exc.reasons) > 2 and exc.reasons[2] == "ConditionalCheckFailed":
                    record = await self._control.get(idem)
                    if record and record.get("state") == "done":
                        return TestSetResult(**{**json.loads(record["result"]), "replayed": True})
                continue  # the problem's version moved on: read it again
            return result
        raise AppError(ErrorCode.CONFLICT, f"Problem {started.key} is changing too often; retry")

    # ------------------------------------------------------------------ staged sets (generation jobs)

    async def open_staged(self, platform: str, problem_id: str, stale_after_s: float) -> tuple[Problem, int]:
        """Allocate a new version for a writer that stages cases over a long time (a generation job),
        with an upload record so GC collects it should the job be abandoned."""
        problem = await self._repo.get(platform, problem_id, consistent=True)
        if problem is None:
            raise not_found(platform, problem_id)
        problem.ensure_writable()
        version = await self._repo.allocate_test_set_version(platform, problem_id)
        if version is None:
            raise AppError(ErrorCode.CONFLICT, f"Problem {problem.key} is deleted or gone")
        uow = self._uow()
        uow.add(
            self._control.put_upload(platform, problem_id, problem.incarnation, version, stale_after_s=stale_after_s)
        )
        await uow.commit()
        return problem, version

    async def stage(self, problem: Problem, version: int, first_ordinal: int, cases: list[TestCaseIn]) -> int:
        """Write cases at fixed ordinals of a staged version (rewriting is idempotent); returns how
        many went to S3."""
        loc = location(problem.platform, problem.problem_id, problem.incarnation)
        in_s3 = 0
        for start in range(0, len(cases), MAX_BATCH_WRITE):
            chunk = cases[start : start + MAX_BATCH_WRITE]
            items = [
                await self._store.prepare_item(loc, version, first_ordinal + start + n, case)
                for n, case in enumerate(chunk)
            ]
            await self._store.batch_put(items)
            in_s3 += sum(1 for i in items if i.get("stored") == "s3")
        return in_s3

    async def finish_staged(
        self,
        problem: Problem,
        version: int,
        count: int,
        samples: list[Any],
        trace_id: str | None,
        extra: Callable[[TestSetResult], tuple[list[dict[str, Any]], list[EventEnvelope]]] | None = None,
    ) -> TestSetResult:
        """Make a staged version the current set (a replace), with ``extra`` in the same transaction."""
        return await self._flip(
            problem, "replace", version, problem.test_set_version, count, samples, 0, None, trace_id, extra
        )

    async def abandon_staged(
        self, problem: Problem | None, platform: str, problem_id: str, incarnation: str, version: int
    ) -> None:
        """A staged version that will never be flipped: garbage now (GC removes its cases)."""
        try:
            await self._control.abandon(upload_pk(platform, problem_id, incarnation, version), None)
        except Exception:  # already collected, committed or abandoned
            log.info("staged upload %s/%s v%d was no longer open", platform, problem_id, version)

    @staticmethod
    def _refusal(
        current: Problem | None, started: Problem, mode: TestSetMode, version: int, base: int
    ) -> AppError | None:
        if current is None or current.incarnation != started.incarnation:
            return not_found(started.platform, started.problem_id)
        if current.status == "deleted":
            return AppError(ErrorCode.CONFLICT, f"Problem {current.key} is deleted", problem=current.key)
        if mode == "append" and current.test_set_version != base:
            return AppError(ErrorCode.CONFLICT, "The test set changed while appending; retry the append")
        if current.test_set_version >= version:
            return AppError(ErrorCode.CONFLICT, "A newer test set became current meanwhile")
        return None

    # ------------------------------------------------------------------ reading

    async def with_test_cases(self, problem: Problem, can_manage: bool) -> ProblemWithTestCases:
        """AP-26/AP-27, the hot path: the problem (one GetItem, done by the caller), its current set
        with one key-range Query, S3 payloads fetched in parallel."""
        from algoitny_problems.domain.models import ProblemView

        cases: list[TestCaseOut] = []
        if problem.test_set_version:
            loc = location(problem.platform, problem.problem_id, problem.incarnation)
            items, _ = await self._store.query_version(
                loc, problem.test_set_version, upto_ordinal=max(problem.test_case_count, 1)
            )
            cases = await self._store.materialise(items)
        view = ProblemView.of(problem, can_manage)
        return ProblemWithTestCases(**view.model_dump(), test_cases=cases)

    async def page(
        self, problem: Problem, *, limit: int, cursor: str | None, ordinals: list[int] | None = None
    ) -> TestCasePage:
        """Test cases of the current set, paged by a signed cursor; or selected ones (AP-49)."""
        scope = f"testcases:{problem.key}:{problem.incarnation}"
        loc = location(problem.platform, problem.problem_id, problem.incarnation)
        page = TestCasePage(
            platform=problem.platform,
            problem_id=problem.problem_id,
            incarnation=problem.incarnation,
            test_set_version=problem.test_set_version,
            test_case_count=problem.test_case_count,
            items=[],
        )
        if not problem.test_set_version:
            return page
        if ordinals:
            items = await self._store.batch_get(loc, problem.test_set_version, ordinals)
            page.items = await self._store.materialise(items)
            return page
        after = 0
        if cursor:
            position = self._cursors.decode(cursor, scope)
            if not isinstance(position.get("v"), int) or not isinstance(position.get("o"), int):
                raise AppError(ErrorCode.INVALID_CURSOR, "The cursor does not fit this listing")
            if position["v"] != problem.test_set_version:
                raise AppError(
                    ErrorCode.CONFLICT,
                    "The test set changed since this cursor was issued; start from the first page",
                    test_set_version=problem.test_set_version,
                )
            after = position["o"]
        items, more = await self._store.query_version(
            loc,
            problem.test_set_version,
            limit=limit,
            after_ordinal=after,
            upto_ordinal=max(problem.test_case_count, 1),
        )
        page.items = await self._store.materialise(items)
        if more and items:
            page.next_cursor = self._cursors.encode(
                {"v": problem.test_set_version, "o": int(items[-1]["ordinal"])}, scope
            )
        return page
