"""The catalogue of domain events: one pydantic model per event type.

Payloads carry what consumers need to keep their views current, never secrets
(no reference solutions, no password hashes) and never bulk data (test-case bodies).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from algoitny_shared.events.registry import REGISTRY
from algoitny_shared.topics import ACCOUNT_EVENTS, PROBLEM_EVENTS


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


@REGISTRY.register("accounts.UserRegistered", version=1, topic=ACCOUNT_EVENTS, aggregate_type="user")
class UserRegistered(_Payload):
    """A user account was created. No e-mail or other personal data travels in events."""

    user_id: str
    role: str
    plan_id: str
    registered_at: datetime
