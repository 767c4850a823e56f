#!/usr/bin/env bash
# Local infrastructure launcher (no Docker): Apache Kafka (KRaft), OpenSearch, moto.
#
# Usage: deploy/local/infra.sh <command>
#   install     fetch jars with Maven (only if missing/out of date), compile the OpenSearch launcher
#   up          install if needed, start every part that is not already answering, wait for health
#   down        stop only the processes this script started (pid files), SIGTERM then SIGKILL after 20 s
#   stop PART.. stop the named parts if infra.sh started them (used with `started`)
#   started     list the parts the last `up` started (so a caller can stop just those)
#   status      print each part up/down (exit 0 only if all are up)
#   wait        wait until every part is healthy (deadline INFRA_TIMEOUT)
#   reset-data  delete Kafka/OpenSearch data dirs (refused while a part we started is running)
#
# Environment contract (all optional):
#   KAFKA_PORT             broker PLAINTEXT port on 127.0.0.1           (default 9092)
#   KAFKA_CONTROLLER_PORT  KRaft CONTROLLER port on 127.0.0.1           (default 9093)
#   OPENSEARCH_PORT        OpenSearch HTTP port on 127.0.0.1            (default 9200)
#   MOTO_PORT              moto server (DynamoDB, S3, ...) port          (default 5005)
#   ALGOITNY_LOCAL_DIR     jars, data, logs, pid files                  (default <repo>/.local, git-ignored)
#   ALGOITNY_PYTHON        python that has moto[server] installed       (default <repo>/.venv/bin/python)
#   JAVA_HOME              JDK 17+ to use; otherwise `java` from PATH
# Tuning (optional):
#   OPENSEARCH_HEAP        -Xms/-Xmx of OpenSearch                      (default 1g)
#   KAFKA_HEAP_OPTS        heap flags of Kafka                          (default "-Xms512m -Xmx1g")
#   INFRA_TIMEOUT          seconds to wait for health in up/wait        (default 180)
#
# Layout under $ALGOITNY_LOCAL_DIR:
#   kafka/lib, opensearch/lib, opensearch/classes   jars (Maven) and the compiled Launcher
#   data/kafka, data/opensearch                     persistent data, reused across restarts
#   logs/<part>.log                                 stdout+stderr of each part (previous run: .log.1)
#   run/<part>.pid, run/started                     processes started by this script
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)

KAFKA_PORT=${KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-9093}
OPENSEARCH_PORT=${OPENSEARCH_PORT:-9200}
MOTO_PORT=${MOTO_PORT:-5005}
LOCAL_DIR=${ALGOITNY_LOCAL_DIR:-$REPO/.local}
PYTHON=${ALGOITNY_PYTHON:-$REPO/.venv/bin/python}
OPENSEARCH_HEAP=${OPENSEARCH_HEAP:-1g}
KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xms512m -Xmx1g}
INFRA_TIMEOUT=${INFRA_TIMEOUT:-180}

if [[ -n "${JAVA_HOME:-}" ]]; then
  JAVA="$JAVA_HOME/bin/java"; JAVAC="$JAVA_HOME/bin/javac"
else
  JAVA=java; JAVAC=javac
fi

mkdir -p "$LOCAL_DIR"
LOCAL_DIR=$(cd "$LOCAL_DIR" && pwd)   # absolute: it is baked into configs and cmdlines
KAFKA_LIB=$LOCAL_DIR/kafka/lib
OS_LIB=$LOCAL_DIR/opensearch/lib
OS_CLASSES=$LOCAL_DIR/opensearch/classes
DATA_DIR=$LOCAL_DIR/data
LOG_DIR=$LOCAL_DIR/logs
RUN_DIR=$LOCAL_DIR/run
PARTS=(kafka opensearch moto)

log() { echo "[infra] $*" >&2; }
die() { echo "[infra] ERROR: $*" >&2; exit 1; }

# ---------------------------------------------------------------- install

# Stamp = hash of the inputs; mvn runs only when the stamp is missing or stale.
stamp_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

mvn_copy() {  # mvn_copy <pom> <lib-dir> <name>
  local pom=$1 lib=$2 name=$3
  command -v mvn >/dev/null || die "mvn not found (apt-get install maven)"
  rm -rf "$lib" && mkdir -p "$lib" "$LOG_DIR"
  log "fetching $name jars with Maven (first run takes a while) ..."
  if ! mvn -B -q -f "$pom" -Dlib.dir="$lib" dependency:copy-dependencies \
        >"$LOG_DIR/install-$name.log" 2>&1; then
    tail -n 40 "$LOG_DIR/install-$name.log" >&2
    die "mvn failed for $name (full log: $LOG_DIR/install-$name.log)"
  fi
}

