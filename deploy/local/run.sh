#!/usr/bin/env bash
# `make run`: start the infrastructure and every service, load demo data, print where it
# is, and stop all of it on Ctrl-C (or `make down` from another terminal).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO"
PY=${ALGOITNY_PYTHON:-$REPO/.venv/bin/python}
# The public development secrets are refused in every other environment.
export ALGOITNY_ENVIRONMENT=${ALGOITNY_ENVIRONMENT:-local}

bash deploy/local/infra.sh up
started=$(bash deploy/local/infra.sh started)
cleanup() {
  trap - EXIT INT TERM
  # shellcheck disable=SC2086 # word splitting of the part list is intended
  [[ -n "$started" ]] && bash deploy/local/infra.sh stop $started
}
trap cleanup EXIT INT TERM
"$PY" -m algoitny_devtools.platform run
