"""The problem aggregate, its test sets and the commands that change them (no I/O here)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

from algoitny_shared.errors import AppError, ErrorCode
from algoitny_shared.judge_programs import JudgeProgram, programs_version
from algoitny_shared.languages import JudgeLanguage
from algoitny_shared.platforms import PLATFORM_PATTERN as PLATFORM_PATTERN
from algoitny_shared.platforms import PROBLEM_ID_PATTERN as PROBLEM_ID_PATTERN
from algoitny_shared.platforms import RESERVED_PLATFORMS as RESERVED_PLATFORMS

# One vocabulary with the judge (algoitny_shared.languages.LANGUAGE_IDS);
# the old names (python, cpp, java) are accepted on input and normalised.
Language: TypeAlias = JudgeLanguage
Checker = Literal["tokens", "lines", "exact", "float"]
Status = Literal["draft", "completed", "deleted"]
TestSetMode = Literal["replace", "append"]

MAX_TAGS = 20
MAX_SAMPLES_ON_ITEM = 10
MAX_SAMPLE_BYTES = 4 * 1024  # samples shown on the detail page are copied onto the problem item
MAX_INLINE_CASES = 90  # one transaction: problem + outbox + counters + cases stays within 100 items
MAX_CREATE_CASE_BYTES = 64 * 1024  # cases sent with the create stay inline (one transaction, <4 MB)
MAX_CASE_FIELD_CHARS = 8 * 1024 * 1024  # input or output of one case (bigger ones go to S3 gzipped)
MAX_SET_CASES = 10_000
MAX_ORDINAL = 999_999

CHECKER_PROGRAM_DOC = (
    "A special checker (any judge language), run as `checker <input> <output> <answer>` with testlib exit "
    "codes: 0 accepted, 1 wrong answer, 2 presentation error, 3 checker failure (an internal error of the "
    "problem, reported to its registrar in `judge_health`). Replaces `checker`. Managers only."
)
INTERACTOR_DOC = (
    "An interactor (any judge language), run as `interactor <input> <its output file> <answer>` with its "
    "stdin/stdout joined to the program's; its testlib exit code is the verdict. Makes the problem interactive. "
    "Managers only."
)


class JudgeHealth(BaseModel):
    """The last failure of the problem's own checker or interactor the judge reported (the problem's
    registrar sees it; a new checker or interactor clears it)."""

    status: Literal["failing"] = "failing"
    program: str = Field(description="checker or interactor")
    detail: str
    execution_id: str | None = None
    programs_version: str | None = None
    failures: int = 1
    last_failure_at: datetime


def _one_judge_program(checker_program: JudgeProgram | None, interactor: JudgeProgram | None) -> None:
    if checker_program is not None and interactor is not None:
        raise AppError(
            ErrorCode.VALIDATION_FAILED,
            "An interactive problem's interactor decides the verdict: send either checker_program or interactor",
            reason="checker_and_interactor",
        )


class TestCaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    __test__ = False  # not a pytest class

    input: str = Field(max_length=MAX_CASE_FIELD_CHARS)
    output: str = Field(max_length=MAX_CASE_FIELD_CHARS)
    is_sample: bool = False

    @property
    def size(self) -> int:
        return len(self.input.encode()) + len(self.output.encode())


class SampleCase(BaseModel):
    input: str
    output: str
    is_sample: bool = True


def _clean_tags(tags: list[str]) -> list[str]:
    cleaned: list[str] = []
    for tag in tags:
        tag = tag.strip().lower()
        if not 1 <= len(tag) <= 50:
            raise ValueError("each tag must be 1 to 50 characters")
        if tag not in cleaned:
            cleaned.append(tag)
    return cleaned


class _Editable(BaseModel):
    """Fields a registrar may set at creation and edit later."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=200)
    url: HttpUrl | None = None
    tags: list[str] = Field(default_factory=list, max_length=MAX_TAGS)
    difficulty: str | None = Field(default=None, max_length=32)
    constraints: str | None = Field(default=None, max_length=20_000)
    language: Language | None = None
    reference_solution: str | None = Field(default=None, max_length=64 * 1024)
    time_limit_ms: int = Field(default=2000, ge=100, le=15_000)
    memory_limit_mb: int = Field(default=256, ge=16, le=1024)
    checker: Checker = "tokens"
    # DynamoDB numbers stop at 1e-130; tolerances below 1e-12 mean nothing for doubles anyway.
    float_tolerance: float | None = Field(default=None, ge=1e-12, le=1)
    checker_program: JudgeProgram | None = Field(default=None, description=CHECKER_PROGRAM_DOC)
    interactor: JudgeProgram | None = Field(default=None, description=INTERACTOR_DOC)

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: list[str]) -> list[str]:
        return _clean_tags(tags)

    @model_validator(mode="after")
    def _one_program(self) -> _Editable:
        _one_judge_program(self.checker_program, self.interactor)
        return self


