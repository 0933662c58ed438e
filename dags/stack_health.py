"""stack_health: check that the pipeline's Kafka topics and MLflow registry are reachable.

Run it by hand from the UI after changing the ``kafka_default`` connection or MLflow settings.
It creates missing topics (idempotent) and reads the registry; it consumes nothing.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import dag, task


@dag(
    dag_id="stack_health",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["log-enrichment", "ops"],
    doc_md=__doc__,
)
def stack_health() -> None:
    @task(retries=0)
    def kafka_topics() -> dict[str, int]:
        """Create the project's topics if missing; return topic → partition count."""
        from enrich import kafka_io
        from enrich.settings import StackSettings

        settings = StackSettings.from_env()
        config = kafka_io.client_config(settings.kafka_conn_id)
        kafka_io.ensure_topics(config, kafka_io.project_topics(settings))
        topics = kafka_io.list_topics(config)
        return {name: topics[name] for name in settings.topics.all()}

    @task(retries=0)
    def mlflow_registry() -> dict[str, object]:
        """Create the experiment if missing; return the registered model's versions and aliases."""
        from enrich import registry
        from enrich.settings import StackSettings

        settings = StackSettings.from_env()
        registry.ensure_experiment(settings)
        return registry.registry_status(settings)

    kafka_topics()
    mlflow_registry()


stack_health()
