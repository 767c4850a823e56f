"""Where a hot path's time goes in each process: cProfile of the event loop thread of every
service (gateway included) while one client drives one path at a time, on the load bench's
private platform. cProfile's times are inflated (about 2-3x on Python code) and socket writes
show up as wall time, so read the call counts and the shares, and take CPU per request from
bench/cpu_per_request.py.

    .venv/bin/python bench/profile/run.py --paths problem,usage,history --seconds 12

Writes bench/results/profile/<pid>-<path>.txt (tottime and cumulative tables per process and path).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchkit import BENCH_TOKEN, RESULTS, private_moto, running_platform  # noqa: E402
from load.run import ENV, SERVICES  # noqa: E402
from load.workload import drive, seed  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--paths", default="problem,usage,history", help="load workload paths, one after another")
    parser.add_argument("--seconds", type=float, default=12.0, help="seconds of one client per path")
    parser.add_argument("--requests", type=int, default=250, help="requests profiled per process and path")
    parser.add_argument("--skip", type=int, default=30, help="warm-up requests of each path, not profiled")
    args = parser.parse_args()
    out = RESULTS / "profile"
    out.mkdir(parents=True, exist_ok=True)
    os.environ.update(
        {"PROBE_DIR": str(out), "PROBE_N": str(args.requests), "PYTHONPATH": str(HERE), "PROBE_SKIP": str(args.skip)}
    )
    paths = args.paths.split(",")
    # Only the paths driven are profiled, not the seeding's writes (method and path head, per process).
    os.environ["PROBE_KEYS"] = ",".join(
        [
            "GET_api_v1_problems",
            "GET_problems_load",
            "GET_api_v1_me",
            "GET_me_usage",
            "GET_api_v1_history",
            "GET_history",
            "POST_api_v1_executions",
            "POST_executions",
        ]
    )
    with private_moto(), running_platform(SERVICES, env=ENV) as plat:
        gateway = plat.url("gateway")
        data = seed(gateway, BENCH_TOKEN)
        for path in paths:
            time.sleep(2.0)
            result = asyncio.run(drive(gateway, data, clients=1, seconds=args.seconds, weights={path: 1}, warmup_s=0.0))
            ok = sum(1 for s in result.samples if result.ok(s))
            print(f"[profile] {path}: {ok} of {len(result.samples)} answered", flush=True)
    for f in sorted(out.glob("*.txt")):
        print(f"[profile] {f}: {f.read_text().splitlines()[0]}")


if __name__ == "__main__":
    main()
