#!/usr/bin/env bash
# `make bench`: start the infrastructure parts that are missing, run the benchmarks, stop them.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
PY=${ALGOITNY_PYTHON:-$REPO/.venv/bin/python}
bash deploy/local/infra.sh up
started=$(bash deploy/local/infra.sh started)
cleanup() {
  # shellcheck disable=SC2086
  [[ -n "$started" ]] && bash deploy/local/infra.sh stop $started
  return 0
}
trap cleanup EXIT
"$PY" bench/create_to_searchable.py
"$PY" bench/search_latency.py
"$PY" bench/quota_consume.py
"$PY" bench/signin_and_verify.py
"$PY" bench/judge_overhead.py
"$PY" bench/problem_with_test_cases.py
"$PY" bench/submit_to_verdict.py
"$PY" bench/hints_latency.py
"$PY" bench/generation_throughput.py
"$PY" bench/stats_throughput.py
