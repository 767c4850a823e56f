# ruff: noqa: E501  (embedded programs are kept compact)
"""Special checkers and interactors on the real sandbox (bubblewrap, seccomp, cgroups).

* A multi-answer problem ("print a b with a + b = n, both >= 0"): every valid answer AC, an
  invalid one WA, a crashing checker IE with the reason for the registrar, never WA.
* An interactive guessing game (1..1000, at most 10 queries): correct AC, too many queries WA,
  a program waiting for input that never comes ILE, a crash RE.
* Hostile checkers and interactors are contained like submissions: no network, no writes
  outside their scratch space, no host files; a fork bomb ends as the problem's failure (IE).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.judge_env import make_judge

from algoitny_executions.domain.judging import (
    JudgeOptions,
    Limits,
    Submission,
    TestCase,
    TestResult,
    TestSet,
    Verdict,
)
from algoitny_executions.service_layer import special_judge
from algoitny_executions.service_layer.judge import Judge
from algoitny_shared.judge_programs import JudgeProgram

pytestmark = pytest.mark.integration

LIMITS = Limits(time_limit_ms=1000, memory_limit_mb=128, output_limit_kb=64, wall_factor=2)
# Cases that end on a wall clock (an idle program, a hung interactor) use short limits.
SHORT = Limits(time_limit_ms=200, memory_limit_mb=128, output_limit_kb=64, wall_factor=2)
SUM = TestSet(
    problem_key="test/split-sum",
    version=1,
    cases=tuple(TestCase(input=f"{n}\n".encode(), output=f"0 {n}\n".encode()) for n in (5, 10, 17)),
)

CHECKER_PY = """import sys
n = int(open(sys.argv[1]).read())
expected = open(sys.argv[3]).read().split()
assert len(expected) == 2  # the expected answer is there to read
try:
    a, b = map(int, open(sys.argv[2]).read().split())
except ValueError:
    print("wrong answer: two integers expected", file=sys.stderr)
    sys.exit(2)
if a < 0 or b < 0 or a + b != n:
    print(f"wrong answer: {a} + {b} != {n}", file=sys.stderr)
    sys.exit(1)
print("ok", file=sys.stderr)
"""
CHECKER_C = r"""#include <stdio.h>
int main(int c, char **v){long n,a,b;FILE*i=fopen(v[1],"r"),*o=fopen(v[2],"r");
if(fscanf(i,"%ld",&n)!=1)return 3;if(fscanf(o,"%ld %ld",&a,&b)!=2)return 2;
if(a<0||b<0||a+b!=n){fprintf(stderr,"wrong answer: sum differs");return 1;}return 0;}"""

SOLUTIONS = {
    "zero_first": ("python3", "n = int(input())\nprint(0, n)"),
    "halves": ("c", '#include <stdio.h>\nint main(){long n;scanf("%ld",&n);printf("%ld %ld\\n",n/2,n-n/2);}'),
    "invalid": ("python3", "n = int(input())\nprint(1, 1)"),
    "garbage": ("python3", "print('hello')"),
    # The contestant's box has no expected answers nor contestant outputs of the checker's box.
    "looks_for_answers": (
        "python3",
        "import os\nn = int(input())\n"
        "seen = [p for p in ('/check', '/ans', '/check/ans/0', '/tests/0.ans') if os.path.exists(p)]\n"
        "print(*((0, n) if not seen else (1, 1)))",
    ),
}

GUESS = TestSet(
    problem_key="test/guess",
    version=1,
    cases=tuple(TestCase(input=f"{n}\n".encode(), output=f"{n}\n".encode()) for n in (1, 777, 1000)),
)
INTERACTOR_PY = """import sys
secret = int(open(sys.argv[1]).read())
assert int(open(sys.argv[3]).read()) == secret
for queries in range(11):
    line = sys.stdin.readline().split()
    if not line:
        print("unexpected end of the program's output", file=sys.stderr)
        sys.exit(2)
    if line[0] == "!":
        if int(line[1]) == secret:
            sys.exit(0)
        print("wrong guess", file=sys.stderr)
        sys.exit(1)
    if queries == 10:
        break
    x = int(line[1])
    print("=" if x == secret else ("<" if secret < x else ">"), flush=True)
