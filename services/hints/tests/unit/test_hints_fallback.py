"""The offline fallback names the actual cause of a failure, from the evidence of the run."""

from __future__ import annotations

import pytest

from algoitny_hints.domain.fallback import allowed_complexity, diff_outputs, execution_hints, problem_hints
from algoitny_hints.domain.models import ExecutionContext, ProblemContext, TestResult

PROBLEM = ProblemContext(
    platform="cf", problem_id="1A", title="Sum", tags=["math"], time_limit_ms=1000, memory_limit_mb=256
)


def ex(verdict: str, language: str = "cpp", code: str = "int main(){}", **test: object) -> ExecutionContext:
    tests = [TestResult(ordinal=3, verdict=verdict, passed=False, **test)] if test else []  # type: ignore[arg-type]
    return ExecutionContext(execution_id="e1", user_id="u1", language=language, code=code, verdict=verdict, tests=tests)


def text(hints: list) -> str:  # type: ignore[type-arg]
    return " ".join(f"{h.title} {h.text}" for h in hints).lower()


CASES = [
    # (execution, expected cause, words the hints must contain)
    (ex("WA", expected="1 2 3\n", actual="1\n2\n3\n"), "wa_whitespace", ["formatting", "line 1"]),
    (ex("WA", expected="YES\n", actual="yes\n"), "wa_case", ["upper/lower case", "'yes'"]),
    (ex("WA", expected="3.141593\n", actual="3.14\n"), "wa_precision", ["precision", "digits"]),
    (ex("WA", expected="1\n2\n3\n", actual="1\n2\n"), "wa_missing_output", ["missing", "every test case"]),
    (ex("WA", expected="1\n", actual="1\ndebug 5\n"), "wa_extra_output", ["more than expected", "debug"]),
    (ex("WA", expected="5000000000\n", actual="705032704\n"), "wa_overflow", ["64-bit", "long long"]),
    (ex("WA", expected="7\n", actual="8\n"), "wa_value", ["line 1, value 1", "expected '7', got '8'"]),
    (ex("WA", expected="7\n", actual=""), "wa_no_output", ["printed nothing"]),
    (
        ex("TLE", input="1000000\n" + "1 " * 2000),
        "tle_complexity",
        ["time limit", "o(n log n)", "1,000,000"],
    ),
    (
        ex("TLE", language="python3", code="n=int(input())\nfor _ in range(n): a=input()", input="1\n" * 300000),
        "tle_slow_input",
        ["input()", "sys.stdin"],
    ),
    (
        ex("TLE", language="cpp", code="int main(){int n; cin>>n;}", input="7 " * 100000),
        "tle_slow_input",
        ["sync_with_stdio"],
    ),
    (ex("MLE", input="100000\n", memory_kb=300000), "mle", ["memory limit", "256 mb", "n×n"]),
    (ex("RE", signal=11), "re_segfault_out_of_bounds", ["sigsegv", "out of bounds"]),
    (ex("RE", exit_code=136), "re_division_by_zero", ["division by zero", "sigfpe"]),
    (
        ex("RE", language="python3", stderr="RecursionError: maximum recursion depth exceeded"),
        "re_recursion_depth",
        ["recursion", "explicit stack"],
    ),
    (
        ex("RE", language="python3", stderr="Traceback...\nIndexError: list index out of range"),
        "re_index_out_of_bounds",
        ["index out of range", "indexerror"],
    ),
    (
        ex("RE", language="python3", stderr="ZeroDivisionError: division by zero"),
        "re_division_by_zero",
        ["division by zero", "zerodivisionerror"],
    ),
    (ex("RE", language="python3", stderr="KeyError: 5"), "re_key_error", ["dictionary", "keyerror"]),
    (ex("OLE"), "ole", ["output limit", "infinite loop"]),
]


@pytest.mark.parametrize(("execution", "cause", "words"), CASES, ids=[c[1] + f"-{i}" for i, c in enumerate(CASES)])
def test_fallback_names_the_cause(execution: ExecutionContext, cause: str, words: list[str]) -> None:
    got_cause, hints = execution_hints(execution, PROBLEM)
    assert got_cause == cause
    assert 3 <= len(hints) <= 5
    assert [h.level for h in hints] == list(range(1, len(hints) + 1))  # gentle first
    body = text(hints)
    for word in words:
        assert word.lower() in body, (word, body)


def test_distinct_causes_cover_at_least_ten_kinds() -> None:
    assert len({c for _, c, _ in CASES}) >= 10


def test_compile_error_quotes_the_compiler_and_line() -> None:
    e = ExecutionContext(
        execution_id="e",
        language="cpp",
        verdict="CE",
        compile_error="main.cpp: In function 'int main()':\nmain.cpp:4:5: error: 'x' was not declared in this scope",
    )
    cause, hints = execution_hints(e, None)
    assert cause == "ce"
    assert "line 4" in text(hints) and "'x' was not declared" in text(hints)


def test_diff_kinds_and_allowed_complexity() -> None:
    assert diff_outputs("a b", "a  b")[0] == "whitespace"
    assert diff_outputs("1\n2", "1\n3")[1].startswith("line 2")
    assert allowed_complexity(10**6, 1000, "cpp") == "O(n log n)"
    assert allowed_complexity(5000, 1000, "cpp") == "O(n^2)"
    assert allowed_complexity(10**6, 1000, "python3") == "O(n)"


def test_problem_hints_from_tags_and_constraints() -> None:
    p = PROBLEM.model_copy(update={"tags": ["greedy", "sorting"], "constraints": "1 <= n <= 2*10^5"})
    cause, hints = problem_hints(p)
    assert cause == "problem_overview" and 3 <= len(hints) <= 5
    assert "200,000" in text(hints) and "exchange argument" in text(hints)
