"""The catalogue of domain events: one pydantic model per event type.

Payloads carry what consumers need to keep their views current, never secrets
(no reference solutions, no password hashes) and never bulk data (test-case bodies).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from algoitny_shared.events.registry import REGISTRY
from algoitny_shared.topics import ACCOUNT_EVENTS, EXECUTION_EVENTS, PROBLEM_EVENTS


class _Payload(BaseModel):
    # Consumers ignore fields added by newer producers (forward compatible).
    model_config = ConfigDict(extra="ignore", frozen=True)


class ProblemSnapshot(_Payload):
    platform: str
    problem_id: str
    title: str
    url: str | None = None
    tags: list[str] = Field(default_factory=list)
    language: str | None = None
    status: str
    difficulty: str | None = None
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


@REGISTRY.register("executions.ExecutionCompleted", version=1, topic=EXECUTION_EVENTS, aggregate_type="execution")
class ExecutionCompleted(_Payload):
    """A judged run finished with a verdict. The problems service counts runs per problem from it."""

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
