"""An isolated pipeline for one test: its own topics, consumer group, MLflow store and model.

Everything is real (the local broker, a SQLite MLflow store, Airflow's metadata DB); only the
names are private, so tests never see each other's data or the demo's.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from enrich import jobs, kafka_io
from enrich.settings import StackSettings

DAGS = Path(__file__).resolve().parents[2] / "dags"


@dataclass
class Pipeline:
    stack: StackSettings
    config: dict[str, Any]
    group: str

    def read(self, topic: str) -> list[Any]:
        return kafka_io.read_topic(self.config, topic)[0]

    def committed(self) -> dict[int, int]:
        consumer = Consumer({**self.config, "group.id": self.group})
        try:
            parts = [TopicPartition(self.stack.topics.raw, p) for p in range(3)]
            return {tp.partition: tp.offset for tp in consumer.committed(parts, timeout=10)}
        finally:
            consumer.close()

    def high(self, topic: str) -> dict[int, int]:
        return {p: hi for p, (_lo, hi) in kafka_io.watermarks(self.config, topic).items()}

    def run_dag(self, dag_id: str, **kwargs: Any) -> Any:
        from airflow.dag_processing.dagbag import DagBag

        dag = DagBag(dag_folder=str(DAGS / f"{dag_id}.py")).get_dag(dag_id)
        conf = kwargs.pop("run_conf", None) or {}
        return dag.test(run_conf={"consumer_group": self.group, **conf}, **kwargs)


ENV_KEYS = (
    "ENRICH_TOPIC_RAW",
    "ENRICH_TOPIC_ENRICHED",
    "ENRICH_TOPIC_LABELS",
    "ENRICH_TOPIC_REVIEW",
    "ENRICH_TOPIC_DLQ",
    "ENRICH_REGISTERED_MODEL",
    "ENRICH_MLFLOW_EXPERIMENT",
    "ENRICH_MLFLOW_ARTIFACT_ROOT",
    "ENRICH_MODEL_CACHE",
    "MLFLOW_TRACKING_URI",
    "MLFLOW_REGISTRY_URI",
)


@contextmanager
def isolated_pipeline(tmp: Path) -> Iterator[Pipeline]:
    tag = uuid.uuid4().hex[:10]
    saved = {k: os.environ.get(k) for k in ENV_KEYS}
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    os.environ.update(
        {
            "ENRICH_TOPIC_RAW": f"t{tag}.raw",
            "ENRICH_TOPIC_ENRICHED": f"t{tag}.enriched",
            "ENRICH_TOPIC_LABELS": f"t{tag}.labels",
            "ENRICH_TOPIC_REVIEW": f"t{tag}.review",
            "ENRICH_TOPIC_DLQ": f"t{tag}.dlq",
            "ENRICH_REGISTERED_MODEL": f"model-{tag}",
            "ENRICH_MLFLOW_EXPERIMENT": f"exp-{tag}",
            "ENRICH_MLFLOW_ARTIFACT_ROOT": str(tmp / "artifacts"),
            "ENRICH_MODEL_CACHE": str(tmp / "model-cache"),
            "MLFLOW_TRACKING_URI": uri,
            "MLFLOW_REGISTRY_URI": uri,
        }
    )
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    jobs._champions = None  # a new registry: forget models loaded from another one
    stack = StackSettings.from_env()
    config = kafka_io.client_config(stack.kafka_conn_id)
    kafka_io.ensure_topics(config, kafka_io.project_topics(stack))
    try:
        yield Pipeline(stack, config, f"group-{tag}")
    finally:
        AdminClient(config).delete_topics(list(stack.topics.all()))
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
        mlflow.set_registry_uri(os.environ["MLFLOW_REGISTRY_URI"])
        jobs._champions = None
