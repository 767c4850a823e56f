"""Use cases: request hints (HTTP), read them (HTTP), and generate them (the worker, from events)."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter, Histogram

from algoitny_hints.adapters.gemini import GeminiHints, LlmUnavailable
from algoitny_hints.adapters.repository import HintStore, execution_target, problem_target
from algoitny_hints.adapters.sources import ExecutionSource, NotVisible, ProblemSource, Refunds
from algoitny_hints.domain import fallback
from algoitny_hints.domain.models import ExecutionContext, HintSet, HintsView, ProblemContext
from algoitny_hints.domain.prompt import build_prompt, check_output
from algoitny_hints.settings import HintsSettings
from algoitny_shared.charges import parse_charge
from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.events import REGISTRY, EventEnvelope
from algoitny_shared.events.catalog import GeneratedHint, HintGenerated, HintRequested
from algoitny_shared.identity import Identity
from algoitny_shared.kafka import EventHandler

log = logging.getLogger(__name__)
PRODUCER = "hints"

HINTS_GENERATED = Counter("algoitny_hints_generated_total", "Hint sets generated", ["kind", "source"])
HINT_GENERATION_SECONDS = Histogram(
    "algoitny_hints_generation_seconds", "Worker time per request (context, LLM, store)", ["source"]
)


@dataclass(frozen=True)
class Charge:
    key: str
    day: str


def charge_of(value: str | None) -> Charge | None:
    """The gateway's charge on metered routes (absent for admins: not metered)."""
    parsed = parse_charge(value)
    return Charge(key=parsed[1], day=parsed[0]) if parsed else None


def _now() -> datetime:
    return datetime.now(UTC)