print("too many queries", file=sys.stderr)
sys.exit(1)
"""
CONTESTANTS = {
    "binary_search": (
        "python3",
        "lo, hi = 1, 1000\nwhile True:\n    mid = (lo + hi) // 2\n    print('?', mid, flush=True)\n    r = input()\n"
        "    if r == '=':\n        print('!', mid, flush=True)\n        break\n    if r == '<':\n        hi = mid - 1\n    else:\n        lo = mid + 1",
    ),
    "binary_search_cpp": (
        "cpp17",
        '#include <cstdio>\nint main(){int lo=1,hi=1000;char r[4];for(;;){int m=(lo+hi)/2;printf("? %d\\n",m);fflush(stdout);'
        "if(scanf(\"%3s\",r)!=1)return 0;if(r[0]=='='){printf(\"! %d\\n\",m);fflush(stdout);return 0;}if(r[0]=='<')hi=m-1;else lo=m+1;}}",
    ),
    "linear_scan": (
        "python3",
        "for x in range(1, 1001):\n    print('?', x, flush=True)\n    if input() == '=':\n        print('!', x, flush=True)\n        break",
    ),
    "waits_for_a_word": ("python3", "import sys\nsys.stdin.readline()"),
    "crashes": ("c", '#include <stdio.h>\n#include <stdlib.h>\nint main(){printf("? 500\\n");fflush(stdout);abort();}'),
}

PROBE_HEAD = """import os, socket, sys
leaks = []
def probe(name, fn):
    try:
        fn()
        leaks.append(name)
    except Exception:
        pass
probe("network", lambda: socket.create_connection(("127.0.0.1", 9092), timeout=1))
probe("write-answers", lambda: open(sys.argv[3], "a").write("x"))
probe("write-usr", lambda: open("/usr/pwned", "w"))
probe("write-host-tmp", lambda: open("/var/tmp/algoitny-checker-pwned", "w"))
probe("read-shadow", lambda: open("/etc/shadow").read())
probe("see-host-work", lambda: os.listdir("/var/tmp/algoitny-judge-test"))
probe("root", lambda: (_ for _ in ()).throw(OSError()) if os.getuid() >= 1000 else None)
"""
HOSTILE_CHECKER = (
    PROBE_HEAD
    + """open(sys.argv[3]).read()
open("/check/ans/0").read()  # another test's expected answer is allowed
if leaks:
    print("LEAK " + " ".join(leaks), file=sys.stderr)
    sys.exit(1)
"""
)
FORK_BOMB = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
HOSTILE_INTERACTOR = (
    PROBE_HEAD
    + """print("ready", flush=True)
sys.stdin.readline()
if leaks:
    print("LEAK " + " ".join(leaks), file=sys.stderr)
    sys.exit(1)
