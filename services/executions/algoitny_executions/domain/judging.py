"""Judging rules: limits, raw measurements -> per-test verdicts -> the submission's verdict.

No I/O here. The sandbox adapter produces :class:`RawRun` (what the in-box runner
measured); :func:`classify` turns one into a verdict with the DMOJ precedence
IE > TLE > MLE > OLE > RE > WA, then the checker decides AC/WA.
"""

from __future__ import annotations

import hashlib
import signal
from dataclasses import dataclass, field, replace
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from algoitny_executions.domain.checkers import CheckerName, check
from algoitny_executions.domain.languages import Language
from algoitny_shared.judge_programs import JudgeProgram, programs_version

MAX_CODE_BYTES = 64 * 1024
STDERR_KEEP_BYTES = 1024
OUTPUT_KEEP_BYTES = 256
COMPILE_MESSAGE_KEEP_BYTES = 4096

# Runner flags (see runner.c)
FLAG_WALL_KILL = 1
FLAG_CPU_KILL = 2
FLAG_STDOUT_OVER = 4
FLAG_STDERR_OVER = 8
FLAG_OUTPUT_KILL = 16
FLAG_CWD_QUOTA_KILL = 32


class Verdict(StrEnum):
    AC = "AC"
    WA = "WA"
    TLE = "TLE"
    MLE = "MLE"
    OLE = "OLE"
    RE = "RE"
    CE = "CE"
    IE = "IE"
    SK = "SK"
    ILE = "ILE"
    """Idleness limit exceeded (interactive problems): killed on the wall clock while under the CPU
    limit, waiting for input that never came."""


class Limits(BaseModel):
    """A problem's limits, with the platform's defaults and caps."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    time_limit_ms: int = Field(default=2000, ge=100, le=15_000)
    memory_limit_mb: int = Field(default=256, ge=16, le=1024)
    output_limit_kb: int = Field(default=8192, ge=1, le=65_536)
    wall_factor: float = Field(default=3.0, ge=1.5, le=10)
    stack_limit_mb: int = Field(default=64, ge=8, le=1024)
    nofile: int = Field(default=64, ge=16, le=1024)


@dataclass(frozen=True)
class EffectiveLimits:
    """Limits for one language: what the runner enforces and what the verdict compares."""

    cpu_ms: int
    wall_ms: int
    memory_kb: int
    """Peak RSS above this is MLE."""
    address_space_bytes: int
    """0 = no address-space limit (JVM, V8: heap flags instead)."""
    output_bytes: int
    stack_bytes: int
    nproc: int
    nofile: int
    heap_mb: int

    @classmethod
    def of(cls, limits: Limits, language: Language) -> EffectiveLimits:
        cpu = language.cpu_limit_ms(limits.time_limit_ms)
        memory_mb = limits.memory_limit_mb + language.memory_extra_mb
        return cls(
            cpu_ms=cpu,
            wall_ms=max(int(cpu * limits.wall_factor), cpu + 1000),
            memory_kb=memory_mb * 1024,
            address_space_bytes=(
                (limits.memory_limit_mb + language.address_space_extra_mb) * 1024 * 1024
                if language.address_space_limit
                else 0
            ),
            output_bytes=limits.output_limit_kb * 1024,
            stack_bytes=limits.stack_limit_mb * 1024 * 1024,
            nproc=language.nproc,
            nofile=limits.nofile,
            heap_mb=limits.memory_limit_mb,
        )


@dataclass(frozen=True)
class RawRun:
    """One execution as the in-box runner measured it."""

    index: int
    kind: str  # "E" exited, "S" signalled, "X" could not start
    code: int
    cpu_us: int
    wall_us: int
    maxrss_kb: int
    flags: int
    stdout: bytes
    stderr: bytes
    oom_killed: bool = False
    """The box's cgroup OOM-killed something during this run (host-side observation)."""

    @property
    def failed_abnormally(self) -> bool:
        return self.kind == "S" or (self.kind == "E" and self.code != 0)


@dataclass(frozen=True)
class TestResult:
    __test__ = False  # not a pytest class
    index: int
    verdict: Verdict
    time_ms: int = 0
    wall_ms: int = 0
    memory_kb: int = 0
    detail: str = ""
    output: str = ""
    """The start of the program's stdout (for display)."""

    def to_dict(self) -> dict[str, object]:
        return {
            "index": self.index,
            "verdict": self.verdict.value,
            "time_ms": self.time_ms,
            "wall_ms": self.wall_ms,
            "memory_kb": self.memory_kb,
            "detail": self.detail,
            "output": self.output,
        }


def signal_name(signo: int) -> str:
    try:
        return signal.Signals(signo).name
    except ValueError:
        return f"signal {signo}"


def _truncate(data: bytes, keep: int) -> str:
    text = data[:keep].decode("utf-8", errors="replace")
    return text + ("…" if len(data) > keep else "")


STDERR_SUMMARY_CHARS = 180


