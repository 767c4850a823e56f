"""Daily quotas: which day a moment belongs to, when it resets, what a decision says (no I/O)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from algoitny_shared.idempotency import KEY_PATTERN, IdempotencyClaim, IdempotencyRecord, StoredResponse

Action = Literal["execution", "hint"]
ACTIONS: tuple[str, ...] = ("execution", "hint")
UNLIMITED = -1
REQUEST_ID_PATTERN = r"^[A-Za-z0-9_.:-]{8,128}$"

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def day_of(moment: datetime) -> str:
    """The UTC day a moment counts against (quotas reset at 00:00 UTC)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d")


def reset_at(moment: datetime) -> datetime:
    start = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return start + timedelta(days=1)


class ConsumeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: str = Field(min_length=1, max_length=128)
    action: Action
    request_id: str = Field(pattern=REQUEST_ID_PATTERN)
    plan_hint: str | None = Field(default=None, max_length=64, description="Plan claimed by the token, if no event yet")
    idempotency: IdempotencyClaim | None = Field(
        default=None,
        description="Claim this Idempotency-Key for the request in the same transaction as the charge; "
        "if it is claimed already, nothing is charged and the record found is returned",
    )
    metered: bool = Field(default=True, description="False: only claim the key (callers who are not metered)")


class SettleRequest(BaseModel):
    """The outcome of a request that claimed an idempotency key: its answer, or nothing (the key
    is released, e.g. because the request was refused or failed and was not charged)."""

    model_config = ConfigDict(extra="forbid")

    user_id: str = Field(min_length=1, max_length=128)
    key: str = Field(pattern=KEY_PATTERN)
    request_id: str = Field(pattern=REQUEST_ID_PATTERN, description="The attempt that claimed the key")
    response: StoredResponse | None = None


class SettleResult(BaseModel):
    settled: bool = Field(description="False when the claim was no longer this attempt's (taken over or expired)")


class RefundRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: str = Field(min_length=1, max_length=128)
    action: Action
    request_id: str = Field(pattern=REQUEST_ID_PATTERN)
    day: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    reason: str = Field(default="operation failed", max_length=200)


class QuotaState(BaseModel):
    action: str
    limit: int
    used: int
    remaining: int | None = Field(description="None when unlimited")
    reset_at: datetime
    day: str


class ConsumeResult(QuotaState):
    admitted: bool
    replayed: bool = Field(default=False, description="True when this request id had been charged already")
    plan_id: str
    idempotent: IdempotencyRecord | None = Field(
        default=None, description="The record holding the request's Idempotency-Key already (nothing was charged)"
    )


class RefundResult(BaseModel):
    refunded: bool
    already_refunded: bool = False


class UsageView(BaseModel):
    user_id: str
    plan_id: str
    day: str
    reset_at: datetime
    actions: list[QuotaState]


def state(action: str, limit: int, used: int, now: datetime) -> QuotaState:
    remaining = None if limit == UNLIMITED else max(0, limit - used)
    return QuotaState(
        action=action, limit=limit, used=used, remaining=remaining, reset_at=reset_at(now), day=day_of(now)
    )