"""
)
ONE = TestSet(problem_key="test/hostile-judge", version=1, cases=(TestCase(input=b"5\n", output=b"0 5\n"),) * 2)


@pytest.fixture(scope="module")
def judge() -> Iterator[Judge]:
    judge, root = make_judge(slots=2, checker_cpu_ms=1000)
    try:
        yield judge
    finally:
        judge.close()
        shutil.rmtree(root, ignore_errors=True)


def _checked(judge: Judge, name: str, checker: JudgeProgram, test_set: TestSet = SUM):
    language, code = SOLUTIONS[name]
    options = JudgeOptions(checker_program=checker)
    return judge.judge(Submission(language=language, code=code), test_set, LIMITS, options)


@pytest.mark.parametrize("checker_language", ["python3", "c"])
def test_any_valid_answer_is_accepted_and_an_invalid_one_is_wa(judge: Judge, checker_language: str) -> None:
    checker = JudgeProgram(language=checker_language, code=CHECKER_PY if checker_language == "python3" else CHECKER_C)
    for name, want in (
        ("zero_first", Verdict.AC),
        ("halves", Verdict.AC),
        ("invalid", Verdict.WA),
        ("looks_for_answers", Verdict.AC),
    ):
        report = _checked(judge, name, checker)
        assert report.verdict == want, (name, report)
        assert [t.verdict for t in report.tests] == [want] * 3, (name, report.tests)
        assert not report.program_failure
    wrong = _checked(judge, "invalid", checker)
    assert "1 + 1 != 5" in wrong.tests[0].detail or "sum differs" in wrong.tests[0].detail
    garbage = _checked(judge, "garbage", checker)
    assert garbage.verdict == Verdict.WA and "presentation error" in garbage.tests[0].detail


@pytest.mark.parametrize(
    "code, why",
    [
        ("import sys\nraise RuntimeError('checker bug')", "checker crashed"),
        ("import sys\nsys.exit(3)", "reported a failure"),
        ("import sys\nsys.exit(42)", "exit code 42"),
        ("while True:\n    pass", "time limit"),
        ("this is not python(", "does not compile"),
    ],
)
def test_a_failing_checker_is_an_internal_error_of_the_problem(judge: Judge, code: str, why: str) -> None:
    report = _checked(judge, "zero_first", JudgeProgram(language="python3", code=code))
    assert report.verdict == Verdict.IE, report
    assert why in report.program_failure, report.program_failure
    assert not any(t.verdict == Verdict.WA for t in report.tests)


def test_big_outputs_are_checked_in_rounds(judge: Judge, monkeypatch: pytest.MonkeyPatch) -> None:
    """Outputs wait on the host's disk for the checker only up to a budget: then a round is checked."""
    monkeypatch.setattr(special_judge, "CHECK_ROUND_BYTES", 1)  # one test per round
    checker = JudgeProgram(language="c", code=CHECKER_C)
    seen: list[TestResult] = []
    language, code = SOLUTIONS["halves"]
    report = judge.judge(
        Submission(language=language, code=code), SUM, LIMITS, JudgeOptions(checker_program=checker), seen.append
    )
    assert report.verdict == Verdict.AC and [t.index for t in report.tests] == [0, 1, 2]
    assert [t.index for t in seen] == [0, 1, 2]  # progress after each round
    language, code = SOLUTIONS["invalid"]
    stop = JudgeOptions(checker_program=checker, stop_on_first_failure=True)
    report = judge.judge(Submission(language=language, code=code), SUM, LIMITS, stop)
    assert [t.verdict for t in report.tests] == [Verdict.WA, Verdict.SK, Verdict.SK]
    crash = JudgeOptions(checker_program=JudgeProgram(language="c", code="int main(){return 3;}"))
    report = judge.judge(Submission(language=language, code=code), SUM, LIMITS, crash)
    assert report.verdict == Verdict.IE and "exit 3" in report.program_failure


def test_a_crashing_c_checker_is_an_internal_error(judge: Judge) -> None:
    code = "#include <signal.h>\nint main(){raise(SIGSEGV);return 0;}"
    report = _checked(judge, "invalid", JudgeProgram(language="c", code=code))
    assert report.verdict == Verdict.IE and "SIGSEGV" in report.program_failure


def _interactive(judge: Judge, name: str, interactor: str = INTERACTOR_PY, limits: Limits = LIMITS):
    language, code = CONTESTANTS[name]
    options = JudgeOptions(interactor=JudgeProgram(language="python3", code=interactor), stop_on_first_failure=True)
    return judge.judge(Submission(language=language, code=code), GUESS, limits, options)


