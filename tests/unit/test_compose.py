"""docker-compose.yml describes the same system as the local stack (it is not run in CI)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_compose_has_the_stack_and_shares_env_names_with_local_stack() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {
        "kafka",
        "postgres",
        "mlflow",
        "airflow-apiserver",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
    } <= set(services)
    assert services["kafka"]["image"].startswith("apache/kafka:4.")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"

    airflow_env = services["airflow-scheduler"]["environment"]
    local_env = set(re.findall(r"^export (\w+)=", (ROOT / "scripts/env.sh").read_text(), re.M))
    for name in ("AIRFLOW_CONN_KAFKA_DEFAULT", "MLFLOW_TRACKING_URI", "KAFKA_BOOTSTRAP_SERVERS"):
        assert name in airflow_env, name
        assert name in local_env, name
    mounts = {v.split(":")[1] for v in services["airflow-scheduler"]["volumes"]}
    assert {"/opt/airflow/dags", "/opt/airflow/plugins", "/opt/airflow/include"} <= mounts


def test_airflow_keeps_authentication_on_locally_and_in_compose() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    env_sh = (ROOT / "scripts/env.sh").read_text()
    for service in ("airflow-apiserver", "airflow-scheduler"):
        env = compose["services"][service]["environment"]
        assert str(env.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "False")) == "False"
        assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"]
    assert "ALL_ADMINS" not in env_sh
    assert "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS" in env_sh


def test_cluster_compose_has_the_cluster_layout() -> None:
    """docker-compose.cluster.yml: three KRaft brokers in one quorum, replicated topics,
    Airflow on Celery with Redis and PostgreSQL, scalable workers, the MLflow server; the
    same settings the local cluster (scripts/cluster-env.sh, kafka/cluster.properties) uses."""
    compose = yaml.safe_load((ROOT / "docker-compose.cluster.yml").read_text())
    services = compose["services"]
    brokers = [services[f"kafka-{n}"] for n in (1, 2, 3)]
    voters = {b["environment"]["KAFKA_CONTROLLER_QUORUM_VOTERS"] for b in brokers}
    assert voters == {"1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093"}
    assert [b["environment"]["KAFKA_NODE_ID"] for b in brokers] == [1, 2, 3]
    assert len({b["environment"]["CLUSTER_ID"] for b in brokers}) == 1
    local = dict(
        line.split("=", 1)
        for line in (ROOT / "kafka/cluster.properties").read_text().splitlines()
        if line and not line.startswith("#")
    )
    for key, value in local.items():
        if key.startswith(("auto.leader", "leader.imbalance")):
            continue
        env_key = "KAFKA_" + key.upper().replace(".", "_")
        assert str(brokers[0]["environment"][env_key]) == value, key
    assert {"redis", "postgres", "mlflow", "airflow-worker", "airflow-triggerer"} <= set(services)
    worker = services["airflow-worker"]
    assert worker["command"].startswith("celery worker")
    env = worker["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:")
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
    assert str(env["ENRICH_TOPIC_REPLICATION"]) == "3"
    assert "kafka-1:9092,kafka-2:9092,kafka-3:9092" in env["AIRFLOW_CONN_KAFKA_DEFAULT"]
    local_env = (ROOT / "scripts/cluster-env.sh").read_text()
    for name in (
        "AIRFLOW__CORE__EXECUTOR",
        "AIRFLOW__CELERY__BROKER_URL",
        "AIRFLOW__CELERY__RESULT_BACKEND",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT",
        "ENRICH_TOPIC_REPLICATION",
    ):
        assert name in env, name
        assert f"export {name}=" in local_env, name


def _compose_command() -> list[str] | None:
    """``docker compose`` (the plugin), else Debian's ``docker-compose``, else None."""
    if shutil.which("docker") is not None:
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose") is not None:
        return ["docker-compose"]
    return None


COMPOSE = _compose_command()


@pytest.mark.skipif(COMPOSE is None, reason="neither `docker compose` nor `docker-compose` here")
@pytest.mark.parametrize("name", ["docker-compose.yml", "docker-compose.cluster.yml"])
def test_compose_files_are_valid_for_docker_compose(name: str) -> None:
    assert COMPOSE is not None
    done = subprocess.run(
        [*COMPOSE, "-f", str(ROOT / name), "config", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
