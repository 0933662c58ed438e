# shellcheck shell=bash
# The local *cluster*'s environment (scripts/cluster.sh, `make cluster-up`): three Kafka
# brokers in KRaft mode, Airflow with the CeleryExecutor (Redis as Celery's broker,
# PostgreSQL as the metadata database), two Celery workers, an MLflow server on PostgreSQL.
# Source it instead of scripts/env.sh to use the cluster by hand:
#     . scripts/cluster-env.sh
# Every value is a default: a variable already set in your environment wins. Ports differ
# from the single-node stack's, so both can run at once; data lives under var/cluster.

_enrich_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ENRICH_PROJECT_DIR="${ENRICH_PROJECT_DIR:-$_enrich_root}"
export ENRICH_CLUSTER_DIR="${ENRICH_CLUSTER_DIR:-$ENRICH_PROJECT_DIR/var/cluster}"
# the pipeline's own cache and state folders of this stack
export ENRICH_VAR_DIR="${ENRICH_VAR_DIR:-$ENRICH_CLUSTER_DIR}"

# Kafka: node i (1..3) listens on 127.0.0.1:CLUSTER_KAFKA_BASE_PORT + 100 (i - 1), its
# controller on the port after it; all three are voters of the KRaft quorum.
export CLUSTER_KAFKA_BASE_PORT="${CLUSTER_KAFKA_BASE_PORT:-19092}"
_p1=$CLUSTER_KAFKA_BASE_PORT
_p2=$((CLUSTER_KAFKA_BASE_PORT + 100))
_p3=$((CLUSTER_KAFKA_BASE_PORT + 200))
export KAFKA_BOOTSTRAP_SERVERS="${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:$_p1,127.0.0.1:$_p2,127.0.0.1:$_p3}"
export KAFKA_QUORUM_VOTERS="${KAFKA_QUORUM_VOTERS:-1@127.0.0.1:$((_p1 + 1)),2@127.0.0.1:$((_p2 + 1)),3@127.0.0.1:$((_p3 + 1))}"
# the project's topics: three replicas, a write needs two in sync (brokers' default too)
export ENRICH_TOPIC_REPLICATION="${ENRICH_TOPIC_REPLICATION:-3}"

# Redis (Celery's broker) and PostgreSQL (Airflow's metadata DB, MLflow's store), loopback
export CLUSTER_REDIS_PORT="${CLUSTER_REDIS_PORT:-16379}"
export CLUSTER_PG_PORT="${CLUSTER_PG_PORT:-15432}"
export CLUSTER_PG_USER="${CLUSTER_PG_USER:-enrich}"
_pg="postgresql+psycopg2://$CLUSTER_PG_USER@127.0.0.1:$CLUSTER_PG_PORT"

# MLflow: a tracking + registry server every worker reaches (it serves the artifacts too)
export MLFLOW_PORT="${MLFLOW_PORT:-15000}"
export MLFLOW_TRACKING_URI="${MLFLOW_TRACKING_URI:-http://127.0.0.1:$MLFLOW_PORT}"
export MLFLOW_REGISTRY_URI="${MLFLOW_REGISTRY_URI:-$MLFLOW_TRACKING_URI}"

# Airflow: CeleryExecutor, PostgreSQL metadata DB, Redis broker, two workers (cluster.sh)
export AIRFLOW_HOME="${AIRFLOW_HOME:-$ENRICH_CLUSTER_DIR/airflow}"
export AIRFLOW__CORE__EXECUTOR="${AIRFLOW__CORE__EXECUTOR:-CeleryExecutor}"
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-$_pg/airflow}"
export AIRFLOW__CELERY__BROKER_URL="${AIRFLOW__CELERY__BROKER_URL:-redis://127.0.0.1:$CLUSTER_REDIS_PORT/0}"
export AIRFLOW__CELERY__RESULT_BACKEND="${AIRFLOW__CELERY__RESULT_BACKEND:-db+postgresql+psycopg2://$CLUSTER_PG_USER@127.0.0.1:$CLUSTER_PG_PORT/airflow}"
# a task a dead worker held is sent again after this long (Celery's visibility timeout)
export AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT="${AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT:-21600}"
# a task whose worker died (no heartbeat for this long) is failed and retried elsewhere
export AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT="${AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT:-60}"
export AIRFLOW__API__PORT="${AIRFLOW__API__PORT:-18080}"
export AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT="${AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT:-18794}"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE="${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE:-$AIRFLOW_HOME/passwords.json}"
# the API server and the workers sign and check task tokens with one secret, made once by
# cluster.sh (never in the repo)
if [[ -z "${AIRFLOW__API_AUTH__JWT_SECRET:-}" && -r "$ENRICH_CLUSTER_DIR/jwt_secret" ]]; then
  AIRFLOW__API_AUTH__JWT_SECRET="$(cat "$ENRICH_CLUSTER_DIR/jwt_secret")"
  export AIRFLOW__API_AUTH__JWT_SECRET
fi

unset _enrich_root _p1 _p2 _p3 _pg
# everything else (dags/plugins folders, the Kafka connection from KAFKA_BOOTSTRAP_SERVERS,
# PATH) as the single-node stack has it
# shellcheck source=scripts/env.sh
. "$ENRICH_PROJECT_DIR/scripts/env.sh"
