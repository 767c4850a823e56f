#!/usr/bin/env bash
# The legacy side of the migration (issue 15), started like infra.sh starts Kafka/OpenSearch
# (no Docker): PostgreSQL 15 holding the legacy Django schema, and Kafka Connect in
# distributed mode with Debezium's PostgreSQL connector (the connector itself is registered
# by `python -m algoitny_migration connector register`, see services/migration).
#
# Usage: deploy/local/legacy.sh <command>
#   install     postgresql-15 (apt-get, only when missing), Connect + Debezium jars (mvn, only if stale)
#   up          install if needed, start every part not already answering, wait for health,
#               create the role/database and apply the legacy schema (idempotent)
#   down        stop only the processes this script started (pid files)
#   stop PART.. stop the named parts if legacy.sh started them (used with `started`)
#   started     list the parts the last `up` started
#   status      print each part up/down (exit 0 only if all are up)
#   psql [ARGS] psql on the legacy database as the application role
#   reset-data  delete the PostgreSQL and Connect data (refused while a part we started runs)
#
# Environment (all optional):
#   LEGACY_PG_PORT         PostgreSQL port on 127.0.0.1                  (default 5432)
#   LEGACY_CONNECT_PORT    Kafka Connect REST port on 127.0.0.1          (default 8083)
#   KAFKA_PORT             the broker infra.sh runs                      (default 9092)
#   ALGOITNY_LOCAL_DIR     jars, data, logs, pid files                   (default <repo>/.local)
#   CONNECT_HEAP_OPTS      heap flags of the Connect worker              (default "-Xms256m -Xmx768m")
#   CONNECT_GROUP          Connect cluster (group.id; internal topics <group>.configs/offsets/status)
#                                                                        (default algoitny-connect)
#   INFRA_TIMEOUT          seconds to wait for health                    (default 180)
#
# Layout under $ALGOITNY_LOCAL_DIR:
#   connect/lib                  Connect runtime + Debezium jars (Maven)
#   data/postgres                the PostgreSQL cluster (owned by the `postgres` OS user when run as root)
#   connect/worker.properties    written on every start
#   logs/<part>.log, run/legacy-<part>.pid, run/legacy-started
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)

PG_PORT=${LEGACY_PG_PORT:-5432}
CONNECT_PORT=${LEGACY_CONNECT_PORT:-8083}
KAFKA_PORT=${KAFKA_PORT:-9092}
LOCAL_DIR=${ALGOITNY_LOCAL_DIR:-$REPO/.local}
CONNECT_HEAP_OPTS=${CONNECT_HEAP_OPTS:--Xms256m -Xmx768m}
CONNECT_GROUP=${CONNECT_GROUP:-algoitny-connect}
INFRA_TIMEOUT=${INFRA_TIMEOUT:-180}
PG_VERSION=15
PG_BIN=/usr/lib/postgresql/$PG_VERSION/bin
# The application role; its password is the public development default of the DSN
# postgresql://algoitny:algoitny@127.0.0.1:5432/algoitny_legacy (a real legacy database has its own).
PG_ROLE=algoitny
PG_PASSWORD=${LEGACY_PG_PASSWORD:-algoitny}
PG_DB=algoitny_legacy

if [[ -n "${JAVA_HOME:-}" ]]; then JAVA="$JAVA_HOME/bin/java"; else JAVA=java; fi

mkdir -p "$LOCAL_DIR"
LOCAL_DIR=$(cd "$LOCAL_DIR" && pwd)
CONNECT_LIB=$LOCAL_DIR/connect/lib
DATA_DIR=$LOCAL_DIR/data
PG_DATA=$DATA_DIR/postgres
PG_SOCK=$LOCAL_DIR/run/postgres-socket
LOG_DIR=$LOCAL_DIR/logs
RUN_DIR=$LOCAL_DIR/run
PARTS=(postgres connect)

log() { echo "[legacy] $*" >&2; }
die() { echo "[legacy] ERROR: $*" >&2; exit 1; }

# PostgreSQL refuses to run as root: as root, run its programs as the `postgres` OS user.
if [[ $(id -u) == 0 ]]; then
  as_pg() { setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; }
else
  as_pg() { "$@"; }
fi

# ---------------------------------------------------------------- install

stamp_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

install_postgres() {
  [[ -x $PG_BIN/postgres ]] && return 0
  [[ $(id -u) == 0 ]] || die "postgresql-$PG_VERSION is missing: apt-get install postgresql-$PG_VERSION (as root)"
  log "installing postgresql-$PG_VERSION (Debian package) ..."
  local had_cluster=0
  [[ -d /etc/postgresql/$PG_VERSION/main ]] && had_cluster=1
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    "postgresql-$PG_VERSION" "postgresql-client-$PG_VERSION" >/dev/null
  # The package creates (and may start) a default cluster on 5432: we run our own data dir.
  if ((had_cluster == 0)) && [[ -d /etc/postgresql/$PG_VERSION/main ]]; then
    pg_dropcluster --stop "$PG_VERSION" main || true
  fi
}

