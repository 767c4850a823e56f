"""Subscription plans and their daily quotas (no I/O)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from algoitny_ratelimit.domain.quota import ACTIONS, UNLIMITED
from algoitny_shared.plan_ids import ADMIN_PLAN, DEFAULT_PLAN

PLAN_ID_PATTERN = r"^[a-z][a-z0-9_-]{1,31}$"


def _check_limits(limits: dict[str, int]) -> dict[str, int]:
    for action, limit in limits.items():
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}; known: {', '.join(ACTIONS)}")
        if limit < UNLIMITED:
            raise ValueError(f"limit for {action} must be -1 (unlimited) or at least 0")
    return limits


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan_id: str = Field(pattern=PLAN_ID_PATTERN)
    name: str = Field(min_length=1, max_length=64)
    description: str = Field(default="", max_length=500)
    daily_limits: dict[str, int] = Field(description="action -> daily count; -1 means unlimited")
    max_registered_problems: int = Field(default=0, ge=-1)
    may_register_problems: bool = False
    may_view_all_problems: bool = False
    price_cents: int = Field(default=0, ge=0)
    active: bool = True
    active_users: int = Field(default=0, ge=0, description="Users on this plan (from accounts events)")
    version: int = 1

    _limits = field_validator("daily_limits")(classmethod(lambda cls, v: _check_limits(v)))

    def limit_for(self, action: str) -> int:
        return self.daily_limits.get(action, 0)


class NewPlan(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    plan_id: str = Field(pattern=PLAN_ID_PATTERN)
    name: str = Field(min_length=1, max_length=64)
    description: str = Field(default="", max_length=500)
    daily_limits: dict[str, int]
    max_registered_problems: int = Field(default=0, ge=-1)
    may_register_problems: bool = False
    may_view_all_problems: bool = False
    price_cents: int = Field(default=0, ge=0)
    active: bool = True

    _limits = field_validator("daily_limits")(classmethod(lambda cls, v: _check_limits(v)))


class PlanPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=1, max_length=64)
    description: str | None = Field(default=None, max_length=500)
    daily_limits: dict[str, int] | None = None
    max_registered_problems: int | None = Field(default=None, ge=-1)
    may_register_problems: bool | None = None
    may_view_all_problems: bool | None = None
    price_cents: int | None = Field(default=None, ge=0)
    active: bool | None = None

    @field_validator("daily_limits")
    @classmethod
    def _limits(cls, value: dict[str, int] | None) -> dict[str, int] | None:
        return None if value is None else _check_limits(value)


DEFAULT_PLANS: tuple[NewPlan, ...] = (
    NewPlan(
        plan_id=DEFAULT_PLAN,
        name="Free",
        description="Everyone starts here.",
        daily_limits={"execution": 50, "hint": 5},
        max_registered_problems=0,
        may_view_all_problems=True,
    ),
    NewPlan(
        plan_id="pro",
        name="Pro",
        description="For daily practice.",
        daily_limits={"execution": 200, "hint": 30},
        may_view_all_problems=True,
        price_cents=900,
    ),
    NewPlan(
        plan_id=ADMIN_PLAN,
        name="Admin",
        description="Operators: no quotas.",
        daily_limits={"execution": UNLIMITED, "hint": UNLIMITED},
        max_registered_problems=UNLIMITED,
        may_register_problems=True,
        may_view_all_problems=True,
    ),
)
