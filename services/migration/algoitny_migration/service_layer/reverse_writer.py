"""The rollback path kept warm (issue 16): every platform change made after cutover, written back
into the legacy schema (algoitny_migration.domain.reverse says how each becomes a legacy row).

Which events are written back: those that occurred while the platform owned the data, i.e. in
phase ``cut_over``/``rolling_back`` and not before the cutover's moment (``cutover_at`` in the
migration's own State table, re-read when an event is newer than the copy). Events from before cutover are the
importers' (they describe legacy rows: the legacy database has them) or were refused writes; they
are acknowledged and skipped. A migrated row changed after cutover (a migrated user's plan, a
migrated problem edited) is found by its legacy id (the user's ``legacy_id``, a problem's platform
and number) and updated in place; a new one is inserted and mapped (``algoitny_reverse.mapping``).

Idempotent: each event's legacy writes and its ``applied`` row commit in one PostgreSQL
transaction; a redelivered event finds its row and changes nothing. What an event refers to and
the legacy database does not have yet (a run of a user whose registration event has not arrived)
is fetched and written first (users, problems), so order across topics does not matter.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from algoitny_migration.adapters.reverse_store import NotYetKnown, ReverseStore, Tx
from algoitny_migration.domain import reverse
from algoitny_shared.events import EventEnvelope
from algoitny_shared.events.catalog import (
    ExecutionCompleted,
    GenerationJobCancelled,
    GenerationJobCreated,
    GenerationJobFailed,
    GenerationJobProgressed,
    GenerationJobSucceeded,
    HintGenerated,
    ProblemCompleted,
    ProblemCreated,
    ProblemDeleted,
    ProblemUpdated,
    TestSetReplaced,
    UsageConsumed,
    UsageRefunded,
    UserDeactivated,
    UserPlanChanged,
    UserReactivated,
    UserRegistered,
    UserRoleChanged,
)
from algoitny_shared.metrics import Counter

log = logging.getLogger(__name__)

REVERSE_WRITES = Counter(
    "algoitny_reverse_writes_total", "Events the reverse writer handled, by type and outcome", ["event_type", "outcome"]
)
OWNING_PHASES = ("cut_over", "rolling_back")


class Platform(Protocol):
    async def get(self, service: str, path: str, params: dict[str, Any] | None = None) -> Any | None: ...


class PhaseSource(Protocol):
    async def get(self) -> Any: ...


class ReverseWriter:
    def __init__(
        self,
        store: ReverseStore,
        platform: Platform,
        phase: PhaseSource,
        *,
        refresh_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.platform = platform
        self.phase = phase
        self._refresh_s = refresh_s
        self._clock = clock
        self._phase: Any = None
        self._read_at = float("-inf")
        self._read_wall: datetime | None = None
        self.handlers: dict[str, Callable[[EventEnvelope, Any], Awaitable[None]]] = {
            t: self.handle
            for t in (
                "accounts.UserRegistered",
                "accounts.UserPlanChanged",
                "accounts.UserRoleChanged",
                "accounts.UserDeactivated",
                "accounts.UserReactivated",
                "problems.ProblemCreated",
                "problems.ProblemUpdated",
                "problems.ProblemCompleted",
                "problems.ProblemDeleted",
                "problems.TestSetReplaced",
                "problems.GenerationJobCreated",
                "problems.GenerationJobProgressed",
                "problems.GenerationJobSucceeded",
                "problems.GenerationJobFailed",
                "problems.GenerationJobCancelled",
                "executions.ExecutionCompleted",
                "hints.HintGenerated",
                "ratelimit.UsageConsumed",
                "ratelimit.UsageRefunded",
            )
        }

    async def _owning(self, occurred_at: datetime) -> bool:
        """True when the platform owned the data at ``occurred_at`` (the phase re-read if stale)."""
        stale = self._clock() - self._read_at > self._refresh_s
        if self._phase is None or stale or (self._read_wall is not None and occurred_at > self._read_wall):
            self._phase = await self.phase.get()
            self._read_at, self._read_wall = self._clock(), datetime.now(UTC)
        # The cutover's moment, not the phase's: an event of the cut_over period still waiting when
        # the rollback began (phase rolling_back since later) must be written back too.
        since = getattr(self._phase, "cutover_at", None) or self._phase.since
        if self._phase.phase not in OWNING_PHASES or not since:
            return False
        return occurred_at >= datetime.fromisoformat(since)

    async def handle(self, envelope: EventEnvelope, payload: Any) -> None:
        if not await self._owning(envelope.occurred_at):
            REVERSE_WRITES.labels(envelope.event_type, "before_cutover").inc()
            return
        outcome: list[str] = []
        prepared = await self._prepare(payload)
        done = await asyncio.to_thread(self._write, envelope, payload, prepared, outcome)
        REVERSE_WRITES.labels(
            envelope.event_type, "duplicate" if not done else (outcome[0] if outcome else "written")
        ).inc()

    # ---- what the event needs from the platform (fetched before the transaction)
    async def _user(self, user_id: str | None) -> dict[str, Any] | None:
        if not user_id or not user_id.startswith("u_"):
            return None
        return await self.platform.get("accounts", f"/internal/legacy/export/users/{user_id}")

    async def _problem(self, platform: str, problem_id: str) -> dict[str, Any] | None:
        return await self.platform.get("problems", f"/problems/{platform}/{problem_id}")

    async def _test_cases(self, platform: str, problem_id: str) -> list[dict[str, Any]]:
        cases: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 100}
            if cursor:
                params["cursor"] = cursor
            page = await self.platform.get("problems", f"/problems/{platform}/{problem_id}/testcases", params)
            if not page:
                return cases
            cases.extend(page.get("items", []))
            cursor = page.get("next_cursor")
            if not cursor:
                return cases

    async def _prepare(self, p: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if isinstance(p, UserRegistered | UserPlanChanged | UserRoleChanged | UserDeactivated | UserReactivated):
            out["user"] = await self._user(p.user_id)
        elif isinstance(p, ProblemCreated | ProblemUpdated | ProblemCompleted | ProblemDeleted | TestSetReplaced):
            out["problem"] = (
                await self._problem(p.platform, p.problem_id) if not isinstance(p, ProblemDeleted) else None
            )
            if isinstance(p, TestSetReplaced) or (isinstance(p, ProblemCreated) and p.test_case_count):
                out["cases"] = await self._test_cases(p.platform, p.problem_id)
        elif isinstance(p, ExecutionCompleted):
            out["execution"] = await self.platform.get("executions", f"/executions/{p.execution_id}") or {}
            out["user"] = await self._user(p.user_id)
            out["problem"] = await self._problem(p.platform, p.problem_id)
        elif isinstance(p, UsageConsumed):
            out["user"] = await self._user(p.user_id)
        elif isinstance(
            p,
            GenerationJobCreated
            | GenerationJobProgressed
            | GenerationJobSucceeded
            | GenerationJobFailed
            | GenerationJobCancelled,
        ):
            out["problem"] = await self._problem(p.platform, p.problem_id)
        return out

    # ---- the legacy writes (one transaction per event)
    def _write(self, envelope: EventEnvelope, p: Any, prepared: dict[str, Any], outcome: list[str]) -> bool:
        with self.store.event(str(envelope.event_id), envelope.event_type, outcome) as tx:
            if tx is None:
                return False
            self._apply(tx, envelope, p, prepared, outcome)
            return True

    def _ensure_user(self, tx: Tx, export: dict[str, Any] | None) -> int | None:
        if export is None:
            return None
        plan = reverse.legacy_plan(export.get("plan_id"))
        row = reverse.user_row(export, tx.plan_exists(plan))
        known = export.get("legacy_id")
        if known is None and tx.mapped("user", export["user_id"]) is None:
            # A platform e-mail the legacy table already holds (e.g. differing only in case was
            # refused at import; the same e-mail cannot be): the legacy row is that user.
            known = tx.user_by_email(row["email"])
        return tx.upsert("user", export["user_id"], "users", row, int(known) if known is not None else None)

    def _ensure_problem(self, tx: Tx, snapshot: dict[str, Any], detail: dict[str, Any] | None) -> int:
        key = f"{snapshot['platform']}/{snapshot['problem_id']}"
        deleted_at = snapshot.get("deleted_at")
        row = reverse.problem_row(snapshot, detail, reverse.iso(deleted_at) if deleted_at else None)
        return tx.upsert("problem", key, "problems", row, tx.problem_id(snapshot["platform"], snapshot["problem_id"]))

    def _apply(self, tx: Tx, envelope: EventEnvelope, p: Any, prepared: dict[str, Any], outcome: list[str]) -> None:
        if isinstance(p, UserRegistered | UserPlanChanged | UserRoleChanged | UserDeactivated | UserReactivated):
            if self._ensure_user(tx, prepared.get("user")) is None:
                outcome.append("not_a_user")
            return
        if isinstance(p, ProblemCreated | ProblemUpdated | ProblemCompleted | ProblemDeleted | TestSetReplaced):
            snapshot = p.model_dump(mode="json")
            problem = self._ensure_problem(tx, snapshot, prepared.get("problem"))
            if "cases" in prepared:
                tx.replace_test_cases(
                    f"{p.platform}/{p.problem_id}", problem, prepared.get("cases", []), reverse.iso(p.updated_at)
                )
            return
        if isinstance(p, ExecutionCompleted):
            self._execution(tx, p, prepared, outcome)
            return
        if isinstance(p, HintGenerated):
            if not p.execution_id:
                outcome.append("problem_hints_not_kept")  # the legacy schema keeps hints per run only
                return
            legacy = tx.mapped("execution", p.execution_id)
            if legacy is None:
                raise NotYetKnown(f"run {p.execution_id} is not in the legacy database yet")
            tx.set_hints(legacy, reverse.hints_list([h.model_dump() for h in p.hints]))
            tx.remap("execution", p.execution_id, "search_history", legacy)
            return
        if isinstance(p, UsageConsumed):
            user = self._ensure_user(tx, prepared.get("user"))
            if user is None:
                outcome.append("not_a_user")
                return
            tx.insert_once(
                "usage",
                f"{p.user_id}/{p.day}/{p.action}/{p.request_id}",
                "usage_logs",
                reverse.usage_row(p.model_dump(mode="json"), user),
            )
            return
        if isinstance(p, UsageRefunded):
            if not tx.remove("usage", f"{p.user_id}/{p.day}/{p.action}/{p.request_id}", "usage_logs"):
                outcome.append("nothing_to_refund")
            return
        # generation jobs
        job = p.model_dump(mode="json")
        detail = prepared.get("problem")
        created = reverse.iso(envelope.occurred_at)
        tx.upsert("job", p.job_id, "script_generation_jobs", reverse.job_row(job, detail, created))

    def _execution(self, tx: Tx, p: ExecutionCompleted, prepared: dict[str, Any], outcome: list[str]) -> None:
        if tx.mapped("execution", p.execution_id) is not None:
            return
        user = self._ensure_user(tx, prepared.get("user"))
        detail = prepared.get("problem")
        problem = tx.problem_id(p.platform, p.problem_id)
        if problem is None:
            if detail is None:
                raise NotYetKnown(f"problem {p.platform}/{p.problem_id} is in neither database")
            problem = self._ensure_problem(tx, {**detail, "url": detail.get("url")}, detail)
        export = prepared.get("user") or {}
        title = (detail or {}).get("title") or p.problem_id
        row = reverse.history_row(
            p.model_dump(mode="json"),
            prepared.get("execution") or {},
            user,
            problem,
            title,
            export.get("email") or (p.user_id or "anonymous"),
        )
        tx.insert_once("execution", p.execution_id, "search_history", row)
