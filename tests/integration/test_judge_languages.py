# ruff: noqa: E501  (embedded contestant programs are kept one per line)
"""PyPy 3, Go, Rust and Kotlin in the real sandbox (issue 21): a reference A+B is accepted, and
the same program, told so by its input, probes the sandbox (network, files outside the box, the
toolchain mounts, host secrets) and runs a process bomb, all contained.

One program per language, so each compiles once (Kotlin's compiler is a cold JVM: seconds):
input ``a b`` -> a+b; ``probe`` -> one line per probe, "blocked" or "LEAK"; ``bomb`` -> start
processes forever. Also here: a C++ ``bits/stdc++.h`` program compiles with the precompiled
header inside the box (and faster than without it), and Java's public class may have any name.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.judge_env import aplusb_tests, judge_env

from algoitny_executions.domain.judging import Limits, Submission, TestCase, TestSet, Verdict
from algoitny_executions.service_layer.judge import Judge

pytestmark = pytest.mark.integration

PWNED = Path("/tmp/algoitny-hostile-pwned")
LIMITS = Limits(time_limit_ms=1000, memory_limit_mb=256, output_limit_kb=256)
BOMB_LIMITS = Limits(time_limit_ms=300, memory_limit_mb=256, output_limit_kb=256)
# The probes, in order: TCP to the host's Kafka; write /usr, a world-writable host directory, the
# toolchain mount; read /etc/shadow and /root (where a rustup/go toolchain might live).
PROBES = 6
PROBE = TestSet(
    problem_key="test/lang-probe", version=1, cases=(TestCase(input=b"probe\n", output=b"blocked\n" * PROBES),)
)
BOMB = TestSet(problem_key="test/lang-bomb", version=1, cases=(TestCase(input=b"bomb\n", output=b""),))

PROGRAMS: dict[str, str] = {
    "pypy3": """import os, socket, sys
w = sys.stdin.readline().split()
def r(bad): print("LEAK" if bad else "blocked")
def ok(f):
    try:
        f(); return True
    except Exception:
        return False
if w[0] == "probe":
    r(ok(lambda: socket.create_connection(("127.0.0.1", 9092), timeout=1)))
    r(ok(lambda: open("/usr/pwned", "w").write("x")))
    r(ok(lambda: open("/tmp/algoitny-hostile-pwned/x", "w").write("x")))
    r(ok(lambda: open("/opt/pypy-mount-does-not-exist", "w").write("x")))
    r(ok(lambda: open("/etc/shadow").read()))
    r(ok(lambda: os.listdir("/root")))
elif w[0] == "bomb":
    while True:
        try:
            os.fork()
        except OSError:
            pass
else:
    print(int(w[0]) + int(w[1]))
""",
    "go": """package main

import (
	"bufio"
	"fmt"
	"os"
	"syscall"
)

func r(bad bool) {
	if bad {
		fmt.Println("LEAK")
	} else {
		fmt.Println("blocked")
	}
}

func main() {
	in := bufio.NewReader(os.Stdin)
	var w string
	fmt.Fscan(in, &w)
	switch w {
	case "probe":
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
		connected := err == nil && syscall.Connect(fd, &syscall.SockaddrInet4{Port: 9092, Addr: [4]byte{127, 0, 0, 1}}) == nil
		r(connected)
		_, err = os.Create("/usr/pwned")
		r(err == nil)
		_, err = os.Create("/tmp/algoitny-hostile-pwned/x")
		r(err == nil)
		err = os.WriteFile("/opt/go/importcfg", []byte("x"), 0o644)
		r(err == nil)
		_, err = os.ReadFile("/etc/shadow")
		r(err == nil)
		_, err = os.ReadDir("/root")
		r(err == nil)
	case "bomb":
		for {
			syscall.ForkExec("/prog/main", []string{"/prog/main"}, nil)
		}
	default:
		var a, b int64
		fmt.Sscan(w, &a)
		fmt.Fscan(in, &b)
		fmt.Println(a + b)
	}
}
""",
    "rust": """use std::io::Read;
