"""A problem's judge programs: a special checker and an interactor (typed contract).

The problems service stores them with the problem (registrars send them in the problem API and
the generation jobs) and hands them to the judge with the test set (``GET .../testcases``, read
with the judge's service identity; never on the public detail, which only says whether the
problem has them). The judge compiles each like a submission, cached by its content hash (the
program's ``version``), and runs it sandboxed with its own limits.

testlib conventions:
* checker ``<program> <input> <contestant output> <expected answer>``; exit 0 accepted, 1 wrong
  answer, 2 presentation error, 3 checker failure (any other exit, a signal or a limit is a
  checker failure too). A failure is an internal error of the problem, never the contestant's.
* interactor ``<program> <input> <its own output file> <expected answer>``: its stdin is the
  contestant's stdout and its stdout the contestant's stdin; its exit code is the verdict, with
  the checker's meaning.
"""

from __future__ import annotations

import hashlib

from pydantic import BaseModel, ConfigDict, Field, field_validator

from algoitny_shared.languages import JudgeLanguage

MAX_PROGRAM_BYTES = 64 * 1024
PROGRAM_FAILURE_PREFIX = "the problem's checker or interactor failed: "
"""Starts the detail of a sandbox run (``executions.SandboxRunCompleted``, verdict IE) in which the
problem's own program failed, not the sandbox: the requester does not retry it."""


class JudgeProgram(BaseModel):
    """A checker or interactor program: judge language id (or alias) and source."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    language: JudgeLanguage = Field(description="A judge language id, e.g. cpp17 or python3")
    code: str = Field(min_length=1, description=f"Source code, at most {MAX_PROGRAM_BYTES} bytes")

    @field_validator("code")
    @classmethod
    def _size(cls, code: str) -> str:
        if not code.strip():
            raise ValueError("code is empty")
        if len(code.encode("utf-8")) > MAX_PROGRAM_BYTES:
            raise ValueError(f"code is larger than {MAX_PROGRAM_BYTES} bytes")
        return code

    @property
    def version(self) -> str:
        """The program's version: a content hash of language and code (what compiles are cached by)."""
        return hashlib.sha256(f"{self.language}\0{self.code}".encode()).hexdigest()[:16]


def programs_version(checker: JudgeProgram | None, interactor: JudgeProgram | None) -> str | None:
    """One value naming both programs (None when the problem has neither), so a cached test set
    is reloaded when either program changes."""
    if checker is None and interactor is None:
        return None
    return f"{checker.version if checker else '-'}.{interactor.version if interactor else '-'}"
