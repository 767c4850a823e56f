"""The canonical form of a legacy row, so both sides of ``verify`` hash the same thing.

The legacy side reads rows with SQL (datetimes, JSON values already parsed); a service
rebuilds the row from its own items. Both pass the columns through :func:`canonical_row`:
datetimes become UTC ISO-8601 with microseconds and ``Z``; JSON values are compared as
JSON with sorted keys. ``COMPARED`` says, per table and importing service, which columns
that service keeps and must give back exactly; a column that legitimately changes on the
new platform (a password re-hashed at sign-in, ``updated_at``, ``last_login``) is left
out, and ``users.password`` is compared by kind (usable or not) instead.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

COMPARED: dict[tuple[str, str], tuple[str, ...]] = {
    ("subscription_plans", "ratelimit"): (
        "id",
        "name",
        "description",
        "max_hints_per_day",
        "max_executions_per_day",
        "max_problems",
        "can_view_all_problems",
        "can_register_problems",
        "is_active",
        "created_at",
    ),
    ("users", "accounts"): (
        "id",
        "password_usable",
        "is_superuser",
        "email",
        "name",
        "picture",
        "google_id",
        "is_active",
        "is_staff",
        "created_at",
        "subscription_plan_id",
    ),
    ("users", "ratelimit"): ("id", "subscription_plan_id"),
    ("problems", "problems"): (
        "id",
        "platform",
        "problem_id",
        "title",
        "problem_url",
        "tags",
        "solution_code",
        "language",
        "constraints",
        "is_completed",
        "is_deleted",
        "deleted_at",
        "deleted_reason",
        "created_at",
    ),
    ("test_cases", "problems"): ("id", "problem_id", "input", "output", "created_at"),
    ("search_history", "executions"): (
        "id",
        "user_id",
        "user_identifier",
        "problem_id",
        "platform",
        "problem_number",
        "problem_title",
        "language",
        "code",
        "result_summary",
        "passed_count",
        "failed_count",
        "total_count",
        "is_code_public",
        "test_results",
        "created_at",
    ),
    ("search_history", "hints"): ("id", "hints"),
    ("usage_logs", "ratelimit"): ("id", "user_id", "action", "problem_id", "metadata", "created_at"),
    ("script_generation_jobs", "problems"): (
        "id",
        "platform",
        "problem_id",
        "title",
        "problem_url",
        "tags",
        "solution_code",
        "language",
        "constraints",
        "job_type",
        "status",
        "generator_code",
        "error_message",
        "created_at",
    ),
}


def password_usable(django_hash: str | None) -> bool:
    """Django's rule: an empty hash or one starting with ``!`` is unusable (Google-only users)."""
    return bool(django_hash) and not str(django_hash).startswith("!")


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return aware.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, Mapping):
        return {str(k): _value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_value(v) for v in value]
    return value


def canonical_row(table: str, service: str, columns: Mapping[str, Any]) -> dict[str, Any]:
    """The compared columns of a row, normalised. ``users.password`` may be given instead of
    ``password_usable``; a missing compared column is ``None``."""
    names = COMPARED[(table, service)]
    source = dict(columns)
    if "password_usable" in names and "password_usable" not in source:
        source["password_usable"] = password_usable(source.get("password"))
    return {name: _value(source.get(name)) for name in names}


def canonical_json(table: str, service: str, columns: Mapping[str, Any]) -> str:
    return json.dumps(canonical_row(table, service, columns), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def row_digest(table: str, service: str, columns: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(table, service, columns).encode()).hexdigest()
