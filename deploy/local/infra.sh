#!/usr/bin/env bash
# Local infrastructure (no Docker): Apache Kafka (KRaft), OpenSearch, moto. A thin wrapper of the
# dev stack's registry (tools/algoitny_devtools: one spec per part, started and stopped on mirakuru).
#
# Usage: deploy/local/infra.sh <command>
#   install     fetch jars with Maven (only if missing/out of date), compile the OpenSearch launcher
#   up          install if needed, start every part that is not already answering, wait for health
#   down        stop only the processes this stack started (records in run/), then SIGKILL after 20 s
#   stop PART.. stop the named parts if this stack started them (used with `started`)
#   started     list the parts the last `up` started (so a caller can stop just those)
#   status      print each part up/down (exit 0 only if all are up)
#   wait        wait until every part is healthy (deadline INFRA_TIMEOUT)
#   reset-data  delete Kafka/OpenSearch data dirs (refused while a part we started is running)
#
# Local data lifetime: every start is a clean start. moto keeps its state in memory, so Kafka and
# OpenSearch (and legacy.sh's PostgreSQL) start empty too whenever this stack starts them: after a
# restart no part remembers what another forgot. Parts already answering are left alone.
#
# Environment contract (all optional):
#   KAFKA_PORT             broker PLAINTEXT port on 127.0.0.1           (default 9092)
#   KAFKA_CONTROLLER_PORT  KRaft CONTROLLER port on 127.0.0.1           (default 9093)
#   OPENSEARCH_PORT        OpenSearch HTTP port on 127.0.0.1            (default 9200)
#   MOTO_PORT              moto server (DynamoDB, S3, ...) port          (default 5005)
#   ALGOITNY_LOCAL_DIR     jars, data, logs, run records                (default <repo>/.local, git-ignored)
#   ALGOITNY_LIB_DIR       where the jars are                           (default ALGOITNY_LOCAL_DIR)
#   ALGOITNY_PYTHON        the venv's python (moto[server], algoitny_devtools) (default <repo>/.venv/bin/python)
#   JAVA_HOME              JDK 17+ to use; otherwise `java` from PATH
# Tuning (optional):
#   OPENSEARCH_HEAP        -Xms/-Xmx of OpenSearch                      (default 1g)
#   KAFKA_HEAP_OPTS        heap flags of Kafka                          (default "-Xms512m -Xmx1g")
#   INFRA_TIMEOUT          seconds to wait for health in up/wait        (default 180)
#
# Layout under $ALGOITNY_LOCAL_DIR:
#   kafka/lib, opensearch/lib, opensearch/classes   jars (Maven) and the compiled Launcher
#   data/kafka, data/opensearch                     data of the running parts (emptied on each start)
#   templates/                                      Kafka's formatted log dir, PostgreSQL's initdb (copied on start)
#   logs/<part>.log                                 stdout+stderr of each part (previous run: .log.1)
#   run/<part>.json, run/started                    processes started by this stack
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PYTHON=${ALGOITNY_PYTHON:-$REPO/.venv/bin/python}
if [[ -z "${1:-}" ]]; then sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; fi
[[ -x "$PYTHON" ]] || { echo "[infra] ERROR: $PYTHON not found: run 'make install' (or set ALGOITNY_PYTHON)" >&2; exit 1; }
exec "$PYTHON" -m algoitny_devtools infra "$@"
