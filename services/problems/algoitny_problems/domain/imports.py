"""Problem import from a problem page's address: what a page yields and the job that fetches it.

A registrar gives the URL of a Codeforces, Baekjoon, AtCoder (or another configured) problem;
an import job fetches the page, extracts title, limits, statement, input/output format and
samples, and creates a *draft* with the samples as its test cases, ready for test generation.
No I/O here: the page fetcher, the parsers and the LLM extractor are adapters.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field, HttpUrl

from algoitny_problems.domain.models import NewProblem, TestCaseIn

ImportStatus = Literal["pending", "running", "succeeded", "failed"]
IMPORT_ID_PATTERN = r"^imp_[A-Za-z0-9_-]{16,32}$"
MAX_SAMPLES = 20
MAX_SAMPLE_CHARS = 16 * 1024
MAX_TEXT_CHARS = 20_000  # the problem's constraints field
_PROBLEM_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
# Limits outside what a problem may carry are brought into range (the judge refuses others).
TIME_LIMIT_MS = (100, 15_000)
MEMORY_LIMIT_MB = (16, 1024)


class ImportRefused(Exception):
    """The page cannot become a problem; ``reason`` is shown to the registrar as it is."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ImportRequest(BaseModel):
    url: HttpUrl = Field(description="The problem page, e.g. https://codeforces.com/problemset/problem/4/A")


class ExtractedSample(BaseModel):
    input: str = Field(max_length=MAX_SAMPLE_CHARS)
    output: str = Field(max_length=MAX_SAMPLE_CHARS)


class ExtractedProblem(BaseModel):
    """What a page says about its problem, whichever way it was read."""

    title: str = Field(min_length=1, max_length=200)
    time_limit_ms: int | None = None
    memory_limit_mb: int | None = None
    statement: str | None = None
    input_spec: str | None = None
    output_spec: str | None = None
    constraints: str | None = None
    samples: list[ExtractedSample] = Field(default_factory=list, max_length=MAX_SAMPLES)

    def text(self) -> str | None:
        """Statement, formats and constraints as the problem's one text field, cut to its limit."""
        parts = [
            (heading, body.strip())
            for heading, body in (
                ("Statement", self.statement),
                ("Input", self.input_spec),
                ("Output", self.output_spec),
                ("Constraints", self.constraints),
            )
            if body and body.strip()
        ]
        if not parts:
            return None
        joined = "\n\n".join(f"## {heading}\n{body}" for heading, body in parts)
        return joined if len(joined) <= MAX_TEXT_CHARS else joined[: MAX_TEXT_CHARS - 1] + "…"

    def to_new_problem(self, platform: str, problem_id: str, url: str) -> NewProblem:
        if not self.samples:
            raise ImportRefused("the page shows no sample tests, so there is nothing to start the test set with")
        time_ms = _clamp(self.time_limit_ms or 2000, TIME_LIMIT_MS)
        memory_mb = _clamp(self.memory_limit_mb or 256, MEMORY_LIMIT_MB)
        return NewProblem(
            platform=platform,
            problem_id=problem_id,
            title=self.title.strip()[:200],
            url=url,  # type: ignore[arg-type]  # validated by pydantic
            constraints=self.text(),
            time_limit_ms=time_ms,
            memory_limit_mb=memory_mb,
            status="draft",
            test_cases=[
                TestCaseIn(input=normalise_sample(s.input), output=normalise_sample(s.output), is_sample=True)
                for s in self.samples
            ],
        )


def _clamp(value: int, bounds: tuple[int, int]) -> int:
    return max(bounds[0], min(bounds[1], value))


def normalise_sample(text: str) -> str:
    """Sample text as a test file: no trailing spaces, no blank lines around it, one final newline."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + "\n" if lines else ""


def problem_id_from_path(path: str) -> str | None:
    """A problem id for a page of a site without a known address pattern: its last path segment."""
    segments = [s for s in path.split("/") if s]
    if not segments:
        return None
    candidate = _PROBLEM_ID_UNSAFE.sub("-", segments[-1]).strip("-_")[:32]
    return candidate if candidate and candidate[0].isalnum() else None


def new_import_id() -> str:
    return "imp_" + secrets.token_urlsafe(16)


def now_utc() -> datetime:
    return datetime.now(UTC)


class ImportJob(BaseModel):
    id: str
    url: str
    platform: str
    problem_id: str
    requested_by: str | None
    status: ImportStatus = "pending"
    method: str = Field(description="How the page is read: parser:<platform> or llm")
    error: str | None = None
    created_at: datetime
    updated_at: datetime
    lease_expires_at: float | None = None
    version: int = 1

    def interrupted(self, now: float) -> bool:
        """A running job whose worker stopped renewing it (the process ended mid-import)."""
        return (
            self.status in ("pending", "running") and self.lease_expires_at is not None and now > self.lease_expires_at
        )


class ImportView(BaseModel):
    id: str
    url: str
    platform: str
    problem_id: str
    status: ImportStatus
    method: str
    error: str | None = None
    created_at: datetime
    updated_at: datetime
    problem_path: str | None = Field(None, description="The draft's API path once the import succeeded.")

    @classmethod
    def of(cls, job: ImportJob, now: float) -> ImportView:
        status: ImportStatus = job.status
        error = job.error
        if job.interrupted(now):
            status, error = "failed", "the import was interrupted; start it again"
        return cls(
            id=job.id,
            url=job.url,
            platform=job.platform,
            problem_id=job.problem_id,
            status=status,
            method=job.method,
            error=error,
            created_at=job.created_at,
            updated_at=job.updated_at,
            problem_path=f"/api/v1/problems/{job.platform}/{job.problem_id}" if status == "succeeded" else None,
        )