@pytest.mark.parametrize(
    "name, want",
    [
        ("binary_search", Verdict.AC),
        ("binary_search_cpp", Verdict.AC),
        ("linear_scan", Verdict.WA),
        ("waits_for_a_word", Verdict.ILE),
        ("crashes", Verdict.RE),
    ],
)
def test_guessing_game(judge: Judge, name: str, want: Verdict) -> None:
    started = time.monotonic()
    report = _interactive(judge, name, limits=SHORT if want == Verdict.ILE else LIMITS)
    assert report.verdict == want, report
    assert [t.index for t in report.tests] == [0, 1, 2]
    if want == Verdict.AC:
        assert [t.verdict for t in report.tests] == [Verdict.AC] * 3
        return
    first = next(t for t in report.tests if t.verdict != Verdict.AC)
    assert first.verdict == want
    assert all(t.verdict == Verdict.SK for t in report.tests[first.index + 1 :])  # stop_on_first_failure
    if name == "linear_scan":  # the secret 1 is found within 10 queries, 777 is not
        assert first.index == 1 and "too many queries" in first.detail, first
    if name == "crashes":
        assert "SIGABRT" in first.detail
    if name == "waits_for_a_word":
        assert "idleness" in first.detail
    assert time.monotonic() - started < 30


def test_a_failing_interactor_is_an_internal_error(judge: Judge) -> None:
    report = _interactive(judge, "binary_search", "import sys\nsys.exit(3)")
    assert report.verdict == Verdict.IE and "interactor" in report.program_failure
    hung = _interactive(judge, "binary_search", "import time\nwhile True:\n    pass", SHORT)
    assert hung.verdict == Verdict.IE and "interactor" in hung.program_failure, hung


def test_hostile_checkers_are_contained(judge: Judge) -> None:
    report = _checked(judge, "zero_first", JudgeProgram(language="python3", code=HOSTILE_CHECKER), ONE)
    assert report.verdict == Verdict.AC, report  # a leak would be a WA naming the probe
    bomb = _checked(judge, "zero_first", JudgeProgram(language="python3", code=FORK_BOMB), ONE)
    assert len(bomb.tests) <= 2
    assert bomb.verdict == Verdict.IE and bomb.program_failure, bomb
    assert not Path("/var/tmp/algoitny-checker-pwned").exists()
    assert not Path("/usr/pwned").exists()


def test_hostile_interactors_are_contained(judge: Judge) -> None:
    contestant = ("python3", "input()\nprint('done', flush=True)")
    options = JudgeOptions(interactor=JudgeProgram(language="python3", code=HOSTILE_INTERACTOR))
    report = judge.judge(Submission(language=contestant[0], code=contestant[1]), ONE, LIMITS, options)
    assert report.verdict == Verdict.AC, report
    bomb = JudgeOptions(interactor=JudgeProgram(language="python3", code=FORK_BOMB), stop_on_first_failure=True)
    report = judge.judge(Submission(language=contestant[0], code=contestant[1]), ONE, SHORT, bomb)
    assert report.verdict in (Verdict.IE, Verdict.ILE), report
    assert not Path("/var/tmp/algoitny-checker-pwned").exists()


def test_the_checker_runs_under_the_companion_uid(judge: Judge) -> None:
    probe = "import os, sys\nprint('uid', os.getuid(), file=sys.stderr)\nsys.exit(1)"
    contestant = "import os\nprint(os.getuid())"
    report = judge.judge(
        Submission(language="python3", code=contestant),
        TestSet(problem_key="test/uid", version=1, cases=(TestCase(input=b"", output=b"x\n"),)),
        LIMITS,
        JudgeOptions(checker_program=JudgeProgram(language="python3", code=probe)),
    )
    slots, base = len(judge.sandboxes), judge.config.uid_base
    assert report.verdict == Verdict.WA, report
    checker_uid = int(report.tests[0].detail.split()[1])
    contestant_uid = int(report.tests[0].output.strip())
    assert base <= contestant_uid < base + slots
    assert base + slots <= checker_uid < base + 2 * slots
