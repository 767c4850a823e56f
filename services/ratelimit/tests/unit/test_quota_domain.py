from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from algoitny_gateway.service_layer.throttle import TokenBuckets
from algoitny_ratelimit.domain.plans import DEFAULT_PLANS, NewPlan, PlanPatch
from algoitny_ratelimit.domain.quota import ConsumeRequest, day_of, reset_at, state
from algoitny_shared.errors import AppError, ErrorCode


def test_days_and_resets_are_utc() -> None:
    seoul = timezone(timedelta(hours=9))
    late = datetime(2026, 3, 1, 8, 59, tzinfo=seoul)  # 23:59 UTC on Feb 28
    assert day_of(late) == "2026-02-28"
    assert reset_at(late) == datetime(2026, 3, 1, tzinfo=UTC)
    assert day_of(datetime(2026, 3, 1, 0, 0, tzinfo=UTC)) == "2026-03-01"


def test_state_reports_remaining_or_unlimited() -> None:
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert state("execution", 50, 48, now).remaining == 2
    assert state("execution", 50, 60, now).remaining == 0
    assert state("hint", -1, 1000, now).remaining is None


@pytest.mark.parametrize("limits", [{"execution": -2}, {"teleport": 5}, {"hint": -5, "execution": 1}])
def test_bad_limits_are_rejected(limits: dict[str, int]) -> None:
    with pytest.raises(ValidationError):
        NewPlan(plan_id="x1", name="X", daily_limits=limits)
    with pytest.raises(ValidationError):
        PlanPatch(daily_limits=limits)


def test_default_plans_match_the_legacy_offer() -> None:
    by_id = {p.plan_id: p for p in DEFAULT_PLANS}
    assert by_id["free"].daily_limits == {"execution": 50, "hint": 5}
    assert by_id["pro"].daily_limits == {"execution": 200, "hint": 30}
    assert by_id["admin"].daily_limits == {"execution": -1, "hint": -1} and by_id["admin"].may_register_problems


def test_consume_request_validates_action_and_request_id() -> None:
    with pytest.raises(ValidationError):
        ConsumeRequest(user_id="u", action="teleport", request_id="abcdefgh")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        ConsumeRequest(user_id="u", action="execution", request_id="short")


def test_token_bucket_refills_and_reports_retry_after() -> None:
    now = [0.0]
    buckets = TokenBuckets({"signin": 3}, clock=lambda: now[0])
    for _ in range(3):
        buckets.take("signin", "1.2.3.4")
    with pytest.raises(AppError) as err:
        buckets.take("signin", "1.2.3.4")
    assert err.value.code is ErrorCode.RATE_LIMITED and err.value.headers["Retry-After"] == "20"
    buckets.take("signin", "5.6.7.8")  # other clients have their own bucket
    now[0] = 20.0  # one token back after 60/3 s
    buckets.take("signin", "1.2.3.4")
    with pytest.raises(AppError):
        buckets.take("signin", "1.2.3.4")
