"""scripts/env.sh: defaults that survive being sourced twice (make inherits a sourced shell)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

ENV = Path(__file__).resolve().parents[2] / "scripts" / "env.sh"


def source(times: int, extra: str = "") -> dict[str, str]:
    script = "; ".join([extra or "true"] + [f". {ENV}"] * times + ["env -0"])
    out = subprocess.run(["bash", "-c", script], capture_output=True, check=True, env={})
    return dict(item.split("=", 1) for item in out.stdout.decode().split("\0") if "=" in item)


def test_kafka_connection_is_valid_json_after_sourcing_twice() -> None:
    once, twice = source(1), source(2)
    assert once["AIRFLOW_CONN_KAFKA_DEFAULT"] == twice["AIRFLOW_CONN_KAFKA_DEFAULT"]
    conn = json.loads(twice["AIRFLOW_CONN_KAFKA_DEFAULT"])
    assert conn == {"conn_type": "kafka", "extra": {"bootstrap.servers": "127.0.0.1:9092"}}


def test_settings_already_in_the_environment_win() -> None:
    env = source(1, "export KAFKA_PORT=19092 MLFLOW_TRACKING_URI=http://mlflow:5000")
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "127.0.0.1:19092"
    assert env["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    assert env["AIRFLOW_HOME"].endswith("/var/airflow")


def test_airflow_base_url_follows_the_api_port() -> None:
    """Task processes find the execution API at {base_url}/execution/."""
    assert source(1)["AIRFLOW__API__BASE_URL"] == "http://127.0.0.1:8080"
    moved = source(1, "export AIRFLOW__API__PORT=18080")
    assert moved["AIRFLOW__API__BASE_URL"] == "http://127.0.0.1:18080"