use std::net::TcpStream;
use std::fs;
fn r(bad: bool) { println!("{}", if bad { "LEAK" } else { "blocked" }); }
fn main() {
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s).unwrap();
    let w: Vec<&str> = s.split_whitespace().collect();
    match w[0] {
        "probe" => {
            r(TcpStream::connect("127.0.0.1:9092").is_ok());
            r(fs::write("/usr/pwned", "x").is_ok());
            r(fs::write("/tmp/algoitny-hostile-pwned/x", "x").is_ok());
            r(fs::write("/opt/rust-mount-does-not-exist", "x").is_ok());
            r(fs::read("/etc/shadow").is_ok());
            r(fs::read_dir("/root").is_ok());
        }
        "bomb" => loop { let _ = std::process::Command::new("/prog/main").spawn(); },
        _ => {
            let a: i64 = w[0].parse().unwrap();
            let b: i64 = w[1].parse().unwrap();
            println!("{}", a + b);
        }
    }
}
""",
    "kotlin": """import java.io.File
import java.net.Socket

fun r(bad: Boolean) = println(if (bad) "LEAK" else "blocked")
fun ok(f: () -> Unit): Boolean = try { f(); true } catch (e: Throwable) { false }

fun main() {
    val w = readLine()!!.trim().split(" ")
    when (w[0]) {
        "probe" -> {
            r(ok { Socket("127.0.0.1", 9092).close() })
            r(ok { File("/usr/pwned").writeText("x") })
            r(ok { File("/tmp/algoitny-hostile-pwned/x").writeText("x") })
            r(ok { File("/opt/kotlin/kotlin-stdlib.jar").appendText("x") })
            r(ok { File("/etc/shadow").readText() })
            r(File("/root").list() != null)
        }
        "bomb" -> while (true) { try { ProcessBuilder("/bin/sh", "-c", "sleep 100").start() } catch (e: Throwable) {} }
        else -> println(w[0].toLong() + w[1].toLong())
    }
}
""",
}


@pytest.fixture(scope="module")
def judge() -> Iterator[Judge]:
    PWNED.mkdir(exist_ok=True)
    os.chmod(PWNED, 0o777)  # even a world-writable host directory stays out of reach
    # Each language's own compile limits (the other modules cap compiles at 3 s to keep bombs short;
    # Kotlin's compiler alone takes about that on a loaded machine).
    yield from judge_env(slots=2, compile_time_limit_ms=None)


def test_every_language_of_the_vocabulary_is_offered_here(judge: Judge) -> None:
    assert {"pypy3", "go", "rust", "kotlin"} <= set(judge.languages), judge.toolchains.errors
    # Kotlin's compiler is kept warm by a class archive dumped in a box at start (about half its CPU)
    cds = judge.toolchains.mounts["kotlin-cds"]
    assert (cds / "kotlinc.jsa").stat().st_size > 1 << 20 and oct(cds.stat().st_mode)[-3:] == "755"


@pytest.mark.parametrize("language", list(PROGRAMS))
def test_reference_solution_and_hostile_modes(judge: Judge, language: str) -> None:
    sub = Submission(language=language, code=PROGRAMS[language])
    ac = judge.judge(sub, aplusb_tests(3), LIMITS)
    assert ac.verdict == Verdict.AC, ac.to_dict()
    assert ac.passed == 3 and all(t.memory_kb > 0 for t in ac.tests)
    probe = judge.judge(sub, PROBE, LIMITS)
    assert probe.compile_cached and probe.verdict == Verdict.AC, probe.to_dict()
    bomb = judge.judge(sub, BOMB, BOMB_LIMITS)
    # Whichever limit trips first: a JVM floods stderr with a warning per thread it cannot start.
    assert bomb.verdict in (Verdict.TLE, Verdict.RE, Verdict.MLE, Verdict.OLE), bomb.to_dict()
    assert not (PWNED / "x").exists() and not Path("/usr/pwned").exists()


def test_compile_errors_in_new_languages(judge: Judge) -> None:
    bad = {
        "pypy3": "def f(:\n    pass",
        "go": 'package notmain\nimport "fmt"\nfunc main(){ fmt.Println("x") }',  # DMOJ's go_not_main_package
        "rust": 'fn main() { let x: i32 = "no"; }',
    }
    for language, code in bad.items():
        report = judge.judge(Submission(language=language, code=code), aplusb_tests(1), LIMITS)
        assert report.verdict == Verdict.CE and report.compile_message, (language, report.to_dict())
    go_import = judge.judge(
        Submission(language="go", code='package main\nimport "net/http"\nfunc main(){ _ = http.Get }'),
        aplusb_tests(1),
        LIMITS,
    )
    assert go_import.verdict == Verdict.CE and "net/http" in go_import.compile_message


def test_java_public_class_of_any_name(judge: Judge) -> None:
    code = (
        "import java.util.*;\npublic class aplusb {\n  public static void main(String[] x) {\n"
        "    Scanner s = new Scanner(System.in); System.out.println(s.nextLong() + s.nextLong());\n  }\n}\n"
    )
    report = judge.judge(Submission(language="java17", code=code), aplusb_tests(2), LIMITS)
    assert report.verdict == Verdict.AC, report.to_dict()
    unicode_name = 'public class нет { public static void main(String[] a) { System.out.println("1"); } }'
    one = TestSet(problem_key="test/one-out", version=1, cases=(TestCase(input=b"", output=b"1\n"),))
    assert judge.judge(Submission(language="java17", code=unicode_name), one, LIMITS).verdict == Verdict.AC
    hostile = "public class Main { public static void main(String[] a) {} }\npublic class ../../x {}"
    assert judge.judge(Submission(language="java17", code=hostile), one, LIMITS).verdict == Verdict.CE


def test_the_jvms_own_warnings_stay_out_of_the_answer(judge: Judge) -> None:
    """A thread the JVM cannot start is an exception the program may handle, and a warning the JVM
    writes itself: by default to stdout, into the answer (CI's Kotlin bomb once got OLE from them)."""
    code = (
        "public class Main { public static void main(String[] a) {\n"
        "  int started = 0;\n"
        "  try { while (true) { Thread t = new Thread(() -> { try { Thread.sleep(60000); } catch (InterruptedException e) {} });\n"
        "        t.setDaemon(true); t.start(); started++; } }\n"
        '  catch (Throwable e) { System.out.println(started > 0 ? "handled" : "none"); }\n'
        "} }\n"
    )
    handled = TestSet(problem_key="test/jvm-threads", version=1, cases=(TestCase(input=b"", output=b"handled\n"),))
    report = judge.judge(Submission(language="java17", code=code), handled, LIMITS)
    assert report.verdict == Verdict.AC, report.to_dict()


def test_bits_stdcpp_compiles_with_the_precompiled_header_in_the_box(judge: Judge) -> None:
    flags = judge.languages["cpp17"].pch_flags
    pch = judge.toolchains.pch(flags)
    assert pch is not None, judge.toolchains.errors
    code = "#include <bits/stdc++.h>\nusing namespace std;\nint main(){long long a,b;cin>>a>>b;cout<<a+b<<'\\n';}\n"

    def compile_s(tag: str, use_pch: bool) -> float:
        object.__setattr__(judge.config, "use_pch", use_pch)
        try:
            started = time.perf_counter()
            report = judge.judge(Submission(language="cpp17", code=code + f"// {tag}\n"), aplusb_tests(1), LIMITS)
            assert report.verdict == Verdict.AC and not report.compile_cached, report.to_dict()
            return time.perf_counter() - started
        finally:
            object.__setattr__(judge.config, "use_pch", True)

    with_pch = min(compile_s(f"pch-{i}", True) for i in range(2))
    without = min(compile_s(f"plain-{i}", False) for i in range(2))
    # Measured on 2 cores: ~0.35 s with, ~1.2 s without. A loaded CI machine blurs both; the
    # header must still make a clear difference.
    assert with_pch < without * 0.75, (with_pch, without)
