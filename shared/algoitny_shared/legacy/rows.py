"""Typed legacy rows, as Debezium delivers them (JSON converter, no schemas, unwrapped).

Debezium renders ``timestamptz`` as an ISO-8601 string and ``jsonb`` as JSON *text*; both
are parsed here, so a consumer gets datetimes and Python values. A row that does not fit
its model (bad JSON, a missing NOT NULL column) raises :class:`pydantic.ValidationError`,
which importers turn into a quarantine entry with the reason. Column names and NULLs are
exactly the legacy schema's (access-patterns.md, section 2).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, field_validator


def _parse_json_text(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON: {exc.msg} at {exc.pos}") from exc
    return value


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class LegacyRow(BaseModel):
    """Base of every legacy row: unknown columns are ignored, names are the legacy ones."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    # Columns of type jsonb: Debezium sends their JSON text, parsed before validation.
    JSON_COLUMNS: ClassVar[tuple[str, ...]] = ()

    @field_validator("*", mode="before")
    @classmethod
    def _json_text(cls, value: Any, info: Any) -> Any:
        if info.field_name in cls.JSON_COLUMNS:
            return _parse_json_text(value)
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _aware(cls, value: Any) -> Any:
        return _utc(value) if isinstance(value, datetime) else value

    def columns(self) -> dict[str, Any]:
        """The row's columns by legacy name, JSON columns as Python values."""
        return self.model_dump()


class SubscriptionPlanRow(LegacyRow):
    id: int
    name: str
    description: str
    max_hints_per_day: int
    max_executions_per_day: int
    max_problems: int  # -1 means unlimited
    can_view_all_problems: bool
    can_register_problems: bool
    is_active: bool
    created_at: datetime
    updated_at: datetime


class UserRow(LegacyRow):
    id: int
    password: str  # Django hash ("pbkdf2_sha256$...") or unusable ("!..."), "" never valid
    last_login: datetime | None = None
    is_superuser: bool
    email: str
    name: str
    picture: str
    google_id: str | None = None
    is_active: bool
    is_staff: bool
    created_at: datetime
    updated_at: datetime
    subscription_plan_id: int | None = None


class ProblemRow(LegacyRow):
    JSON_COLUMNS: ClassVar[tuple[str, ...]] = ("tags", "metadata")
    id: int
    platform: str
    problem_id: str
    title: str
    problem_url: str | None = None
    tags: Any  # a JSON list of strings when well-formed
    solution_code: str | None = None  # base64 of the source
    language: str | None = None
    constraints: str | None = None
    is_completed: bool
    is_deleted: bool
    deleted_at: datetime | None = None
    deleted_reason: str | None = None
    metadata: Any  # a JSON object ({"execution_count": n} and more)
    created_at: datetime


class TestCaseRow(LegacyRow):
    __test__ = False  # not a pytest class
    id: int
    problem_id: int
    input: str
    output: str
    created_at: datetime


class SearchHistoryRow(LegacyRow):
    JSON_COLUMNS: ClassVar[tuple[str, ...]] = ("result_summary", "test_results", "hints", "metadata")
    id: int
    user_id: int | None = None
    user_identifier: str
    problem_id: int
    platform: str
    problem_number: str
    problem_title: str
    language: str
    code: str
    result_summary: Any  # the JSON string "Passed" or "Failed"
    passed_count: int
    failed_count: int
    total_count: int
    is_code_public: bool
    test_results: Any = None  # list of {test_case_id, output, passed, error, status}
    hints: Any = None  # list of hint strings
    metadata: Any
    created_at: datetime


class UsageLogRow(LegacyRow):
    JSON_COLUMNS: ClassVar[tuple[str, ...]] = ("metadata",)
    id: int
    user_id: int
    action: str  # "hint" | "execution"
    problem_id: int | None = None
    metadata: Any
    created_at: datetime


class ScriptGenerationJobRow(LegacyRow):
    JSON_COLUMNS: ClassVar[tuple[str, ...]] = ("tags",)
    id: int
    platform: str
    problem_id: str
    title: str
    problem_url: str | None = None
    tags: Any
    solution_code: str | None = None
    language: str
    constraints: str
    job_type: str  # script_generation | problem_extraction
    status: str  # PENDING | PROCESSING | COMPLETED | FAILED
    celery_task_id: str | None = None
    generator_code: str | None = None
    error_message: str | None = None
    created_at: datetime
    updated_at: datetime


class TaskResultRow(LegacyRow):
    JSON_COLUMNS: ClassVar[tuple[str, ...]] = ("result",)
    task_id: str
    status: str
    result: Any = None
    traceback: str | None = None
    created_at: datetime
    updated_at: datetime


ROW_MODELS: dict[str, type[LegacyRow]] = {
    "subscription_plans": SubscriptionPlanRow,
    "users": UserRow,
    "problems": ProblemRow,
    "test_cases": TestCaseRow,
    "search_history": SearchHistoryRow,
    "usage_logs": UsageLogRow,
    "script_generation_jobs": ScriptGenerationJobRow,
    "task_results": TaskResultRow,
}
