"""Where the pipeline's state lives, read from the environment over ``enrich.defaults``.

Infrastructure locations (broker, MLflow, Airflow home) are set in ``scripts/env.sh``; here
are the names the pipeline itself uses. Each value can be overridden with the environment
variable named beside it. ``StackSettings`` is frozen and hashable: two equal settings mean
the same stack (``enrich.airflow.runtime`` keeps one runtime per settings).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from enrich import defaults
from enrich.errors import ConfigError


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


def _env_path(name: str, default: Path) -> Path:
    raw = os.environ.get(name)
    return Path(raw) if raw else default


@dataclass(frozen=True)
class Topics:
    """Kafka topic names (``docs/architecture.md``)."""

    raw: str = defaults.TOPIC_RAW
    enriched: str = defaults.TOPIC_ENRICHED
    labels: str = defaults.TOPIC_LABELS
    review: str = defaults.TOPIC_REVIEW
    dlq: str = defaults.TOPIC_DLQ
    # the template miner's state; "" (the default): named after ``raw`` (``logs.templates``)
    templates: str = defaults.TOPIC_TEMPLATES

    def __post_init__(self) -> None:
        if not self.templates:
            base = self.raw.removesuffix(".raw")
            object.__setattr__(self, "templates", f"{base}.templates")

    @classmethod
    def from_env(cls) -> Topics:
        return cls(
            raw=os.environ.get("ENRICH_TOPIC_RAW", cls.raw),
            enriched=os.environ.get("ENRICH_TOPIC_ENRICHED", cls.enriched),
            labels=os.environ.get("ENRICH_TOPIC_LABELS", cls.labels),
            review=os.environ.get("ENRICH_TOPIC_REVIEW", cls.review),
            dlq=os.environ.get("ENRICH_TOPIC_DLQ", cls.dlq),
            templates=os.environ.get("ENRICH_TOPIC_TEMPLATES", cls.templates),
        )

    def all(self) -> tuple[str, ...]:
        return (self.raw, self.enriched, self.labels, self.review, self.dlq, self.templates)


@dataclass(frozen=True)
class StackSettings:
    """Where the pipeline's state lives and how topics are laid out."""

    topics: Topics = field(default_factory=Topics)
    kafka_conn_id: str = defaults.KAFKA_CONN_ID
    partitions: int = defaults.TOPIC_PARTITIONS
    replication: int = defaults.TOPIC_REPLICATION
    experiment: str = defaults.EXPERIMENT
    registered_model: str = defaults.REGISTERED_MODEL
    mlflow_artifact_root: Path = defaults.VAR_DIR / "mlflow" / "artifacts"
    # where runs are logged and models served from (part of the identity of a stack)
    tracking_uri: str = ""
    registry_uri: str = ""
    rules_file: Path = defaults.RULES_FILE
    taxonomy_file: Path = defaults.TAXONOMY_FILE
    formats_file: Path = defaults.FORMATS_FILE
    # the user's own log formats, tried before the built-in ones
    user_formats_file: Path | None = None
    model_cache_dir: Path = defaults.VAR_DIR / "cache" / "models"
    # threads the engine's native front reads with (None: as many as it finds cores for)
    front_threads: int | None = None

    @classmethod
    def from_env(cls) -> StackSettings:
        var = _env_path("ENRICH_VAR_DIR", defaults.VAR_DIR)
        return cls(
            topics=Topics.from_env(),
            kafka_conn_id=os.environ.get("ENRICH_KAFKA_CONN_ID", cls.kafka_conn_id),
            partitions=_env_int("ENRICH_TOPIC_PARTITIONS", cls.partitions),
            replication=_env_int("ENRICH_TOPIC_REPLICATION", cls.replication),
            experiment=os.environ.get("ENRICH_MLFLOW_EXPERIMENT", cls.experiment),
            registered_model=os.environ.get("ENRICH_REGISTERED_MODEL", cls.registered_model),
            mlflow_artifact_root=_env_path(
                "ENRICH_MLFLOW_ARTIFACT_ROOT", var / "mlflow" / "artifacts"
            ),
            tracking_uri=os.environ.get("MLFLOW_TRACKING_URI", ""),
            registry_uri=os.environ.get("MLFLOW_REGISTRY_URI", ""),
            rules_file=_env_path("ENRICH_RULES_FILE", cls.rules_file),
            taxonomy_file=_env_path("ENRICH_TAXONOMY_FILE", cls.taxonomy_file),
            user_formats_file=Path(os.environ["ENRICH_FORMATS_FILE"])
            if os.environ.get("ENRICH_FORMATS_FILE")
            else None,
            model_cache_dir=_env_path("ENRICH_MODEL_CACHE", var / "cache" / "models"),
            front_threads=_env_int("ENRICH_FRONT_THREADS", 0) or None,
        )
