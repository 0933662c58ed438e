"""An isolated pipeline for one test: its own topics, consumer group, MLflow store and model.

Everything is real (the local broker, a SQLite MLflow store, Airflow's metadata DB); only the
names are private, so tests never see each other's data or the demo's. Another environment is
another stack to ``Runtime.current()``, so no model or rules cached for one pipeline ever
serve another. ``tests/integration/conftest.py`` makes one per test module (``pipe``).
"""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
from confluent_kafka import Consumer, TopicPartition

from enrich.config import StackSettings
from enrich.io import connection, reading, topics

DAGS = Path(__file__).resolve().parents[2] / "dags"


@dataclass
class Pipeline:
    stack: StackSettings
    config: dict[str, Any]
    group: str

    def read(self, topic: str) -> list[Any]:
        return reading.read_topic(self.config, topic)[0]

    def committed(self, stable: bool = True) -> dict[int, int]:
        """The group's committed offsets. ``stable=False``: without waiting for an open
        transaction that carries offsets (a read_committed consumer asks for stable offsets,
        which the broker holds back until that transaction ends)."""
        isolation = "read_committed" if stable else "read_uncommitted"
        consumer = Consumer({**self.config, "group.id": self.group, "isolation.level": isolation})
        try:
            parts = [TopicPartition(self.stack.topics.raw, p) for p in range(3)]
            return {tp.partition: tp.offset for tp in consumer.committed(parts, timeout=10)}
        finally:
            consumer.close()

    def high(self, topic: str) -> dict[int, int]:
        return {p: hi for p, (_lo, hi) in topics.watermarks(self.config, topic).items()}

    def run_dag(self, dag_id: str, **kwargs: Any) -> Any:
        from airflow.dag_processing.dagbag import DagBag

        dag = DagBag(dag_folder=str(DAGS / f"{dag_id}.py")).get_dag(dag_id)
        conf = kwargs.pop("run_conf", None) or {}
        if dag_id == "log_enrichment":  # a test's group is new: it enriches what is there
            conf = {"start_from": "earliest", **conf}
        return dag.test(run_conf={"consumer_group": self.group, **conf}, **kwargs)


@contextmanager
def isolated_pipeline(tmp: Path) -> Iterator[Pipeline]:
    tag = uuid.uuid4().hex[:10]
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    with env_vars(
        ENRICH_TOPIC_RAW=f"t{tag}.raw",
        ENRICH_TOPIC_ENRICHED=f"t{tag}.enriched",
        ENRICH_TOPIC_LABELS=f"t{tag}.labels",
        ENRICH_TOPIC_REVIEW=f"t{tag}.review",
        ENRICH_TOPIC_DLQ=f"t{tag}.dlq",
        ENRICH_REGISTERED_MODEL=f"model-{tag}",
        ENRICH_MLFLOW_EXPERIMENT=f"exp-{tag}",
        ENRICH_MLFLOW_ARTIFACT_ROOT=str(tmp / "artifacts"),
        ENRICH_MODEL_CACHE=str(tmp / "model-cache"),
        MLFLOW_TRACKING_URI=uri,
        MLFLOW_REGISTRY_URI=uri,
    ):
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        stack = StackSettings.from_env()
        config = connection.client_config(stack.kafka_conn_id)
        topics.ensure_topics(config, topics.project_topics(stack))
        try:
            yield Pipeline(stack, config, f"group-{tag}")
        finally:
            topics.delete_topics(config, prefix=f"t{tag}.")  # and the backfill targets
    mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
    mlflow.set_registry_uri(os.environ["MLFLOW_REGISTRY_URI"])


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def env_vars(**values: str) -> Iterator[None]:
    """Set environment variables for a block; restore (or remove) them afterwards."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextmanager
def local_broker(data_dir: Path, **env: str) -> Iterator[dict[str, str]]:
    """A dedicated broker from scripts/kafka.sh on free ports (``env`` adds settings such as
    ``KAFKA_SECURITY``); yields the environment that starts and stops it."""
    script = str(DAGS.parent / "scripts" / "kafka.sh")
    broker_env = {
        **os.environ,
        "KAFKA_PORT": str(free_port()),
        "KAFKA_CONTROLLER_PORT": str(free_port()),
        "KAFKA_DATA_DIR": str(data_dir),
        **env,
    }
    subprocess.run([script, "start"], env=broker_env, check=True, capture_output=True, timeout=120)
    try:
        yield broker_env
    finally:
        subprocess.run(
            [script, "stop"], env=broker_env, check=False, capture_output=True, timeout=120
        )
