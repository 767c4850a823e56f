from __future__ import annotations

import signal
import struct
from typing import Any

import pytest
from pydantic import ValidationError

from algoitny_executions.adapters.sandbox.bwrap import RunSpec, SandboxError, _parse
from algoitny_executions.adapters.sandbox.seccomp import BLOCKED_SYSCALLS, SECCOMP_RET_ALLOW, build_filter
from algoitny_executions.domain.checkers import check, check_exact, check_float, check_lines, check_tokens
from algoitny_executions.domain.judging import (
    FLAG_CPU_KILL,
    FLAG_STDOUT_OVER,
    FLAG_WALL_KILL,
    MAX_CODE_BYTES,
    EffectiveLimits,
    Limits,
    RawRun,
    Submission,
    TestResult,
    Verdict,
    classify,
    overall_verdict,
)
from algoitny_executions.domain.languages import CPP17, JAVA17, LANGUAGES, PYTHON3

# -- checkers ------------------------------------------------------------------------------


def test_tokens_ignore_whitespace_kind_and_crlf() -> None:
    assert check_tokens(b"1 2\n3\n", b"  1\r\n2   3  \r\n\r\n").ok
    assert not check_tokens(b"1 2 3", b"1 2 4").ok
    assert not check_tokens(b"1 2 3", b"1 2").ok
    assert not check_tokens(b"1 2", b"1 2 3").ok
    assert check_tokens(b"", b"\n\n").ok


def test_lines_compare_line_by_line() -> None:
    assert check_lines(b"1 2\n3\n", b"1  2 \r\n3\n\n\n").ok
    assert not check_lines(b"1 2\n3\n", b"1\n2 3\n").ok
    assert not check_lines(b"1\n2\n", b"1\n").ok


def test_exact_is_byte_for_byte_modulo_crlf() -> None:
    assert check_exact(b"a b\nc\n", b"a b\r\nc\r\n").ok
    assert not check_exact(b"a b\n", b"a  b\n").ok
    assert not check_exact(b"a\n", b"a").ok
    assert "byte 2" in check_exact(b"ab", b"ax").detail


@pytest.mark.parametrize(
    ("expected", "actual", "ok"),
    [
        (b"0.333333333", b"0.3333335", True),  # abs error 1.7e-7
        (b"0.333333333", b"0.3334", False),
        (b"1000000000", b"1000000500", True),  # relative error 5e-7
        (b"1000000000", b"1000005000", False),
        (b"3.0 abc", b"3 abc", True),
        (b"3.0 abc", b"3 abd", False),
        (b"1.5", b"nan", False),
        (b"1.5", b"x", False),
        (b"inf", b"inf", True),
        (b"1 2", b"1", False),
    ],
)
def test_float_checker_tolerance(expected: bytes, actual: bytes, ok: bool) -> None:
    assert check_float(expected, actual, 1e-6).ok is ok


def test_float_tolerance_is_configurable() -> None:
    assert check("float", b"1.0", b"1.01", float_tolerance=0.05).ok
    assert not check("float", b"1.0", b"1.01").ok
    with pytest.raises(ValueError):
        check("regex", b"", b"")


def test_details_never_quote_the_expected_output() -> None:
    for name in ("tokens", "lines", "exact", "float"):
        result = check(name, b"SECRET_ANSWER", b"guess")
        assert not result.ok and "SECRET" not in result.detail


# -- verdict classification ---------------------------------------------------------------

LIMITS = EffectiveLimits.of(Limits(time_limit_ms=1000, memory_limit_mb=64), CPP17)


def _raw(**kw: Any) -> RawRun:
    base: dict[str, Any] = {
        "index": 0,
        "kind": "E",
        "code": 0,
        "cpu_us": 10_000,
        "wall_us": 12_000,
        "maxrss_kb": 2000,
        "flags": 0,
        "stdout": b"3\n",
        "stderr": b"",
    }
    return RawRun(**{**base, **kw})


def _verdict(**kw: Any) -> TestResult:
    return classify(_raw(**kw), LIMITS, CPP17, b"3\n")


def test_accepted_and_wrong_answer() -> None:
    ok = _verdict()
    assert ok.verdict == Verdict.AC and ok.time_ms == 10 and ok.memory_kb == 2000
    assert _verdict(stdout=b"4\n").verdict == Verdict.WA


def test_time_limit_by_cpu_and_idleness_by_wall() -> None:
    assert _verdict(cpu_us=1_000_001).verdict == Verdict.TLE
    assert _verdict(flags=FLAG_CPU_KILL, kind="S", code=9).verdict == Verdict.TLE
    assert _verdict(kind="S", code=signal.SIGXCPU).verdict == Verdict.TLE
    idle = _verdict(flags=FLAG_WALL_KILL, kind="S", code=9, cpu_us=1000)
    assert idle.verdict == Verdict.TLE and "idle" in idle.detail


def test_memory_limit_by_peak_rss_marker_or_oom_kill() -> None:
    assert _verdict(maxrss_kb=64 * 1024 + 1).verdict == Verdict.MLE
    assert _verdict(kind="S", code=6, stderr=b"terminate called after throwing 'std::bad_alloc'").verdict == Verdict.MLE
    assert _verdict(kind="S", code=9, oom_killed=True).verdict == Verdict.MLE
    # the marker only counts when the program failed
    assert _verdict(stderr=b"std::bad_alloc").verdict == Verdict.AC


