"""The offline hints diagnose real judge output (issue 23, item 11).

Each failure kind the fallback claims to know is produced by a real program in the real
sandbox; the judge's report is stored and shown exactly as the executions service does it
(``compact_tests`` -> item -> ``view_of`` -> the published ``ExecutionView`` JSON), read by the
hints service's source (``parse_execution``) and diagnosed. Nothing in between is hand-written,
so a field renamed on either side, or a fact the judge does not keep, fails here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from support.judge_env import judge_all, judge_env

from algoitny_executions.domain.history import compact_tests, compress_code, new_execution_id, pack
from algoitny_executions.domain.judging import JudgeOptions, JudgeReport, Limits, Submission, TestCase, TestSet
from algoitny_executions.service_layer.executions import view_of
from algoitny_executions.service_layer.judge import Judge
from algoitny_hints.adapters.sources import parse_execution
from algoitny_hints.domain import fallback
from algoitny_hints.domain.models import ProblemContext
from algoitny_shared.identity import Identity

pytestmark = pytest.mark.integration

OWNER = Identity(user_id="owner-1", role="user")
LIMITS = Limits(time_limit_ms=500, memory_limit_mb=64, output_limit_kb=64)


def _set(name: str, *cases: tuple[str, str]) -> TestSet:
    return TestSet(
        problem_key=f"test/hints-{name}",
        version=1,
        cases=tuple(TestCase(input=i.encode(), output=o.encode()) for i, o in cases),
    )


AB = _set("ab", ("1 2\n", "3\n"), ("2000000000 2000000000\n", "4000000000\n"))
ONE = _set("one", ("5\n", "5\n"))
BIG_INPUT = _set("big", ("30000\n" + "123456\n" * 30000, "0\n"))
YES = _set("yes", ("1\n", "YES\n"))
THIRD = _set("third", ("1 3\n", "0.333333333\n"))
TWO_LINES = _set("lines", ("1 2\n", "1\n2\n"))
THREE = _set("three", ("3\n", "1 2 3\n"))

# cause -> (language, code, test set, checker)
KINDS: dict[str, tuple[str, str, TestSet, str]] = {
    "wa_overflow": (
        "cpp17",
        "#include <iostream>\nint main(){int a,b;std::cin>>a>>b;std::cout<<a+b<<std::endl;}",
        AB,
        "tokens",
    ),
    "wa_value": ("python3", "a, b = map(int, input().split())\nprint(a * b + 1 if a > 1 else a + b)", AB, "tokens"),
    "wa_no_output": ("python3", "n = int(input())\nif n < 10:\n    pass", ONE, "tokens"),
    "wa_whitespace": ("python3", "a, b = input().split()\nprint(a, b)", TWO_LINES, "exact"),
    "wa_case": ("python3", "input()\nprint('yes')", YES, "tokens"),
    "wa_precision": ("python3", "a, b = map(int, input().split())\nprint(f'{a / b:.3f}')", THIRD, "tokens"),
    "wa_missing_output": ("python3", "n = int(input())\nprint(*range(1, n))", THREE, "tokens"),
    "wa_extra_output": ("python3", "n = int(input())\nprint(*range(1, n + 2))", THREE, "tokens"),
    "ce": ("cpp17", "#include <iostream>\nint main(){ std::cout << x; }", ONE, "tokens"),
    "tle_complexity": ("cpp17", "int main(){volatile long s=0;for(;;)s++;}", ONE, "tokens"),
    "tle_slow_input": (
        "python3",
        "n = int(input())\na = [int(input()) for _ in range(n)]\nwhile True:\n    pass",
        BIG_INPUT,
        "tokens",
    ),
    "mle": (
        "cpp17",
        "#include <vector>\n#include <cstdio>\nint main(){std::vector<long long> v;for(;;)v.push_back(7);}",
        ONE,
        "tokens",
    ),
    "ole": ("python3", "while True:\n    print('spam' * 100)", ONE, "tokens"),
    "re_recursion_depth": ("python3", "def f(n):\n    return f(n + 1) + 1\nprint(f(0))", ONE, "tokens"),
    "re_division_by_zero": (
        "cpp17",
        '#include <cstdio>\nint main(){int n;scanf("%d",&n);printf("%d\\n",n/(n-5));}',
        ONE,
        "tokens",
    ),
    "re_index_out_of_bounds": ("python3", "a = [1, 2, 3]\nprint(a[int(input())])", ONE, "tokens"),
    "re_segfault_out_of_bounds": (
        "cpp17",
        '#include <cstdio>\nint main(){int*p=nullptr;int n;scanf("%d",&n);p[n]=1;printf("%d\\n",p[n]);}',
        ONE,
        "tokens",
    ),
    "re_key_error": ("python3", "d = {}\nprint(d[input()])", ONE, "tokens"),
    "re_input_parsing": ("python3", "x = int(input() + 'x')\nprint(x)", ONE, "tokens"),
    "re_null_or_type": ("python3", "x = None\nprint(x.value + int(input()))", ONE, "tokens"),
    "re_abort": (
        "cpp17",
        '#include <cassert>\n#include <cstdio>\nint main(){int n;scanf("%d",&n);assert(n<0);}',
        ONE,
        "tokens",
    ),
    "re_other": ("python3", "import sys\nsys.exit(3)", ONE, "tokens"),
}


@pytest.fixture(scope="module")
def reports() -> Iterator[dict[str, tuple[JudgeReport, TestSet]]]:
    judge: Judge
    for judge in judge_env(slots=2):
        jobs = {
            cause: (Submission(language=lang, code=code), tests, LIMITS, JudgeOptions(checker=checker))  # type: ignore[arg-type]
            for cause, (lang, code, tests, checker) in KINDS.items()
        }
        done = judge_all(judge, jobs)
        yield {cause: (done[cause], KINDS[cause][2]) for cause in KINDS}


def _view_json(cause: str, report: JudgeReport, tests: TestSet) -> dict[str, Any]:
    """What GET /executions/{id} answers the owner once the worker stored this report."""
    language, code = KINDS[cause][0], KINDS[cause][1]
    item = {
        "execution_id": new_execution_id(),
        "user_id": OWNER.user_id,
        "platform": "test",
        "problem_id": cause,
        "problem_title": cause,
        "language": language,
        "public": True,
        "status": "completed",
        "verdict": report.verdict.value,
        "passed": report.passed,
        "total": len(tests.cases),
        "max_time_ms": report.max_time_ms,
        "max_memory_kb": report.max_memory_kb,
        "created_at": datetime.now(UTC).isoformat(),
        "code_z": compress_code(code),
        "code_bytes": len(code.encode()),
        "tests_z": pack(compact_tests(report.tests, tests.cases)),
        "compile_message": report.compile_message[:4096],
        "detail": report.detail[:500],
    }
    return json.loads(view_of(item, OWNER).model_dump_json())  # type: ignore[no-any-return]


@pytest.mark.parametrize("cause", sorted(KINDS))
def test_the_fallback_names_the_cause_of_a_real_failure(
    cause: str, reports: dict[str, tuple[JudgeReport, TestSet]]
) -> None:
    report, tests = reports[cause]
    doc = _view_json(cause, report, tests)
    ctx = parse_execution(doc)
    problem = ProblemContext(platform="test", problem_id=cause, time_limit_ms=LIMITS.time_limit_ms, memory_limit_mb=64)
    found, hints = fallback.execution_hints(ctx, problem)
    assert found == cause, (report.verdict, [(t.verdict, t.detail, t.output) for t in report.tests], doc["tests"])
    assert 3 <= len(hints) <= 5


def test_the_overflow_of_the_issue_is_named_with_the_values(reports: dict[str, tuple[JudgeReport, TestSet]]) -> None:
    report, tests = reports["wa_overflow"]
    ctx = parse_execution(_view_json("wa_overflow", report, tests))
    failing = ctx.failing_tests(1)[0]
    assert (failing.ordinal, failing.expected.strip(), failing.actual.strip()) == (2, "4000000000", "-294967296")
    _, hints = fallback.execution_hints(ctx, None)
    assert "4000000000" in hints[0].text + hints[1].text and "extra" not in " ".join(h.text for h in hints)
