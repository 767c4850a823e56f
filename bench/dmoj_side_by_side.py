"""Side by side with DMOJ's judge-server: the same C++17 A+B, the same tests, fresh compiles.

Not part of `make bench` or CI (it installs DMOJ from PyPI into its own virtual environment,
``bench/.dmoj-venv``, git-ignored, on first use). DMOJ runs as its CLI (``dmoj-cli ... submit``,
its ptrace sandbox; needs root here like our judge). Each side judges the program with
``--tests`` tests and with 5 tests, every time with a new comment so that it compiles again;
the cost per test is (time with N tests - time with 5) / (N - 5), which cancels compile and
start-up, and the totals are reported too. Medians over ``--reps``.

    .venv/bin/python bench/dmoj_side_by_side.py [--tests 200] [--reps 5]

Writes bench/results/dmoj_side_by_side.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

from benchkit import write_result  # noqa: E402

from algoitny_executions.domain.judging import Limits, Submission, TestCase, TestSet, Verdict  # noqa: E402
from algoitny_executions.service_layer.judge import Judge, JudgeConfig  # noqa: E402

VENV = REPO / "bench" / ".dmoj-venv"
DMOJ_VERSION = "4.1.0"
PROGRAM = '#include <cstdio>\nint main(){long long a,b;std::scanf("%lld %lld",&a,&b);std::printf("%lld\\n",a+b);}\n'


def ensure_dmoj() -> Path:
    cli = VENV / "bin" / "dmoj-cli"
    if not cli.exists():
        # DMOJ's sandbox (cptbox) builds against libseccomp's header.
        if not Path("/usr/include/seccomp.h").exists():
            subprocess.run(["apt-get", "install", "-y", "-qq", "libseccomp-dev"], check=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", f"dmoj=={DMOJ_VERSION}"], check=True)
    return cli


def make_problem(root: Path, n: int) -> Path:
    problems = root / "problems"
    problem = problems / f"aplusb{n}"
    problem.mkdir(parents=True)
    lines = ["test_cases:"]
    for i in range(n):
        (problem / f"{i}.in").write_text(f"{i} {i * 7 + 1}\n")
        (problem / f"{i}.out").write_text(f"{i * 8 + 1}\n")
        lines.append(f"- {{in: {i}.in, out: {i}.out, points: 1}}")
    (problem / "init.yml").write_text("\n".join(lines) + "\n")
    return problems


def dmoj_config(root: Path, cli: Path) -> Path:
    autoconf = subprocess.run(
        [str(cli.parent / "dmoj-autoconf"), "-s"], capture_output=True, text=True, check=False, timeout=300
    )
    config = root / "judge.yml"
    config.write_text(f"problem_storage_globs:\n  - {root / 'problems'}/*\n{autoconf.stdout}")
    return config


def dmoj_once(cli: Path, config: Path, problem: str, source: Path) -> tuple[float, str]:
    source.write_text(PROGRAM + f"// {uuid.uuid4().hex}\n")
    started = time.perf_counter()
    argv = [str(cli), "-c", str(config), "--no-ansi", "--skip-self-test", "-e", "CPP17", "--", "submit", problem]
    proc = subprocess.run(
        [*argv, "CPP17", str(source), "-tl", "2", "-ml", "262144"],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    elapsed = time.perf_counter() - started
    out = proc.stdout + proc.stderr
    if proc.returncode != 0 or "AC" not in out:
        raise RuntimeError(f"DMOJ: exit {proc.returncode}: {out[-1500:]}")
    return elapsed, out.strip().splitlines()[-1][:200]


def ours_once(judge: Judge, tests: TestSet) -> float:
    code = PROGRAM + f"// {uuid.uuid4().hex}\n"
    started = time.perf_counter()
    report = judge.judge(Submission(language="cpp17", code=code), tests, Limits(time_limit_ms=2000))
    elapsed = time.perf_counter() - started
    if report.verdict != Verdict.AC:
        raise RuntimeError(f"our judge: {report.to_dict()}")
    return elapsed


def aplusb(n: int) -> TestSet:
    cases = tuple(TestCase(input=f"{i} {i * 7 + 1}\n".encode(), output=f"{i * 8 + 1}\n".encode()) for i in range(n))
    return TestSet(problem_key=f"bench/dmoj-aplusb{n}", version=1, cases=cases)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tests", type=int, default=200)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "dmoj_side_by_side.json"))
    args = parser.parse_args()
    cli = ensure_dmoj()
    root = Path(tempfile.mkdtemp(prefix="dmoj-bench-"))
    work = Path("/var/tmp/algoitny-judge-bench") / uuid.uuid4().hex[:8]
    judge = Judge(JudgeConfig(work_root=work, slots=1, uid_base=62500, cgroup_prefix=f"bench-{work.name}"))
    try:
        for n in (5, args.tests):
            make_problem(root, n)
        config = dmoj_config(root, cli)
        source = root / "aplusb.cpp"
        dmoj: dict[int, list[float]] = {5: [], args.tests: []}
        ours: dict[int, list[float]] = {5: [], args.tests: []}
        notes = []
        for _ in range(args.reps):
            for n in (5, args.tests):
                elapsed, note = dmoj_once(cli, config, f"aplusb{n}", source)
                dmoj[n].append(elapsed)
                notes.append(note)
                ours[n].append(ours_once(judge, aplusb(n)))
        med = {side: {n: statistics.median(v) for n, v in d.items()} for side, d in (("dmoj", dmoj), ("ours", ours))}
        per_test = {side: (m[args.tests] - m[5]) / (args.tests - 5) * 1000 for side, m in med.items()}
        result = {
            "benchmark": "dmoj-side-by-side",
            "program": "C++17 A+B with <cstdio>, a fresh compile every submission",
            "tests": args.tests,
            "reps": args.reps,
            "dmoj_version": DMOJ_VERSION,
            "median_total_s": {side: {str(n): round(v, 3) for n, v in m.items()} for side, m in med.items()},
            "per_test_ms": {side: round(v, 2) for side, v in per_test.items()},
            "ratio_dmoj_over_ours_per_test": (
                round(per_test["dmoj"] / per_test["ours"], 1) if per_test["ours"] > 0 else None
            ),
            "dmoj_runs": notes[: 2 * args.reps],
            "cpus": os.cpu_count(),
        }
        write_result("dmoj_side_by_side", result, args.out)
    finally:
        judge.close()
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
