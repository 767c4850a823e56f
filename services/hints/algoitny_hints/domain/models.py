"""What the hints service reasons about: execution and problem contexts, hints and their sources (no I/O)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

Source = Literal["gemini", "fallback"]
Kind = Literal["execution", "problem"]
Status = Literal["pending", "ready", "failed"]
ACCEPTED = {"AC", "ACCEPTED", "OK", "PASSED", "SUCCESS"}
UNFINISHED = {"PENDING", "QUEUED", "RUNNING", "JUDGING", "IN_PROGRESS"}


class TestResult(BaseModel):
    __test__ = False  # not a pytest class

    ordinal: int | None = None
    verdict: str | None = None
    passed: bool | None = None
    input: str = ""
    input_bytes: int | None = None  # the whole input's size when ``input`` is only its start
    expected: str = ""
    actual: str = ""
    stderr: str = ""
    time_ms: float | None = None
    memory_kb: float | None = None
    exit_code: int | None = None
    signal: int | None = None

    @property
    def failed(self) -> bool:
        if self.passed is not None:
            return not self.passed
        return (self.verdict or "").upper() not in ACCEPTED


class ExecutionContext(BaseModel):
    execution_id: str
    user_id: str | None = None
    platform: str | None = None
    problem_id: str | None = None
    language: str = "unknown"
    code: str = ""
    verdict: str = "UNKNOWN"
    tests: list[TestResult] = Field(default_factory=list)
    compile_error: str = ""
    runtime_error: str = ""
    time_ms: float | None = None
    memory_kb: float | None = None

    @property
    def accepted(self) -> bool:
        return self.verdict.upper() in ACCEPTED

    @property
    def finished(self) -> bool:
        return self.verdict.upper() not in UNFINISHED

    def failing_tests(self, limit: int) -> list[TestResult]:
        return [t for t in self.tests if t.failed][:limit]


class ProblemContext(BaseModel):
    """A problem as hints may see it: never its reference solution."""

    platform: str
    problem_id: str
    id: int | None = Field(default=None, description="The problem's numeric id: new with every incarnation")
    title: str = ""
    tags: list[str] = Field(default_factory=list)
    constraints: str | None = None
    difficulty: str | None = None
    time_limit_ms: int | None = None
    memory_limit_mb: int | None = None
    checker: str | None = None
    float_tolerance: float | None = None


class Hint(BaseModel):
    level: int = Field(ge=1, le=5, description="1 a gentle nudge ... 5 nearly the solution")
    title: str = Field(max_length=200)
    text: str = Field(max_length=4000)


class HintSet(BaseModel):
    source: Source
    model: str | None = None
    cause: str | None = Field(default=None, description="What the fallback diagnosed (fallback only)")
    fallback_reason: str | None = Field(default=None, description="Why the fallback answered (no key, breaker ...)")
    hints: list[Hint]
    prompt_tokens: int = 0
    output_tokens: int = 0


class HintRequestView(BaseModel):
    request_id: str
    kind: Kind
    status: Status
    execution_id: str | None = None
    platform: str | None = None
    problem_id: str | None = None


class HintsView(BaseModel):
    request_id: str
    kind: Kind
    status: Status
    execution_id: str | None = None
    platform: str | None = None
    problem_id: str | None = None
    source: Source | None = None
    model: str | None = None
    cause: str | None = None
    hints: list[Hint] = Field(default_factory=list)
    requested_at: datetime | None = None
    generated_at: datetime | None = None
