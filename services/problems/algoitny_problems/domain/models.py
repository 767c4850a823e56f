"""The problem aggregate and the commands that create it (no I/O here)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

Language = Literal["python", "cpp", "java", "javascript"]
Checker = Literal["tokens", "lines", "exact", "float"]
Status = Literal["draft", "completed", "deleted"]

PLATFORM_PATTERN = r"^[a-z][a-z0-9_-]{1,31}$"
PROBLEM_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$"
MAX_TAGS = 20
MAX_INLINE_CASES = 90  # one transaction: problem + outbox + cases stays within 100 items
MAX_CASE_BYTES = 64 * 1024


class TestCaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    __test__ = False  # not a pytest class

    input: str = Field(max_length=MAX_CASE_BYTES)
    output: str = Field(max_length=MAX_CASE_BYTES)
    is_sample: bool = False


class NewProblem(BaseModel):
    """What a registrar sends to create a problem."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    platform: str = Field(pattern=PLATFORM_PATTERN, examples=["codeforces", "baekjoon"])
    problem_id: str = Field(pattern=PROBLEM_ID_PATTERN, examples=["1520A", "1000"])
    title: str = Field(min_length=1, max_length=200)
    url: HttpUrl | None = None
    tags: list[str] = Field(default_factory=list, max_length=MAX_TAGS)
    difficulty: str | None = Field(default=None, max_length=32)
    language: Language | None = None
    reference_solution: str | None = Field(default=None, max_length=64 * 1024)
    time_limit_ms: int = Field(default=2000, ge=100, le=15_000)
    memory_limit_mb: int = Field(default=256, ge=16, le=1024)
    checker: Checker = "tokens"
    float_tolerance: float | None = Field(default=None, gt=0, le=1)
    status: Literal["draft", "completed"] = "draft"
    test_cases: list[TestCaseIn] = Field(default_factory=list, max_length=MAX_INLINE_CASES)

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: list[str]) -> list[str]:
        cleaned: list[str] = []
        for tag in tags:
            tag = tag.strip().lower()
            if not 1 <= len(tag) <= 50:
                raise ValueError("each tag must be 1 to 50 characters")
            if tag not in cleaned:
                cleaned.append(tag)
        return cleaned


class Problem(BaseModel):
    model_config = ConfigDict(extra="ignore")

    platform: str
    problem_id: str
    title: str
    url: str | None = None
    tags: list[str] = Field(default_factory=list)
    difficulty: str | None = None
    language: Language | None = None
    reference_solution: str | None = None
    time_limit_ms: int
    memory_limit_mb: int
    checker: Checker
    float_tolerance: float | None = None
    status: Status
    test_case_count: int = 0
    test_set_version: int = 0
    execution_count: int = 0
    version: int = 1
    created_at: datetime
    updated_at: datetime
    created_by: str | None = None

    @property
    def key(self) -> str:
        return f"{self.platform}/{self.problem_id}"

    @classmethod
    def register(cls, cmd: NewProblem, actor: str | None, now: datetime | None = None) -> Problem:
        now = now or datetime.now(UTC)
        return cls(
            **cmd.model_dump(exclude={"test_cases", "url"}),
            url=str(cmd.url) if cmd.url else None,
            test_case_count=len(cmd.test_cases),
            test_set_version=1 if cmd.test_cases else 0,
            version=1,
            created_at=now,
            updated_at=now,
            created_by=actor,
        )

    def visible_to(self, is_admin: bool) -> bool:
        return self.status == "completed" or (is_admin and self.status == "draft")


class ProblemView(BaseModel):
    """What readers get: everything but the reference solution (admins only)."""

    platform: str
    problem_id: str
    title: str
    url: str | None
    tags: list[str]
    difficulty: str | None
    language: str | None
    time_limit_ms: int
    memory_limit_mb: int
    checker: str
    float_tolerance: float | None
    status: str
    test_case_count: int
    test_set_version: int
    execution_count: int
    version: int
    created_at: datetime
    updated_at: datetime
    samples: list[TestCaseIn] = Field(default_factory=list)
    reference_solution: str | None = None

    @classmethod
    def of(cls, problem: Problem, samples: list[TestCaseIn], is_admin: bool) -> ProblemView:
        data = problem.model_dump()
        if not is_admin:
            data["reference_solution"] = None
        return cls(**data, samples=samples)
