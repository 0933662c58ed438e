#!/usr/bin/env bash
# The local cluster: the pipeline as a company that outgrew one node runs it, on 127.0.0.1.
#
#   scripts/cluster.sh start          everything below, started and prepared (idempotent)
#   scripts/cluster.sh stop           everything stopped (data kept under var/cluster)
#   scripts/cluster.sh status         what runs; exit 0 if all of it does
#   scripts/cluster.sh kafka-stop N   SIGKILL broker N (1..3): a fault, for tests
#   scripts/cluster.sh kafka-start N  start broker N again and wait until it serves
#   scripts/cluster.sh quorum-leader  print the node id of the KRaft quorum's leader (the
#                                     active controller)
#   scripts/cluster.sh worker-kill N  SIGKILL Celery worker N and every process under it (its
#                                     task processes too, each in a group of its own): the loss
#                                     of that worker's host, for tests
#   scripts/cluster.sh worker-stop N  stop Celery worker N (warm shutdown: running tasks finish)
#   scripts/cluster.sh worker-start N start Celery worker N (1..2) if it is not running
#   scripts/cluster.sh clean          stop, then delete var/cluster
#
# Parts (ports and folders: scripts/cluster-env.sh):
#   - three Apache Kafka 4 brokers in KRaft mode, each broker + controller (a quorum of
#     three voters), internal and project topics with three replicas, min.insync.replicas 2;
#   - PostgreSQL from Debian's packages: Airflow's metadata DB and MLflow's backend store;
#   - Redis from Debian's packages: Celery's broker (both installed with apt-get when missing);
#   - an MLflow tracking + registry server that serves the artifacts;
#   - Airflow 3 with the CeleryExecutor: api-server, scheduler, dag-processor, triggerer and
#     two Celery workers (CLUSTER_WORKERS), each its own process group with a pid file.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/cluster-env.sh
. "$here/cluster-env.sh"

dir="$ENRICH_CLUSTER_DIR"
run="$dir/run"        # pid files
logs="$dir/logs"
workers="${CLUSTER_WORKERS:-2}"
# one task slot a worker: an enrichment task keeps one core busy (this machine has two)
worker_concurrency="${CLUSTER_WORKER_CONCURRENCY:-1}"
timeout_s="${CLUSTER_START_TIMEOUT:-180}"

say() { printf 'cluster: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() { # wait_port PORT WHAT PIDFILE
  local waited=0
  until port_open "$1"; do
    if [[ -n "${3:-}" ]] && ! alive "$3"; then
      die "$2 exited during start-up (see $logs)"
    fi
    (( waited >= timeout_s * 2 )) && die "$2 did not answer on :$1 within ${timeout_s}s (see $logs)"
    sleep 0.5
    waited=$((waited + 1))
  done
}