install_kafka() {
  local stamp; stamp=$(stamp_of "$HERE/kafka/pom.xml")
  if [[ "$(cat "$LOCAL_DIR/kafka/.stamp" 2>/dev/null)" != "$stamp" ]] \
     || ! compgen -G "$KAFKA_LIB/kafka_2.13-*.jar" >/dev/null; then
    mvn_copy "$HERE/kafka/pom.xml" "$KAFKA_LIB" kafka
    echo "$stamp" >"$LOCAL_DIR/kafka/.stamp"
  fi
}

install_opensearch() {
  local stamp; stamp=$(stamp_of "$HERE/opensearch/pom.xml")
  if [[ "$(cat "$LOCAL_DIR/opensearch/.stamp" 2>/dev/null)" != "$stamp" ]] \
     || ! compgen -G "$OS_LIB/opensearch-2*.jar" >/dev/null; then
    mvn_copy "$HERE/opensearch/pom.xml" "$OS_LIB" opensearch
    echo "$stamp" >"$LOCAL_DIR/opensearch/.stamp"
    rm -rf "$OS_CLASSES"
  fi
  # Compile the launcher once (again only if Launcher.java changed).
  local src_stamp; src_stamp=$(stamp_of "$HERE/opensearch/Launcher.java")
  if [[ "$(cat "$OS_CLASSES/.stamp" 2>/dev/null)" != "$src_stamp" ]]; then
    rm -rf "$OS_CLASSES" && mkdir -p "$OS_CLASSES"
    "$JAVAC" -nowarn -cp "$OS_LIB/*" -d "$OS_CLASSES" "$HERE/opensearch/Launcher.java" \
      || die "javac failed for opensearch/Launcher.java"
    echo "$src_stamp" >"$OS_CLASSES/.stamp"
  fi
}

# The Kotlin compiler's jars for the judge's Kotlin language (executions reads $LOCAL_DIR/kotlin/lib).
install_kotlin() {
  local stamp; stamp=$(stamp_of "$HERE/kotlin/pom.xml")
  if [[ "$(cat "$LOCAL_DIR/kotlin/.stamp" 2>/dev/null)" != "$stamp" ]] \
     || ! compgen -G "$LOCAL_DIR/kotlin/lib/kotlin-compiler-embeddable-*.jar" >/dev/null; then
    mvn_copy "$HERE/kotlin/pom.xml" "$LOCAL_DIR/kotlin/lib" kotlin
    echo "$stamp" >"$LOCAL_DIR/kotlin/.stamp"
  fi
}

