# ruff: noqa: E501  (embedded contestant programs are kept one per line)
"""Hostile programs are contained with the right verdict and leave the host untouched.

Programs that probe an escape print one word per probe ("blocked"/"LEAK"); the expected
output is all "blocked", so a successful escape is a WA that names the probe's index.
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.judge_env import TEST_UID_BASE, aplusb_tests, judge_all, judge_env, make_judge

from algoitny_executions.adapters.sandbox import safe_fs
from algoitny_executions.domain.judging import JudgeOptions, JudgeReport, Limits, Submission, TestCase, TestSet, Verdict
from algoitny_executions.service_layer.judge import Judge

pytestmark = pytest.mark.integration

SECRET_ENV = "ALGOITNY_JUDGE_TEST_SECRET"
PWNED = Path("/tmp/algoitny-hostile-pwned")
LIMITS = Limits(time_limit_ms=300, memory_limit_mb=64, output_limit_kb=256)
ONE = TestSet(problem_key="test/hostile-one", version=1, cases=(TestCase(input=b"", output=b""),))
TWO = TestSet(problem_key="test/hostile-two", version=1, cases=(TestCase(input=b"", output=b""),) * 2)


# The parent sleeps 2.5 s inside a 3 s wall limit: even on a loaded host its children burn
# more than the 300 ms CPU limit meanwhile, which only a whole-box CPU count notices.
SLEEPING_PARENT_LIMITS = Limits(time_limit_ms=300, memory_limit_mb=64, output_limit_kb=256, wall_factor=10)
LIMITS_OF = {
    "cpu_burning_children_while_the_parent_sleeps": SLEEPING_PARENT_LIMITS,
    "cpu_burning_orphans_while_the_parent_sleeps": SLEEPING_PARENT_LIMITS,
}


def _probes(n: int) -> TestSet:
    return TestSet(problem_key=f"test/probes-{n}", version=1, cases=(TestCase(input=b"", output=b"blocked\n" * n),))


C_PROBE_HEAD = """#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <signal.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <netinet/in.h>
#include <arpa/inet.h>
static void r(int escaped){ puts(escaped ? "LEAK" : "blocked"); fflush(stdout); }
"""

# name -> (language, code, test set, expected verdict)
HOSTILE: dict[str, tuple[str, str, TestSet, Verdict]] = {
    "fork_bomb_c": ("c", "#include <unistd.h>\nint main(){for(;;)fork();}", ONE, Verdict.TLE),
    "fork_bomb_python": (
        "python3",
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass",
        ONE,
        Verdict.TLE,
    ),
    "thread_bomb_cpp": (
        "cpp17",
        "#include <thread>\n#include <vector>\n#include <chrono>\n#include <cstdio>\n#include <cstdlib>\nint main(){std::vector<std::thread> t;"
        "try{for(;;)t.emplace_back([]{std::this_thread::sleep_for(std::chrono::hours(1));});}"
        'catch(...){std::puts("blocked");std::fflush(stdout);std::_Exit(0);}}',
        _probes(1),
        Verdict.AC,
    ),
    "memory_bomb_c": (
        "c",
        "#include <stdlib.h>\n#include <string.h>\nint main(){for(;;){char*p=malloc(4<<20);memset(p,7,4<<20);}}",
        ONE,
        Verdict.MLE,
    ),
    "memory_bomb_python": ("python3", "a = []\nwhile True:\n    a.append(bytearray(1 << 22))", ONE, Verdict.MLE),
    "infinite_loop": ("c", "int main(){for(;;);}", ONE, Verdict.TLE),
    "two_spinning_threads": (
        "cpp17",
        "#include <thread>\nint main(){std::thread a([]{for(volatile int i=0;;i++);});for(volatile int i=0;;i++);}",
        ONE,
        Verdict.TLE,
    ),
    "sleep_forever": ("c", "#include <unistd.h>\nint main(){for(;;)sleep(100);}", ONE, Verdict.TLE),
    "read_stdin_forever": ("python3", "import sys\nimport time\nsys.stdin.read()\ntime.sleep(1000)", ONE, Verdict.TLE),
    "huge_stdout": (
        "c",
        '#include <stdio.h>\nint main(){for(;;)fputs("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\\n",stdout);}',
        ONE,
        Verdict.OLE,
    ),
    "huge_stderr": ("python3", "import sys\nwhile True:\n    sys.stderr.write('x' * 4096)", ONE, Verdict.OLE),
    "fill_the_box_disk": (
        "c",
        '#include <stdio.h>\nint main(){FILE*f=fopen("/box/big","w");static char b[1<<20];'
        "for(int i=0;i<2000;i++)fwrite(b,1,sizeof b,f);fclose(f);return 0;}",
        ONE,
        Verdict.OLE,
    ),
    "write_outside_the_box": (
        "c",
        C_PROBE_HEAD + 'int main(){const char*p[]={"/usr/pwned","/etc/pwned","/judge/runner","/prog/main","/tests/0",'
        '"/tmp/../usr/bin/pwned","/proc/sys/kernel/hostname","/sys/pwned","/tmp/algoitny-hostile-pwned/x"};'
        'for(int i=0;i<9;i++){int fd=open(p[i],O_WRONLY|O_CREAT|O_APPEND,0666);r(fd>=0 && write(fd,"x",1)==1);}return 0;}',
        _probes(9),
        Verdict.AC,
    ),
    "read_host_secrets": (
        "c",
        C_PROBE_HEAD
        + 'int main(){const char*p[]={"/etc/shadow","/etc/passwd","/root/.bash_history","/home","/var/tmp",'
        '"/work","/proc/1/environ","/proc/1/mem","/sys/fs/cgroup/memory"};'
        "for(int i=0;i<9;i++){r(open(p[i],O_RDONLY)>=0);}return 0;}",
        _probes(9),
        Verdict.AC,
    ),
    "see_other_boxes_or_host_processes": (
        "python3",
        "import os\n"
        "print('LEAK' if any(p.isdigit() and p != '1' and int(p) != os.getpid() for p in os.listdir('/proc')) else 'blocked')\n"
        "print('LEAK' if os.path.exists('/var/tmp/algoitny-judge-test') else 'blocked')\n"
        "print('LEAK' if os.getuid() == 0 or os.getuid() < 60000 else 'blocked')",
        _probes(3),
        Verdict.AC,
    ),
    "sockets_and_network": (
        "c",
        C_PROBE_HEAD + "int main(){r(socket(AF_INET,SOCK_STREAM,0)>=0);r(socket(AF_INET6,SOCK_DGRAM,0)>=0);"
        "r(socket(AF_UNIX,SOCK_STREAM,0)>=0);r(socket(AF_NETLINK,SOCK_RAW,0)>=0);return 0;}",
        _probes(4),
        Verdict.AC,
    ),
    "network_from_python_to_local_kafka": (
        "python3",
        "import socket\n"
        "for port in (9092, 9200, 5005):\n"
        "    try:\n"
        "        socket.create_connection(('127.0.0.1', port), timeout=1)\n"
        "        print('LEAK')\n"
        "    except OSError:\n"
        "        print('blocked')",
        _probes(3),
        Verdict.AC,
    ),
    "kill_the_parent_and_everyone": (
        "c",
        C_PROBE_HEAD
        + "int main(){r(kill(getppid(),SIGKILL)==0 && getppid()!=1);r(kill(1,SIGKILL)==0 && 0);kill(-1,SIGKILL);"
        "r(kill(-1,SIGKILL)==0 && 0);return 0;}",
        _probes(3),
        Verdict.AC,
    ),
    "environment_secrets": (
        "python3",
        "import os\n"
        f"print('LEAK' if os.environ.get('{SECRET_ENV}') else 'blocked')\n"
        "print('LEAK' if set(os.environ) - {'PATH', 'HOME', 'LANG', 'PWD'} else 'blocked')\n"
        "try:\n    open('/proc/1/environ','rb').read()\n    print('LEAK')\nexcept OSError:\n    print('blocked')",
        _probes(3),
        Verdict.AC,
    ),
    "ptrace_namespaces_mounts_setuid": (
        "c",
        C_PROBE_HEAD
        + "int main(){r(ptrace(PTRACE_ATTACH,1,0,0)==0);r(unshare(CLONE_NEWUSER)==0);r(unshare(CLONE_NEWNS)==0);"
        'r(mount("none","/box","tmpfs",0,0)==0);r(setuid(0)==0);r(chroot("/box")==0);return 0;}',
        _probes(6),
        Verdict.AC,
    ),
    "plant_symlinks_for_the_host": (
        "python3",
        "import os\n"
        "for name in ('main', 'out', 'stdout', '0', '.cap', 'big'):\n"
        "    for d in ('/box', '/tmp'):\n"
        "        try:\n"
        "            os.symlink('/etc/shadow', os.path.join(d, name))\n"
        "        except OSError:\n"
        "            pass\n"
        "try:\n    os.symlink('/', '/box/root')\nexcept OSError:\n    pass\n"
        "os.mkfifo('/box/fifo')\n"
        "print('blocked')",
        TestSet(problem_key="test/probes-1x2", version=1, cases=(TestCase(input=b"", output=b"blocked\n"),) * 2),
        Verdict.AC,
    ),
    "daemon_survives_into_next_test": (
        "python3",
        "import os, sys, time\n"
        "if sys.stdin.read().strip() == 'spawn':\n"
        "    if os.fork() == 0:\n"
        "        os.setsid()\n"
        "        if os.fork() == 0:\n"
        "            while True:\n"
        "                time.sleep(0.01)\n"
        "        os._exit(0)\n"
        "    time.sleep(0.1)\n"
        "    print('blocked')\n"
        "else:\n"
        "    others = [p for p in os.listdir('/proc') if p.isdigit() and p not in ('1', str(os.getpid()))]\n"
        "    print('LEAK' if others else 'blocked')",
        TestSet(
            problem_key="test/daemon",
            version=1,
            cases=(TestCase(input=b"spawn", output=b"blocked\n"), TestCase(input=b"check", output=b"blocked\n")),
        ),
        Verdict.AC,
    ),
    "files_do_not_outlive_their_test": (
        "python3",
        "import os, sys\n"
        "if sys.stdin.read().strip() == 'write':\n"
        "    open('/box/left', 'w').write('x'); open('/tmp/left', 'w').write('x'); os.mkdir('/box/d')\n"
        "    print('blocked')\n"
        "else:\n"
        "    print('LEAK' if os.listdir('/box') or os.listdir('/tmp') else 'blocked')",
        TestSet(
            problem_key="test/leftovers",
            version=1,
            cases=(TestCase(input=b"write", output=b"blocked\n"), TestCase(input=b"check", output=b"blocked\n")),
        ),
        Verdict.AC,
    ),
    # issue 23 item 7: CPU time is the whole box's, not the main process's.
    "cpu_burning_children_while_the_parent_sleeps": (
        "c",
        "#include <unistd.h>\nint main(){for(int i=0;i<6;i++)if(fork()==0){for(volatile unsigned long x=0;;x++);}usleep(2500000);return 0;}",
        ONE,
        Verdict.TLE,
    ),
    "cpu_burning_orphans_while_the_parent_sleeps": (
        "c",
        "#include <unistd.h>\nint main(){for(int i=0;i<4;i++)if(fork()==0){if(fork()==0){for(volatile unsigned long x=0;;x++);}_exit(0);}usleep(2500000);return 0;}",
        ONE,
        Verdict.TLE,
    ),
    # issue 23 item 7: memory is the whole box's too (a child the program never waits for, over
    # the limit, is MLE, not AC).
    "memory_in_a_child_over_the_limit": (
        "c",
        "#include <stdlib.h>\n#include <unistd.h>\n#include <sys/wait.h>\n"
        "int main(){pid_t p=fork();if(p==0){volatile char*m=malloc(80<<20);for(long i=0;m&&i<(80<<20);i+=4096)m[i]=1;"
        "usleep(2000000);_exit(0);}usleep(600000);return 0;}",
        ONE,
        Verdict.MLE,
    ),
    # issue 23 item 7: no writable place carries state from one test to the next, none is unbounded.
    "dev_and_dev_shm_do_not_carry_state": (
        "python3",
        "import os, sys\n"
        "if sys.stdin.read().strip() == 'write':\n"
        "    for p in ('/dev/shm/left', '/dev/left', '/dev/shm/sem.left'):\n"
        "        try:\n"
        "            open(p, 'w').write('x')\n"
        "        except OSError:\n"
        "            pass\n"
        "    print('blocked')\n"
        "else:\n"
        "    print('LEAK' if os.path.exists('/dev/shm/left') or os.path.exists('/dev/left') else 'blocked')",
        TestSet(
            problem_key="test/dev-shm-leftovers",
            version=1,
            cases=(TestCase(input=b"write", output=b"blocked\n"), TestCase(input=b"check", output=b"blocked\n")),
        ),
        Verdict.AC,
    ),
    "dev_shm_is_size_bounded": (
        "c",
        # 48 MB in files of 256 KB (RLIMIT_FSIZE caps each file at the output limit, not their number)
        C_PROBE_HEAD + "int main(){static char b[256<<10];int ok=1;for(int i=0;ok&&i<192;i++){char n[64];"
        'snprintf(n,sizeof n,"/dev/shm/fill%d",i);int fd=open(n,O_WRONLY|O_CREAT,0600);'
        "ok=fd>=0&&write(fd,b,sizeof b)==(ssize_t)sizeof b;if(fd>=0)close(fd);}r(ok);return 0;}",
        _probes(1),
        Verdict.AC,
    ),
    "sysv_shared_memory_across_tests": (
        "c",
        C_PROBE_HEAD + "#include <sys/ipc.h>\n#include <sys/shm.h>\n"
        "int main(){char w[16]={0};if(scanf(\"%15s\",w)!=1)return 1;if(w[0]=='w'){int id=shmget(4242,4096,IPC_CREAT|0600);"
        'if(id>=0){char*p=shmat(id,0,0);if(p!=(void*)-1)strcpy(p,"state");}r(0);}else{r(shmget(4242,0,0)>=0);}return 0;}',
        TestSet(
            problem_key="test/sysv-leftovers",
            version=1,
            cases=(TestCase(input=b"write", output=b"blocked\n"), TestCase(input=b"check", output=b"blocked\n")),
        ),
        Verdict.AC,
    ),
    # issue 23 item 7: a compiled program over the artifact limit is a CE, not an uncaught error.
    "compile_artifact_over_the_size_limit": (
        "c",
        "__attribute__((aligned(1<<26))) char big[16] = {1};\nint main(){return big[0] - 1;}",
        ONE,
        Verdict.CE,
    ),
    "compile_error_flood": ("c", "int main(){" + "".join(f"u{i};" for i in range(4000)) + "}", ONE, Verdict.CE),
    "compile_time_include_dev_random": ("cpp17", "#include </dev/random>\nint main(){}", ONE, Verdict.CE),
    "compile_time_include_host_file": ("c", '#include "/etc/shadow"\nint main(){}', ONE, Verdict.CE),
    "compile_time_template_explosion": (
        "cpp17",
        "template<int N> struct F { static constexpr long v = F<N-1>::v + F<N-2>::v; };\n"
        "template<> struct F<0> { static constexpr long v = 0; };\n"
        "template<> struct F<1> { static constexpr long v = 1; };\n"
        "template<int N, int M> struct G { using t = typename G<N-1, M>::t; static constexpr long v = G<N, M-1>::v + G<N-1, M>::v; };\n"
        "int main(){ return G<100000, 100000>::v + F<100000>::v; }",
        ONE,
        Verdict.CE,
    ),
    "compile_time_macro_explosion": (
        "c",
        "#define A0 x x x x x x x x x x\n"
        + "".join(
            f"#define A{i} A{i - 1} A{i - 1} A{i - 1} A{i - 1} A{i - 1} A{i - 1} A{i - 1} A{i - 1}\n"
            for i in range(1, 12)
        )
        + "int main(){ int x = 0; return (A11); }",
        ONE,
        Verdict.CE,
    ),
    "java_reads_env_and_shadow": (
        "java17",
        "import java.nio.file.*;\npublic class Main{public static void main(String[] a){"
        f'System.out.println(System.getenv("{SECRET_ENV}")==null?"blocked":"LEAK");'
        'try{Files.readAllBytes(Paths.get("/etc/shadow"));System.out.println("LEAK");}'
        'catch(Exception e){System.out.println("blocked");}'
        'try{new java.net.Socket("127.0.0.1",9092);System.out.println("LEAK");}'
        'catch(Exception e){System.out.println("blocked");}}}',
        _probes(3),
        Verdict.AC,
    ),
    "node_network_and_child_process": (
        "javascript",
        'const cp = require("child_process");\n'
        'let r; try { r = cp.spawnSync("/bin/sh", ["-c", "cat /etc/shadow"]); } catch (e) { r = null; }\n'
        'console.log(r && r.stdout && r.stdout.length > 0 ? "LEAK" : "blocked");\n'
        'const net = require("net"); const s = net.connect(9092, "127.0.0.1");\n'
        's.on("connect", () => { console.log("LEAK"); process.exit(0); });\n'
        's.on("error", () => { console.log("blocked"); process.exit(0); });',
        _probes(2),
        Verdict.AC,
    ),
}


@pytest.fixture(scope="module")
def judge() -> Iterator[Judge]:
    os.environ[SECRET_ENV] = "hunter2"
    PWNED.mkdir(exist_ok=True)
    os.chmod(PWNED, 0o777)  # even a world-writable host directory stays out of reach
    try:
        yield from judge_env(slots=2)
    finally:
        os.environ.pop(SECRET_ENV, None)


@pytest.fixture(scope="module")
def reports(judge: Judge) -> dict[str, JudgeReport]:
    jobs = {
        name: (Submission(language=lang, code=code), tests, LIMITS_OF.get(name, LIMITS), JudgeOptions())
        for name, (lang, code, tests, _) in HOSTILE.items()
    }
    return judge_all(judge, jobs)


def test_suite_is_large_enough() -> None:
    assert len(HOSTILE) >= 20


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_program_is_contained(reports: dict[str, JudgeReport], name: str) -> None:
    expected = HOSTILE[name][3]
    report = reports[name]
    assert report.verdict == expected, report.to_dict()
    if expected == Verdict.AC:
        assert report.passed == report.total


def test_compile_floods_and_oversized_programs_say_why(reports: dict[str, JudgeReport]) -> None:
    assert "too large" in reports["compile_artifact_over_the_size_limit"].compile_message
    flood = reports["compile_error_flood"].compile_message
    assert "compiler output exceeded" in flood and "u0" in flood


def test_cpu_of_the_whole_box_is_reported(reports: dict[str, JudgeReport]) -> None:
    for name in ("cpu_burning_children_while_the_parent_sleeps", "cpu_burning_orphans_while_the_parent_sleeps"):
        (test,) = reports[name].tests
        assert test.time_ms >= LIMITS.time_limit_ms, test


def test_a_tests_output_is_dropped_once_classified(judge: Judge) -> None:
    """Each test's stdout (up to the output limit) is not kept in memory until the run ends."""
    import tracemalloc

    n, size = 16, 1 << 20
    line = b"a" * 1023 + b"\n"
    tests = TestSet(
        problem_key="test/big-outputs", version=1, cases=(TestCase(input=b"", output=line * (size // 1024)),) * n
    )
    code = "#include <stdio.h>\nint main(){char l[1025];for(int i=0;i<1023;i++)l[i]=97;l[1023]=10;l[1024]=0;for(int i=0;i<1024;i++)fputs(l,stdout);}"
    limits = Limits(time_limit_ms=1000, memory_limit_mb=64, output_limit_kb=2048)
    tracemalloc.start()
    try:
        report = judge.judge(Submission(language="c", code=code), tests, limits)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.verdict == Verdict.AC and report.passed == n, report.to_dict()
    assert peak < n * size // 2, f"peak {peak} bytes: the outputs of {n} tests were kept"


def test_the_compile_box_is_size_bounded() -> None:
    """The compile step's /box is a host directory (its artifacts are copied out): a compile may
    fill it up to a quota only, the runner watching the files' real disk usage."""
    judge, root = make_judge(slots=1, compile_box_bytes=8 << 20)
    try:
        big = Submission(language="c", code="char big[12 << 20] = {1};\nint main(){return big[5];}")
        report = judge.judge(big, ONE, LIMITS)
        assert report.verdict == Verdict.CE and "wrote more than 8 MB" in report.compile_message, report.to_dict()
        small = Submission(language="c", code="char big[2 << 20] = {1};\nint main(){return big[5];}")
        assert judge.judge(small, ONE, LIMITS).verdict == Verdict.AC
    finally:
        judge.close()
        shutil.rmtree(root, ignore_errors=True)


def _slot_processes() -> list[int]:
    leftovers = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                uid = os.stat(f"/proc/{entry}").st_uid
            except FileNotFoundError:
                continue
            if TEST_UID_BASE <= uid < TEST_UID_BASE + 100:
                leftovers.append(int(entry))
    return leftovers


def test_host_is_unaffected(reports: dict[str, JudgeReport], judge: Judge) -> None:
    assert not os.listdir(PWNED)
    for path in ("/usr/pwned", "/etc/pwned", "/usr/bin/pwned", "/sys/pwned"):
        assert not os.path.exists(path)
    assert judge.runner.stat().st_mode & 0o777 == 0o755
    assert not _slot_processes(), "a sandboxed process outlived its box"
    for sandbox in judge.sandboxes:
        assert not list(sandbox.slot_dir.iterdir()), "a compile box was left behind"
        if sandbox.cgroup is not None:
            assert not sandbox.cgroup.pids()
    # the judge still works after the whole suite
    ok = judge.judge(
        Submission(
            language="c", code='#include <stdio.h>\nint main(){int a,b;scanf("%d%d",&a,&b);printf("%d\\n",a+b);}'
        ),
        aplusb_tests(3),
        LIMITS,
    )
    assert ok.verdict == Verdict.AC


def test_host_never_follows_links_planted_in_a_box(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("host secret")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("keep")
    box = tmp_path / "box"
    box.mkdir()
    (box / "main").symlink_to(secret)
    (box / "Main.class").symlink_to(secret)
    os.mkfifo(box / "Other.class")
    (box / "ok.class").write_bytes(b"\xca\xfe")
    (box / "dir").symlink_to(outside)
    dest = tmp_path / "cache"
    dest.mkdir()
    copied = safe_fs.copy_out(box, ("main", "*.class"), dest, "entry", 1 << 20)
    assert copied == ["ok.class"]
    assert sorted(os.listdir(dest / "entry")) == ["ok.class"]
    assert safe_fs.copy_out(box, ("main",), dest, "none", 1 << 20) == []
    # the box itself a symlink: refused
    link_box = tmp_path / "linkbox"
    link_box.symlink_to(outside)
    with pytest.raises(OSError):
        safe_fs.copy_out(link_box, ("*",), dest, "x", 1 << 20)
    safe_fs.remove_box(box)
    safe_fs.remove_box(link_box)
    assert not box.exists() and secret.read_text() == "host secret" and (outside / "keep").exists()


def test_no_sandbox_survives_a_killed_judge_process(judge: Judge) -> None:
    """Killing bubblewrap (what happens when a worker dies) takes the whole box down."""
    import subprocess
    import time

    sandbox = judge.sandboxes[0]
    argv = sandbox._argv([], None, 1 << 20, 0)
    assert "--die-with-parent" in argv and "--unshare-all" in argv and "--as-pid-1" in argv
    assert shutil.which("bwrap")
    proc = subprocess.Popen(
        [*argv[: argv.index("--seccomp")], "/usr/bin/sleep", "1000"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.3)
    assert _slot_processes()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 5
    while _slot_processes() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _slot_processes()
