"""Compile time per language in the sandbox, and what keeping compilers warm buys.

For each language a fresh A+B (a new comment each time, so nothing is cached) is judged with
an empty test set: the time is the compile step alone (a box, the compiler, copying the
artifact out). Reported: median wall time and the CPU time of the box's processes.

* C++ three ways: ``<cstdio>``; ``<bits/stdc++.h>`` with the precompiled header the judge builds
  at start; the same without it (``use_pch`` off): issue 21's "compile time with and without".
* Kotlin with and without the compiler's class archive (the judge's way of keeping that JVM
  warm without a compile server shared by submissions).
* The box itself (``/bin/true`` in a compile box): what a pool of pre-started boxes could save
  per compile at most.

    .venv/bin/python bench/judge_compile.py [--reps 5]

Needs root and bubblewrap. Writes bench/results/judge_compile.json.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

from benchkit import write_result  # noqa: E402
from submit_to_verdict import CODE, fresh  # noqa: E402

from algoitny_executions.adapters.sandbox import safe_fs  # noqa: E402
from algoitny_executions.domain.judging import Submission, TestSet, Verdict  # noqa: E402
from algoitny_executions.service_layer.judge import Judge, JudgeConfig  # noqa: E402

EMPTY = TestSet(problem_key="bench/empty", version=1, cases=())


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def compile_once(judge: Judge, variant: str) -> tuple[float, float]:
    language = CODE[variant][0]
    cpu0, started = _children_cpu(), time.perf_counter()
    report = judge.judge(Submission(language=language, code=fresh(variant)), EMPTY)
    wall, cpu = time.perf_counter() - started, _children_cpu() - cpu0
    if report.verdict != Verdict.AC or report.compile_cached:
        raise RuntimeError(f"{variant}: {report.to_dict()}")
    return wall * 1000, cpu * 1000


def empty_box(judge: Judge) -> float:
    sandbox = judge.sandboxes[0]
    language = judge.languages["c"]
    box = safe_fs.make_private_dir(sandbox.slot_dir, "bench-", sandbox.uid, sandbox.uid)
    try:
        spec = judge._compile_spec(language, ["/bin/true"], 10_000)
        started = time.perf_counter()
        sandbox.run(spec, box=box)
        return (time.perf_counter() - started) * 1000
    finally:
        safe_fs.remove_box(box)


def measure(judge: Judge, variant: str, reps: int) -> dict[str, float]:
    compile_once(judge, variant)  # warm the page cache
    runs = [compile_once(judge, variant) for _ in range(reps)]
    return {
        "wall_ms_p50": round(statistics.median(w for w, _ in runs), 1),
        "cpu_ms_p50": round(statistics.median(c for _, c in runs), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "judge_compile.json"))
    args = parser.parse_args()
    work = Path("/var/tmp/algoitny-judge-bench") / uuid.uuid4().hex[:8]
    started = time.perf_counter()
    judge = Judge(JudgeConfig(work_root=work, slots=1, uid_base=62400, cgroup_prefix=f"bench-{work.name}"))
    start_s = time.perf_counter() - started
    try:
        results: dict[str, dict[str, float]] = {}
        for variant in CODE:
            if CODE[variant][0] in judge.languages:
                results[variant] = measure(judge, variant, args.reps)
                print(variant, results[variant], flush=True)
        object.__setattr__(judge.config, "use_pch", False)
        results["cpp17-bits-without-pch"] = measure(judge, "cpp17-bits", args.reps)
        object.__setattr__(judge.config, "use_pch", True)
        cds = judge.toolchains.mounts.pop("kotlin-cds", None)
        if cds is not None:
            results["kotlin-without-class-archive"] = measure(judge, "kotlin", max(2, args.reps // 2))
            judge.toolchains.mounts["kotlin-cds"] = cds
        boxes = [empty_box(judge) for _ in range(10)]
        result = {
            "benchmark": "judge-compile",
            "reps": args.reps,
            "judge_start_s": round(start_s, 2),
            "compile": results,
            "pch_speedup_p50": round(
                results["cpp17-bits-without-pch"]["wall_ms_p50"] / results["cpp17-bits"]["wall_ms_p50"], 2
            ),
            "bits_over_cstdio_compile_p50": round(
                results["cpp17-bits"]["wall_ms_p50"] / results["cpp17-cstdio"]["wall_ms_p50"], 2
            ),
            "empty_box_ms_p50": round(statistics.median(boxes), 1),
            "load_average": os.getloadavg(),
            "cpus": os.cpu_count(),
        }
        write_result("judge_compile", result, args.out)
    finally:
        judge.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
