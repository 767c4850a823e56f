"""Use cases: submit an execution, read it (and follow it), list history, run on custom input."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from algoitny_executions.domain.history import (
    COMPILE_MESSAGE_KEEP_CHARS,
    RUN_OUTPUT_KEEP_BYTES,
    ExecutionView,
    HistoryEntry,
    HistoryPage,
    NewExecution,
    NewRun,
    RunResult,
    Scope,
    Submitted,
    VisibilityChange,
    all_public_shards,
    compress_code,
    decompress_code,
    expand_tests,
    is_owner_or_admin,
    may_see_code,
    may_see_execution,
    merge_newest_first,
    new_execution_id,
    problem_key,
    public_shard,
    unpack,
)
from algoitny_executions.domain.judging import Limits, Submission, Verdict
from algoitny_executions.service_layer.judge import Judge, JudgeBusy
from algoitny_shared.cursor import CursorCodec
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.events import REGISTRY
from algoitny_shared.events.catalog import ChargeRef, ExecutionSubmitted, ExecutionVisibilityChanged
from algoitny_shared.identity import Identity
from algoitny_shared.uow import DynamoUnitOfWork, TransactionConflict

PRODUCER = "executions"


class HistoryStore(Protocol):
    """The reads the history listings need (DynamoDB in production, a fake in unit tests)."""

    async def by_user(self, user_id: str, *, before: str | None, limit: int) -> list[dict[str, Any]]: ...

    async def by_public_shard(self, shard: str, *, before: str | None, limit: int) -> list[dict[str, Any]]: ...

    async def by_problem(self, key: str, *, before: str | None, limit: int) -> list[dict[str, Any]]: ...


class FullStore(HistoryStore, Protocol):
    table: str

    def put_new(self, item: dict[str, Any]) -> dict[str, Any]: ...

    def set_visibility(self, execution_id: str, public: bool, shard: str, changes: int) -> dict[str, Any]: ...

    async def get(self, execution_id: str, *, consistent: bool = False) -> dict[str, Any] | None: ...


class Problems(Protocol):
    async def get(self, identity: Identity, platform: str, problem_id: str) -> dict[str, Any]: ...


class Profiles(Protocol):
    async def display_name(self, identity: Identity) -> str | None: ...


class HistoryLists:
    """Own, public and merged feeds by cursor; a cursor is the last id returned, bound to the list."""

    def __init__(self, store: HistoryStore, cursors: CursorCodec) -> None:
        self._store = store
        self._cursors = cursors

    def _before(self, cursor: str | None, scope: str) -> str | None:
        if not cursor:
            return None
        position = self._cursors.decode(cursor, scope)
        before = position.get("b")
        if not isinstance(before, str) or len(before) != 26:
            raise AppError(ErrorCode.INVALID_CURSOR, "The cursor does not fit this listing")
        return before

    def _page(self, items: list[dict[str, Any]], more: bool, scope: str) -> HistoryPage:
        cursor = self._cursors.encode({"b": items[-1]["execution_id"]}, scope) if more and items else None
        return HistoryPage(items=[HistoryEntry.of(i) for i in items], next_cursor=cursor)

    async def _public(self, before: str | None, limit: int) -> list[list[dict[str, Any]]]:
        return list(
            await asyncio.gather(
                *(self._store.by_public_shard(s, before=before, limit=limit + 1) for s in all_public_shards())
            )
        )

    async def list(self, identity: Identity, scope: Scope, cursor: str | None, limit: int) -> HistoryPage:
        if scope in ("mine", "feed") and not identity.is_authenticated:
            raise AppError(ErrorCode.UNAUTHENTICATED, f"Sign in to see scope={scope}")
        bound = f"history:{scope}:{identity.user_id if scope != 'public' else ''}"
        before = self._before(cursor, bound)
        streams: list[list[dict[str, Any]]] = []
        if scope in ("mine", "feed"):
            assert identity.user_id is not None
            streams.append(await self._store.by_user(identity.user_id, before=before, limit=limit + 1))
        if scope in ("public", "feed"):
            streams.extend(await self._public(before, limit))
        items, more = merge_newest_first(streams, limit)
        return self._page(items, more, bound)

    async def by_problem(self, platform: str, problem_id: str, cursor: str | None, limit: int) -> HistoryPage:
        key = problem_key(platform, problem_id)
        bound = f"history:problem:{key}"
        before = self._before(cursor, bound)
        items, more = merge_newest_first([await self._store.by_problem(key, before=before, limit=limit + 1)], limit)
        return self._page(items, more, bound)


def view_of(item: dict[str, Any], identity: Identity) -> ExecutionView:
    """What ``identity`` sees of an execution: a public one's code and verdicts are everyone's; the
    failed tests' input and expected output (hidden test data) only its owner's and admins'; its
    hints only its owner's."""
    visible = may_see_code(item, identity.user_id, identity.is_admin)
    private = is_owner_or_admin(item, identity.user_id, identity.is_admin)
    tests = expand_tests(unpack(item.get("tests_z")), with_io=private)
    owner = identity.user_id is not None and item.get("user_id") == identity.user_id
    return ExecutionView(
        **HistoryEntry.of(item).model_dump(),
        code=decompress_code(item["code_z"]) if visible and item.get("code_z") else None,
        code_visible=visible,
        code_bytes=int(item.get("code_bytes", 0)),
        compile_message=item.get("compile_message", ""),
        detail=item.get("detail", ""),
        tests=tests,  # type: ignore[arg-type]
        tests_done=int(item.get("tests_done", len(tests))),
        test_set_version=int(item.get("test_set_version", 0)),
        hints=list(item.get("hints", [])) if owner else [],
        started_at=item.get("started_at"),
    )