def stderr_summary(stderr: bytes, keep: int = STDERR_SUMMARY_CHARS) -> str:
    """What a runtime error's detail keeps of stderr (the stored detail is 200 characters): all of
    it when short; else its first line (Java names the exception there) and its end (Python's
    traceback ends with the exception, C/C++ runtimes print the assertion last)."""
    text = stderr[: 64 * 1024].decode("utf-8", errors="replace").strip()
    if len(text) <= keep:
        return text
    first = text.split("\n", 1)[0][: keep // 3].rstrip()
    tail = text[-(keep - len(first) - 3) :]
    return f"{first} … {tail}"


def classify(
    raw: RawRun,
    limits: EffectiveLimits,
    language: Language,
    expected: bytes,
    checker: CheckerName = "tokens",
    float_tolerance: float | None = None,
) -> TestResult:
    """The verdict of one test, with precedence IE > TLE > MLE > OLE > RE > WA."""
    time_ms = raw.cpu_us // 1000
    base = TestResult(
        index=raw.index,
        verdict=Verdict.AC,
        time_ms=time_ms,
        wall_ms=raw.wall_us // 1000,
        memory_kb=raw.maxrss_kb,
        output=_truncate(raw.stdout, OUTPUT_KEEP_BYTES),
    )

    def verdict(v: Verdict, detail: str = "") -> TestResult:
        return replace(base, verdict=v, detail=detail)

    signalled = raw.kind == "S"
    if raw.kind == "X":
        return verdict(Verdict.IE, f"could not start the program (errno {raw.code})")
    if raw.flags & FLAG_CPU_KILL or raw.cpu_us > limits.cpu_ms * 1000 or (signalled and raw.code == signal.SIGXCPU):
        return verdict(Verdict.TLE, f"CPU time limit {limits.cpu_ms} ms exceeded")
    if raw.flags & FLAG_WALL_KILL:
        return verdict(Verdict.TLE, f"wall time limit {limits.wall_ms} ms exceeded (idle or starved: CPU {time_ms} ms)")
    oom_marker = raw.failed_abnormally and any(m in raw.stderr for m in language.oom_markers)
    if raw.maxrss_kb > limits.memory_kb or oom_marker or (raw.oom_killed and signalled):
        return verdict(Verdict.MLE, f"memory limit {limits.memory_kb // 1024} MB exceeded")
    output_flags = FLAG_STDOUT_OVER | FLAG_STDERR_OVER | FLAG_OUTPUT_KILL
    if raw.flags & output_flags or (signalled and raw.code == signal.SIGXFSZ):
        return verdict(Verdict.OLE, f"output limit {limits.output_bytes // 1024} KB exceeded")
    if signalled:
        return verdict(Verdict.RE, signal_name(raw.code))
    if raw.code != 0:
        stderr = stderr_summary(raw.stderr)
        return verdict(Verdict.RE, f"exit code {raw.code}" + (f": {stderr}" if stderr else ""))
    result = check(checker, expected, raw.stdout, float_tolerance)
    if not result.ok:
        return verdict(Verdict.WA, result.detail)
    return base


def overall_verdict(results: list[TestResult]) -> Verdict:
    """The verdict of the first failing test in test order; AC when none fails."""
    for result in results:
        if result.verdict not in (Verdict.AC, Verdict.SK):
            return result.verdict
    return Verdict.AC


class TestCase(BaseModel):
    __test__ = False
    model_config = ConfigDict(frozen=True)

    input: bytes
    output: bytes


class TestSet(BaseModel):
    """A problem's tests at one version. Immutable: a new test set is a new version."""

    __test__ = False

    model_config = ConfigDict(frozen=True)

    problem_key: str = Field(min_length=1, max_length=200)
    version: int = Field(ge=0)
    cases: tuple[TestCase, ...]
    incarnation: str = ""
    """The problem's incarnation: a problem deleted and registered again under the same key
    restarts its versions, so (key, incarnation, version) names one immutable set."""
    checker_program: JudgeProgram | None = None
    """The problem's special checker (it decides AC/WA instead of the named checker)."""
    interactor: JudgeProgram | None = None
    """The problem's interactor: the problem is interactive."""

    @property
    def programs_version(self) -> str | None:
        return programs_version(self.checker_program, self.interactor)

    @property
    def cache_key(self) -> str:
        digest = hashlib.sha256(f"{self.problem_key}#{self.incarnation}".encode()).hexdigest()[:24]
        return f"{digest}-v{self.version}"


class Submission(BaseModel):
    model_config = ConfigDict(frozen=True)

    language: str
    code: str

    @field_validator("code")
    @classmethod
    def _size(cls, code: str) -> str:
        size = len(code.encode("utf-8"))
        if size == 0 or not code.strip():
            raise ValueError("code is empty")
        if size > MAX_CODE_BYTES:
            raise ValueError(f"code is larger than {MAX_CODE_BYTES} bytes")
        return code

    @property
    def code_hash(self) -> str:
        return hashlib.sha256(self.code.encode("utf-8")).hexdigest()


class JudgeOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    checker: CheckerName = "tokens"
    float_tolerance: float | None = Field(default=None, gt=0, le=1)
    stop_on_first_failure: bool = False
    checker_program: JudgeProgram | None = None
    """A special checker (testlib exit codes) instead of ``checker``."""
    interactor: JudgeProgram | None = None
    """An interactor talking to the program through pipes (an interactive problem)."""


@dataclass
class JudgeReport:
    verdict: Verdict
    tests: list[TestResult] = field(default_factory=list)
    compile_message: str = ""
    compile_cached: bool = False
    detail: str = ""
    attempts: int = 1
    program_failure: str = ""
    """With IE: the problem's checker or interactor failed (why), which its registrar is told."""

    @property
    def passed(self) -> int:
        return sum(1 for t in self.tests if t.verdict == Verdict.AC)

    @property
    def total(self) -> int:
        return len(self.tests)

    @property
    def max_time_ms(self) -> int:
        return max((t.time_ms for t in self.tests), default=0)

    @property
    def max_memory_kb(self) -> int:
        return max((t.memory_kb for t in self.tests), default=0)

    def to_dict(self) -> dict[str, object]:
        return {
            "verdict": self.verdict.value,
            "passed": self.passed,
            "total": self.total,
            "max_time_ms": self.max_time_ms,
            "max_memory_kb": self.max_memory_kb,
            "compile_message": self.compile_message,
            "detail": self.detail,
            "tests": [t.to_dict() for t in self.tests],
        }
