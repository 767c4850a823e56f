"""Fault injection suite, full version (``make faults``): every service SIGKILLed in turn and
restarted, the (private) Kafka broker stopped and restarted, OpenSearch cut off for 30 s, the LLM
endpoint failing for 30 s, each under steady load, then the consistency checks.

    .venv/bin/python bench/faults/run.py                     # the full suite
    .venv/bin/python bench/faults/run.py --seconds 5 --only kill:executions,kafka
    .venv/bin/python bench/faults/run.py --replicas 2 --only kill:gateway,kill:problems   # one replica of two

Writes bench/results/faults.json and prints the table. Exit status 1 if any check failed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

from benchkit import write_result  # noqa: E402

from faults.suite import SERVICES, Fault, run_suite, table  # noqa: E402


def full_faults(kill_s: float, outage_s: float) -> list[Fault]:
    kills = [Fault(f"kill:{s}", kill_s) for s in SERVICES]
    return [*kills, Fault("kafka", outage_s), Fault("opensearch", outage_s), Fault("llm", outage_s)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30.0, help="outage length (Kafka, OpenSearch, LLM)")
    parser.add_argument("--kill-seconds", type=float, default=3.0, help="time a killed service stays down")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--after", type=float, default=15.0, help="seconds of load after each fault")
    parser.add_argument("--only", default="", help="comma-separated fault names")
    parser.add_argument(
        "--replicas", type=int, default=1, help="processes per service (2: a kill takes one replica of two)"
    )
    args = parser.parse_args()
    faults = full_faults(args.kill_seconds, args.seconds)
    if args.only:
        wanted = args.only.split(",")
        faults = [f for f in faults if f.name in wanted]
    report = run_suite(faults, clients=args.clients, after_s=args.after, replicas=args.replicas)
    write_result("faults" if args.replicas == 1 else f"faults_replicas{args.replicas}", report, echo=False)
    print(table(report))
    sys.exit(0 if report["ok"] else 1)


if __name__ == "__main__":
    main()
