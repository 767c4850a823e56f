"""Hot-path load sweep, bare-DynamoDB overhead ratio, and capacity/cost report, in one run.

1. Starts gateway, accounts, problems, ratelimit, executions (judge worker off: judging has its
   own benchmark, here the API paths are measured) and search-indexer in a private namespace,
   with the capacity hook on; seeds problems with test cases, a high-limit plan and users.
2. Cost phase: each path alone, ``--cost-requests`` sequential requests, with the records of
   every DynamoDB call made for it (in the request, and after it: outbox relay, consumers);
   the idle background rate is measured first and subtracted. A probe request per path gives
   the exact DynamoDB calls that path makes, for the bare replay.
3. Restarts the services without the hook, then the sweep: the weighted mix with 1, 10, 50,
   100 clients, ``--seconds`` each: throughput and p50/p95/p99 per path.
4. Within each level, turns (``--rounds``) of the platform and of the bare replay of each path's
   typical calls (boto3 straight to moto, no services; calls the platform made together replayed
   together; paths picked with the mix's weights) with as many threads: overhead ratio = platform
   p50 / bare p50, both measured in the same minutes (which holds on a noisy machine). Sign-in's
   ratio leaves out its deliberate cost: the mean argon2id check time accounts measured (its
   ``algoitny_accounts_password_check_seconds`` histogram) is subtracted from its p50 and p99.
   The load runs on a moto of its own (the shared one's latency depends on other test runs).

Writes bench/results/load.json, load.png, cost.json, cost.md.

    .venv/bin/python bench/load/run.py --seconds 20          # make bench
    .venv/bin/python bench/load/run.py --seconds 3 --clients 1,10 --cost-requests 5   # quick
    .venv/bin/python bench/load/run.py --seconds 16 --bare-seconds 16 --clients 1,50 --cost-requests 5  # issue 18
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]

from benchkit import (  # noqa: E402
    BENCH_TOKEN,
    RESULTS,
    bench_namespace,
    percentile,
    private_moto,
    running_platform,
    write_result,
)

from algoitny_shared.capacity import read_records  # noqa: E402
from load import bare, cost  # noqa: E402
from load.workload import WEIGHTS, LoadResult, Seed, drive, run_requests, seed  # noqa: E402

SERVICES = ["gateway", "accounts", "problems", "ratelimit", "executions", "search-indexer"]
ENV = {
    "ALGOITNY_WORKER_ENABLED": "false",
    "ALGOITNY_RATE_GENERAL_PER_MIN": "100000000",
    "ALGOITNY_RATE_EXECUTION_PER_MIN": "100000000",
    "ALGOITNY_RATE_SIGNIN_PER_MIN": "100000000",
    "ALGOITNY_SIGNIN_MAX_FAILURES_PER_ADDRESS": "100000000",
    "ALGOITNY_OUTBOX_POLL_INTERVAL_S": "0.5",
}


def path_stats(result: LoadResult) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path in WEIGHTS:
        ms = [s.ms for s in result.samples if s.path == path and result.ok(s)]
        failed = [s.status for s in result.samples if s.path == path and not result.ok(s)]
        out[path] = {
            "requests": len(ms),
            "errors": len(failed),
            # status -> count (0: no answer), so a run's errors say what they were
            "error_statuses": {str(code): failed.count(code) for code in sorted(set(failed))},
            "per_s": round(len(ms) / result.seconds, 1),
            "p50_ms": round(percentile(ms, 50), 2),
            "p95_ms": round(percentile(ms, 95), 2),
            "p99_ms": round(percentile(ms, 99), 2),
        }
    ok = sum(1 for s in result.samples if result.ok(s))
    out["_all"] = {
        "requests": ok,
        "errors": len(result.samples) - ok,
        "per_s": round(ok / result.seconds, 1),
        "p50_ms": round(percentile([s.ms for s in result.samples if result.ok(s)], 50), 2),
        "p99_ms": round(percentile([s.ms for s in result.samples if result.ok(s)], 99), 2),
    }
    return out


def cost_phase(
    gateway: str, data: Seed, capacity_dir: str, requests: int
) -> tuple[dict[str, tuple[float, float, int]], dict[str, list[bare.Step]], dict[str, float]]:
    """Each path alone: windows for the cost report, and each path's typical request (its most
    common calls, caches warm after a first request) for the bare replay."""
    time.sleep(1.0)
    idle_t0 = time.time()
    time.sleep(4.0)
    idle_t1 = time.time()
    idle_records = [r for r in read_records(capacity_dir) if idle_t0 <= r["ts"] <= idle_t1]
    idle = {k: v / (idle_t1 - idle_t0) for k, v in cost.units_in(idle_records).items()}
    windows: dict[str, tuple[float, float, int]] = {}
    for path in WEIGHTS:
        probe = asyncio.run(run_requests(gateway, data, path, 1))  # warms the path's caches
        time.sleep(1.0)
        t0 = time.time()
        samples = asyncio.run(run_requests(gateway, data, path, requests, rng_seed=len(path)))
        bad = [s.status for s in probe + samples if not 200 <= s.status < 300]
        if bad:
            raise RuntimeError(f"{path}: statuses {bad}")
        done = len(samples)
        time.sleep(2.0)  # the events of the last requests: relay, consumers
        windows[path] = (t0, time.time(), done)
    records = read_records(capacity_dir)
    calls = {p: bare.typical_request(records, t0, t1) for p, (t0, t1, _) in windows.items()}
    return windows, calls, idle


PASSWORD_CHECK = "algoitny_accounts_password_check_seconds"


def password_checks(accounts: str) -> tuple[float, float]:
    """Seconds and count of the password checks accounts made so far (its Prometheus histogram)."""
    text = httpx.get(f"{accounts}/metrics", timeout=10).text
    found = {"sum": 0.0, "count": 0.0}
    for line in text.splitlines():
        for kind in found:
            if line.startswith(f"{PASSWORD_CHECK}_{kind} "):
                found[kind] = float(line.split()[1])
    return found["sum"], found["count"]


def chart(sweep: dict[int, dict[str, Any]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels = sorted(sweep)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 5))
    for n, path in enumerate(WEIGHTS):
        color = f"C{n}"
        ax1.plot(levels, [sweep[c][path]["p50_ms"] for c in levels], marker="o", color=color, label=f"{path} p50")
        ax1.plot(
            levels,
            [sweep[c][path]["p99_ms"] for c in levels],
            linestyle="--",
            alpha=0.6,
            color=color,
            label=f"{path} p99",
        )
    ax1.set_xscale("log")
    ax1.set_yscale("log")
    ax1.set_xlabel("concurrent clients")
    ax1.set_ylabel("latency (ms)")
    ax1.set_title("Latency per hot path (p50 solid, p99 dashed)")
    ax1.legend(fontsize=7, ncol=2)
    ax2.plot(levels, [sweep[c]["_all"]["per_s"] for c in levels], marker="o", color="black", label="all paths")
    ax2.set_xscale("log")
    ax2.set_xlabel("concurrent clients")
    ax2.set_ylabel("successful requests / s")
    ax2.set_title("Throughput")
    ax2.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", default="1,10,50,100")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per concurrency level")
    parser.add_argument("--bare-seconds", type=float, default=10.0, help="seconds of bare replay per level")
    parser.add_argument(
        "--rounds", type=int, default=4, help="turns the platform and the bare replay take per level (interleaved)"
    )
    parser.add_argument("--cost-requests", type=int, default=20, help="requests per path in the cost phase")
    parser.add_argument("--pricing", default=str(cost.DEFAULT_PRICING))
    parser.add_argument("--base-port", type=int, default=None)
    args = parser.parse_args()
    levels = [int(c) for c in args.clients.split(",")]
    namespace = bench_namespace()
    capacity_dir = tempfile.mkdtemp(prefix="algoitny-capacity-")
    twin = f"{namespace}x"
    report: dict[str, Any] = {"namespace": namespace, "seconds_per_level": args.seconds, "weights": WEIGHTS}
    with (
        private_moto(),
        running_platform(
            SERVICES, env={**ENV, "ALGOITNY_CAPACITY_LOG": capacity_dir}, base_port=args.base_port, namespace=namespace
        ) as plat,
    ):
        gateway = plat.url("gateway")
        data = seed(gateway, BENCH_TOKEN)
        print(f"[load] seeded {len(data.problems)} problems, {len(data.users)} users; cost phase ...", flush=True)
        windows, calls, idle = cost_phase(gateway, data, capacity_dir, args.cost_requests)
        records = read_records(capacity_dir)
        # The sweep without the hook (its sizing reads would slow every write).
        plat.stop_all()
        plat.env.pop("ALGOITNY_CAPACITY_LOG", None)
        plat.start_all(SERVICES)
        plat.wait_ready(SERVICES, timeout_s=120)
        sweep: dict[int, dict[str, Any]] = {}
        bare_by_level: dict[int, dict[str, Any]] = {}
        bare.provision_twin(twin)
        prepared = {p: bare.prepared_steps(c, namespace, twin) for p, c in calls.items()}
        for clients in levels:
            # The platform and its bare calls take turns (``--rounds`` each), so both meet the same
            # machine (other processes come and go) and the same tables (moto's Query cost grows
            # with the table): the ratio compares like with like.
            samples: list[Any] = []
            hashing = [0.0, 0.0]  # sign-in's password checks in the accounts service: seconds, count
            got: dict[str, dict[str, list[float]]] = {}
            failed: dict[str, int] = {}
            for n in range(args.rounds):
                before = password_checks(plat.url("accounts"))
                part = asyncio.run(
                    drive(
                        gateway,
                        data,
                        clients=clients,
                        seconds=args.seconds / args.rounds,
                        warmup_s=2.0 if n == 0 else 0.5,
                        rng_seed=7 + n,
                    )
                )
                samples.extend(part.samples)
                after = password_checks(plat.url("accounts"))
                hashing = [hashing[0] + after[0] - before[0], hashing[1] + after[1] - before[1]]
                time.sleep(2.0)  # the round's events drain (relays, consumers) before timing bare calls
                for p, v in bare.replay(
                    prepared,
                    namespace,
                    clients=clients,
                    seconds=args.bare_seconds / args.rounds,
                    weights=WEIGHTS,
                ).items():
                    got.setdefault(p, {"samples": []})["samples"].extend(v["samples"])
                    failed[p] = failed.get(p, 0) + v["failed_calls"]
            result = LoadResult(clients, args.seconds, samples)
            sweep[clients] = path_stats(result)
            print(f"[load] {clients} clients: {sweep[clients]['_all']}", flush=True)
            bare_by_level[clients] = {
                p: {
                    "replays": len(v["samples"]),
                    "p50_ms": round(percentile(v["samples"], 50), 2),
                    "p99_ms": round(percentile(v["samples"], 99), 2),
                    "failed_calls": failed[p],
                    **(
                        {"password_check_mean_ms": round(hashing[0] / hashing[1] * 1000, 2)}
                        if p == "signin" and hashing[1]
                        else {}
                    ),
                }
                for p, v in got.items()
            }
    report["sweep"] = {str(c): v for c, v in sweep.items()}
    report["bare_dynamodb"] = {
        # Each step: the calls made at the same time (one unless a service ran reads in parallel).
        "calls_per_path": {p: [[op for op, _ in step] for step in steps] for p, steps in calls.items()},
        "by_clients": {str(c): v for c, v in bare_by_level.items()},
    }
    ratios: dict[str, dict[str, Any]] = {}
    for clients in levels:
        for path in WEIGHTS:
            b = bare_by_level[clients].get(path)
            s = sweep[clients][path]
            if b and b["p50_ms"] and s["requests"]:
                # Sign-in without the password hash's deliberate cost: the mean time of its argon2id
                # check in the accounts service over the level's sign-ins (its metric).
                hashing = b.get("password_check_mean_ms", 0.0)
                ratios.setdefault(path, {})[str(clients)] = {
                    "p50": round((s["p50_ms"] - hashing) / b["p50_ms"], 2),
                    "p99": round((s["p99_ms"] - hashing) / b["p99_ms"], 2) if b["p99_ms"] else None,
                    **({"password_check_subtracted_ms": hashing} if hashing else {}),
                }
    report["overhead_ratio_platform_over_bare"] = ratios
    report["peak_throughput_per_s"] = max(sweep[c]["_all"]["per_s"] for c in levels)
    report["note"] = (
        "Against moto (serialises DynamoDB requests), local Kafka and OpenSearch on a 2-core machine "
        "shared with other test runs; absolute figures are noisy, the ratio to bare DynamoDB is the "
        "comparable figure. search makes no DynamoDB call (OpenSearch), so it has no ratio."
    )
    png = RESULTS / "load.png"
    RESULTS.mkdir(parents=True, exist_ok=True)
    chart(sweep, png)
    report["chart"] = str(png)
    write_result("load", report, echo=False)

    pricing = cost.load_pricing(args.pricing)
    paths = cost.per_path(records, windows, idle)
    sizes = cost.item_sizes(records)
    cost_report = {
        "pricing": pricing,
        "per_path": paths,
        "idle_background_units_per_s": {k: round(v, 3) for k, v in idle.items()},
        "item_sizes": sizes,
        "gsi_write_amplification": cost.gsi_amplification(records),
        "access_patterns": cost.access_patterns(records),
        "projection": cost.project(paths, sizes, idle, pricing),
        "note": "Units computed from item sizes by DynamoDB's rules (moto's ConsumedCapacity is not "
        "DynamoDB's); async = outbox relays and consumers after the request, idle polling subtracted.",
    }
    write_result("cost", cost_report, echo=False)
    (RESULTS / "cost.md").write_text(cost.markdown(cost_report))
    shutil.rmtree(capacity_dir, ignore_errors=True)
    print(summary_table(report, cost_report))


def summary_table(report: dict[str, Any], cost_report: dict[str, Any]) -> str:
    sweep, ratios = report["sweep"], report["overhead_ratio_platform_over_bare"]
    head = "| path |"
    rule = "|---|"
    levels = [c for c in ("1", "10", "50") if c in sweep]
    for c in levels:
        head += f" c={c} p50 | c={c} p99 | c={c} ratio p50 |"
        rule += "---|---|---|"
    lines = [head, rule]
    for path in WEIGHTS:
        row = [path]
        for c in levels:
            s = sweep[c][path]
            row += [f"{s['p50_ms']}", f"{s['p99_ms']}", str(ratios.get(path, {}).get(c, {}).get("p50", "-"))]
        lines.append("| " + " | ".join(row) + " |")
    lines.append(f"\npeak throughput: {report['peak_throughput_per_s']} req/s")
    lines.append(f"projected monthly cost: {cost_report['projection']['total_usd_per_month']} USD")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
