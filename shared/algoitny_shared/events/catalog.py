"""The catalogue of domain events: one pydantic model per event type.

Payloads carry what consumers need to keep their views current, never secrets
(no reference solutions, no password hashes) and never bulk data (test-case bodies).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from algoitny_shared.events.registry import REGISTRY
from algoitny_shared.topics import (
    ACCOUNT_EVENTS,
    EXECUTION_EVENTS,
    EXECUTION_JOBS,
    HINT_EVENTS,
    MIGRATION_EVENTS,
    PROBLEM_EVENTS,
    RATELIMIT_EVENTS,
)


class _Payload(BaseModel):
    # Consumers ignore fields added by newer producers (forward compatible).
    model_config = ConfigDict(extra="ignore", frozen=True)


class ProblemCard(BaseModel):
    """What identifies and describes a problem in a list: the searchable part of its snapshot,
    which the search index keeps and its hits answer with (one definition of those fields)."""

    platform: str
    problem_id: str
    title: str
    url: str | None = None
    tags: list[str] = Field(default_factory=list)
    language: str | None = None
    status: str
    difficulty: str | None = None


class ProblemSnapshot(_Payload, ProblemCard):
    test_case_count: int = 0
    created_at: datetime
    updated_at: datetime


@REGISTRY.register("problems.ProblemCreated", version=1, topic=PROBLEM_EVENTS, aggregate_type="problem")
class ProblemCreated(ProblemSnapshot):
    """A problem was registered (draft or completed). Carries the searchable snapshot."""


@REGISTRY.register("problems.ProblemUpdated", version=1, topic=PROBLEM_EVENTS, aggregate_type="problem")
class ProblemUpdated(ProblemSnapshot):
    """A problem's fields were edited. Carries the whole searchable snapshot after the edit."""

    changed: list[str] = Field(default_factory=list)


@REGISTRY.register("problems.ProblemCompleted", version=1, topic=PROBLEM_EVENTS, aggregate_type="problem")
class ProblemCompleted(ProblemSnapshot):
    """A draft was published: users can now see and run it."""


@REGISTRY.register("problems.ProblemDeleted", version=1, topic=PROBLEM_EVENTS, aggregate_type="problem")
class ProblemDeleted(ProblemSnapshot):
    """A problem was deleted: soft (status deleted, kept for admins) or hard (item, test cases and
    payloads removed). Consumers drop it from user-facing views; the snapshot is the last state."""

    hard: bool = False
    deleted_at: datetime


@REGISTRY.register("problems.TestSetReplaced", version=1, topic=PROBLEM_EVENTS, aggregate_type="problem")
class TestSetReplaced(ProblemSnapshot):
    """A new test set became current (a replace, or an append written as a new version).
    Carries the version and count, never the test-case payloads."""

    __test__ = False  # not a pytest class
    test_set_version: int
    mode: str  # "replace" or "append"


@REGISTRY.register("accounts.UserRegistered", version=1, topic=ACCOUNT_EVENTS, aggregate_type="user")
class UserRegistered(_Payload):
    """A user account was created. No e-mail or other personal data travels in events."""

    user_id: str
    role: str
    plan_id: str
    registered_at: datetime
    method: str = "password"


@REGISTRY.register("accounts.UserPlanChanged", version=1, topic=ACCOUNT_EVENTS, aggregate_type="user")
class UserPlanChanged(_Payload):
    """A user moved to another plan (by an admin, or an admin e-mail promoted on sign-in)."""

    user_id: str
    plan_id: str
    previous_plan_id: str
    changed_by: str | None = None
    changed_at: datetime


@REGISTRY.register("accounts.UserRoleChanged", version=1, topic=ACCOUNT_EVENTS, aggregate_type="user")
class UserRoleChanged(_Payload):
    """A user's role changed (user <-> admin)."""

    user_id: str
    role: str
    previous_role: str
    changed_by: str | None = None
    changed_at: datetime


