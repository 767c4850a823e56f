# ruff: noqa: E501  (embedded contestant programs are kept one per line)
"""Reference solutions in every language get the right verdict from the real sandbox."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.judge_env import aplusb_tests, judge_all, judge_env

from algoitny_executions.domain.judging import JudgeOptions, JudgeReport, Limits, Submission, TestCase, TestSet, Verdict
from algoitny_executions.service_layer.judge import Judge

pytestmark = pytest.mark.integration

TESTS = aplusb_tests(3)
FLOAT_TESTS = TestSet(
    problem_key="test/third",
    version=1,
    cases=(TestCase(input=b"1 3\n", output=b"0.333333333333\n"), TestCase(input=b"2 3\n", output=b"0.666666666667\n")),
)
LIMITS = Limits(time_limit_ms=500, memory_limit_mb=64, output_limit_kb=1024)

PROGRAMS: dict[str, dict[str, str]] = {
    "c": {
        "AC": '#include <stdio.h>\nint main(){long long a,b;scanf("%lld %lld",&a,&b);printf("%lld\\n",a+b);}',
        "WA": '#include <stdio.h>\nint main(){long long a,b;scanf("%lld %lld",&a,&b);printf("%lld\\n",a+b+1);}',
        "TLE": "int main(){volatile unsigned long x=0;for(;;)x++;}",
        "MLE": "#include <stdlib.h>\n#include <string.h>\n"
        "int main(){for(;;){char*p=malloc(1<<20);if(!p)return 1;memset(p,1,1<<20);}}",
        "RE": "int main(){volatile int*p=0;*p=1;return 0;}",
        "CE": "int main(){ return x; }",
        "OLE": '#include <stdio.h>\nint main(){for(;;)fputs("spam spam spam spam\\n",stdout);}',
        "FLOAT_AC": '#include <stdio.h>\nint main(){double a,b;scanf("%lf %lf",&a,&b);printf("%.9f\\n",a/b);}',
        "FLOAT_WA": '#include <stdio.h>\nint main(){double a,b;scanf("%lf %lf",&a,&b);printf("%.2f\\n",a/b);}',
    },
    "cpp17": {
        "AC": "#include <iostream>\nint main(){long long a,b;std::cin>>a>>b;std::cout<<a+b<<'\\n';}",
        "WA": "#include <iostream>\nint main(){long long a,b;std::cin>>a>>b;std::cout<<a-b<<'\\n';}",
        "TLE": "#include <atomic>\nint main(){std::atomic<long> x{0};for(;;)x++;}",
        "MLE": "#include <vector>\n#include <cstdio>\n"
        'int main(){std::vector<long long> v(100000000,1);std::printf("%lld\\n",v[12345]);}',
        "RE": '#include <cstdio>\nint main(){volatile int z=0;std::printf("%d\\n",10/z);}',
        "CE": "#include <vector>\nint main(){ std::vector<int> v = 5; }",
        "OLE": '#include <iostream>\nint main(){for(;;)std::cout<<"spam spam spam\\n";}',
        "FLOAT_AC": '#include <cstdio>\nint main(){double a,b;std::scanf("%lf %lf",&a,&b);std::printf("%.10f\\n",a/b);}',
        "FLOAT_WA": '#include <cstdio>\nint main(){double a,b;std::scanf("%lf %lf",&a,&b);std::printf("%.3f\\n",a/b);}',
    },
    "python3": {
        "AC": "a, b = map(int, input().split())\nprint(a + b)",
        "WA": "a, b = map(int, input().split())\nprint(a * b + 100)",
        "TLE": "x = 0\nwhile True:\n    x += 1",
        "MLE": "a = [1] * 200_000_000\nprint(len(a))",
        "RE": "raise SystemExit(3)",
        "CE": "def f(:\n    pass",
        "OLE": "import sys\nwhile True:\n    sys.stdout.write('spam ' * 100 + '\\n')",
        "FLOAT_AC": "a, b = map(float, input().split())\nprint(f'{a / b:.8f}')",
        "FLOAT_WA": "a, b = map(float, input().split())\nprint(f'{a / b:.1f}')",
    },
    "java17": {
        "AC": "import java.util.*;\npublic class Main{public static void main(String[] x){"
        "Scanner s=new Scanner(System.in);System.out.println(s.nextLong()+s.nextLong());}}",
        "WA": "public class Main{public static void main(String[] x){System.out.println(42);}}",
        "TLE": "public class Main{public static void main(String[] x){long i=0;while(true){i++;}}}",
        "MLE": "public class Main{public static void main(String[] x){"
        "long[] a=new long[200_000_000];a[5]=1;System.out.println(a[5]);}}",
        "RE": 'public class Main{public static void main(String[] x){throw new RuntimeException("boom");}}',
        "CE": "public class Main{public static void main(String[] x){int y = ;}}",
        "OLE": "public class Main{public static void main(String[] x){"
        'StringBuilder b=new StringBuilder();for(int i=0;i<100;i++)b.append("spam ");String s=b.toString();'
        "while(true){System.out.println(s);}}}",
        "FLOAT_AC": "import java.util.*;\npublic class Main{public static void main(String[] x){"
        'Scanner s=new Scanner(System.in);double a=s.nextDouble(),b=s.nextDouble();System.out.printf("%.9f%n",a/b);}}',
        "FLOAT_WA": "import java.util.*;\npublic class Main{public static void main(String[] x){"
        'Scanner s=new Scanner(System.in);double a=s.nextDouble(),b=s.nextDouble();System.out.printf("%.2f%n",a/b);}}',
    },
    "javascript": {
        "AC": 'const [a,b]=require("fs").readFileSync(0,"utf8").trim().split(/\\s+/).map(Number);console.log(a+b);',
        "WA": 'console.log("nope");',
        "TLE": "let x = 0; for (;;) { x++; }",
        "MLE": "const a = []; for (;;) { a.push(new Array(100000).fill(1.5)); }",
        "RE": "null.x();",
        "CE": "function ( {",
        "OLE": 'const s = "spam ".repeat(1000) + "\\n"; for (;;) { require("fs").writeSync(1, s); }',
        "FLOAT_AC": 'const [a,b]=require("fs").readFileSync(0,"utf8").trim().split(/\\s+/).map(Number);'
        "console.log((a/b).toFixed(9));",
        "FLOAT_WA": 'const [a,b]=require("fs").readFileSync(0,"utf8").trim().split(/\\s+/).map(Number);'
        "console.log((a/b).toFixed(1));",
    },
}
CASES = [(lang, kind) for lang, programs in PROGRAMS.items() for kind in programs]


@pytest.fixture(scope="module")
def judge() -> Iterator[Judge]:
    yield from judge_env(slots=2)


@pytest.fixture(scope="module")
def reports(judge: Judge) -> dict[str, JudgeReport]:
    jobs = {}
    for lang, kind in CASES:
        is_float = kind.startswith("FLOAT")
        options = JudgeOptions(checker="float", float_tolerance=1e-6) if is_float else JudgeOptions()
        jobs[f"{lang}:{kind}"] = (
            Submission(language=lang, code=PROGRAMS[lang][kind]),
            FLOAT_TESTS if is_float else TESTS,
            LIMITS,
            options,
        )
    return judge_all(judge, jobs)


@pytest.mark.parametrize(("lang", "kind"), CASES, ids=[f"{lang}-{kind}" for lang, kind in CASES])
def test_reference_solution_verdict(reports: dict[str, JudgeReport], lang: str, kind: str) -> None:
    report = reports[f"{lang}:{kind}"]
    expected = Verdict(kind.removeprefix("FLOAT_"))
    assert report.verdict == expected, report.to_dict()
    if expected == Verdict.CE:
        assert report.compile_message and not report.tests
        assert len(report.compile_message) <= 4200
        return
    assert report.total == len(FLOAT_TESTS.cases if kind.startswith("FLOAT") else TESTS.cases)
    first = report.tests[0]
    assert first.verdict == expected
    if expected == Verdict.AC:
        assert report.passed == report.total
        assert all(t.memory_kb > 0 for t in report.tests)
    if expected == Verdict.TLE:
        # CPU over the limit, or (on a loaded machine) the wall-clock backstop fired first
        assert first.time_ms > LIMITS.time_limit_ms or "wall time" in first.detail
    if expected == Verdict.RE:
        assert first.detail


def test_runtime_error_details(reports: dict[str, JudgeReport]) -> None:
    assert reports["c:RE"].tests[0].detail == "SIGSEGV"
    assert reports["cpp17:RE"].tests[0].detail == "SIGFPE"
    assert reports["python3:RE"].tests[0].detail.startswith("exit code 3")


def test_compiled_binary_is_cached_and_stop_at_first_failure(judge: Judge) -> None:
    code = PROGRAMS["cpp17"]["WA"]
    first = judge.judge(Submission(language="cpp17", code=code), TESTS, LIMITS)
    assert first.compile_cached  # compiled by the module fixture already
    assert [t.verdict for t in first.tests] == [Verdict.WA] * 3
    short = judge.judge(
        Submission(language="cpp17", code=code), TESTS, LIMITS, JudgeOptions(stop_on_first_failure=True)
    )
    assert [t.verdict for t in short.tests] == [Verdict.WA, Verdict.SK, Verdict.SK]
    assert short.verdict == Verdict.WA


def test_mixed_results_keep_every_test_and_report_first_failure(judge: Judge) -> None:
    code = "a, b = map(int, input().split())\nprint(a + b if a != 1 else 0)"
    report = judge.judge(Submission(language="python3", code=code), TESTS, LIMITS)
    assert [t.verdict for t in report.tests] == [Verdict.AC, Verdict.WA, Verdict.AC]
    assert report.verdict == Verdict.WA and report.passed == 2 and report.total == 3


def test_idle_program_is_tle_with_wall_detail(judge: Judge) -> None:
    code = "import time\ntime.sleep(60)"
    limits = Limits(time_limit_ms=100)
    report = judge.judge(Submission(language="python3", code=code), aplusb_tests(1, "test/one"), limits)
    (test,) = report.tests
    assert test.verdict == Verdict.TLE and "wall" in test.detail and test.time_ms < 500
    assert test.wall_ms < 5000
