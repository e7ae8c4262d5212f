#!/usr/bin/env bash
# A single-node KRaft Kafka for development and tests: scripts/kafka.sh start|stop|status.
#
# The broker jars come from Maven Central (scripts/kafka/pom.xml) and are cached under
# .cache/kafka/jars, so only the first start fetches them. Every start formats a fresh log
# directory: this broker holds test data only. Quiet on success; errors go to stderr.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HERE="$ROOT/scripts/kafka"
CACHE="$ROOT/.cache/kafka"
JARS="$CACHE/jars"
# A second broker (other KAFKA_PORT / KAFKA_CONTROLLER_PORT, e.g. one a test crashes and
# restarts) keeps its pid, log, properties and data in its own KAFKA_STATE_DIR.
STATE="${KAFKA_STATE_DIR:-$CACHE}"
PID_FILE="$STATE/kafka.pid"
LOG_FILE="$STATE/kafka.log"
# KAFKA_KEEP_DATA=1: stop keeps the log directory and start reuses it (a broker restart).
KEEP_DATA="${KAFKA_KEEP_DATA:-}"
PORT="${KAFKA_PORT:-9092}"
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
START_TIMEOUT_S="${KAFKA_START_TIMEOUT_S:-90}"

# True when something accepts TCP connections on 127.0.0.1:$1.
answers() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

running_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(cat "$PID_FILE")"
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

fetch_jars() {
  # A marker written last, so an interrupted fetch is retried instead of half-used.
  [[ -f "$JARS/.complete" && "$JARS/.complete" -nt "$HERE/pom.xml" ]] && return 0
  command -v mvn >/dev/null || { echo "kafka.sh: mvn is needed to fetch the Kafka jars" >&2; exit 1; }
  rm -rf "$JARS"
  mkdir -p "$JARS"
  if ! mvn -B -q -f "$HERE/pom.xml" \
    org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies \
    -DoutputDirectory="$JARS" -DincludeScope=runtime >"$CACHE/mvn.log" 2>&1; then
    echo "kafka.sh: fetching the Kafka jars failed; see $CACHE/mvn.log" >&2
    exit 1
  fi
  touch "$JARS/.complete"
}

write_properties() {
  local dir="$1"
  cat >"$STATE/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
min.insync.replicas=1
default.replication.factor=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
background.threads=2
log.retention.hours=24
PROPS
}

start() {
  if answers "$PORT"; then return 0; fi
  mkdir -p "$CACHE" "$STATE"
  if pid="$(running_pid)"; then
    echo "kafka.sh: Kafka (pid $pid) is running but port $PORT does not answer yet" >&2
  else
    command -v java >/dev/null || { echo "kafka.sh: java (17+) is needed to run Kafka" >&2; exit 1; }
    fetch_jars
    local cp="$JARS/*"
    local kept
    kept="$(compgen -G "$STATE/data-*" | head -n 1 || true)"
    if [[ -z "$KEEP_DATA" || -z "$kept" || ! -f "$STATE/server.properties" ]]; then
      rm -rf "$STATE"/data-*
      local dir="$STATE/data-$(date +%s)-$$"
      write_properties "$dir"
      local uuid
      uuid="$(java -cp "$cp" kafka.tools.StorageTool random-uuid 2>>"$LOG_FILE")"
      if ! java -cp "$cp" -Dlog4j.configuration="file:$HERE/log4j.properties" \
        kafka.tools.StorageTool format -t "$uuid" -c "$STATE/server.properties" \
        >>"$LOG_FILE" 2>&1; then
        echo "kafka.sh: formatting the Kafka log directory failed; see $LOG_FILE" >&2
        exit 1
      fi
    fi
    # Small heap and few GC/compiler threads: the machine has two cores to share.
    KAFKA_OPTS=(-Xms128m -Xmx512m -XX:+UseSerialGC -XX:CICompilerCount=2 -XX:TieredStopAtLevel=1
      -Djava.awt.headless=true -Dlog4j.configuration="file:$HERE/log4j.properties")
    nohup java "${KAFKA_OPTS[@]}" -cp "$cp" kafka.Kafka "$STATE/server.properties" \
      >"$LOG_FILE" 2>&1 </dev/null &
    echo $! >"$PID_FILE"
  fi
  local deadline=$((SECONDS + START_TIMEOUT_S))
  until answers "$PORT"; do
    if ! running_pid >/dev/null; then
      echo "kafka.sh: Kafka exited while starting; last lines of $LOG_FILE:" >&2
      tail -n 20 "$LOG_FILE" >&2 || true
      exit 1
    fi
    if ((SECONDS >= deadline)); then
      echo "kafka.sh: Kafka did not accept connections on 127.0.0.1:$PORT within ${START_TIMEOUT_S}s; see $LOG_FILE" >&2
      exit 1
    fi
    sleep 0.5
  done
}

stop() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$PID_FILE"
    return 0
  fi
  kill "$pid"
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
  rm -f "$PID_FILE"
  [[ -n "$KEEP_DATA" ]] || rm -rf "$STATE"/data-*
}

status() {
  if answers "$PORT"; then
    if pid="$(running_pid)"; then
      echo "kafka: running (pid $pid) on 127.0.0.1:$PORT"
    else
      echo "kafka: something answers on 127.0.0.1:$PORT (not started by kafka.sh)"
    fi
  elif pid="$(running_pid)"; then
    echo "kafka: starting (pid $pid), port $PORT not answering yet"
    return 1
  else
    echo "kafka: stopped"
    return 3
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *)
    echo "usage: scripts/kafka.sh start|stop|status" >&2
    exit 2
    ;;
esac