check_java() {
  command -v "$JAVA" >/dev/null || die "java not found (set JAVA_HOME or install a JDK 17)"
  local v; v=$("$JAVA" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/{print $2}')
  [[ "${v%%.*}" -ge 17 ]] || die "Java 17+ required, found $v"
}

cmd_install() {
  check_java
  mkdir -p "$LOCAL_DIR/kafka" "$LOCAL_DIR/opensearch" "$LOCAL_DIR/kotlin"
  install_kafka
  install_opensearch
  install_kotlin
  [[ -x "$PYTHON" ]] || log "warning: $PYTHON not found; moto cannot start (set ALGOITNY_PYTHON)"
}

# ---------------------------------------------------------------- processes

pid_file() { echo "$RUN_DIR/$1.pid"; }

# PID of a part we started, if that process is still alive and still ours: spawn() runs
# every part with its working directory inside $LOCAL_DIR, which guards against PID reuse.
our_pid() {
  local f pid cwd; f=$(pid_file "$1")
  [[ -f "$f" ]] || return 1
  pid=$(cat "$f")
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null) || return 1
  [[ "$cwd" == "$LOCAL_DIR"/* ]] || return 1
  echo "$pid"
}

# Start "$@" detached (own session), output to logs/<part>.log, PID to run/<part>.pid.
spawn() {
  local part=$1 cwd=$2; shift 2
  mkdir -p "$LOG_DIR" "$RUN_DIR" "$cwd"
  local logf=$LOG_DIR/$part.log
  [[ -f "$logf" ]] && mv -f "$logf" "$logf.1"
  # No job control here, so the subshell is not a group leader: setsid execs in place
  # and $! is the PID of the real server process.
  ( cd "$cwd" && exec setsid nohup "$@" >"$logf" 2>&1 </dev/null ) &
  echo $! >"$(pid_file "$part")"
  echo "$part" >>"$RUN_DIR/started"
  log "started $part (pid $!, log $logf)"
}

port_open() { timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# ---------------------------------------------------------------- health checks

kafka_healthy() {
  port_open "$KAFKA_PORT" || return 1
  # For a broker we started, also require the start-up line of this run's log.
  if our_pid kafka >/dev/null; then
    grep -q "Kafka Server started" "$LOG_DIR/kafka.log" 2>/dev/null || return 1
  fi
}
opensearch_healthy() {
  curl -sf -m 3 -o /dev/null \
    "http://127.0.0.1:$OPENSEARCH_PORT/_cluster/health?wait_for_status=yellow&timeout=1s"
}
moto_healthy() { curl -sf -m 3 -o /dev/null "http://127.0.0.1:$MOTO_PORT/moto-api/"; }

# Is something (ours or not) already listening/answering for this part?
answering() {
  case $1 in
    kafka) port_open "$KAFKA_PORT" ;;
    opensearch) opensearch_healthy || port_open "$OPENSEARCH_PORT" ;;
    moto) port_open "$MOTO_PORT" ;;
  esac
}

endpoint() {
  case $1 in
    kafka) echo "127.0.0.1:$KAFKA_PORT (bootstrap servers)" ;;
    opensearch) echo "http://127.0.0.1:$OPENSEARCH_PORT" ;;
    moto) echo "http://127.0.0.1:$MOTO_PORT (AWS endpoint_url: DynamoDB, S3, ...)" ;;
  esac
}

# Wait for all parts; fail with the log tail of the first that misses the deadline or dies.
wait_healthy() {
  local deadline=$((SECONDS + INFRA_TIMEOUT)) part pending=("$@")
  while ((${#pending[@]})); do
    local still=()
    for part in "${pending[@]}"; do
      if "${part}_healthy"; then
        log "$part is healthy"
        continue
      fi
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
      for part in "${pending[@]}"; do
        if our_pid "$part" >/dev/null; then
          echo "---- tail of $LOG_DIR/$part.log ----" >&2
          tail -n 40 "$LOG_DIR/$part.log" >&2 2>/dev/null || true
        else
          log "$part: its port is held by a process infra.sh did not start (see: ss -ltnp)"
        fi
      done
      die "not healthy after ${INFRA_TIMEOUT}s: ${pending[*]}"
    fi
    sleep 1
  done
}

# ---------------------------------------------------------------- starting each part

start_kafka() {
  local dir=$LOCAL_DIR/kafka data=$DATA_DIR/kafka
  local props=$dir/server.properties
  mkdir -p "$data"
  # Written on every start so port changes apply; data stays in $data.
  cat >"$props" <<EOF
# Generated by deploy/local/infra.sh; edits are overwritten.
process.roles=broker,controller
node.id=1
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
controller.quorum.bootstrap.servers=127.0.0.1:$KAFKA_CONTROLLER_PORT
log.dirs=$data
num.partitions=3
auto.create.topics.enable=false
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
EOF
  local cp="$KAFKA_LIB/*"
  local log4j="-Dlog4j2.configurationFile=$HERE/kafka/log4j2.properties"
  # Format the KRaft storage once; later starts reuse it.
  if [[ ! -f "$data/meta.properties" ]]; then
    local cluster_id
    cluster_id=$("$JAVA" "$log4j" -cp "$cp" kafka.tools.StorageTool random-uuid)
    log "formatting Kafka storage (cluster id $cluster_id)"
    "$JAVA" "$log4j" -cp "$cp" kafka.tools.StorageTool format \
      -t "$cluster_id" -c "$props" --standalone >"$LOG_DIR/kafka-format.log" 2>&1 \
      || { cat "$LOG_DIR/kafka-format.log" >&2; die "Kafka storage format failed"; }
  fi
  # shellcheck disable=SC2086  # KAFKA_HEAP_OPTS is a list of flags
  spawn kafka "$dir" "$JAVA" $KAFKA_HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -Djava.awt.headless=true "$log4j" -cp "$cp" kafka.Kafka "$props"
}

start_opensearch() {
  local root=$DATA_DIR/opensearch
  mkdir -p "$root/home/config"
  cp -f "$HERE/opensearch/log4j2.properties" "$root/home/config/log4j2.properties"
  # log4j shutdown hook off: the node logs its own shutdown from our hook.
  spawn opensearch "$root" "$JAVA" "-Xms$OPENSEARCH_HEAP" "-Xmx$OPENSEARCH_HEAP" -XX:+UseG1GC \
    -Djava.awt.headless=true -Dfile.encoding=UTF-8 \
    -Dlog4j.shutdownHookEnabled=false -Dlog4j2.disable.jmx=true \
    -cp "$OS_LIB/*:$OS_CLASSES" Launcher "$root" "$OPENSEARCH_PORT"
}

start_moto() {
  [[ -x "$PYTHON" ]] || die "$PYTHON not found; create the venv with moto[server] or set ALGOITNY_PYTHON"
  "$PYTHON" -c 'import moto.server, flask' 2>/dev/null \
    || die "$PYTHON cannot import moto.server (pip install 'moto[server]')"
  # moto's CLI serves with werkzeug threaded=True.
  # Our wrapper of moto.server: DynamoDB requests serialised (see moto_server.py).
  spawn moto "$LOCAL_DIR/moto" "$PYTHON" "$HERE/moto_server.py" -H 127.0.0.1 -p "$MOTO_PORT"
}

# ---------------------------------------------------------------- commands

# If `up` fails, stop what this invocation started (set INFRA_KEEP_ON_FAILURE=1 to keep it).
up_failed() {
  local rc=$?
  ((rc == 0)) && return 0
  if [[ "${INFRA_KEEP_ON_FAILURE:-0}" != 1 && -s "$RUN_DIR/started" ]]; then
    log "up failed: stopping the parts this invocation started"
    local -a started
    mapfile -t started <"$RUN_DIR/started"
    stop_parts "${started[@]}"
    : >"$RUN_DIR/started"
  fi
  exit "$rc"
}

cmd_up() {
  cmd_install
  mkdir -p "$RUN_DIR" "$LOG_DIR"
  : >"$RUN_DIR/started"   # parts started by THIS invocation
  trap up_failed EXIT
  local part
  for part in "${PARTS[@]}"; do
    if our_pid "$part" >/dev/null; then
      log "$part already running (pid $(our_pid "$part"), started earlier by infra.sh)"
    elif answering "$part"; then
      log "$part already answering (not started by us; left alone)"
      rm -f "$(pid_file "$part")"
    else
      rm -f "$(pid_file "$part")"
      "start_$part"
    fi
  done
  wait_healthy "${PARTS[@]}"
  trap - EXIT
  echo "Local infrastructure is up:"
  for part in "${PARTS[@]}"; do printf '  %-11s %s\n' "$part" "$(endpoint "$part")"; done
  echo "  logs:       $LOG_DIR"
}

# Stop the given parts if we started them: SIGTERM by PID, wait up to 20 s, then SIGKILL.
stop_parts() {
  local part pid pids=()
  for part in "$@"; do
    if pid=$(our_pid "$part"); then
      log "stopping $part (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
  done
  local i alive=()
  for ((i = 0; i < 40; i++)); do  # 40 x 0.5 s
    alive=()
    for pid in "${pids[@]+"${pids[@]}"}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
    ((${#alive[@]})) || break
    sleep 0.5
  done
  for pid in "${alive[@]+"${alive[@]}"}"; do
    log "pid $pid did not stop in 20 s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  done
  for part in "$@"; do rm -f "$(pid_file "$part")"; done
}

cmd_down() {
  stop_parts "${PARTS[@]}"
  rm -f "$RUN_DIR/started"
  log "down: stopped what infra.sh had started (anything else is left alone)"
}

cmd_status() {
  local part all_up=0 pid state
  for part in "${PARTS[@]}"; do
    if "${part}_healthy"; then state=up; else state=down; all_up=1; fi
    if pid=$(our_pid "$part"); then
      [[ $state == up ]] || state=starting
      state="$state (pid $pid, started by infra.sh)"
    elif [[ $state == up ]]; then
      state="$state (not started by infra.sh)"
    fi
    printf '%-11s %-45s %s\n' "$part" "$state" "$(endpoint "$part")"
  done
  return $all_up
}

cmd_wait() { wait_healthy "${PARTS[@]}"; log "all parts healthy"; }

cmd_reset_data() {
  local part
  for part in kafka opensearch; do
    our_pid "$part" >/dev/null && die "$part is running; run '$0 down' first"
  done
  rm -rf "$DATA_DIR/kafka" "$DATA_DIR/opensearch"
  log "deleted $DATA_DIR/kafka and $DATA_DIR/opensearch"
}

case "${1:-}" in
  install) cmd_install ;;
  up) cmd_up ;;
  down) cmd_down ;;
  stop) shift; stop_parts "$@" ;;
  started) cat "$RUN_DIR/started" 2>/dev/null || true ;;
  status) cmd_status ;;
  wait) cmd_wait ;;
  reset-data) cmd_reset_data ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac
