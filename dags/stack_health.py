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
        from enrich.airflow import health

        return health.kafka_topics()

    @task(retries=0)
    def mlflow_registry() -> dict[str, object]:
        """Create the experiment if missing; return the registered model's versions and aliases."""
        from enrich.airflow import health

        return health.mlflow_registry()

    kafka_topics()
    mlflow_registry()


stack_health()
