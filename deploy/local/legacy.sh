#!/usr/bin/env bash
# The legacy side of the migration (issue 15), on the same dev stack registry as infra.sh
# (tools/algoitny_devtools): PostgreSQL 15 holding the legacy Django schema, and Kafka Connect in
# distributed mode with Debezium's PostgreSQL connector (the connector itself is registered by
# `python -m algoitny_migration connector register`, see services/migration).
#
# Usage: deploy/local/legacy.sh <command>
#   install     postgresql-15 (apt-get, only when missing), Connect + Debezium jars (mvn, only if stale)
#   up [PART..] install if needed, start every part not already answering, wait for health,
#               create the role/database and apply the legacy schema
#   down        stop only the processes this stack started
#   stop PART.. stop the named parts if this stack started them (used with `started`)
#   started     list the parts the last `up` started
#   status      print each part up/down (exit 0 only if all are up)
#   psql [ARGS] psql on the legacy database as the application role
#   reset-data  delete the PostgreSQL data (refused while a part we started runs)
#
# Like every part of the stack, PostgreSQL starts empty on each start (from an initdb template);
# `make legacy` seeds it again. Connect keeps its state in Kafka topics, which start empty with Kafka.
#
# Environment (all optional):
#   LEGACY_PG_PORT         PostgreSQL port on 127.0.0.1                  (default 5432)
#   LEGACY_CONNECT_PORT    Kafka Connect REST port on 127.0.0.1          (default 8083)
#   KAFKA_PORT             the broker infra.sh runs                      (default 9092)
#   ALGOITNY_LOCAL_DIR     jars, data, logs, run records                 (default <repo>/.local)
#   CONNECT_HEAP_OPTS      heap flags of the Connect worker              (default "-Xms256m -Xmx768m")
#   CONNECT_GROUP          Connect cluster (group.id; internal topics <group>.configs/offsets/status)
#                                                                        (default algoitny-connect)
#   INFRA_TIMEOUT          seconds to wait for health                    (default 180)
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PYTHON=${ALGOITNY_PYTHON:-$REPO/.venv/bin/python}
if [[ -z "${1:-}" ]]; then sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; fi
if [[ $1 == psql ]]; then
  shift
  # The application role's public development default (a real legacy database has its own).
  PGPASSWORD=${LEGACY_PG_PASSWORD:-algoitny} exec /usr/lib/postgresql/15/bin/psql -h 127.0.0.1 \
    -p "${LEGACY_PG_PORT:-5432}" -U algoitny -d algoitny_legacy "$@"
fi
[[ -x "$PYTHON" ]] || { echo "[legacy] ERROR: $PYTHON not found: run 'make install' (or set ALGOITNY_PYTHON)" >&2; exit 1; }
exec "$PYTHON" -m algoitny_devtools legacy "$@"
