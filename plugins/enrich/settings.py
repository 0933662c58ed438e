"""Settings read from the environment, with the local stack's defaults.

Infrastructure locations (broker, MLflow, Airflow home) are set in ``scripts/env.sh``;
here are the names the pipeline itself uses. Every value can be overridden with the
environment variable named beside it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from enrich.errors import ConfigError

PROJECT_DIR = Path(__file__).resolve().parents[2]
# The query strategies' names (``enrich.learner.STRATEGIES``), for DAG params: DAG files
# parse without importing scikit-learn.
QUERY_STRATEGIES = ("diverse", "ranked_batch", "uncertainty", "margin", "entropy", "random")


def _env_int(name: str, default: int, minimum: int = 1) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise ConfigError(f"{name}={value} must be at least {minimum}")
    return value


@dataclass(frozen=True)
class Topics:
    """Kafka topic names (DESIGN.md, 'Where state lives')."""

    raw: str = "logs.raw"
    enriched: str = "logs.enriched"
    labels: str = "logs.labels"
    review: str = "logs.review"
    dlq: str = "logs.dlq"

    @classmethod
    def from_env(cls) -> Topics:
        return cls(
            raw=os.environ.get("ENRICH_TOPIC_RAW", cls.raw),
            enriched=os.environ.get("ENRICH_TOPIC_ENRICHED", cls.enriched),
            labels=os.environ.get("ENRICH_TOPIC_LABELS", cls.labels),
            review=os.environ.get("ENRICH_TOPIC_REVIEW", cls.review),
            dlq=os.environ.get("ENRICH_TOPIC_DLQ", cls.dlq),
        )

    def all(self) -> tuple[str, ...]:
        return (self.raw, self.enriched, self.labels, self.review, self.dlq)


@dataclass(frozen=True)
class StackSettings:
    """Where the pipeline's state lives and how topics are laid out."""

    topics: Topics = field(default_factory=Topics)
    kafka_conn_id: str = "kafka_default"
    partitions: int = 3
    replication: int = 1
    experiment: str = "log-enricher"
    registered_model: str = "log-enricher"
    mlflow_artifact_root: Path = PROJECT_DIR / "var" / "mlflow" / "artifacts"

    @classmethod
    def from_env(cls) -> StackSettings:
        root = os.environ.get("ENRICH_MLFLOW_ARTIFACT_ROOT")
        return cls(
            topics=Topics.from_env(),
            kafka_conn_id=os.environ.get("ENRICH_KAFKA_CONN_ID", cls.kafka_conn_id),
            partitions=_env_int("ENRICH_TOPIC_PARTITIONS", cls.partitions),
            replication=_env_int("ENRICH_TOPIC_REPLICATION", cls.replication),
            experiment=os.environ.get("ENRICH_MLFLOW_EXPERIMENT", cls.experiment),
            registered_model=os.environ.get("ENRICH_REGISTERED_MODEL", cls.registered_model),
            mlflow_artifact_root=Path(root) if root else cls.mlflow_artifact_root,
        )