alive() { # alive PIDFILE: the process group leader in it is running
  [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null
}

# Start a command in its own process group (setsid), log and pid file named after it.
spawn() { # spawn NAME COMMAND...
  local name="$1"; shift
  if alive "$run/$name.pid"; then
    return 0
  fi
  setsid "$@" >>"$logs/$name.log" 2>&1 </dev/null &
  echo $! >"$run/$name.pid"
}

stop_group() { # stop_group NAME: SIGTERM the group, SIGKILL after 30 s
  local pidfile="$run/$1.pid" pid
  [[ -f "$pidfile" ]] || return 0
  pid="$(cat "$pidfile")"
  kill -TERM -- "-$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do
    kill -0 -- "-$pid" 2>/dev/null || { rm -f "$pidfile"; return 0; }
    sleep 0.5
  done
  say "$1 did not stop in 30 s: killing it"
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

# ---- Kafka -----------------------------------------------------------------------------

kafka_node() { # kafka_node N COMMAND: scripts/kafka.sh for node N
  local n="$1" port
  port=$((CLUSTER_KAFKA_BASE_PORT + 100 * (n - 1)))
  KAFKA_PORT="$port" KAFKA_CONTROLLER_PORT="$((port + 1))" KAFKA_NODE_ID="$n" \
    KAFKA_DATA_DIR="$dir/kafka-$n" KAFKA_CLUSTER_ID="$(cat "$dir/kafka-cluster-id")" \
    KAFKA_EXTRA_PROPERTIES="$ENRICH_PROJECT_DIR/kafka/cluster.properties" \
    KAFKA_HEAP="${CLUSTER_KAFKA_HEAP:-512m}" KAFKA_WAIT="${KAFKA_WAIT:-1}" \
    "$here/kafka.sh" "$2"
}

kafka_start() {
  "$here/kafka.sh" setup
  if [[ ! -s "$dir/kafka-cluster-id" ]]; then
    # a KRaft cluster id: 16 random bytes, URL-safe base64 without padding
    head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' >"$dir/kafka-cluster-id"
  fi
  for n in 1 2 3; do KAFKA_WAIT=0 kafka_node "$n" start; done
  for n in 1 2 3; do kafka_node "$n" wait; done
}

# ---- PostgreSQL --------------------------------------------------------------------------

pg_bin() {
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  [[ -n "$d" && -x "$d/initdb" ]] || die "PostgreSQL server not found: apt-get install postgresql"
  echo "$d"
}

apt_install() { # apt_install PACKAGE: from Debian's packages (root only)
  [[ "$(id -u)" == 0 ]] || die "$1 is not installed: apt-get install $1"
  say "installing $1 from Debian's packages"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends "$1"; } >"$logs/apt-$1.log" 2>&1 \
    || { tail -n 20 "$logs/apt-$1.log" >&2; die "could not install $1 (apt-get install $1)"; }
}

as_pg() { # PostgreSQL refuses to run as root: its files and processes belong to `postgres`
  if [[ "$(id -u)" == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_start() {
  local bin data="$dir/postgres"
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || apt_install postgresql
  bin="$(pg_bin)"
  if [[ ! -f "$data/PG_VERSION" ]]; then
    mkdir -p "$data"
    [[ "$(id -u)" == 0 ]] && chown postgres: "$data" && chmod 700 "$data"
    as_pg "$bin/initdb" -D "$data" -U "$CLUSTER_PG_USER" --auth=trust -E UTF8 >"$logs/initdb.log" 2>&1 \
      || { cat "$logs/initdb.log" >&2; die "initdb failed"; }
  fi
  if ! port_open "$CLUSTER_PG_PORT"; then
    touch "$logs/postgres.log"
    [[ "$(id -u)" == 0 ]] && chown postgres: "$logs/postgres.log"
    as_pg "$bin/pg_ctl" -D "$data" -l "$logs/postgres.log" -w -t "$timeout_s" \
      -o "-p $CLUSTER_PG_PORT -c listen_addresses=127.0.0.1 -k /tmp -c max_connections=200" start >/dev/null \
      || die "PostgreSQL did not start (see $logs/postgres.log)"
  fi
  for db in airflow mlflow; do
    psql_cmd -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 \
      || psql_cmd -qc "CREATE DATABASE $db"
  done
}

psql_cmd() {
  psql -h 127.0.0.1 -p "$CLUSTER_PG_PORT" -U "$CLUSTER_PG_USER" -d postgres -v ON_ERROR_STOP=1 "$@"
}

pg_stop() {
  local data="$dir/postgres"
  [[ -f "$data/postmaster.pid" ]] || return 0
  as_pg "$(pg_bin)/pg_ctl" -D "$data" -m fast -w stop >/dev/null || true
}

# ---- Redis -------------------------------------------------------------------------------

redis_start() {
  command -v redis-server >/dev/null || apt_install redis-server
  port_open "$CLUSTER_REDIS_PORT" && return 0
  mkdir -p "$dir/redis"
  spawn redis redis-server --port "$CLUSTER_REDIS_PORT" --bind 127.0.0.1 --dir "$dir/redis" \
    --appendonly yes --save ""
  wait_port "$CLUSTER_REDIS_PORT" redis "$run/redis.pid"
}

# ---- MLflow and Airflow ------------------------------------------------------------------

mlflow_start() {
  mkdir -p "$dir/mlflow-artifacts"
  spawn mlflow mlflow server --host 127.0.0.1 --port "$MLFLOW_PORT" --workers 1 \
    --backend-store-uri "postgresql+psycopg2://$CLUSTER_PG_USER@127.0.0.1:$CLUSTER_PG_PORT/mlflow" \
    --artifacts-destination "$dir/mlflow-artifacts" --serve-artifacts
  wait_port "$MLFLOW_PORT" "MLflow server" "$run/mlflow.pid"
}

airflow_start() {
  mkdir -p "$AIRFLOW_HOME"
  if [[ ! -s "$dir/jwt_secret" ]]; then
    (umask 077; head -c 32 /dev/urandom | base64 | tr -d '\n' >"$dir/jwt_secret")
  fi
  AIRFLOW__API_AUTH__JWT_SECRET="$(cat "$dir/jwt_secret")"
  export AIRFLOW__API_AUTH__JWT_SECRET
  if [[ ! -s "$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE" ]]; then
    (umask 077; printf '{"admin": "%s"}\n' "$(head -c 12 /dev/urandom | base64 | tr -d '/+=\n')" \
      >"$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE")
  fi
  airflow db migrate >"$logs/db-migrate.log" 2>&1 || { tail -n 40 "$logs/db-migrate.log" >&2; die "airflow db migrate failed"; }
  spawn api-server airflow api-server --host 127.0.0.1 --port "$AIRFLOW__API__PORT" --workers 1
  spawn scheduler airflow scheduler
  spawn dag-processor airflow dag-processor
  spawn triggerer airflow triggerer
  for n in $(seq 1 "$workers"); do worker_start "$n"; done
  wait_port "$AIRFLOW__API__PORT" "Airflow API server" "$run/api-server.pid"
}

worker_start() { # worker_start N: Celery worker N; its task instances name it (workers.py)
  ENRICH_WORKER_NAME="worker$1@$(hostname)" \
    AIRFLOW__CORE__HOSTNAME_CALLABLE=enrich.airflow.workers.hostname \
    spawn "worker-$1" airflow celery worker --concurrency "$worker_concurrency" \
    --celery-hostname "worker$1@%h" --skip-serve-logs
}

descendants() { # descendants PID: every process below PID
  local child
  for child in $(ps -o pid= --ppid "$1"); do
    echo "$child"
    descendants "$child"
  done
}

worker_kill() {
  local pidfile="$run/worker-$1.pid" pid pids
  [[ -f "$pidfile" ]] || die "worker $1 is not running"
  pid="$(cat "$pidfile")"
  pids="$pid $(descendants "$pid" | tr '\n' ' ')"
  # shellcheck disable=SC2086  # a list of pids
  kill -KILL $pids 2>/dev/null || true
  rm -f "$pidfile"
  say "worker $1 killed (pids $pids)"
}

# ---- commands ----------------------------------------------------------------------------

start() {
  command -v java >/dev/null || die "java not found: install OpenJDK 17"
  mkdir -p "$run" "$logs"
  pg_start
  redis_start
  kafka_start
  mlflow_start
  airflow_start
  "$ENRICH_PROJECT_DIR/.venv/bin/enrich" setup >"$logs/enrich-setup.log" 2>&1 \
    || { cat "$logs/enrich-setup.log" >&2; die "enrich setup failed"; }
  say "ready: Kafka $KAFKA_BOOTSTRAP_SERVERS, Airflow http://127.0.0.1:$AIRFLOW__API__PORT" \
    "(admin, password in $AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE), MLflow $MLFLOW_TRACKING_URI"
}

stop() {
  local f
  for f in "$run"/worker-*.pid; do  # every worker started, whatever CLUSTER_WORKERS says now
    if [[ -f "$f" ]]; then stop_group "$(basename "$f" .pid)"; fi
  done
  for name in triggerer dag-processor scheduler api-server mlflow redis; do stop_group "$name"; done
  # all three at once: a node stopped after the others cannot reach a quorum to leave
  if [[ -s "$dir/kafka-cluster-id" ]]; then
    for n in 1 2 3; do kafka_node "$n" stop & done
    wait
  fi
  pg_stop
  say "stopped"
}

status() {
  local ok=0
  for name in redis mlflow api-server scheduler dag-processor triggerer $(seq -f 'worker-%g' 1 "$workers"); do
    if alive "$run/$name.pid"; then say "$name: running"; else say "$name: not running"; ok=1; fi
  done
  for n in 1 2 3; do kafka_node "$n" status || ok=1; done
  port_open "$CLUSTER_PG_PORT" && say "postgres: running" || { say "postgres: not running"; ok=1; }
  return $ok
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  kafka-stop)
    pid="$(cat "$dir/kafka-${2:?broker number}/broker.pid")"
    kill -KILL "$pid" && rm -f "$dir/kafka-$2/broker.pid" && say "broker $2 killed (pid $pid)" ;;
  kafka-start) kafka_node "${2:?broker number}" start ;;
  quorum-leader)
    java -cp "$ENRICH_PROJECT_DIR/kafka/lib/*" org.apache.kafka.tools.MetadataQuorumCommand \
      --bootstrap-server "$KAFKA_BOOTSTRAP_SERVERS" describe --status 2>/dev/null \
      | awk '/^LeaderId:/ { print $2; found = 1 } END { exit !found }' ;;
  worker-start) worker_start "${2:?worker number}" ;;
  worker-kill) worker_kill "${2:?worker number}" ;;
  worker-stop) stop_group "worker-${2:?worker number}" ;;
  clean) stop; rm -rf "$dir" ;;
  *) echo "usage: $0 {start|stop|status|kafka-stop N|kafka-start N|quorum-leader|worker-kill N|worker-stop N|worker-start N|clean}" >&2; exit 2 ;;
esac