class HintService:
    def __init__(
        self,
        settings: HintsSettings,
        store: HintStore,
        executions: ExecutionSource,
        problems: ProblemSource,
        refunds: Refunds,
        llm: GeminiHints,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._s = settings
        self._store = store
        self._executions = executions
        self._problems = problems
        self._refunds = refunds
        self.llm = llm
        self._clock = clock

    # ------------------------------------------------------------------ HTTP side

    async def _own_execution(self, execution_id: str, identity: Identity) -> ExecutionContext:
        if not identity.is_authenticated:
            raise AppError(ErrorCode.UNAUTHENTICATED, "Sign in to use hints")
        try:
            ex = await self._executions.get(execution_id, identity)
        except NotVisible:
            raise AppError(ErrorCode.NOT_FOUND, "No such execution of yours") from None
        # The executions service already enforces visibility; owners only, whatever it lets through.
        if ex.user_id is None or ex.user_id != identity.user_id:
            raise AppError(ErrorCode.NOT_FOUND, "No such execution of yours")
        return ex

    async def _refund(self, user_id: str | None, charge: Charge | None, reason: str, request_id: str | None) -> None:
        if not (user_id and charge):
            return
        if request_id and not await self._store.mark_refunded(request_id):
            return  # given back already
        await self._refunds.refund(user_id, charge.key, charge.day, reason)

    async def request_execution_hints(
        self, execution_id: str, identity: Identity, charge: Charge | None, request_id: str | None = None
    ) -> dict[str, Any]:
        try:
            ex = await self._own_execution(execution_id, identity)
            if not ex.finished:
                raise AppError(ErrorCode.CONFLICT, "The execution is still being judged")
            if ex.accepted:
                raise AppError(ErrorCode.CONFLICT, "The execution was accepted: there is nothing to hint at")
        except AppError as exc:
            if exc.code is not ErrorCode.UNAUTHENTICATED:
                await self._refund(identity.user_id, charge, f"hint request rejected: {exc.code.slug}", None)
            raise
        rid = (charge.key if charge else None) or request_id or uuid.uuid4().hex
        return await self._create(
            rid,
            "execution",
            identity,
            charge,
            execution_target(execution_id),
            execution_id=execution_id,
            platform=ex.platform,
            problem_id=ex.problem_id,
        )

    async def request_problem_hints(self, platform: str, problem_id: str, identity: Identity) -> dict[str, Any]:
        if not identity.is_admin:
            raise AppError(ErrorCode.FORBIDDEN, "Only admins generate problem hints")
        try:
            await self._problems.get(platform, problem_id)
        except NotVisible:
            raise AppError(ErrorCode.NOT_FOUND, "No such problem") from None
        return await self._create(
            uuid.uuid4().hex, "problem", identity, None, None, platform=platform, problem_id=problem_id
        )

    async def _create(
        self,
        rid: str,
        kind: str,
        identity: Identity,
        charge: Charge | None,
        pending_target: str | None,
        **target: Any,
    ) -> dict[str, Any]:
        now = self._clock()
        payload = HintRequested(
            request_id=rid,
            kind=kind,
            user_id=identity.user_id,
            charge_key=charge.key if charge else None,
            charge_day=charge.day if charge else None,
            requested_at=now,
            **target,
        )
        event = REGISTRY.envelope(payload, producer=PRODUCER, aggregate_id=rid, aggregate_version=1)
        request = {**payload.model_dump(mode="json", exclude_none=True), "status": "pending"}
        created = await self._store.create_request(request, event, pending_target)
        if not created:
            existing = await self._store.get_request(rid) or request
            if existing.get("kind") != kind or any(existing.get(k) != v for k, v in target.items()):
                raise AppError(ErrorCode.CONFLICT, "This Idempotency-Key was used for another hint request")
            request = existing
        return {
            "request_id": rid,
            "kind": kind,
            "status": request.get("status", "pending"),
            **target,
        }

    async def execution_hints(self, execution_id: str, identity: Identity) -> HintsView:
        await self._own_execution(execution_id, identity)
        view = await self._store.latest(execution_target(execution_id))
        if view is None:
            raise AppError(ErrorCode.NOT_FOUND, "No hints were requested for this execution")
        return HintsView.model_validate(view)

    async def problem_hints(
        self, platform: str, problem_id: str, identity: Identity, charge: Charge | None
    ) -> HintsView:
        """A problem's hints, for those who may see the problem (never a draft's to its readers),
        and only those made for this incarnation of it (a problem hard-deleted and created again
        under the same id starts without hints). Whatever is not served is not charged."""
        if not identity.is_authenticated:
            raise AppError(ErrorCode.UNAUTHENTICATED, "Sign in to read hints")
        try:
            problem = await self._problems.visible(platform, problem_id, identity)
        except NotVisible:
            await self._refund(identity.user_id, charge, "no such problem", None)
            raise AppError(ErrorCode.NOT_FOUND, "No such problem") from None
        view = await self._store.latest(problem_target(platform, problem_id))
        if view is None or view.get("status") != "ready" or view.get("problem_ref") != problem.id:
            # Nothing to read: the charge the gateway made for this read is given back.
            await self._refund(identity.user_id, charge, "no hints for this problem yet", None)
            raise AppError(ErrorCode.NOT_FOUND, "No hints for this problem yet")
        return HintsView.model_validate(view)

    # ------------------------------------------------------------------ worker side

    def handlers(self) -> dict[str, EventHandler]:
        return {"hints.HintRequested": self.on_hint_requested}

    async def on_hint_requested(self, envelope: EventEnvelope, payload: HintRequested) -> None:
        await self.generate(payload)

    async def generate(self, req: HintRequested) -> str:
        """Produce and store the hints of one request; returns the outcome. Idempotent: a request
        whose result is stored already (a redelivery) is skipped without calling the LLM, and the
        completing transaction is conditioned on the request's status, which thus serves as the
        consumer's inbox record in the handler's own transaction."""
        started = time.monotonic()
        stored = await self._store.get_request(req.request_id)
        if stored is None:
            log.warning("hint request %s unknown; ignored", req.request_id)
            return "unknown"
        if stored.get("status") in ("ready", "failed"):
            return "duplicate"
        target = (
            execution_target(req.execution_id or "")
            if req.kind == "execution"
            else problem_target(req.platform or "", req.problem_id or "")
        )
        charge = Charge(req.charge_key, req.charge_day) if req.charge_key and req.charge_day else None
        try:
            problem, reference = await self._problem_context(req)
            execution = None
            if req.kind == "execution":
                identity = Identity(user_id=req.user_id, role="user")
                execution = await self._executions.get(req.execution_id or "", identity)
                if execution.user_id != req.user_id:
                    raise NotVisible(req.execution_id or "")
        except NotVisible:
            await self._store.fail(req.request_id, target if req.kind == "execution" else None, "context not found")
            await self._refund(req.user_id, charge, "hint context no longer available", req.request_id)
            return "failed"
        if stored.get("answer"):
            hint_set = HintSet.model_validate_json(stored["answer"])  # answered before the store failed
        else:
            hint_set = await self._hints_for(req, problem, reference, execution)
            if hint_set.source == "gemini":
                await self._store.save_answer(req.request_id, hint_set.model_dump(mode="json"))
        now = self._clock()
        view = HintsView(
            request_id=req.request_id,
            kind=req.kind,  # type: ignore[arg-type]
            status="ready",
            execution_id=req.execution_id,
            platform=req.platform,
            problem_id=req.problem_id,
            source=hint_set.source,
            model=hint_set.model,
            cause=hint_set.cause,
            hints=hint_set.hints,
            requested_at=req.requested_at,
            generated_at=now,
        ).model_dump(mode="json")
        view["user_id"] = req.user_id if req.kind == "execution" else None
        # Which incarnation of the problem these hints are for (its numeric id is new with each).
        view["problem_ref"] = problem.id if problem is not None else None
        event = REGISTRY.envelope(
            HintGenerated(
                request_id=req.request_id,
                kind=req.kind,
                execution_id=req.execution_id,
                platform=req.platform,
                problem_id=req.problem_id,
                user_id=req.user_id if req.kind == "execution" else None,
                source=hint_set.source,
                model=hint_set.model,
                hints=[GeneratedHint(**h.model_dump()) for h in hint_set.hints],
                generated_at=now,
            ),
            producer=PRODUCER,
            aggregate_id=req.request_id,
            aggregate_version=2,
        )
        if not await self._store.complete(req.request_id, target, view, event):
            return "duplicate"
        HINTS_GENERATED.labels(req.kind, hint_set.source).inc()
        HINT_GENERATION_SECONDS.labels(hint_set.source).observe(time.monotonic() - started)
        return hint_set.source

    async def _problem_context(self, req: HintRequested) -> tuple[ProblemContext | None, str | None]:
        if not (req.platform and req.problem_id):
            if req.kind == "problem":
                raise NotVisible("problem")
            return None, None
        try:
            return await self._problems.get(req.platform, req.problem_id)
        except NotVisible:
            if req.kind == "problem":
                raise
            return None, None  # an execution's hints can do without the problem

    async def _hints_for(
        self,
        req: HintRequested,
        problem: ProblemContext | None,
        reference: str | None,
        execution: ExecutionContext | None,
    ) -> HintSet:
        if execution is not None:
            cause, offline = fallback.execution_hints(execution, problem)
        else:
            assert problem is not None
            cause, offline = fallback.problem_hints(problem)

        def use_fallback(reason: str) -> HintSet:
            return HintSet(source="fallback", cause=cause, fallback_reason=reason, hints=offline)

        if not self.llm.enabled:
            return use_fallback("no_api_key")
        day = self._clock().strftime("%Y-%m-%d")
        budget_user = req.user_id if req.kind == "execution" else None
        user_used, global_used = await self._store.tokens_used(day, budget_user)
        if global_used >= self._s.global_daily_token_budget:
            return use_fallback("global_token_budget_spent")
        if budget_user and user_used >= self._s.user_daily_token_budget:
            return use_fallback("user_token_budget_spent")
        prompt = build_prompt(
            problem,
            execution,
            max_tests=self._s.max_failing_tests,
            max_field=self._s.max_field_chars,
            max_code=self._s.max_code_chars,
        )
        try:
            answer = await self.llm.generate(prompt)
        except LlmUnavailable as exc:
            return use_fallback(exc.reason)
        await self._store.add_tokens(day, budget_user, answer.prompt_tokens + answer.output_tokens)
        problem_text = reference or ""
        rejected = check_output(
            answer.value, forbidden=[problem_text] if problem_text else [], own_code=execution.code if execution else ""
        )
        if rejected:
            log.warning("gemini hints rejected: %s", rejected)
            return use_fallback(f"output_rejected: {rejected}")
        return HintSet(
            source="gemini",
            model=answer.model,
            hints=answer.value,
            prompt_tokens=answer.prompt_tokens,
            output_tokens=answer.output_tokens,
        )