class NewProblem(_Editable):
    """What a registrar sends to create a problem."""

    platform: str = Field(pattern=PLATFORM_PATTERN, examples=["codeforces", "baekjoon"])
    problem_id: str = Field(pattern=PROBLEM_ID_PATTERN, examples=["1520A", "1000"])
    status: Literal["draft", "completed"] = "draft"
    test_cases: list[TestCaseIn] = Field(
        default_factory=list,
        max_length=MAX_INLINE_CASES,
        description="Up to 90 small cases written with the problem in one transaction; "
        "bigger sets go through PUT .../testcases.",
    )

    @field_validator("platform")
    @classmethod
    def _platform(cls, platform: str) -> str:
        if platform in RESERVED_PLATFORMS:
            raise ValueError(f"{platform!r} is reserved")
        return platform

    def fingerprint(self, actor: str | None) -> str:
        """Identifies a create behind an idempotency key: the same key with another body, or from
        another caller, is another request."""
        return hashlib.sha256(f"{actor}\n{self.model_dump_json()}".encode()).hexdigest()

    @model_validator(mode="after")
    def _small_inline_cases(self) -> NewProblem:
        for n, case in enumerate(self.test_cases, start=1):
            if case.size > MAX_CREATE_CASE_BYTES:
                raise ValueError(
                    f"test case {n} is over {MAX_CREATE_CASE_BYTES} bytes: upload big cases with "
                    "PUT /problems/{platform}/{problem_id}/testcases"
                )
        return self


