#!/usr/bin/env bash
# `make bench`: start the infrastructure parts that are missing, run the benchmarks, stop them.
# `bench/run.sh faults` (make faults) and `bench/run.sh fuzz` (make fuzz) run those suites instead.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
PY=${ALGOITNY_PYTHON:-$REPO/.venv/bin/python}
# The public development secrets are refused in every other environment.
export ALGOITNY_ENVIRONMENT=${ALGOITNY_ENVIRONMENT:-local}
bash deploy/local/infra.sh up
started=$(bash deploy/local/infra.sh started)
cleanup() {
  # shellcheck disable=SC2086
  [[ -n "$started" ]] && bash deploy/local/infra.sh stop $started
  return 0
}
trap cleanup EXIT
case "${1:-bench}" in
  faults) "$PY" bench/faults/run.py; exit 0 ;;
  fuzz) "$PY" bench/fuzz/run.py; exit 0 ;;
esac
# The hot-path load sweep, bare-DynamoDB overhead ratio and the capacity/cost report.
"$PY" bench/load/run.py
"$PY" bench/create_to_searchable.py
"$PY" bench/search_latency.py
"$PY" bench/suggest_latency.py
"$PY" bench/quota_consume.py
"$PY" bench/signin_and_verify.py
"$PY" bench/judge_overhead.py
"$PY" bench/judge_compile.py
"$PY" bench/problem_with_test_cases.py
"$PY" bench/submit_to_verdict.py
"$PY" bench/hints_latency.py
"$PY" bench/generation_throughput.py
"$PY" bench/stats_throughput.py
"$PY" bench/web_app.py
