"""Verdicts from a problem's own checker or interactor (testlib exit codes), without a sandbox."""

from __future__ import annotations

import signal
from typing import Any

import pytest

from algoitny_executions.adapters.upstreams import CachedTestSetSource
from algoitny_executions.domain.judging import (
    FLAG_CPU_KILL,
    FLAG_OUTPUT_KILL,
    FLAG_STDERR_OVER,
    FLAG_WALL_KILL,
    RawRun,
    TestCase,
    TestResult,
    TestSet,
    Verdict,
)
from algoitny_executions.domain.special import checker_verdict, interactive_verdict
from algoitny_shared.judge_programs import JudgeProgram, programs_version


def raw(kind: str = "E", code: int = 0, flags: int = 0, stderr: bytes = b"", cpu_us: int = 1000) -> RawRun:
    return RawRun(
        index=0,
        kind=kind,
        code=code,
        cpu_us=cpu_us,
        wall_us=2000,
        maxrss_kb=1000,
        flags=flags,
        stdout=b"",
        stderr=stderr,
    )


@pytest.mark.parametrize(
    "run, verdict, text",
    [
        (raw(code=0, stderr=b"ok 3 numbers"), Verdict.AC, "ok 3 numbers"),
        (raw(code=1, stderr=b"wrong answer 1 + 1 != 5"), Verdict.WA, "1 + 1 != 5"),
        (raw(code=1), Verdict.WA, "wrong answer"),
        (raw(code=2, stderr=b"expected an integer"), Verdict.WA, "presentation error: expected an integer"),
        (raw(code=0, flags=FLAG_STDERR_OVER), Verdict.AC, ""),
    ],
)
def test_checker_exit_codes(run: RawRun, verdict: Verdict, text: str) -> None:
    said = checker_verdict(run, cpu_ms=1000)
    assert said.verdict == verdict and text in said.detail and not said.failure


@pytest.mark.parametrize(
    "run, why",
    [
        (raw(code=3, stderr=b"FAIL answer file is broken"), "reported a failure (exit 3): FAIL answer file is broken"),
        (raw(code=7), "exit code 7"),
        (raw(code=-1 & 0xFF), "exit code 255"),
        (raw(kind="S", code=signal.SIGSEGV), "SIGSEGV"),
        (raw(kind="S", code=signal.SIGKILL, flags=FLAG_CPU_KILL), "CPU time limit"),
        (raw(code=0, cpu_us=5_000_000), "CPU time limit"),
        (raw(kind="S", code=signal.SIGKILL, flags=FLAG_WALL_KILL), "wall time limit"),
        (raw(kind="S", code=signal.SIGKILL, flags=FLAG_OUTPUT_KILL), "output limit"),
        (raw(kind="X", code=2), "could not start"),
        (raw(code=1, stderr=b"Traceback (most recent call last):\n  ...\nZeroDivisionError"), "crashed"),
        (raw(code=1, stderr=b'Exception in thread "main" java.lang.NullPointerException'), "crashed"),
    ],
)
def test_a_failing_checker_is_an_internal_error_never_wa(run: RawRun, why: str) -> None:
    said = checker_verdict(run, cpu_ms=1000)
    assert said.verdict == Verdict.IE
    assert why in said.failure


def contestant(verdict: Verdict = Verdict.AC, detail: str = "") -> TestResult:
    return TestResult(index=4, verdict=verdict, time_ms=12, detail=detail)


def test_interactor_exit_codes_decide_a_clean_run() -> None:
    assert interactive_verdict(contestant(), raw(), raw(code=0), 1000).verdict == Verdict.AC
    wa = interactive_verdict(contestant(), raw(), raw(code=1, stderr=b"too many queries"), 1000)
    assert wa.verdict == Verdict.WA and wa.detail == "too many queries" and wa.index == 4
    pe = interactive_verdict(contestant(), raw(), raw(code=2, stderr=b"bad token"), 1000)
    assert pe.verdict == Verdict.WA and pe.detail.startswith("presentation error")