class ExecutionService:
    def __init__(
        self,
        store: FullStore,
        problems: Problems,
        profiles: Profiles,
        uow: Callable[[], DynamoUnitOfWork],
        languages: Callable[[], set[str]],
        cursors: CursorCodec,
    ) -> None:
        self._store = store
        self._problems = problems
        self._profiles = profiles
        self._uow = uow
        self._languages = languages
        self.lists = HistoryLists(store, cursors)

    def check_language(self, language: str) -> None:
        known = self._languages()
        if language not in known:
            raise AppError(
                ErrorCode.VALIDATION_FAILED,
                f"Unknown language {language!r}; available: {', '.join(sorted(known))}",
                errors=[{"loc": ["body", "language"], "msg": "unknown language", "type": "value_error"}],
            )

    async def submit(self, cmd: NewExecution, identity: Identity, charge: ChargeRef | None) -> Submitted:
        if not identity.is_authenticated or identity.user_id is None:
            raise AppError(ErrorCode.UNAUTHENTICATED, "Sign in to submit code")
        self.check_language(cmd.language)
        problem, name = await asyncio.gather(
            self._problems.get(identity, cmd.platform, cmd.problem_id), self._profiles.display_name(identity)
        )
        if problem.get("status") != "completed":
            raise AppError(
                ErrorCode.CONFLICT,
                f"Problem {cmd.platform}/{cmd.problem_id} is {problem.get('status')}: only completed problems take "
                "submissions",
            )
        now = datetime.now(UTC)
        execution_id = new_execution_id(int(now.timestamp() * 1000))
        version = int(problem.get("test_set_version", 0))
        incarnation = str(problem["incarnation"]) if problem.get("incarnation") else None
        item: dict[str, Any] = {
            "execution_id": execution_id,
            "user_id": identity.user_id,
            "user_name": name,
            "platform": cmd.platform,
            "problem_id": cmd.problem_id,
            "problem_key": problem_key(cmd.platform, cmd.problem_id),
            "problem_title": str(problem.get("title", ""))[:200],
            "language": cmd.language,
            "code_z": compress_code(cmd.code),
            "code_bytes": len(cmd.code.encode()),
            "public": cmd.public,
            "public_shard": public_shard(execution_id) if cmd.public else None,
            "status": "queued",
            "passed": 0,
            "total": 0,
            "tests_done": 0,
            "test_set_version": version,
            "created_at": now.isoformat(),
            "charge_request_id": charge.request_id if charge else None,
            "charge_day": charge.day if charge else None,
        }
        event = REGISTRY.envelope(
            ExecutionSubmitted(
                execution_id=execution_id,
                user_id=identity.user_id,
                platform=cmd.platform,
                problem_id=cmd.problem_id,
                language=cmd.language,
                public=cmd.public,
                test_set_version=version,
                incarnation=incarnation,
                time_limit_ms=int(problem.get("time_limit_ms", 2000)),
                memory_limit_mb=int(problem.get("memory_limit_mb", 256)),
                checker=str(problem.get("checker", "tokens")),
                float_tolerance=problem.get("float_tolerance"),
                stop_on_first_failure=cmd.stop_on_first_failure,
                charge=charge,
                submitted_at=now,
                judge_programs=str(problem["judge_programs"]) if problem.get("judge_programs") else None,
            ),
            producer=PRODUCER,
            aggregate_id=execution_id,
            aggregate_version=1,
        )
        uow = self._uow()
        uow.add(self._store.put_new(item))
        uow.publish(event)
        await uow.commit()
        base = f"/api/v1/executions/{execution_id}"
        return Submitted(execution_id=execution_id, status="queued", links={"self": base, "events": f"{base}/events"})

    async def visible(self, execution_id: str, identity: Identity, *, consistent: bool = False) -> dict[str, Any]:
        item = await self._store.get(execution_id, consistent=consistent)
        if item is None:
            raise AppError(ErrorCode.NOT_FOUND, f"Execution {execution_id} does not exist")
        if not may_see_execution(item, identity.user_id, identity.is_admin):
            raise AppError(ErrorCode.FORBIDDEN, "This execution is private to its owner")
        return item

    async def get(self, execution_id: str, identity: Identity) -> ExecutionView:
        return view_of(await self.visible(execution_id, identity), identity)

    async def set_visibility(self, execution_id: str, cmd: VisibilityChange, identity: Identity) -> ExecutionView:
        """Make an execution public or private: its owner or an admin. ``public`` and the sparse
        ``public_shard`` change together with ``executions.ExecutionVisibilityChanged`` (one
        transaction); asking for the current visibility changes nothing and publishes nothing."""
        if not identity.is_authenticated or identity.user_id is None:
            raise AppError(ErrorCode.UNAUTHENTICATED, "Sign in to change an execution's visibility")
        item = await self.visible(execution_id, identity, consistent=True)
        if not is_owner_or_admin(item, identity.user_id, identity.is_admin):
            raise AppError(ErrorCode.FORBIDDEN, "Only its owner or an admin changes an execution's visibility")
        if bool(item.get("public")) == cmd.public:
            return view_of(item, identity)
        changes = int(item.get("visibility_changes", 0))
        now = datetime.now(UTC)
        uow = self._uow()
        uow.add(self._store.set_visibility(execution_id, cmd.public, public_shard(execution_id), changes))
        uow.publish(
            REGISTRY.envelope(
                ExecutionVisibilityChanged(
                    execution_id=execution_id,
                    user_id=item.get("user_id"),
                    public=cmd.public,
                    changed_by=identity.user_id,
                    changed_at=now,
                ),
                producer=PRODUCER,
                aggregate_id=execution_id,
                # 1 is the submission, 2 the result; visibility changes count on from 3.
                aggregate_version=3 + changes,
            )
        )
        try:
            await uow.commit()
        except TransactionConflict as exc:
            raise AppError(
                ErrorCode.CONFLICT, f"Execution {execution_id} changed meanwhile (or is gone); read it and retry"
            ) from exc
        return view_of({**item, "public": cmd.public}, identity)

    async def follow(
        self, execution_id: str, identity: Identity, *, max_s: float = 300.0, heartbeat_s: float = 15.0
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """(event, data) pairs: ``status`` on each status change, ``test`` for each finished test,
        ``completed`` with the summary (then the stream ends). Polls the item with backoff
        (50-100 ms during the first 10 s, then up to 1 s)."""
        item = await self.visible(execution_id, identity, consistent=True)
        last_status: str | None = None
        sent_tests = 0
        delay = 0.05
        started = time.monotonic()
        deadline = started + max_s
        last_beat = time.monotonic()
        while True:
            changed = False
            status = item.get("status", "queued")
            if status != last_status:
                last_status = status
                changed = True
                yield "status", {"execution_id": execution_id, "status": status}
            tests = expand_tests(
                unpack(item.get("tests_z")), with_io=is_owner_or_admin(item, identity.user_id, identity.is_admin)
            )
            for test in tests[sent_tests:]:
                changed = True
                yield "test", test
            sent_tests = max(sent_tests, len(tests))
            if status == "completed":
                view = view_of(item, identity)
                yield "completed", view.model_dump(mode="json", exclude={"code", "tests"})
                return
            if time.monotonic() > deadline:
                yield "timeout", {"execution_id": execution_id, "status": status}
                return
            if time.monotonic() - last_beat > heartbeat_s:
                last_beat = time.monotonic()
                yield "heartbeat", {}
            # Judging usually ends within seconds: poll briskly at first, then back off to 1 s.
            ceiling = 0.1 if time.monotonic() - started < 10 else 1.0
            delay = 0.05 if changed else min(delay * 1.5, ceiling)
            await asyncio.sleep(delay)
            fresh = await self._store.get(execution_id, consistent=True)
            if fresh is None:
                raise AppError(ErrorCode.NOT_FOUND, f"Execution {execution_id} does not exist")
            item = fresh


class RunService:
    """Run code once on the caller's input, synchronously (charged as an execution at the gateway)."""

    def __init__(self, judge: Callable[[], Judge | None], languages: Callable[[], set[str]]) -> None:
        self._judge = judge
        self._languages = languages

    async def run(self, cmd: NewRun, identity: Identity) -> RunResult:
        if not identity.is_authenticated:
            raise AppError(ErrorCode.UNAUTHENTICATED, "Sign in to run code")
        known = self._languages()
        if cmd.language not in known:
            raise AppError(
                ErrorCode.VALIDATION_FAILED, f"Unknown language {cmd.language!r}; available: {', '.join(sorted(known))}"
            )
        judge = self._judge()
        if judge is None:
            raise AppError(ErrorCode.UPSTREAM_UNAVAILABLE, "The judge is not available on this replica")
        try:
            report, raw, result = await judge.call(
                judge.run_custom,
                Submission(language=cmd.language, code=cmd.code),
                cmd.stdin.encode(),
                Limits(time_limit_ms=2000, memory_limit_mb=256, output_limit_kb=1024),
                interactive=True,
            )
        except JudgeBusy as exc:
            # 503 at once (the gateway gives the charge back) instead of waiting without a bound.
            raise AppError(
                ErrorCode.UPSTREAM_UNAVAILABLE,
                "Every judge slot is busy; retry later",
                headers={"Retry-After": str(exc.retry_after_s)},
            ) from exc
        if report is not None:
            if report.verdict == Verdict.IE:
                # 503: the gateway gives the charge back.
                raise AppError(ErrorCode.UPSTREAM_UNAVAILABLE, "The judge failed internally; retry later")
            return RunResult(verdict=report.verdict.value, compile_message=report.compile_message)
        assert raw is not None and result is not None
        verdict = "OK" if result.verdict == Verdict.AC else result.verdict.value
        return RunResult(
            verdict=verdict,
            stdout=raw.stdout[:RUN_OUTPUT_KEEP_BYTES].decode("utf-8", errors="replace"),
            stderr=raw.stderr[:RUN_OUTPUT_KEEP_BYTES].decode("utf-8", errors="replace"),
            stdout_truncated=len(raw.stdout) > RUN_OUTPUT_KEEP_BYTES,
            time_ms=result.time_ms,
            wall_ms=result.wall_ms,
            memory_kb=result.memory_kb,
            detail=result.detail[:COMPILE_MESSAGE_KEEP_CHARS],
        )
