"""model_training: train on every label, register in MLflow, promote only a better model.

Scheduled by the labels Asset (log_enrichment updates it when it writes new labels), or run
by hand. With no champion yet, ``bootstrap`` first labels a sample of recent input with the
rules. ``train`` reads the whole compacted labels topic (a human label outranks a rule label
for the same line), holds out one fingerprint in five for evaluation (the same split for every
version), trains the pipeline and logs params, label counts, accuracy, macro-F1, the
per-class report, a confusion matrix, the labels offsets, a signature and an input example
to MLflow. The new version takes the alias ``champion`` only if it beats the current champion
on that split (macro-F1, then accuracy; a tie keeps the champion); otherwise ``challenger``.
"""

# XComArg stands in for task results when wiring; mypy cannot see through the decorator.
# mypy: disable-error-code="arg-type"
from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import dag, get_current_context, task

from enrich.airflow.assets import labels_asset
from enrich.airflow.params import TrainingParams, training_retry_delay


@dag(
    dag_id="model_training",
    schedule=[labels_asset()],
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={"retry_delay": training_retry_delay()},
    params=TrainingParams.dag_params(),
    tags=["log-enrichment", "mlflow"],
    doc_md=__doc__,
)
def model_training() -> None:
    @task(retries=1)
    def bootstrap() -> dict[str, Any]:
        """No champion yet: label a sample of recent input with the rules (assign + seek)."""
        from enrich.airflow import training

        return training.bootstrap_labels(get_current_context()["params"])

    @task(retries=1)
    def train(_bootstrap: dict[str, Any]) -> dict[str, Any]:
        """Train, evaluate against the champion, register, move champion or challenger."""
        from airflow.sdk.exceptions import AirflowSkipException

        from enrich.airflow import training

        result = training.train_model(get_current_context()["params"])
        if "skipped" in result:
            raise AirflowSkipException(result["skipped"])
        return result

    train(bootstrap())


model_training()
