"""docker-compose.yml describes the same system as the local stack (it is not run in CI)."""

from __future__ import annotations

import re
from pathlib import Path

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
