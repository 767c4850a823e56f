"""The executions service's published HTTP models: what ``GET /executions/{id}`` (and the history
lists) answer. Defined once here: the executions service answers with them, and every reader
(the hints service) parses with them, so a renamed field breaks a test rather than a diagnosis.

Per-test results number tests by 0-based ``index`` in test-set order (the problem's test-case
ordinal is ``index + 1``). ``output`` is the start of the program's stdout; ``input`` and
``expected`` (the test's input and expected output, truncated) are kept for the first failing
tests and shown only to the execution's owner and admins, like ``hints``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

ExecutionStatus = Literal["queued", "running", "completed"]
# The judge's verdicts (algoitny_executions.domain.judging.Verdict); SK: skipped after a failure.
# ILE: idleness limit exceeded (an interactive program waited for input that never came).
Verdicts = ("AC", "WA", "TLE", "MLE", "OLE", "RE", "CE", "IE", "SK", "ILE")


class TestView(BaseModel):
    __test__ = False  # not a pytest class

    index: int = Field(description="0-based position in the test set (ordinal - 1)")
    verdict: str
    time_ms: int
    memory_kb: int
    detail: str = Field(default="", description="Why it failed (checker detail, signal, exit code and stderr start)")
    output: str = Field(default="", description="The start of the program's stdout (first failing tests only)")
    input: str = Field(default="", description="The test's input, truncated (first failing tests; owner and admins)")
    expected: str = Field(
        default="", description="The expected output, truncated (first failing tests; owner and admins)"
    )
    input_bytes: int = Field(default=0, description="The whole input's size (0: not kept), as input is truncated")

    @property
    def ordinal(self) -> int:
        return self.index + 1


class HistoryEntry(BaseModel):
    """One execution in a list: never code, never per-test results."""

    execution_id: str
    user_id: str
    user_name: str | None = None
    platform: str
    problem_id: str
    problem_title: str
    language: str
    public: bool
    status: ExecutionStatus
    verdict: str | None = None
    passed: int = 0
    total: int = 0
    max_time_ms: int = 0
    max_memory_kb: int = 0
    created_at: datetime
    finished_at: datetime | None = None

    @classmethod
    def of(cls, item: dict[str, Any]) -> HistoryEntry:
        return cls.model_validate({k: v for k, v in item.items() if k in cls.model_fields})


class ExecutionView(HistoryEntry):
    code: str | None = Field(default=None, description="Null when the caller may not see it (private, not owner)")
    code_visible: bool
    code_bytes: int
    compile_message: str = ""
    detail: str = ""
    tests: list[TestView] = Field(default_factory=list)
    tests_done: int = 0
    test_set_version: int = 0
    hints: list[str] = Field(default_factory=list, description="Hints attached to it (its owner only)")
    started_at: datetime | None = None
