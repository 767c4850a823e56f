"""Legacy plans, users' plans and usage logs: the mapping rules (no I/O)."""

from __future__ import annotations

import pytest

from algoitny_ratelimit.domain.legacy import (
    check_usage,
    fallback_name,
    legacy_plan_of,
    map_plan,
    plan_columns,
    plan_extra,
    usage_columns,
    user_plan,
)
from algoitny_shared.legacy.canonical import row_digest
from algoitny_shared.legacy.changes import LegacyRowRefused
from algoitny_shared.legacy.rows import SubscriptionPlanRow, UsageLogRow


def _plan(**overrides: object) -> SubscriptionPlanRow:
    columns: dict[str, object] = {
        "id": 7,
        "name": "Free",
        "description": "기본 요금제",
        "max_hints_per_day": 5,
        "max_executions_per_day": -1,
        "max_problems": -1,
        "can_view_all_problems": True,
        "can_register_problems": False,
        "is_active": False,
        "created_at": "2022-01-02T03:04:05.000006Z",
        "updated_at": "2022-01-02T03:04:05Z",
        **overrides,
    }
    return SubscriptionPlanRow.model_validate(columns)


def test_plan_mapping_unlimited_and_inactive() -> None:
    row = _plan()
    plan = map_plan(row)
    assert plan.plan_id == "legacy-7"
    assert plan.daily_limits == {"execution": -1, "hint": 5} and plan.max_registered_problems == -1
    assert not plan.active and plan.may_view_all_problems and not plan.may_register_problems
    item = {**plan.model_dump(), **plan_extra(row)}
    assert row_digest("subscription_plans", "ratelimit", plan_columns(item)) == row_digest(
        "subscription_plans", "ratelimit", row.columns()
    )
    taken = {**map_plan(row, name=fallback_name(row)).model_dump(), **plan_extra(row)}
    assert taken["name"] == "Free (legacy 7)" and plan_columns(taken)["name"] == "Free"


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"max_hints_per_day": -2}, "max_hints_per_day"),
        ({"name": "x" * 65}, "longer than 64"),
        ({"description": "d" * 501}, "longer than 500"),
        ({"name": "  "}, "no name"),
    ],
)
def test_plans_the_new_rules_refuse(overrides: dict[str, object], reason: str) -> None:
    with pytest.raises(LegacyRowRefused, match=reason):
        map_plan(_plan(**overrides))


def test_users_plan_and_its_inverse() -> None:
    assert user_plan(None) == "free" and legacy_plan_of("free") is None
    assert user_plan(12) == "legacy-12" and legacy_plan_of("legacy-12") == 12


def test_usage_rules_and_canonical_columns() -> None:
    row = UsageLogRow.model_validate(
        {
            "id": 9,
            "user_id": 42,
            "action": "execution",
            "problem_id": None,
            "metadata": '{"task_id": "t-1", "language": "python"}',
            "created_at": "2024-05-01T10:00:00Z",
        }
    )
    check_usage(row)
    item = {
        "legacy_id": 9,
        "legacy_user_id": 42,
        "legacy_problem_id": None,
        "legacy_metadata": '{"language": "python", "task_id": "t-1"}',
        "action": "execution",
        "at": row.created_at.isoformat(),
    }
    assert row_digest("usage_logs", "ratelimit", usage_columns(item)) == row_digest(
        "usage_logs", "ratelimit", row.columns()
    )
    with pytest.raises(LegacyRowRefused, match="unknown action"):
        check_usage(row.model_copy(update={"action": "search"}))
    with pytest.raises(LegacyRowRefused, match="not a JSON object"):
        check_usage(row.model_copy(update={"metadata": [1]}))
