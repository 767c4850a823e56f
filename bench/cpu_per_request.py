"""CPU time each service process spends per request: the basis of docs/capacity.md.

On this shared 2-core machine, with moto serialising DynamoDB, wall-clock throughput says more
about moto and the neighbours than about our processes. The CPU time a process consumed
(utime + stime from /proc) per request it served does not: ``1000 / cpu_ms`` is the requests/s
one fully busy process (one core: Python, one event loop) sustains, before DynamoDB's latency,
which real DynamoDB keeps at a few ms and which only adds concurrency, not CPU.

Runs the load mix of bench/load (same paths and weights) and each hot path alone, with
``--clients`` concurrent clients for ``--seconds`` each, against the gateway of a private
platform (its own namespace and moto), and writes bench/results/cpu_per_request.json.

    .venv/bin/python bench/cpu_per_request.py --seconds 10 --clients 10
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

from benchkit import BENCH_TOKEN, private_moto, running_platform, write_result  # noqa: E402
from load.run import ENV, SERVICES  # noqa: E402
from load.workload import WEIGHTS, drive, seed  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_ms(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000.0 / TICK  # utime + stime


def idle_rate(plat: Any, seconds: float = 5.0) -> dict[str, float]:
    """CPU ms per second each process burns with no requests (relay polls, lag monitors, pollers)."""
    before = {n: cpu_ms(p.pid) for n, p in plat.procs.items()}
    time.sleep(seconds)
    return {n: (cpu_ms(p.pid) - before[n]) / seconds for n, p in plat.procs.items()}


def measure(
    plat: Any, gateway: str, data: Any, weights: dict[str, int], clients: int, seconds: float, idle: dict[str, float]
) -> dict[str, Any]:
    time.sleep(2.0)  # the previous round's events (relays, consumers) drain first
    before = {n: cpu_ms(p.pid) for n, p in plat.procs.items()}
    t0 = time.monotonic()
    result = asyncio.run(drive(gateway, data, clients=clients, seconds=seconds, weights=weights, warmup_s=0.0))
    time.sleep(1.5)  # and this round's, so their CPU is counted with the requests that caused them
    elapsed = time.monotonic() - t0
    after = {n: cpu_ms(p.pid) for n, p in plat.procs.items()}
    ok = sum(1 for s in result.samples if result.ok(s))
    errors = len(result.samples) - ok
    busy = {n: max(0.0, after[n] - before[n] - idle[n] * elapsed) for n in after}
    per_request = {n: round(busy[n] / max(ok, 1), 3) for n in after}
    return {
        "requests": ok,
        "errors": errors,
        "per_s": round(ok / seconds, 1),
        "cpu_ms_per_request": per_request,
        "cpu_share_of_window": {n: round((after[n] - before[n]) / (elapsed * 1000), 3) for n in after},
        "status_counts": _statuses(result),
    }


def _statuses(result: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for sample in result.samples:
        out[str(sample.status)] = out.get(str(sample.status), 0) + 1
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=10)
    args = parser.parse_args()
    report: dict[str, Any] = {"clients": args.clients, "seconds": args.seconds, "weights": WEIGHTS}
    with private_moto(), running_platform(SERVICES, env=ENV) as plat:
        gateway = plat.url("gateway")
        data = seed(gateway, BENCH_TOKEN)
        time.sleep(3.0)
        idle = idle_rate(plat)
        report["idle_cpu_ms_per_s"] = {n: round(v, 2) for n, v in idle.items()}
        report["mix"] = measure(plat, gateway, data, WEIGHTS, args.clients, args.seconds, idle)
        print(f"[cpu] mix: {report['mix']}", flush=True)
        report["paths"] = {}
        for path in WEIGHTS:
            report["paths"][path] = measure(plat, gateway, data, {path: 1}, args.clients, args.seconds / 2, idle)
            print(f"[cpu] {path}: {report['paths'][path]}", flush=True)
    report["note"] = (
        "CPU ms of each process per successful request (utime+stime over the window, less the idle rate "
        "measured before, including the events the requests caused: relays, consumers); "
        "a process sustains about 1000/cpu_ms req/s on "
        "one core. Measured on a shared 2-core machine against moto: CPU figures include our side of "
        "every DynamoDB call (boto3 signing and parsing), not moto's."
    )
    write_result("cpu_per_request", report, echo=False)


if __name__ == "__main__":
    main()