install_connect() {
  local stamp; stamp=$(stamp_of "$HERE/connect/pom.xml")
  if [[ "$(cat "$LOCAL_DIR/connect/.stamp" 2>/dev/null)" != "$stamp" ]] \
     || ! compgen -G "$CONNECT_LIB/connect-runtime-*.jar" >/dev/null; then
    command -v mvn >/dev/null || die "mvn not found (apt-get install maven)"
    rm -rf "$CONNECT_LIB" && mkdir -p "$CONNECT_LIB" "$LOG_DIR"
    log "fetching Kafka Connect + Debezium jars with Maven (first run takes a while) ..."
    if ! mvn -B -q -f "$HERE/connect/pom.xml" -Dlib.dir="$CONNECT_LIB" dependency:copy-dependencies \
          >"$LOG_DIR/install-connect.log" 2>&1; then
      tail -n 40 "$LOG_DIR/install-connect.log" >&2
      die "mvn failed for connect (full log: $LOG_DIR/install-connect.log)"
    fi
    echo "$stamp" >"$LOCAL_DIR/connect/.stamp"
  fi
}

cmd_install() {
  mkdir -p "$LOCAL_DIR/connect"
  install_postgres
  install_connect
}

# ---------------------------------------------------------------- processes

pid_file() { echo "$RUN_DIR/legacy-$1.pid"; }

