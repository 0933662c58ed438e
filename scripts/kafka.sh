#!/usr/bin/env bash
# Local Apache Kafka 4.x broker, single node in KRaft mode, on 127.0.0.1.
#
#   scripts/kafka.sh setup    fetch the broker jars from Maven Central (kafka/pom.xml) once
#   scripts/kafka.sh start    format storage if new, start the broker, wait until it answers
#   scripts/kafka.sh stop     stop the broker (SIGTERM, then SIGKILL after 60 s)
#   scripts/kafka.sh status   say whether it runs, exit 0 if it does
#
# Ports come from KAFKA_PORT / KAFKA_CONTROLLER_PORT, data from KAFKA_DATA_DIR (scripts/env.sh).
# One node of a cluster (scripts/cluster.sh) also sets KAFKA_NODE_ID, KAFKA_QUORUM_VOTERS,
# KAFKA_CLUSTER_ID (the same for every node), KAFKA_EXTRA_PROPERTIES (a file appended to the
# config: its keys win) and KAFKA_WAIT=0 (start returns at once: a node of a quorum cannot
# finish starting alone; `scripts/kafka.sh wait` waits for it).
# KAFKA_SECURITY=sasl starts it secured instead: clients authenticate with SASL/SCRAM-SHA-512
# on SASL_PLAINTEXT (loopback only) and ACLs decide what each user may do (StandardAuthorizer,
# nothing allowed without an ACL). The super user `admin` gets KAFKA_ADMIN_PASSWORD (required)
# when the storage is formatted; create other users and their ACLs with the Admin API.
# `start` while a broker of this project runs is a no-op; a port held by another program is an error.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/env.sh
. "$here/env.sh"

kafka_dir="$ENRICH_PROJECT_DIR/kafka"
lib_dir="$kafka_dir/lib"
data_dir="$KAFKA_DATA_DIR"
pid_file="$data_dir/broker.pid"
config="$data_dir/server.properties"
log_dir="$data_dir/logs"
start_timeout="${KAFKA_START_TIMEOUT:-90}"

