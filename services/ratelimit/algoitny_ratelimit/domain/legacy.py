"""How legacy plans, users' plans and usage logs become ratelimit's (no I/O).

Rules (services/ratelimit/README.md, "Legacy import"):

- a ``subscription_plans`` row becomes plan ``legacy_plan_id(id)`` (``legacy-<id>``): daily limits
  ``execution`` = ``max_executions_per_day``, ``hint`` = ``max_hints_per_day``, ``-1`` unlimited
  (as on the new platform); ``max_problems`` -> ``max_registered_problems`` (``-1`` unlimited);
  ``can_register_problems``/``can_view_all_problems`` -> the plan's flags; ``is_active`` -> ``active``
  (an inactive plan stays, not offered). A limit below ``-1``, a name over 64 or a description
  over 500 characters is refused (quarantined). A name another plan holds (the new rule: names
  unique regardless of case, e.g. a legacy "Free" beside the platform's own) is imported as
  ``<name> (legacy <id>)``; the legacy name stays on the item for verify.
- a ``users`` row gives the user's plan: ``legacy-<subscription_plan_id>``, NULL -> the default plan.
- a ``usage_logs`` row becomes an audit-log entry of the user's day (kept, no expiry) and one
  unit of that day's counter, so today's legacy usage already counts against today's quota; its
  metadata and legacy problem id are kept. Orphans (a user that does not exist, or not yet) are
  KEPT: the user id is deterministic, so the usage belongs to that user whenever it arrives, and
  a log that never finds its user costs nothing (verify still counts it as imported).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from algoitny_ratelimit.domain.plans import Plan
from algoitny_ratelimit.domain.quota import ACTIONS, UNLIMITED
from algoitny_shared.legacy.changes import LegacyRowRefused
from algoitny_shared.legacy.identity import legacy_plan_id
from algoitny_shared.legacy.rows import SubscriptionPlanRow, UsageLogRow
from algoitny_shared.plan_ids import DEFAULT_PLAN

MAX_NAME = 64
MAX_DESCRIPTION = 500


def _limit(value: int, column: str) -> int:
    if value < UNLIMITED:
        raise LegacyRowRefused(f"{column} is {value}: a limit is -1 (unlimited) or at least 0")
    return value


def map_plan(row: SubscriptionPlanRow, *, name: str | None = None, active_users: int = 0, version: int = 1) -> Plan:
    if not row.name.strip():
        raise LegacyRowRefused("the plan has no name")
    if len(row.name) > MAX_NAME:
        raise LegacyRowRefused(f"plan name longer than {MAX_NAME} characters ({len(row.name)})")
    if len(row.description) > MAX_DESCRIPTION:
        raise LegacyRowRefused(f"plan description longer than {MAX_DESCRIPTION} characters ({len(row.description)})")
    return Plan(
        plan_id=legacy_plan_id(row.id),
        name=name or row.name,
        description=row.description,
        daily_limits={
            "execution": _limit(row.max_executions_per_day, "max_executions_per_day"),
            "hint": _limit(row.max_hints_per_day, "max_hints_per_day"),
        },
        max_registered_problems=_limit(row.max_problems, "max_problems"),
        may_register_problems=row.can_register_problems,
        may_view_all_problems=row.can_view_all_problems,
        active=row.is_active,
        active_users=active_users,
        version=version,
    )


def fallback_name(row: SubscriptionPlanRow) -> str:
    suffix = f" (legacy {row.id})"
    return row.name[: MAX_NAME - len(suffix)] + suffix


def plan_extra(row: SubscriptionPlanRow) -> dict[str, Any]:
    return {"legacy_id": row.id, "legacy_name": row.name, "legacy_created_at": row.created_at.isoformat()}


def plan_columns(item: dict[str, Any]) -> dict[str, Any]:
    """The legacy ``subscription_plans`` columns rebuilt from a plan item (for verify)."""
    limits = item.get("daily_limits") or {}
    return {
        "id": item.get("legacy_id"),
        "name": item.get("legacy_name", item.get("name")),
        "description": item.get("description", ""),
        "max_hints_per_day": limits.get("hint"),
        "max_executions_per_day": limits.get("execution"),
        "max_problems": item.get("max_registered_problems"),
        "can_view_all_problems": item.get("may_view_all_problems"),
        "can_register_problems": item.get("may_register_problems"),
        "is_active": item.get("active"),
        "created_at": _when(item.get("legacy_created_at")),
    }


def _when(value: Any) -> Any:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def user_plan(subscription_plan_id: int | None) -> str:
    return legacy_plan_id(subscription_plan_id) if subscription_plan_id is not None else DEFAULT_PLAN


def legacy_plan_of(plan_id: str) -> int | None:
    """The inverse of :func:`user_plan` (for verify): ``legacy-<n>`` -> n, any other plan -> NULL."""
    return int(plan_id.removeprefix("legacy-")) if plan_id.startswith("legacy-") else None


def usage_request_id(legacy_id: int | str) -> str:
    """The charge's request id of a legacy usage log (deterministic)."""
    return f"legacy-{legacy_id}"


def check_usage(row: UsageLogRow) -> None:
    if row.action not in ACTIONS:
        raise LegacyRowRefused(f"unknown action {row.action!r} (known: {', '.join(ACTIONS)})")
    if not isinstance(row.metadata, dict):
        raise LegacyRowRefused("metadata is not a JSON object")


def usage_columns(item: dict[str, Any]) -> dict[str, Any]:
    """The legacy ``usage_logs`` columns rebuilt from an audit-log item (for verify)."""
    import json

    metadata = item.get("legacy_metadata")
    return {
        "id": item.get("legacy_id"),
        "user_id": item.get("legacy_user_id"),
        "action": item.get("action"),
        "problem_id": item.get("legacy_problem_id"),
        "metadata": json.loads(metadata) if isinstance(metadata, str) else metadata,
        "created_at": _when(item.get("at")),
    }
