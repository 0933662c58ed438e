# shellcheck shell=bash
# The local stack's environment, in one place. `make` sources it for every command;
# source it yourself to run `airflow`, `mlflow` or `pytest` by hand:
#     . scripts/env.sh
# Every value is a default: a variable already set in your environment wins.

_enrich_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ENRICH_PROJECT_DIR="${ENRICH_PROJECT_DIR:-$_enrich_root}"
export ENRICH_VAR_DIR="${ENRICH_VAR_DIR:-$ENRICH_PROJECT_DIR/var}"

# Apache Kafka (scripts/kafka.sh): broker and KRaft controller ports on 127.0.0.1.
export KAFKA_PORT="${KAFKA_PORT:-9092}"
export KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
export KAFKA_BOOTSTRAP_SERVERS="${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:$KAFKA_PORT}"
export KAFKA_DATA_DIR="${KAFKA_DATA_DIR:-$ENRICH_VAR_DIR/kafka}"

# MLflow: tracking + model registry in a SQLite file, artifacts in a local folder.
export MLFLOW_TRACKING_URI="${MLFLOW_TRACKING_URI:-sqlite:///$ENRICH_VAR_DIR/mlflow/mlflow.db}"
export MLFLOW_REGISTRY_URI="${MLFLOW_REGISTRY_URI:-$MLFLOW_TRACKING_URI}"
export ENRICH_MLFLOW_ARTIFACT_ROOT="${ENRICH_MLFLOW_ARTIFACT_ROOT:-$ENRICH_VAR_DIR/mlflow/artifacts}"
export MLFLOW_PORT="${MLFLOW_PORT:-5000}"

# Apache Airflow 3: home, SQLite metadata DB, this project's dags/ and plugins/.
export AIRFLOW_HOME="${AIRFLOW_HOME:-$ENRICH_VAR_DIR/airflow}"
export AIRFLOW__CORE__DAGS_FOLDER="${AIRFLOW__CORE__DAGS_FOLDER:-$ENRICH_PROJECT_DIR/dags}"
export AIRFLOW__CORE__PLUGINS_FOLDER="${AIRFLOW__CORE__PLUGINS_FOLDER:-$ENRICH_PROJECT_DIR/plugins}"
export AIRFLOW__CORE__LOAD_EXAMPLES="${AIRFLOW__CORE__LOAD_EXAMPLES:-False}"
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="${AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION:-True}"
export AIRFLOW__API__PORT="${AIRFLOW__API__PORT:-8080}"
export AIRFLOW__API__HOST="${AIRFLOW__API__HOST:-127.0.0.1}"
# Task processes reach the execution API at {base_url}/execution/: it must follow the port.
export AIRFLOW__API__BASE_URL="${AIRFLOW__API__BASE_URL:-http://$AIRFLOW__API__HOST:$AIRFLOW__API__PORT}"
# The UI keeps authentication on: simple auth manager, one admin whose generated password
# `airflow standalone` writes to $AIRFLOW_HOME/simple_auth_manager_passwords.json.generated.
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS:-admin:admin}"
# The Kafka connection the pipeline uses, read by the Kafka provider's hooks. Put SASL/TLS
# settings in its extra (or define kafka_default in the UI / a secrets backend instead).
# (built in two steps: a JSON default inside ${VAR:-...} would end at its first "}")
_enrich_conn='{"conn_type": "kafka", "extra": {"bootstrap.servers": "'"$KAFKA_BOOTSTRAP_SERVERS"'"}}'
export AIRFLOW_CONN_KAFKA_DEFAULT="${AIRFLOW_CONN_KAFKA_DEFAULT:-$_enrich_conn}"
# glibc gives every thread that allocates its own malloc arena; librdkafka's threads made a
# long-lived task process grow ~1.6 MB per micro-batch here (measured: 336 -> 431 MB over 60
# batches; with 2 arenas 333 -> 362 MB). Two arenas keep it near flat at no measured cost.
export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"

# `airflow standalone` starts its parts by running `airflow` from PATH.
case ":$PATH:" in
  *":$ENRICH_PROJECT_DIR/.venv/bin:"*) ;;
  *) export PATH="$ENRICH_PROJECT_DIR/.venv/bin:$PATH" ;;
esac
unset _enrich_root _enrich_conn
