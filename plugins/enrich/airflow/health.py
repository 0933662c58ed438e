"""The ``stack_health`` DAG's task bodies: the topics and the registry, reachable and set up."""

from __future__ import annotations

from enrich.airflow.runtime import Runtime
from enrich.io import topics, tracking


def kafka_topics() -> dict[str, int]:
    """Create the project's topics if missing; return topic → partition count."""
    rt = Runtime.current()
    config = rt.kafka_config()
    topics.ensure_topics(config, topics.project_topics(rt.stack))
    found = topics.list_topics(config)
    return {name: found[name] for name in rt.topics.all()}


def mlflow_registry() -> dict[str, object]:
    """Create the experiment if missing; return the registered model's versions and aliases."""
    rt = Runtime.current()
    tracking.ensure_experiment(rt.stack)
    return tracking.registry_status(rt.stack)