our_pid() {
  local f pid cwd; f=$(pid_file "$1")
  [[ -f "$f" ]] || return 1
  pid=$(cat "$f")
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null) || return 1
  [[ "$cwd" == "$LOCAL_DIR"/* ]] || return 1
  echo "$pid"
}

spawn() {
  local part=$1 cwd=$2; shift 2
  mkdir -p "$LOG_DIR" "$RUN_DIR" "$cwd"
  local logf=$LOG_DIR/$part.log
  [[ -f "$logf" ]] && mv -f "$logf" "$logf.1"
  ( cd "$cwd" && exec setsid nohup "$@" >"$logf" 2>&1 </dev/null ) &
  echo $! >"$(pid_file "$part")"
  echo "$part" >>"$RUN_DIR/legacy-started"
  log "started $part (pid $!, log $logf)"
}

port_open() { timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

postgres_healthy() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 2; }
connect_healthy() {
  # The REST API answers once the worker joined its group and read the config topic.
  curl -sf -m 3 -o /dev/null "http://127.0.0.1:$CONNECT_PORT/connectors"
}
answering() {
  case $1 in
    postgres) port_open "$PG_PORT" ;;
    connect) port_open "$CONNECT_PORT" ;;
  esac
}
endpoint() {
  case $1 in
    postgres) echo "postgresql://$PG_ROLE:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DB" ;;
    connect) echo "http://127.0.0.1:$CONNECT_PORT (Kafka Connect REST, group $CONNECT_GROUP)" ;;
  esac
}

wait_healthy() {
  local deadline=$((SECONDS + INFRA_TIMEOUT)) part pending=("$@")
  while ((${#pending[@]})); do
    local still=()
    for part in "${pending[@]}"; do
      if "${part}_healthy"; then log "$part is healthy"; continue; fi
      if [[ -f "$(pid_file "$part")" ]] && ! our_pid "$part" >/dev/null; then
        tail -n 40 "$LOG_DIR/$part.log" >&2 || true
        rm -f "$(pid_file "$part")"
        die "$part exited during start-up (log: $LOG_DIR/$part.log)"
      fi
      still+=("$part")
    done
    pending=("${still[@]+"${still[@]}"}")
    ((${#pending[@]})) || break
    if ((SECONDS >= deadline)); then
      for part in "${pending[@]}"; do tail -n 40 "$LOG_DIR/$part.log" >&2 2>/dev/null || true; done
      die "not healthy after ${INFRA_TIMEOUT}s: ${pending[*]}"
    fi
    sleep 0.5
  done
}

# ---------------------------------------------------------------- PostgreSQL

init_postgres() {
  [[ -f "$PG_DATA/PG_VERSION" ]] && return 0
  log "initdb $PG_DATA"
  mkdir -p "$PG_DATA"
  [[ $(id -u) == 0 ]] && chown postgres:postgres "$PG_DATA"
  chmod 700 "$PG_DATA"
  # Local (socket) connections: the OS user `postgres` only (peer); TCP: passwords (scram).
  as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth-local=peer --auth-host=scram-sha-256 \
    -E UTF8 --locale=C.UTF-8 >"$LOG_DIR/postgres-initdb.log" 2>&1 \
    || { cat "$LOG_DIR/postgres-initdb.log" >&2; die "initdb failed"; }
  cat >>"$PG_DATA/pg_hba.conf" <<EOF
# Added by deploy/local/legacy.sh: Debezium's replication connection over TCP.
host    replication     $PG_ROLE        127.0.0.1/32            scram-sha-256
EOF
}

start_postgres() {
  init_postgres
  mkdir -p "$PG_SOCK"
  [[ $(id -u) == 0 ]] && chown postgres:postgres "$PG_SOCK"
  # Settings on the command line so port changes apply; data stays in $PG_DATA.
  spawn postgres "$PG_DATA" setpriv_or_exec "$PG_BIN/postgres" -D "$PG_DATA" \
    -c listen_addresses=127.0.0.1 -c port="$PG_PORT" -c unix_socket_directories="$PG_SOCK" \
    -c wal_level=logical -c max_replication_slots=64 -c max_wal_senders=64 -c max_slot_wal_keep_size=2GB \
    -c max_connections=200 -c shared_buffers=128MB -c fsync=on -c synchronous_commit=on \
    -c wal_sender_timeout=60s -c logging_collector=off -c log_min_messages=warning
}

# spawn runs through `nohup`, which cannot call a shell function: this wrapper is a tiny script.
setup_wrapper() {
  mkdir -p "$LOCAL_DIR/connect"
  local w=$LOCAL_DIR/connect/setpriv_or_exec
  if [[ $(id -u) == 0 ]]; then
    printf '#!/bin/sh\nexec setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"\n' >"$w"
  else
    printf '#!/bin/sh\nexec "$@"\n' >"$w"
  fi
  chmod 755 "$w"
  PATH=$LOCAL_DIR/connect:$PATH
}

psql_admin() { as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCK" -p "$PG_PORT" -U postgres "$@"; }

# Role, database and schema: idempotent, run on every `up` (also when PostgreSQL was already running).
prepare_database() {
  [[ -S "$PG_SOCK/.s.PGSQL.$PG_PORT" ]] || { log "PostgreSQL on $PG_PORT was not started here: role/schema left alone"; return 0; }
  psql_admin -d postgres <<EOF
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_ROLE') THEN
    CREATE ROLE $PG_ROLE LOGIN REPLICATION PASSWORD '$PG_PASSWORD';
  END IF;
END \$\$;
-- The seeder writes orphans (rows whose parent is gone) with FK triggers off (PostgreSQL 15+).
GRANT SET ON PARAMETER session_replication_role TO $PG_ROLE;
-- Tests give each run its own legacy database (CREATE DATABASE algoitny_legacy_<namespace>).
ALTER ROLE $PG_ROLE CREATEDB;
EOF
  if [[ -z $(psql_admin -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'") ]]; then
    psql_admin -d postgres -c "CREATE DATABASE $PG_DB OWNER $PG_ROLE ENCODING 'UTF8' TEMPLATE template0"
  fi
  # The schema is applied as the application role (it owns the tables, as Django's would).
  PGOPTIONS="-c client_min_messages=warning" PGPASSWORD=$PG_PASSWORD "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" \
    -U "$PG_ROLE" -d "$PG_DB" -f "$REPO/services/migration/algoitny_migration/adapters/legacy_schema.sql"
}

# ---------------------------------------------------------------- Kafka Connect

start_connect() {
  port_open "$KAFKA_PORT" || die "Kafka is not answering on $KAFKA_PORT: run 'bash deploy/local/infra.sh up' first"
  local dir=$LOCAL_DIR/connect props=$LOCAL_DIR/connect/worker.properties
  mkdir -p "$dir"
  cat >"$props" <<EOF
# Generated by deploy/local/legacy.sh; edits are overwritten.
bootstrap.servers=127.0.0.1:$KAFKA_PORT
group.id=$CONNECT_GROUP
config.storage.topic=$CONNECT_GROUP.configs
offset.storage.topic=$CONNECT_GROUP.offsets
status.storage.topic=$CONNECT_GROUP.status
config.storage.replication.factor=1
offset.storage.replication.factor=1
status.storage.replication.factor=1
offset.storage.partitions=5
status.storage.partitions=3
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
key.converter.schemas.enable=false
value.converter.schemas.enable=false
# Source offsets are flushed every second: after a crash at most that much is sent again.
offset.flush.interval.ms=1000
listeners=http://127.0.0.1:$CONNECT_PORT
rest.advertised.host.name=127.0.0.1
rest.advertised.port=$CONNECT_PORT
topic.creation.enable=true
plugin.discovery=only_scan
scheduled.rebalance.max.delay.ms=5000
# Idempotent producers for the source records (no duplicates from producer retries).
producer.enable.idempotence=true
producer.acks=all
producer.linger.ms=5
EOF
  # shellcheck disable=SC2086  # CONNECT_HEAP_OPTS is a list of flags
  spawn connect "$dir" "$JAVA" $CONNECT_HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:TieredStopAtLevel=1 -Xshare:auto -Djava.awt.headless=true \
    "-Dlog4j2.configurationFile=$HERE/connect/log4j2.properties" \
    -cp "$CONNECT_LIB/*" org.apache.kafka.connect.cli.ConnectDistributed "$props"
}

# ---------------------------------------------------------------- commands

up_failed() {
  local rc=$?
  ((rc == 0)) && return 0
  if [[ "${INFRA_KEEP_ON_FAILURE:-0}" != 1 && -s "$RUN_DIR/legacy-started" ]]; then
    log "up failed: stopping the parts this invocation started"
    local -a started
    mapfile -t started <"$RUN_DIR/legacy-started"
    stop_parts "${started[@]}"
    : >"$RUN_DIR/legacy-started"
  fi
  exit "$rc"
}

cmd_up() {
  local only=("$@")
  ((${#only[@]})) || only=("${PARTS[@]}")
  cmd_install
  setup_wrapper
  mkdir -p "$RUN_DIR" "$LOG_DIR"
  : >"$RUN_DIR/legacy-started"
  trap up_failed EXIT
  local part
  for part in "${only[@]}"; do
    if our_pid "$part" >/dev/null; then
      log "$part already running (pid $(our_pid "$part"), started earlier by legacy.sh)"
    elif answering "$part"; then
      log "$part already answering (not started by us; left alone)"
      rm -f "$(pid_file "$part")"
    else
      rm -f "$(pid_file "$part")"
      "start_$part"
    fi
  done
  wait_healthy "${only[@]}"
  [[ " ${only[*]} " == *" postgres "* ]] && prepare_database
  trap - EXIT
  echo "Legacy parts are up:"
  for part in "${only[@]}"; do printf '  %-9s %s\n' "$part" "$(endpoint "$part")"; done
}

stop_parts() {
  local part pid pids=()
  for part in "$@"; do
    if pid=$(our_pid "$part"); then
      log "stopping $part (pid $pid)"
      # PostgreSQL: SIGINT is its "fast" shutdown (SIGTERM waits for every client to leave).
      if [[ $part == postgres ]]; then kill -INT "$pid" 2>/dev/null || true; else kill -TERM "$pid" 2>/dev/null || true; fi
      pids+=("$pid")
    fi
  done
  local i alive=()
  for ((i = 0; i < 60; i++)); do
    alive=()
    for pid in "${pids[@]+"${pids[@]}"}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
    ((${#alive[@]})) || break
    sleep 0.5
  done
  for pid in "${alive[@]+"${alive[@]}"}"; do
    log "pid $pid did not stop in 30 s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  done
  for part in "$@"; do rm -f "$(pid_file "$part")"; done
}

cmd_down() {
  stop_parts connect postgres
  rm -f "$RUN_DIR/legacy-started"
  log "down: stopped what legacy.sh had started (anything else is left alone)"
}

cmd_status() {
  local part all_up=0 pid state
  for part in "${PARTS[@]}"; do
    if "${part}_healthy" 2>/dev/null; then state=up; else state=down; all_up=1; fi
    if pid=$(our_pid "$part"); then
      [[ $state == up ]] || state=starting
      state="$state (pid $pid, started by legacy.sh)"
    elif [[ $state == up ]]; then
      state="$state (not started by legacy.sh)"
    fi
    printf '%-9s %-45s %s\n' "$part" "$state" "$(endpoint "$part")"
  done
  return $all_up
}

cmd_reset_data() {
  local part
  for part in "${PARTS[@]}"; do our_pid "$part" >/dev/null && die "$part is running; run '$0 down' first"; done
  rm -rf "$PG_DATA"
  log "deleted $PG_DATA (Connect keeps its state in Kafka topics $CONNECT_GROUP.*)"
}

case "${1:-}" in
  install) cmd_install ;;
  up) shift; cmd_up "$@" ;;
  down) cmd_down ;;
  stop) shift; stop_parts "$@" ;;
  started) cat "$RUN_DIR/legacy-started" 2>/dev/null || true ;;
  status) cmd_status ;;
  psql) shift; PGPASSWORD=$PG_PASSWORD exec "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_ROLE" -d "$PG_DB" "$@" ;;
  reset-data) cmd_reset_data ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac
