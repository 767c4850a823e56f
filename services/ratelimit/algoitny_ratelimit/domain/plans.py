"""Subscription plans and their daily quotas (no I/O)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan_id: str = Field(pattern=r"^[a-z][a-z0-9_-]{1,31}$")
    name: str = Field(min_length=1, max_length=64)
    description: str = Field(default="", max_length=500)
    daily_hints: int | None = Field(default=None, ge=0, description="None means unlimited")
    daily_executions: int | None = Field(default=None, ge=0, description="None means unlimited")
    can_register_problems: bool = False


DEFAULT_PLANS: tuple[Plan, ...] = (
    Plan(plan_id="free", name="Free", description="Everyone starts here.", daily_hints=5, daily_executions=50),
    Plan(plan_id="pro", name="Pro", description="For daily practice.", daily_hints=30, daily_executions=200),
    Plan(
        plan_id="admin",
        name="Admin",
        description="Operators: no quotas.",
        daily_hints=None,
        daily_executions=None,
        can_register_problems=True,
    ),
)
