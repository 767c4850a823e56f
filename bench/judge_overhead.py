"""Judge benchmarks: sandbox cost per test, and judged submissions per minute.

(a) Sandbox cost per test: 200 tests of a trivial C++ A+B judged by the real judge (one
    bubblewrap box per submission, the in-box runner forks/execs/measures each test),
    against the same compiled binary run bare 200 times in a loop from Python
    (subprocess, stdin from the input file, stdout captured). Cost per test =
    (judged run time - bare loop time) / 200. The compile is cached first, so only the
    run step is timed; the median of several repetitions is reported.
(c) Judged submissions per minute on this machine: distinct A+B submissions (10 tests
    each) judged over the judge's slots (2 = cores) for C++ with <cstdio>, C++ with
    <bits/stdc++.h> (what contestants write), Python, and re-submissions of one C++
    program (compile cache hit).

Needs root (slot uids) and bubblewrap. Writes bench/results/judge_overhead.json.

    .venv/bin/python bench/judge_overhead.py [--tests 200] [--reps 5] [--seconds 20]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

from benchkit import write_result  # noqa: E402

from algoitny_executions.domain.judging import (  # noqa: E402
    Limits,
    Submission,
    TestCase,
    TestSet,
    Verdict,
)
from algoitny_executions.service_layer.judge import Judge, JudgeConfig  # noqa: E402

CPP_CSTDIO = '#include <cstdio>\nint main(){long long a,b;std::scanf("%lld %lld",&a,&b);std::printf("%lld\\n",a+b);}\n'
CPP_BITS = "#include <bits/stdc++.h>\nusing namespace std;\nint main(){long long a,b;cin>>a>>b;cout<<a+b<<'\\n';}\n"
PY = "a, b = map(int, input().split())\nprint(a + b)\n"


def aplusb(n: int, key: str) -> TestSet:
    cases = tuple(TestCase(input=f"{i} {i * 3}\n".encode(), output=f"{i * 4}\n".encode()) for i in range(n))
    return TestSet(problem_key=key, version=1, cases=cases)


def sandbox_cost(judge: Judge, tests: int, reps: int) -> dict[str, object]:
    test_set = aplusb(tests, f"bench/aplusb-{tests}")
    sub = Submission(language="cpp17", code=CPP_CSTDIO)
    limits = Limits(time_limit_ms=1000, memory_limit_mb=256)
    first = judge.judge(sub, test_set, limits)  # compiles and caches
    assert first.verdict == Verdict.AC, first.to_dict()
    artifact = judge.artifacts.get("cpp17", sub.code_hash)
    assert artifact is not None
    inputs_dir = judge.test_sets.materialise(test_set)
    binary = str(artifact / "main")

    judged, bare = [], []
    for _ in range(reps):
        t0 = time.perf_counter()
        report = judge.judge(sub, test_set, limits)
        judged.append(time.perf_counter() - t0)
        assert report.verdict == Verdict.AC and report.compile_cached
        t0 = time.perf_counter()
        for i in range(tests):
            with open(inputs_dir / str(i), "rb") as stdin:
                out = subprocess.run([binary], stdin=stdin, capture_output=True, check=True).stdout
            assert out.split() == test_set.cases[i].output.split()
        bare.append(time.perf_counter() - t0)
    j, b = statistics.median(judged), statistics.median(bare)
    return {
        "tests": tests,
        "repetitions": reps,
        "judged_run_s_median": round(j, 4),
        "bare_loop_s_median": round(b, 4),
        "judged_ms_per_test": round(j / tests * 1000, 3),
        "bare_ms_per_test": round(b / tests * 1000, 3),
        "sandbox_cost_ms_per_test": round((j - b) / tests * 1000, 3),
        "judged_runs_s": [round(x, 4) for x in judged],
        "bare_runs_s": [round(x, 4) for x in bare],
    }


def throughput(judge: Judge, name: str, make_code, language: str, seconds: float) -> dict[str, object]:
    test_set = aplusb(10, "bench/aplusb-10")
    limits = Limits(time_limit_ms=1000, memory_limit_mb=256)
    latencies: list[float] = []
    verdicts: dict[str, int] = {}
    deadline = time.perf_counter() + seconds
    counter = iter(range(10**9))

    def worker() -> None:
        while time.perf_counter() < deadline:
            code = make_code(next(counter))
            t0 = time.perf_counter()
            report = judge.judge(Submission(language=language, code=code), test_set, limits)
            latencies.append(time.perf_counter() - t0)
            verdicts[report.verdict.value] = verdicts.get(report.verdict.value, 0) + 1

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(judge.sandboxes)) as pool:
        for f in [pool.submit(worker) for _ in judge.sandboxes]:
            f.result()
    elapsed = time.perf_counter() - start
    lat = sorted(latencies)
    return {
        "case": name,
        "submissions": len(lat),
        "elapsed_s": round(elapsed, 2),
        "per_minute": round(len(lat) / elapsed * 60, 1),
        "latency_p50_s": round(lat[len(lat) // 2], 3) if lat else None,
        "latency_max_s": round(lat[-1], 3) if lat else None,
        "verdicts": verdicts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tests", type=int, default=200)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--slots", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    root = Path("/var/tmp/algoitny-judge-bench") / uuid.uuid4().hex[:8]
    judge = Judge(JudgeConfig(work_root=root, slots=args.slots, uid_base=62000, cgroup_prefix=f"bench-{root.name}"))
    try:
        results: dict[str, object] = {
            "machine": {"cpus": os.cpu_count(), "slots": args.slots, "cgroups": judge.cgroups_enabled},
            "a_sandbox_cost": sandbox_cost(judge, args.tests, args.reps),
        }
        print(json.dumps(results["a_sandbox_cost"], indent=2), flush=True)
        cases = [
            ("cpp17 <cstdio>, fresh compile", lambda i: CPP_CSTDIO + f"// {i} {uuid.uuid4()}\n", "cpp17"),
            ("cpp17 <bits/stdc++.h>, fresh compile", lambda i: CPP_BITS + f"// {i} {uuid.uuid4()}\n", "cpp17"),
            ("python3, fresh", lambda i: PY + f"# {i} {uuid.uuid4()}\n", "python3"),
            ("cpp17 resubmission (compile cache hit)", lambda i: CPP_CSTDIO, "cpp17"),
        ]
        results["c_throughput"] = []
        for name, make_code, lang in cases:
            row = throughput(judge, name, make_code, lang, args.seconds)
            print(json.dumps(row), flush=True)
            results["c_throughput"].append(row)  # type: ignore[attr-defined]
        print(f"wrote {write_result('judge_overhead', results, echo=False)}")
    finally:
        judge.close()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