@pytest.mark.parametrize(
    "inter",
    [
        raw(code=3),
        raw(code=9),
        raw(kind="S", code=signal.SIGSEGV),
        raw(kind="S", code=signal.SIGKILL, flags=FLAG_CPU_KILL),
        raw(code=1, stderr=b"Traceback (most recent call last):\nKeyError"),
    ],
)
def test_a_failing_interactor_is_an_internal_error_whatever_the_program_did(inter: RawRun) -> None:
    for mine, mine_raw in ((contestant(), raw()), (contestant(Verdict.RE, "exit code 1"), raw(code=1))):
        assert interactive_verdict(mine, mine_raw, inter, 1000).verdict == Verdict.IE


def test_idle_program_is_ile_and_cpu_burner_is_tle() -> None:
    idle = raw(kind="S", code=signal.SIGKILL, flags=FLAG_WALL_KILL)
    result = interactive_verdict(contestant(Verdict.TLE, "wall"), idle, raw(code=2, stderr=b"unexpected EOF"), 1000)
    assert result.verdict == Verdict.ILE and "idleness" in result.detail
    burner = raw(kind="S", code=signal.SIGKILL, flags=FLAG_CPU_KILL)
    assert interactive_verdict(contestant(Verdict.TLE), burner, raw(code=2), 1000).verdict == Verdict.TLE


def test_a_crash_is_re_but_dying_on_a_closed_interaction_after_wa_is_wa() -> None:
    crash = raw(kind="S", code=signal.SIGABRT)
    eof_at_interactor = raw(code=2, stderr=b"unexpected end of the program's output")
    assert interactive_verdict(contestant(Verdict.RE, "SIGABRT"), crash, eof_at_interactor, 1000).verdict == Verdict.RE
    pipe = raw(kind="S", code=signal.SIGPIPE)
    judged = raw(code=1, stderr=b"too many queries")
    result = interactive_verdict(contestant(Verdict.RE, "SIGPIPE"), pipe, judged, 1000)
    assert result.verdict == Verdict.WA and result.detail == "too many queries"
    eof = raw(code=1, stderr=b"EOFError: EOF when reading a line")
    assert interactive_verdict(contestant(Verdict.RE), eof, judged, 1000).verdict == Verdict.WA
    # The interactor dies writing to a program that crashed: the program's RE, not the problem's IE.
    inter_pipe = raw(code=120, stderr=b"BrokenPipeError: [Errno 32] Broken pipe")
    assert interactive_verdict(contestant(Verdict.RE), crash, inter_pipe, 1000).verdict == Verdict.RE
    # ... or a program that ended cleanly too early: WA.
    early = interactive_verdict(contestant(), raw(), raw(kind="S", code=signal.SIGPIPE), 1000)
    assert early.verdict == Verdict.WA and "ended before" in early.detail


def test_program_versions_name_content_and_kind() -> None:
    a = JudgeProgram(language="py", code="print(1)")
    assert a.language == "python3"
    assert a.version == JudgeProgram(language="python3", code="print(1)").version
    assert a.version != JudgeProgram(language="python3", code="print(2)").version
    assert programs_version(None, None) is None
    assert programs_version(a, None) != programs_version(None, a)


@pytest.mark.parametrize("bad", [{"language": "cobol", "code": "x"}, {"language": "c", "code": " "}, {"language": "c"}])
def test_bad_programs_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        JudgeProgram.model_validate(bad)


async def test_a_cached_test_set_is_reloaded_when_its_programs_change() -> None:
    checker = JudgeProgram(language="python3", code="import sys")

    class Source:
        def __init__(self) -> None:
            self.program: JudgeProgram | None = None

        async def load(self, platform: str, problem_id: str, version: int, incarnation: str | None = None,
                       programs: str | None = None) -> TestSet:  # fmt: skip
            return TestSet(
                problem_key=f"{platform}/{problem_id}",
                version=version,
                incarnation=incarnation or "",
                cases=(TestCase(input=b"1", output=b"1"),),
                checker_program=self.program,
            )

    inner = Source()
    cached = CachedTestSetSource(inner)
    assert (await cached.load("cf", "1A", 1, "i1")).checker_program is None
    inner.program = checker
    assert (await cached.load("cf", "1A", 1, "i1")).checker_program is None  # same programs version: cached
    got = await cached.load("cf", "1A", 1, "i1", programs_version(checker, None))
    assert got.checker_program == checker and cached.loads == 2
    await cached.load("cf", "1A", 1, "i1", programs_version(checker, None))
    assert cached.loads == 2