class ProblemPatch(BaseModel):
    """A partial edit: only the fields sent change (null clears an optional field)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str | None = Field(default=None, min_length=1, max_length=200)
    url: HttpUrl | None = None
    tags: list[str] | None = Field(default=None, max_length=MAX_TAGS)
    difficulty: str | None = Field(default=None, max_length=32)
    constraints: str | None = Field(default=None, max_length=20_000)
    language: Language | None = None
    reference_solution: str | None = Field(default=None, max_length=64 * 1024)
    time_limit_ms: int | None = Field(default=None, ge=100, le=15_000)
    memory_limit_mb: int | None = Field(default=None, ge=16, le=1024)
    checker: Checker | None = None
    # DynamoDB numbers stop at 1e-130; tolerances below 1e-12 mean nothing for doubles anyway.
    float_tolerance: float | None = Field(default=None, ge=1e-12, le=1)
    checker_program: JudgeProgram | None = Field(default=None, description=CHECKER_PROGRAM_DOC + " null removes it.")
    interactor: JudgeProgram | None = Field(default=None, description=INTERACTOR_DOC + " null removes it.")

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: list[str] | None) -> list[str] | None:
        return None if tags is None else _clean_tags(tags)

    @model_validator(mode="after")
    def _not_empty(self) -> ProblemPatch:
        if not self.model_fields_set:
            raise ValueError("send at least one field to change")
        for required in ("title", "time_limit_ms", "memory_limit_mb", "checker", "tags"):
            if required in self.model_fields_set and getattr(self, required) is None:
                raise ValueError(f"{required} cannot be null")
        return self

    def changes(self) -> dict[str, Any]:
        data = self.model_dump(include=self.model_fields_set)
        if "url" in data and data["url"] is not None:
            data["url"] = str(self.url)
        return data


class TestSetIn(BaseModel):
    """A whole test set (PUT) or the cases to append to the current one (POST)."""

    model_config = ConfigDict(extra="forbid")
    __test__ = False

    test_cases: list[TestCaseIn] = Field(min_length=1, max_length=MAX_SET_CASES)

    def fingerprint(self, mode: TestSetMode) -> str:
        """Identifies the request behind an idempotency key (same key + other body = conflict)."""
        digest = hashlib.sha256(mode.encode())
        for case in self.test_cases:
            digest.update(json.dumps([case.input, case.output, case.is_sample]).encode())
        return digest.hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


class Problem(BaseModel):
    model_config = ConfigDict(extra="ignore")

    platform: str
    problem_id: str
    id: int = 0
    incarnation: str = "0"
    title: str
    url: str | None = None
    tags: list[str] = Field(default_factory=list)
    difficulty: str | None = None
    constraints: str | None = None
    samples: list[SampleCase] = Field(default_factory=list)
    language: Language | None = None
    reference_solution: str | None = None
    time_limit_ms: int
    memory_limit_mb: int
    checker: Checker
    float_tolerance: float | None = None
    checker_program: JudgeProgram | None = None
    interactor: JudgeProgram | None = None
    judge_health: JudgeHealth | None = None
    status: Status
    test_case_count: int = 0
    test_set_version: int = 0
    test_set_seq: int = 0  # highest test-set version ever allocated (crashed uploads leave gaps)
    execution_count: int = 0
    version: int = 1
    created_at: datetime
    updated_at: datetime
    created_by: str | None = None
    # The registrar whose plan cap this problem counts against (None: created by an admin).
    quota_owner: str | None = None
    deleted_at: datetime | None = None
    deleted_reason: str | None = None

    @property
    def key(self) -> str:
        return f"{self.platform}/{self.problem_id}"

    @classmethod
    def register(
        cls,
        cmd: NewProblem,
        actor: str | None,
        *,
        numeric_id: int,
        incarnation: str,
        now: datetime | None = None,
        after_version: int = 0,
        quota_owner: str | None = None,
    ) -> Problem:
        """A new problem. ``after_version`` is the last version an earlier incarnation under the same
        key reached (its hard delete's): versions keep rising across incarnations, so readers that
        order by version (the search index's tombstones) never take the new problem for an old event."""
        now = now or _now()
        has_cases = bool(cmd.test_cases)
        return cls(
            **cmd.model_dump(exclude={"test_cases", "url"}),
            url=str(cmd.url) if cmd.url else None,
            id=numeric_id,
            incarnation=incarnation,
            samples=samples_of(cmd.test_cases),
            test_case_count=len(cmd.test_cases),
            test_set_version=1 if has_cases else 0,
            test_set_seq=1 if has_cases else 0,
            version=after_version + 1,
            created_at=now,
            updated_at=now,
            created_by=actor,
            quota_owner=quota_owner,
        )

    def visible_to(self, can_manage: bool) -> bool:
        """Everyone sees completed problems; its managers (admins, its registrar) also drafts and
        soft-deleted ones."""
        return self.status == "completed" or can_manage

    def ensure_writable(self) -> None:
        if self.status == "deleted":
            raise AppError(ErrorCode.CONFLICT, f"Problem {self.key} is deleted", problem=self.key)

    @property
    def programs_version(self) -> str | None:
        """Names the checker and interactor programs (None: neither); on the public view and on
        submissions, so the judge reloads a cached test set when either changes."""
        return programs_version(self.checker_program, self.interactor)

    def edited(self, changes: dict[str, Any], now: datetime | None = None) -> Problem:
        self.ensure_writable()
        merged = {**self.model_dump(), **changes, "version": self.version + 1, "updated_at": now or _now()}
        edited = Problem.model_validate(merged)
        _one_judge_program(edited.checker_program, edited.interactor)
        if edited.programs_version != self.programs_version:
            edited = edited.model_copy(update={"judge_health": None})  # a new program: no failure of it yet
        return edited

    def completed(self, now: datetime | None = None) -> Problem:
        self.ensure_writable()
        if self.status == "completed":
            raise AppError(ErrorCode.CONFLICT, f"Problem {self.key} is already completed", problem=self.key)
        return self.model_copy(update={"status": "completed", "version": self.version + 1, "updated_at": now or _now()})

    def soft_deleted(self, reason: str | None, now: datetime | None = None) -> Problem:
        self.ensure_writable()
        now = now or _now()
        return self.model_copy(
            update={
                "status": "deleted",
                "version": self.version + 1,
                "updated_at": now,
                "deleted_at": now,
                "deleted_reason": reason,
            }
        )

    def with_test_set(
        self, version: int, count: int, samples: list[SampleCase], now: datetime | None = None
    ) -> Problem:
        return self.model_copy(
            update={
                "test_set_version": version,
                "test_case_count": count,
                "test_set_seq": max(self.test_set_seq, version),
                "samples": samples,
                "version": self.version + 1,
                "updated_at": now or _now(),
            }
        )


def samples_of(cases: list[TestCaseIn]) -> list[SampleCase]:
    """The small sample cases shown on the detail page (stored on the problem item: one GetItem)."""
    found = [SampleCase(input=c.input, output=c.output) for c in cases if c.is_sample and c.size <= MAX_SAMPLE_BYTES]
    return found[:MAX_SAMPLES_ON_ITEM]


class ProblemView(BaseModel):
    """What readers get: everything but the reference solution (its managers only)."""

    platform: str
    problem_id: str
    id: int
    incarnation: str = Field(
        default="0",
        description="Changes when the problem is deleted and registered again under the same id "
        "(test-set versions restart then): caches of its test sets are keyed by it and the version.",
    )
    title: str
    url: str | None
    tags: list[str]
    difficulty: str | None
    constraints: str | None = None
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
    deleted_at: datetime | None = None
    samples: list[SampleCase] = Field(default_factory=list)
    reference_solution: str | None = None
    interactive: bool = Field(default=False, description="The problem talks to the program (an interactor judges)")
    judge_programs: str | None = Field(
        default=None, description="Version of the problem's checker/interactor programs (null: none)"
    )
    checker_program: JudgeProgram | None = Field(default=None, description="Managers only")
    interactor: JudgeProgram | None = Field(default=None, description="Managers only")
    judge_health: JudgeHealth | None = Field(
        default=None, description="Managers only: the last failure of the problem's checker or interactor"
    )

    @classmethod
    def of(cls, problem: Problem, can_manage: bool) -> ProblemView:
        data = problem.model_dump(exclude={"samples"})
        if not can_manage:
            for private in ("reference_solution", "checker_program", "interactor", "judge_health"):
                data[private] = None
        return cls(
            **data,
            samples=problem.samples,
            interactive=problem.interactor is not None,
            judge_programs=problem.programs_version,
        )


class ProblemSummary(BaseModel):
    """A list row: no reference solution, samples or constraints."""

    platform: str
    problem_id: str
    id: int
    title: str
    tags: list[str]
    difficulty: str | None
    language: str | None
    status: str
    test_case_count: int
    execution_count: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, problem: Problem) -> ProblemSummary:
        return cls.model_validate(problem.model_dump())


class ProblemPage(BaseModel):
    items: list[ProblemSummary]
    next_cursor: str | None = None


class TestCaseOut(BaseModel):
    __test__ = False

    ordinal: int
    input: str
    output: str
    is_sample: bool
    size: int
    stored: Literal["inline", "s3"]


class TestCasePage(BaseModel):
    __test__ = False

    platform: str
    problem_id: str
    incarnation: str = "0"
    test_set_version: int
    test_case_count: int
    items: list[TestCaseOut]
    next_cursor: str | None = None
    checker_program: JudgeProgram | None = Field(
        default=None, description="The problem's special checker (managers' pages only: the judge reads it here)"
    )
    interactor: JudgeProgram | None = Field(default=None, description="The problem's interactor (managers' pages only)")


def samples_page(problem: Problem) -> TestCasePage:
    """What a reader who does not manage the problem gets of its test set: the samples (kept on the
    problem item, so nothing else is loaded), numbered by their position among the samples."""
    return TestCasePage(
        platform=problem.platform,
        problem_id=problem.problem_id,
        test_set_version=problem.test_set_version,
        test_case_count=problem.test_case_count,
        items=sample_cases(problem),
    )


def sample_cases(problem: Problem) -> list[TestCaseOut]:
    return [
        TestCaseOut(
            ordinal=n,
            input=s.input,
            output=s.output,
            is_sample=True,
            size=len(s.input.encode()) + len(s.output.encode()),
            stored="inline",
        )
        for n, s in enumerate(problem.samples, start=1)
    ]


class ProblemWithTestCases(ProblemView):
    test_cases: list[TestCaseOut] | None = Field(
        default=None,
        description="With ?include=testcases (else null): the whole current set for the problem's registrar and "
        "admins, the samples for everyone else.",
    )


class TestSetResult(BaseModel):
    __test__ = False

    platform: str
    problem_id: str
    mode: TestSetMode
    test_set_version: int
    test_case_count: int
    previous_version: int
    stored_in_s3: int
    replayed: bool = False


class CatalogueStats(BaseModel):
    draft: int = 0
    completed: int = 0
    deleted: int = 0

    @property
    def not_deleted(self) -> int:
        return self.draft + self.completed