say() { printf 'kafka: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

running_pid() {
  [[ -f "$pid_file" ]] || return 1
  local pid
  pid="$(cat "$pid_file")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && grep -q 'kafka.Kafka' "/proc/$pid/cmdline" 2>/dev/null \
    && { echo "$pid"; return 0; }
  return 1
}

setup() {
  command -v java >/dev/null || die "java not found: install OpenJDK 17 (apt-get install openjdk-17-jre-headless)"
  command -v mvn >/dev/null || die "mvn not found: install Maven (apt-get install maven)"
  local stamp="$lib_dir/.pom.sha256" want
  want="$(sha256sum "$kafka_dir/pom.xml" | cut -d' ' -f1)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    return 0
  fi
  say "fetching broker jars from Maven Central into kafka/lib (cached in ~/.m2 afterwards)"
  rm -rf "$lib_dir"
  mvn -q -B -f "$kafka_dir/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$lib_dir" -DincludeScope=runtime >&2
  echo "$want" >"$stamp"
}

java_args() {
  java_opts=(-Xms256m -Xmx"${KAFKA_HEAP:-1g}" -XX:+UseG1GC -Djava.awt.headless=true
    -Dlog4j2.configurationFile="$kafka_dir/log4j2.properties" -Dkafka.logs.dir="$log_dir"
    -cp "$lib_dir/*")
}

java_cmd() {
  java_args
  java "${java_opts[@]}" "$@"
}

write_config() {
  mkdir -p "$data_dir/kraft-logs" "$log_dir"
  {
    cat "$kafka_dir/server.properties"
    echo
    echo "# --- written by scripts/kafka.sh from the environment ---"
    echo "listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT"
    echo "advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT"
    echo "node.id=${KAFKA_NODE_ID:-1}"
    echo "controller.quorum.voters=${KAFKA_QUORUM_VOTERS:-1@127.0.0.1:$KAFKA_CONTROLLER_PORT}"
    echo "log.dirs=$data_dir/kraft-logs"
    if [[ -n "${KAFKA_EXTRA_PROPERTIES:-}" ]]; then
      echo "# --- $KAFKA_EXTRA_PROPERTIES ---"
      cat "$KAFKA_EXTRA_PROPERTIES"
    fi
    if [[ "${KAFKA_SECURITY:-}" == "sasl" ]]; then
      echo "# --- KAFKA_SECURITY=sasl: SASL/SCRAM-SHA-512 and ACLs ---"
      echo "listeners=SASL_PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT"
      echo "advertised.listeners=SASL_PLAINTEXT://127.0.0.1:$KAFKA_PORT"
      echo "listener.security.protocol.map=CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT"
      echo "inter.broker.listener.name=SASL_PLAINTEXT"
      echo "sasl.enabled.mechanisms=SCRAM-SHA-512"
      echo "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512"
      echo "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"admin\" password=\"$KAFKA_ADMIN_PASSWORD\";"
      echo "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer"
      # the controller listener is loopback-only PLAINTEXT: its (anonymous) peer is the broker
      echo "super.users=User:admin;User:ANONYMOUS"
      echo "allow.everyone.if.no.acl.found=false"
    fi
  } >"$config"
  chmod 600 "$config"
}

format_storage() {
  if [[ -f "$data_dir/kraft-logs/meta.properties" ]]; then
    return 0
  fi
  local cluster_id
  cluster_id="${KAFKA_CLUSTER_ID:-$(java_cmd kafka.tools.StorageTool random-uuid)}"
  say "formatting KRaft storage (cluster $cluster_id) in $data_dir/kraft-logs"
  local scram=()
  if [[ "${KAFKA_SECURITY:-}" == "sasl" ]]; then
    scram=(--add-scram "SCRAM-SHA-512=[name=admin,password=$KAFKA_ADMIN_PASSWORD]")
  fi
  java_cmd kafka.tools.StorageTool format --config "$config" --cluster-id "$cluster_id" \
    --ignore-formatted "${scram[@]}" >"$log_dir/format.log" 2>&1 \
    || { cat "$log_dir/format.log" >&2; die "storage format failed"; }
}

start() {
  local pid
  if pid="$(running_pid)"; then
    say "already running (pid $pid) on 127.0.0.1:$KAFKA_PORT"
    return 0
  fi
  for port in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
    port_open "$port" && die "port $port is in use by another program: stop it, or set KAFKA_PORT / KAFKA_CONTROLLER_PORT"
  done
  if [[ "${KAFKA_SECURITY:-}" == "sasl" && -z "${KAFKA_ADMIN_PASSWORD:-}" ]]; then
    die "KAFKA_SECURITY=sasl needs KAFKA_ADMIN_PASSWORD (the password of the super user admin)"
  fi
  setup
  write_config
  format_storage
  say "starting broker on 127.0.0.1:$KAFKA_PORT (controller :$KAFKA_CONTROLLER_PORT), log in $log_dir/server.log"
  java_args
  # where this start's lines begin in server.log (a restarted node's log says "started" above)
  wc -l <"$log_dir/server.log" 2>/dev/null >"$data_dir/start.line" || echo 0 >"$data_dir/start.line"
  nohup java "${java_opts[@]}" kafka.Kafka "$config" >"$log_dir/stdout.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$pid_file"
  [[ "${KAFKA_WAIT:-1}" == 0 ]] || wait_ready
}

wait_ready() {
  local pid waited=0
  pid="$(cat "$pid_file" 2>/dev/null)" || die "not started (no $pid_file)"
  local from
  from=$(( $(cat "$data_dir/start.line" 2>/dev/null || echo 0) + 1 ))
  until port_open "$KAFKA_PORT" && awk -v from="$from" \
    'NR >= from && /Kafka Server started/ { found = 1 } END { exit !found }' \
    "$log_dir/server.log" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 30 "$log_dir/stdout.log" "$log_dir/server.log" >&2 2>/dev/null || true
      rm -f "$pid_file"
      die "broker exited during start-up (see $log_dir/server.log)"
    fi
    (( waited >= start_timeout * 2 )) && die "broker did not answer within ${start_timeout}s (see $log_dir/server.log)"
    sleep 0.5
    waited=$((waited + 1))
  done
  say "ready (pid $pid) after ~$((waited / 2))s"
}

stop() {
  local pid
  if ! pid="$(running_pid)"; then
    say "not running"
    rm -f "$pid_file"
    return 0
  fi
  kill -TERM "$pid"
  for _ in $(seq 1 120); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$pid_file"; say "stopped"; return 0; }
    sleep 0.5
  done
  say "no clean shutdown after 60s: killing pid $pid"
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pid_file"
}

status() {
  local pid
  if pid="$(running_pid)"; then
    say "running (pid $pid) on 127.0.0.1:$KAFKA_PORT"
  else
    say "not running"
    return 1
  fi
}

case "${1:-}" in
  setup) setup ;;
  start) start ;;
  wait) wait_ready ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 {setup|start|wait|stop|status}" >&2; exit 2 ;;
esac
