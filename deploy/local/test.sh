#!/usr/bin/env bash
# `make test`: start the infrastructure parts that are not already running, run the
# unit, integration and end-to-end tests, then stop exactly what this script started.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO"
PY=${ALGOITNY_PYTHON:-$REPO/.venv/bin/python}
# The public development secrets are refused in every other environment.
export ALGOITNY_ENVIRONMENT=${ALGOITNY_ENVIRONMENT:-test}

bash deploy/local/infra.sh up
started=$(bash deploy/local/infra.sh started)
# The legacy migration's parts (PostgreSQL, Kafka Connect); they need Kafka, so they stop first.
legacy_started=""
cleanup() {
  # shellcheck disable=SC2086 # word splitting of the part list is intended
  [[ -n "$legacy_started" ]] && bash deploy/local/legacy.sh stop $legacy_started
  # shellcheck disable=SC2086
  [[ -n "$started" ]] && bash deploy/local/infra.sh stop $started
  return 0
}
trap cleanup EXIT
bash deploy/local/legacy.sh up
legacy_started=$(bash deploy/local/legacy.sh started)
trap cleanup EXIT

status=0
SECONDS=0
echo "== unit tests"
# No real part: one worker per core (pytest-xdist), the layer stays under a minute.
"$PY" -m pytest -q -n auto -m "not integration and not e2e" "$@" || status=$?
# Tests that import legacy rows by their legacy ids (and a verify that compares every imported row
# with the legacy database) would see each other's rows in one namespace: each runs in a pytest
# session of its own, so in a namespace of its own.
OWN_NAMESPACE=(
  tests/e2e/test_legacy_migration_e2e.py
  tests/e2e/test_legacy_content_e2e.py
  tests/integration/test_legacy_content_import_on_kafka.py
  tests/integration/test_legacy_users_import_on_kafka.py
  # Backup, wipe and restore of a whole platform: quicker on a platform of its own, beside the rest.
  tests/e2e/test_backup_e2e.py
)
# Integration and end-to-end tests wait on real parts far more than they compute: they run in
# parallel sessions, each in a namespace of its own (tables, topics, indices, its own services):
# the main session split over ALGOITNY_TEST_WORKERS pytest-xdist workers, whole files per worker
# (a file's tests share their module's state and order), and beside it, one after another, the
# files that need a session to themselves. Their output is printed when they end.
WORKERS=${ALGOITNY_TEST_WORKERS:-2}
LOGS=${ALGOITNY_LOCAL_DIR:-$REPO/.local}/logs/test-sessions
rm -rf "$LOGS" && mkdir -p "$LOGS"
echo "== ${OWN_NAMESPACE[*]} (each a session of its own, in the background; output when done)"
(
  own_status=0
  for file in "${OWN_NAMESPACE[@]}"; do
    log="$LOGS/$(basename "$file" .py).log"
    "$PY" -m pytest -q -m "integration or e2e" "$file" "$@" >"$log" 2>&1 || own_status=1
  done
  exit "$own_status"
) &
own_pid=$!
echo "== integration and end-to-end tests (real Kafka, OpenSearch, moto; $WORKERS workers)"
# --durations: the slowest tests of the run, where CI time goes.
"$PY" -m pytest -q -m "integration or e2e" -n "$WORKERS" --dist loadfile --durations=15 --durations-min=20 \
  "${OWN_NAMESPACE[@]/#/--ignore=}" "$@" ||
  status=$?
echo "== main session ended after $SECONDS s (unit tests included)"
wait "$own_pid" || status=$?
echo "== own-session files ended after $SECONDS s"
for file in "${OWN_NAMESPACE[@]}"; do
  echo "== $file (a session of its own)"
  cat "$LOGS/$(basename "$file" .py).log"
done
exit "$status"