@REGISTRY.register("accounts.UserDeactivated", version=1, topic=ACCOUNT_EVENTS, aggregate_type="user")
class UserDeactivated(_Payload):
    """A user was deactivated: refresh fails at once, gateways refuse the user's earlier access tokens."""

    user_id: str
    deactivated_by: str | None = None
    deactivated_at: datetime


@REGISTRY.register("accounts.SessionRevoked", version=1, topic=ACCOUNT_EVENTS, aggregate_type="session")
class SessionRevoked(_Payload):
    """A sign-in session ended (sign-out, or a reused refresh token): its refresh tokens fail at
    once, and gateways refuse its access tokens from this event on instead of at their expiry."""

    user_id: str
    session_id: str
    reason: Literal["logout", "reuse", "deactivated"]
    revoked_at: datetime


@REGISTRY.register("accounts.UserSessionsRevoked", version=1, topic=ACCOUNT_EVENTS, aggregate_type="user")
class UserSessionsRevoked(_Payload):
    """Every session of a user up to this event ended (e.g. an unverified password account taken
    over by the address's verified owner): refresh tokens of earlier sessions fail, and gateways
    refuse access tokens issued at an earlier user version."""

    user_id: str
    reason: str
    revoked_at: datetime


@REGISTRY.register("accounts.UserReactivated", version=1, topic=ACCOUNT_EVENTS, aggregate_type="user")
class UserReactivated(_Payload):
    """A deactivated user was let back in."""

    user_id: str
    reactivated_by: str | None = None
    reactivated_at: datetime


class PlanSnapshot(_Payload):
    plan_id: str
    name: str
    daily_limits: dict[str, int]
    may_register_problems: bool
    may_view_all_problems: bool
    max_registered_problems: int
    active: bool


@REGISTRY.register("ratelimit.PlanCreated", version=1, topic=RATELIMIT_EVENTS, aggregate_type="plan")
class PlanCreated(PlanSnapshot):
    """A subscription plan was created. Limits: action -> daily count, -1 = unlimited."""


@REGISTRY.register("ratelimit.PlanUpdated", version=1, topic=RATELIMIT_EVENTS, aggregate_type="plan")
class PlanUpdated(PlanSnapshot):
    """A plan's limits or flags changed; accounts refreshes the limits it copies into users."""


@REGISTRY.register("ratelimit.PlanDeleted", version=1, topic=RATELIMIT_EVENTS, aggregate_type="plan")
class PlanDeleted(_Payload):
    """A plan with no users was deleted."""

    plan_id: str


class UsageChange(_Payload):
    user_id: str
    action: str
    request_id: str
    day: str
    at: datetime


@REGISTRY.register("ratelimit.UsageConsumed", version=1, topic=RATELIMIT_EVENTS, aggregate_type="charge")
class UsageConsumed(UsageChange):
    """One metered action (execution, hint) was charged against a user's daily quota."""

    plan_id: str


@REGISTRY.register("ratelimit.UsageRefunded", version=1, topic=RATELIMIT_EVENTS, aggregate_type="charge")
class UsageRefunded(UsageChange):
    """A charge was given back because the operation failed through no fault of the user."""

    reason: str


class ChargeRef(_Payload):
    """The quota charge a metered request made at the gateway (absent for admins: not metered)."""

    request_id: str
    day: str


@REGISTRY.register("executions.ExecutionSubmitted", version=1, topic=EXECUTION_JOBS, aggregate_type="execution")
class ExecutionSubmitted(_Payload):
    """A submission was accepted for judging: the judge workers' job. The code stays in the
    SearchHistory item (never on the topic); the worker reads it by id."""

    execution_id: str
    user_id: str
    platform: str
    problem_id: str
    language: str
    public: bool
    test_set_version: int
    incarnation: str | None = None
    """The problem's incarnation at submission (a problem deleted and registered again under the same
    id restarts its test-set versions); None from producers older than the field."""
    time_limit_ms: int
    memory_limit_mb: int
    checker: str = "tokens"
    float_tolerance: float | None = None
    stop_on_first_failure: bool = False
    charge: ChargeRef | None = None
    submitted_at: datetime
    judge_programs: str | None = None
    """The version of the problem's checker/interactor programs at submission (None: neither, or a
    producer older than the field); the judge reads the programs with the test set and reloads a
    cached set whose programs differ."""


