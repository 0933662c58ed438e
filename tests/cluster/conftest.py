"""Tests on the local cluster (``make cluster-up``; ``make test-cluster`` runs them): three
Kafka brokers, Airflow with the CeleryExecutor and two workers, PostgreSQL, Redis and an
MLflow server, all real processes started by ``scripts/cluster.sh``. The tests act as a user
does: DAG runs triggered and watched through Airflow's REST API, brokers and workers killed
with signals, outputs read back with a ``read_committed`` consumer.

The cluster is one deployment: its topics and the default consumer group are shared by the
tests, so each test counts only what lies past the offsets it saw before it started."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from enrich.config import Topics
from enrich.io import connection, reading, topics
from tests.integration.airflow_api import AirflowAPI

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = ROOT / "scripts" / "cluster.sh"
RUN_TIMEOUT_S = 600


def cluster_sh(*args: str) -> str:
    done = subprocess.run(
        [str(CLUSTER), *args], capture_output=True, text=True, timeout=300, check=False
    )
    if done.returncode:
        raise RuntimeError(f"scripts/cluster.sh {' '.join(args)}: {done.stderr[-2000:]}")
    return done.stdout


class ClusterAPI(AirflowAPI):
    def post(self, path: str, body: dict[str, Any]) -> Any:
        response = self.client.post(path, json=body)
        response.raise_for_status()
        return response.json()

    def unpause(self, dag_id: str) -> None:
        self.patch(f"/dags/{dag_id}", {"is_paused": False}).raise_for_status()

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        run = self.post(f"/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf or {}})
        return str(run["dag_run_id"])

    def wait(self, dag_id: str, run_id: str, timeout: float = RUN_TIMEOUT_S) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            run: dict[str, Any] = self.get(f"/dags/{dag_id}/dagRuns/{run_id}")
            if run["state"] in ("success", "failed"):
                return run
            if time.monotonic() > deadline:
                raise TimeoutError(f"{dag_id} run {run_id} still {run['state']} after {timeout}s")
            time.sleep(2)

    def run(self, dag_id: str, conf: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.wait(dag_id, self.trigger(dag_id, conf))

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        found = self.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", limit=100)
        return list(found["task_instances"])

    def tries(self, dag_id: str, run_id: str, task_id: str) -> list[dict[str, Any]]:
        """Every try of each mapped instance of ``task_id`` (the API's task instance history
        plus the current try)."""
        out = []
        for ti in self.task_instances(dag_id, run_id):
            if ti["task_id"] != task_id:
                continue
            path = (
                f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/{ti['map_index']}/tries"
            )
            out.extend(self.get(path)["task_instances"])
        return out


@pytest.fixture(scope="session")
def cluster() -> None:
    if os.environ.get("AIRFLOW__CORE__EXECUTOR") != "CeleryExecutor":
        pytest.fail("run the cluster tests with its environment: make test-cluster")
    try:
        cluster_sh("status")
    except RuntimeError as err:
        pytest.fail(f"the cluster is not (all) running: make cluster-up\n{err}")


def login() -> ClusterAPI:
    """The cluster's API server, as its admin (password from the file cluster.sh made)."""
    base = f"http://127.0.0.1:{os.environ['AIRFLOW__API__PORT']}"
    passwords = json.loads(
        Path(os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]).read_text()
    )
    response = httpx.post(
        f"{base}/auth/token",
        json={"username": "admin", "password": passwords["admin"]},
        timeout=30,
    )
    response.raise_for_status()
    return ClusterAPI(base, response.json()["access_token"])


@pytest.fixture(scope="session")
def api(cluster: None) -> Iterator[ClusterAPI]:
    client = login()
    yield client
    client.client.close()


@pytest.fixture(scope="session")
def kafka_config(cluster: None) -> dict[str, Any]:
    return connection.client_config("kafka_default")


@pytest.fixture(scope="session")
def stack_topics() -> Topics:
    return Topics.from_env()


@pytest.fixture(scope="session")
def caught_up(api: ClusterAPI, kafka_config: dict[str, Any], stack_topics: Topics) -> None:
    """log_enrichment unpaused and its consumer group caught up with the input topic, so a
    test's run starts at the offsets the test saw before it produced."""
    api.unpause("log_enrichment")
    run = api.run("log_enrichment", {"start_from": "earliest"})
    assert run["state"] == "success", run


def high(config: dict[str, Any], topic: str) -> dict[int, int]:
    return {p: hi for p, (_lo, hi) in topics.watermarks(config, topic).items()}


def records_since(config: dict[str, Any], topic: str, starts: dict[int, int]) -> list[Any]:
    """``topic``'s committed records from offsets ``starts`` on (read_committed)."""
    out: list[Any] = []
    for _partition, reader in reading.partition_readers(config, topic, starts=starts):
        for chunk in reader.chunks():
            out.extend(chunk)
    return out


def keys_since(config: dict[str, Any], topic: str, starts: dict[int, int]) -> Counter[str]:
    """The keys of ``topic``'s committed records from ``starts`` on, counted."""
    return Counter(m.key().decode() for m in records_since(config, topic, starts))


class Ledger:
    """What a test produced and what came out for it: every input exactly once in the
    enriched or the dead-letter topic (each output's key is its input's coordinates)."""

    def __init__(self, config: dict[str, Any], stack_topics: Topics) -> None:
        self.config, self.topics = config, stack_topics
        self.raw = high(config, stack_topics.raw)
        self.enriched = high(config, stack_topics.enriched)
        self.dlq = high(config, stack_topics.dlq)

    def expected(self) -> set[str]:
        now = high(self.config, self.topics.raw)
        return {
            f"{self.topics.raw}:{p}:{o}" for p, end in now.items() for o in range(self.raw[p], end)
        }

    def outputs(self) -> Counter[str]:
        return keys_since(self.config, self.topics.enriched, self.enriched) + keys_since(
            self.config, self.topics.dlq, self.dlq
        )

    def check(self) -> dict[str, int]:
        """Inputs, lost and duplicated since the ledger was opened."""
        expected, got = self.expected(), self.outputs()
        return {
            "inputs": len(expected),
            "lost": len(expected - set(got)),
            "duplicated": sum(n - 1 for k, n in got.items() if n > 1),
            "unexpected": len(set(got) - expected),
        }
