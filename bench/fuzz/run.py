"""API fuzzing (``make fuzz``): schemathesis against the gateway's composed OpenAPI document,
anonymous, as a signed-in user and as the operator: no 5xx (``not_a_server_error``) and no
response that breaks the documented schema (``response_schema_conformance``).

Starts its own services in a private namespace (own moto); the server-sent-events stream is left
out (it stays open by design). Writes bench/results/fuzz.json (+ JUnit files) and prints the summary.

    .venv/bin/python bench/fuzz/run.py                       # make fuzz (300 s per identity)
    .venv/bin/python bench/fuzz/run.py --max-time 40         # what `make test` runs
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]

from benchkit import BENCH_TOKEN, RESULTS, private_moto, running_platform, write_result  # noqa: E402
from support.google_keys import FakeGoogle, serve_jwks  # noqa: E402

from algoitny_accounts.settings import AccountsSettings  # noqa: E402
from algoitny_shared import tokens  # noqa: E402

SERVICES = ["gateway", "accounts", "problems", "ratelimit", "executions", "search-indexer", "hints"]
CHECKS = "not_a_server_error,response_schema_conformance"
ENV = {
    "ALGOITNY_RATE_GENERAL_PER_MIN": "100000000",
    "ALGOITNY_RATE_EXECUTION_PER_MIN": "100000000",
    "ALGOITNY_RATE_SIGNIN_PER_MIN": "100000000",
    "ALGOITNY_SIGNIN_MAX_FAILURES_PER_ADDRESS": "100000000",
    "ALGOITNY_SIGNIN_MAX_FAILURES_PER_ACCOUNT": "100000000",
    "ALGOITNY_WORKER_ENABLED": "false",
}


def identities() -> dict[str, dict[str, str]]:
    keyring = AccountsSettings().signing_keys()
    user, _ = tokens.issue(keyring, user_id=f"fz{uuid.uuid4().hex[:10]}", role="user", plan="free", ttl_s=3600)
    return {
        "anonymous": {},
        "user": {"Authorization": f"Bearer {user}"},
        "operator": {"Authorization": f"Bearer {BENCH_TOKEN}"},
    }


def schemathesis(gateway: str, name: str, headers: dict[str, str], max_time: float, seed: int) -> dict[str, Any]:
    junit = RESULTS / f"fuzz-{name}.xml"
    cmd = [
        str(Path(sys.executable).parent / "schemathesis"),
        "run",
        f"{gateway}/openapi.json",
        "--checks",
        CHECKS,
        "--max-time",
        str(int(max_time)),
        # One worker: with two threads, Hypothesis's lambda descriptions parse source with `ast`
        # concurrently and CPython 3.11 can raise "AST constructor recursion depth mismatch"
        # (python/cpython#106905), a runtime error of the fuzzer, not a finding.
        "--workers",
        "1",
        "--seed",
        str(seed),
        "--request-timeout",
        "20",
        "--suppress-health-check",
        "all",
        "--generation-database",
        "none",
        "--exclude-path-regex",
        r".*/events$",
        "--no-color",
        "--report",
        "junit",
        "--report-junit-path",
        str(junit),
    ]
    for key, value in headers.items():
        cmd += ["-H", f"{key}: {value}"]
    if name == "operator":
        # Deleting every plan leaves the platform without configuration (quota reads then answer
        # 503 "No plans are configured", by design); plan deletion has its own tests.
        cmd += ["--exclude-name", "DELETE /api/v1/admin/plans/{plan_id}"]
    # cwd: schemathesis keeps a crash cache (.schemathesis/) in its working directory
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=max_time + 600, cwd=RESULTS)
    (RESULTS / f"fuzz-{name}.txt").write_text(proc.stdout + proc.stderr)
    return {
        "identity": name,
        "exit_code": proc.returncode,
        **junit_summary(junit),
        "log": str(RESULTS / f"fuzz-{name}.txt"),
    }


def junit_summary(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"operations": 0, "failed_operations": 0, "failures": ["no JUnit report written"]}
    root = ET.parse(path).getroot()
    cases = root.iter("testcase")
    operations = failed = 0
    failures: list[str] = []
    for case in cases:
        operations += 1
        problems = [*case.findall("failure"), *case.findall("error")]
        if problems:
            failed += 1
            first = (problems[0].get("message") or problems[0].text or "").strip().splitlines()
            failures.append(f"{case.get('name')}: {first[0] if first else '?'}"[:300])
    return {"operations": operations, "failed_operations": failed, "failures": failures}


def run(max_time: float, seed: int, only: list[str] | None = None) -> dict[str, Any]:
    RESULTS.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, Any]] = []
    google = FakeGoogle("fuzz-client.apps.googleusercontent.test")
    with serve_jwks(google) as jwks, private_moto():
        env = {**ENV, "ALGOITNY_GOOGLE_CLIENT_IDS": google.client_id, "ALGOITNY_GOOGLE_JWKS_URL": jwks}
        results += _run(env, max_time, seed, only)
    return {
        "checks": CHECKS,
        "max_time_s": max_time,
        "seed": seed,
        "runs": results,
        "ok": all(r["exit_code"] == 0 for r in results),
    }


def _run(env: dict[str, str], max_time: float, seed: int, only: list[str] | None) -> list[dict[str, Any]]:
    results = []
    with running_platform(SERVICES, env=env) as plat:
        for name, headers in identities().items():
            if only and name not in only:
                continue
            print(f"[fuzz] {name}: up to {max_time:.0f} s ...", flush=True)
            results.append(schemathesis(plat.url("gateway"), name, headers, max_time, seed))
            print(
                f"[fuzz] {name}: {results[-1]['operations']} operations, {results[-1]['failed_operations']} failed",
                flush=True,
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-time", type=float, default=300.0, help="seconds per identity")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--only", default="", help="comma-separated identities")
    args = parser.parse_args()
    report = run(args.max_time, args.seed, args.only.split(",") if args.only else None)
    write_result("fuzz", report, echo=False)
    for r in report["runs"]:
        print(f"{r['identity']}: {r['operations']} operations, {r['failed_operations']} failed (exit {r['exit_code']})")
        for f in r["failures"][:30]:
            print(f"  - {f}")
    sys.exit(0 if report["ok"] else 1)


if __name__ == "__main__":
    main()