@REGISTRY.register("executions.ExecutionCompleted", version=1, topic=EXECUTION_EVENTS, aggregate_type="execution")
class ExecutionCompleted(_Payload):
    """A judged run finished with a verdict. The problems service counts runs per problem from it;
    verdict IE (internal error after the judge's retries) means the charge is due back: ratelimit
    refunds ``charge`` once."""

    execution_id: str
    user_id: str | None = None
    platform: str
    problem_id: str
    language: str
    verdict: str
    test_set_version: int | None = None
    passed_count: int = 0
    total_count: int = 0
    completed_at: datetime
    public: bool = False
    max_time_ms: int = 0
    max_memory_kb: int = 0
    charge: ChargeRef | None = None
    submitted_at: datetime | None = None
    judge_ms: int = 0


@REGISTRY.register("executions.ProblemJudgeFailed", version=1, topic=EXECUTION_EVENTS, aggregate_type="execution")
class ProblemJudgeFailed(_Payload):
    """A problem's own checker or interactor failed while judging an execution (exit 3, a crash, a
    limit, no compile): the execution ended IE (refunded) and the problem's registrar is told (the
    problems service keeps it as the problem's ``judge_health``). Published with that execution's
    ``ExecutionCompleted``, keyed by the execution."""

    execution_id: str
    platform: str
    problem_id: str
    program: str
    """``checker`` or ``interactor``."""
    detail: str
    programs_version: str | None = None
    failed_at: datetime


@REGISTRY.register(
    "executions.ExecutionVisibilityChanged", version=1, topic=EXECUTION_EVENTS, aggregate_type="execution"
)
class ExecutionVisibilityChanged(_Payload):
    """Its owner (or an admin) made an execution public or private after submission
    (``PATCH /executions/{id}``). ``changed_by`` is the caller's user id."""

    execution_id: str
    user_id: str | None = None
    public: bool
    changed_by: str
    changed_at: datetime


@REGISTRY.register("hints.HintRequested", version=1, topic=HINT_EVENTS, aggregate_type="hint_request")
class HintRequested(_Payload):
    """Someone asked for hints: on one of their failed executions (kind execution, charged one hint
    whose key and day ride along so a failed request can be refunded) or on a problem (kind problem,
    admins generate the hints every user then reads). The hints worker consumes it."""

    request_id: str
    kind: str
    execution_id: str | None = None
    platform: str | None = None
    problem_id: str | None = None
    user_id: str | None = None
    charge_key: str | None = None
    charge_day: str | None = None
    requested_at: datetime


class GeneratedHint(_Payload):
    level: int
    title: str
    text: str


@REGISTRY.register("hints.HintGenerated", version=1, topic=HINT_EVENTS, aggregate_type="hint_request")
class HintGenerated(_Payload):
    """Hints for a request are ready: 3-5 hints from a gentle nudge to a near-solution. ``source`` says
    who wrote them (gemini, or the offline fallback from the evidence). The executions service
    attaches them to the history item; never carries code or reference solutions."""

    request_id: str
    kind: str
    execution_id: str | None = None
    platform: str | None = None
    problem_id: str | None = None
    user_id: str | None = None
    source: str
    model: str | None = None
    hints: list[GeneratedHint]
    generated_at: datetime


# -- sandbox runs: programs other services need run in the judge's sandbox ---------------------


class SandboxLimits(_Payload):
    time_limit_ms: int = 2000
    memory_limit_mb: int = 256
    output_limit_kb: int = 8192

    def worst_case_run_s(self) -> float:
        """The longest one run may take on a judge (the executions service's tests hold every
        language to it): CPU at most 3 x the time limit + 0.5 s, wall 3 x the CPU, + 1 s start-up."""
        return (3 * (3 * self.time_limit_ms + 500) + 1000) / 1000