def test_output_limit() -> None:
    assert _verdict(flags=FLAG_STDOUT_OVER).verdict == Verdict.OLE
    assert _verdict(kind="S", code=signal.SIGXFSZ).verdict == Verdict.OLE


def test_runtime_error_names_signal_or_exit_code() -> None:
    segv = _verdict(kind="S", code=signal.SIGSEGV)
    assert segv.verdict == Verdict.RE and segv.detail == "SIGSEGV"
    exit3 = _verdict(code=3, stderr=b"boom")
    assert exit3.verdict == Verdict.RE and exit3.detail.startswith("exit code 3")
    assert _verdict(kind="X", code=2).verdict == Verdict.IE


def test_precedence_tle_over_mle_over_ole_over_re_over_wa() -> None:
    everything = {"cpu_us": 2_000_000, "maxrss_kb": 10**6, "flags": FLAG_STDOUT_OVER, "kind": "S", "code": 11}
    assert _verdict(**everything, stdout=b"x").verdict == Verdict.TLE
    everything["cpu_us"] = 1
    assert _verdict(**everything).verdict == Verdict.MLE
    everything["maxrss_kb"] = 1
    assert _verdict(**everything).verdict == Verdict.OLE
    everything["flags"] = 0
    assert _verdict(**everything).verdict == Verdict.RE


def test_overall_is_first_failing_test() -> None:
    res = [TestResult(0, Verdict.AC), TestResult(1, Verdict.WA), TestResult(2, Verdict.TLE)]
    assert overall_verdict(res) == Verdict.WA
    assert overall_verdict([TestResult(0, Verdict.AC)]) == Verdict.AC
    assert overall_verdict([TestResult(0, Verdict.RE), TestResult(1, Verdict.SK)]) == Verdict.RE


# -- limits and languages -----------------------------------------------------------------


def test_effective_limits_per_language() -> None:
    limits = Limits(time_limit_ms=1000, memory_limit_mb=128)
    cpp = EffectiveLimits.of(limits, CPP17)
    assert cpp.cpu_ms == 1000 and cpp.wall_ms == 3000 and cpp.address_space_bytes > 128 * 2**20
    py = EffectiveLimits.of(limits, PYTHON3)
    assert py.cpu_ms == 3500
    java = EffectiveLimits.of(limits, JAVA17)
    assert java.address_space_bytes == 0 and java.heap_mb == 128  # JVM: -Xmx instead of RLIMIT_AS
    assert "-Xmx{mem_mb}m" in JAVA17.run_argv


def test_limit_caps() -> None:
    for bad in ({"time_limit_ms": 50}, {"time_limit_ms": 20_000}, {"memory_limit_mb": 4096}, {"x": 1}):
        with pytest.raises(ValidationError):
            Limits(**bad)


def test_registry_uses_real_interpreters() -> None:
    assert set(LANGUAGES) >= {"c", "cpp17", "python3", "java17", "javascript"}
    assert all("shims" not in a for lang in LANGUAGES.values() for a in lang.run_argv)


def test_submission_validation() -> None:
    with pytest.raises(ValidationError):
        Submission(language="c", code="   ")
    with pytest.raises(ValidationError):
        Submission(language="c", code="x" * (MAX_CODE_BYTES + 1))
    assert Submission(language="c", code="a").code_hash == Submission(language="c", code="a").code_hash


# -- sandbox plumbing ---------------------------------------------------------------------


def test_seccomp_filter_shape() -> None:
    prog = build_filter()
    assert len(prog) % 8 == 0
    insns = [struct.unpack("HBBI", prog[i : i + 8]) for i in range(0, len(prog), 8)]
    blocked = {k for code, _, _, k in insns if code == 0x15}
    assert {BLOCKED_SYSCALLS["socket"], BLOCKED_SYSCALLS["ptrace"], BLOCKED_SYSCALLS["unshare"]} <= blocked
    assert any(code == 0x06 and k == SECCOMP_RET_ALLOW for code, _, _, k in insns)


def test_run_spec_rejects_newlines_and_parses_frames() -> None:
    spec = RunSpec(
        argv=["/prog/main"],
        inputs=["/tests/0"],
        cpu_ms=1,
        wall_ms=2,
        address_space_bytes=0,
        fsize_bytes=1,
        nproc=1,
        stack_bytes=1,
        nofile=1,
        out_cap=1,
        err_cap=1,
        memory_bytes=1,
    )
    assert spec.encode(ack=False).startswith(b"1\n/prog/main\n/box\n/box\n")
    with pytest.raises(SandboxError):
        RunSpec(**{**spec.__dict__, "argv": ["a\nb"]}).encode(ack=False)
    import io

    raw = _parse(b"T 3 S 11 5 6 7 0 2 1\n", io.BytesIO(b"okE"))
    assert (raw.index, raw.kind, raw.code, raw.stdout, raw.stderr) == (3, "S", 11, b"ok", b"E")
    with pytest.raises(SandboxError):
        _parse(b"T 3 S 11 5 6 7 0 5 1\n", io.BytesIO(b"ok"))
