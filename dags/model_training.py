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

import os
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import Param, dag, get_current_context, task

from enrich.assets import labels_asset


@dag(
    dag_id="model_training",
    schedule=[labels_asset()],
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={
        "retry_delay": timedelta(seconds=float(os.environ.get("ENRICH_RETRY_DELAY_SECONDS", "60")))
    },
    params={
        "min_new_labels": Param(
            50,
            type="integer",
            minimum=0,
            description="skip unless this many labels arrived since the last training",
        ),
        "min_labels": Param(
            20, type="integer", minimum=2, description="fewest training labels for a model"
        ),
        "C": Param(
            20.0,
            type="number",
            exclusiveMinimum=0,
            description="logistic regression: inverse regularisation strength",
        ),
        "max_labels": Param(
            200_000,
            type="integer",
            minimum=2,
            description="train on at most this many labelled lines: every human label, then "
            "the newest rule labels",
        ),
        "bootstrap_sample": Param(
            5_000,
            type="integer",
            minimum=0,
            description="recent messages per partition to label with rules when no champion exists",
        ),
    },
    tags=["log-enrichment", "mlflow"],
    doc_md=__doc__,
)
def model_training() -> None:
    @task(retries=1)
    def bootstrap() -> dict[str, Any]:
        """No champion yet: label a sample of recent input with the rules (assign + seek)."""
        from enrich import jobs

        return jobs.bootstrap_labels(dict(get_current_context()["params"]))

    @task(retries=1)
    def train(_bootstrap: dict[str, Any]) -> dict[str, Any]:
        """Train, evaluate against the champion, register, move champion or challenger."""
        from airflow.sdk.exceptions import AirflowSkipException

        from enrich import jobs

        result = jobs.train_model(dict(get_current_context()["params"]))
        if "skipped" in result:
            raise AirflowSkipException(result["skipped"])
        return result

    train(bootstrap())


model_training()