@REGISTRY.register("executions.SandboxRunRequested", version=1, topic=EXECUTION_JOBS, aggregate_type="sandbox_run")
class SandboxRunRequested(_Payload):
    """A service asks the judge workers to run a program on some inputs in the sandbox (same limits
    and isolation as user code). Program and inputs sit in the sandbox bucket under ``request_key``
    (never on the topic); with ``with_expected`` each input has an expected output and ``checker``
    judges it. The answer is ``executions.SandboxRunCompleted`` with the same ``run_id``."""

    run_id: str
    requester: str
    language: str
    input_count: int
    request_key: str
    limits: SandboxLimits = Field(default_factory=SandboxLimits)
    with_expected: bool = False
    checker: str = "tokens"
    float_tolerance: float | None = None
    requested_at: datetime
    expires_at: datetime | None = Field(
        default=None,
        description="Not started by then: answered IE without running (the requester stopped waiting)",
    )


@REGISTRY.register("executions.SandboxRunCompleted", version=1, topic=EXECUTION_EVENTS, aggregate_type="sandbox_run")
class SandboxRunCompleted(_Payload):
    """A sandbox run finished: ``verdict`` is the overall one (CE/IE, or the first failing run's);
    per-run verdicts and the programs' outputs are in the sandbox bucket under ``result_key``."""

    run_id: str
    requester: str
    verdict: str
    result_key: str | None = None
    detail: str = ""
    compile_message: str = ""
    completed_at: datetime


# -- test-case generation jobs (problems service) ----------------------------------------------


class GenerationJobSnapshot(_Payload):
    job_id: str
    platform: str
    problem_id: str
    status: str
    total: int
    done: int = 0
    attempts: int = 0
    updated_at: datetime


@REGISTRY.register("problems.GenerationJobCreated", version=1, topic=PROBLEM_EVENTS, aggregate_type="generation_job")
class GenerationJobCreated(GenerationJobSnapshot):
    """A registrar asked for generated test cases: a generator written by them or by an LLM
    (``generator_source``: registrar or llm), ``counts`` per size class and the seed."""

    generator_source: str
    generator_language: str | None = None
    counts: dict[str, int]
    seed: int
    created_by: str | None = None


@REGISTRY.register("problems.GenerationJobProgressed", version=1, topic=PROBLEM_EVENTS, aggregate_type="generation_job")
class GenerationJobProgressed(GenerationJobSnapshot):
    """A batch of cases was generated, given outputs by the reference solution and staged."""


@REGISTRY.register("problems.GenerationJobSucceeded", version=1, topic=PROBLEM_EVENTS, aggregate_type="generation_job")
class GenerationJobSucceeded(GenerationJobSnapshot):
    """All cases were made and became the problem's current test set at ``test_set_version``."""

    test_set_version: int
    test_case_count: int


@REGISTRY.register("problems.GenerationJobFailed", version=1, topic=PROBLEM_EVENTS, aggregate_type="generation_job")
class GenerationJobFailed(GenerationJobSnapshot):
    """The job ended without a test set (``error`` says why); nothing it staged became current."""

    error: str


@REGISTRY.register("problems.GenerationJobCancelled", version=1, topic=PROBLEM_EVENTS, aggregate_type="generation_job")
class GenerationJobCancelled(GenerationJobSnapshot):
    """A registrar cancelled the job; nothing it staged became current."""

    cancelled_by: str | None = None


# -- the migration from the legacy database (services/migration) ---------------------------------


@REGISTRY.register("migration.MigrationPhaseChanged", version=1, topic=MIGRATION_EVENTS, aggregate_type="migration")
class MigrationPhaseChanged(_Payload):
    """The migration moved to ``phase`` (open, migrating, cut_over, rolling_back, rolled_back):
    ``writes_open`` says whether the platform takes writes to data the legacy database owned.
    ``version`` grows by one with each change; the latest version wins. ``command`` is what moved
    it (start, cutover, rollback, finish, abandon), ``note`` what the operator or the gates said."""

    phase: str
    previous_phase: str
    writes_open: bool
    version: int
    command: str
    changed_by: str | None = None
    changed_at: datetime
    note: str | None = None
