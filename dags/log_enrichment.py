"""log_enrichment: enrich new log lines from Kafka, exactly once, one mapped task per partition.

A run starts when input arrives (the input topic is an Asset watched by the enrichment
group's lag, ``enrich.airflow.triggers``: seconds) or on the cron (default every 5 minutes,
``ENRICH_SCHEDULE``), whichever comes first; it enriches each partition of the input topic
in micro-batches from the consumer group's committed offset: each micro-batch (at most
``max_batch_size`` messages, up to the high watermark it saw) is labelled (model at or
above ``threshold``, else the rules, else queued for review) and its enriched records,
training labels, review queries and dead letters **and** its offsets are committed in one
Kafka transaction. A partition's task goes on until the partition is caught up or
``time_budget_s`` is spent; a run that stopped with input still waiting triggers the next run
at once (``catch_up``), so the pipeline keeps up with more than one batch per schedule tick.
A task killed at any point and retried leaves each input exactly once in the output or the
dead-letter topic for a ``read_committed`` reader. A task or run that hangs fails on its
timeout (the budget plus 5 minutes, and 5 more for the run), so the next run can start.

``preflight`` checks the rules, the taxonomy, the Params, the broker and the champion model
before anything is consumed. When a run produced new training labels, ``announce_labels``
updates the labels Asset, which schedules ``model_training``.

``summarize`` logs the run's figures to MLflow and as Airflow metrics (``log_enricher.*``
gauges). ``check_drift`` compares them with the drift Params (all off unless set: new
templates, share needing review, mean confidence, rule coverage, share in templates people
labelled); a threshold crossed queues a ``labelling`` run (``queue_labelling``) and then fails
``drift_alarm`` with what crossed which threshold (or calls ``ENRICH_DRIFT_CALLBACK``).
"""

# XComArg stands in for task results when wiring; mypy cannot see through the decorator.
# mypy: disable-error-code="arg-type"
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import dag, get_current_context, task

from enrich.airflow.assets import labels_asset
from enrich.airflow.params import EnrichmentParams, enrichment_schedule, enrichment_timeouts

TASK_TIMEOUT, RUN_TIMEOUT = enrichment_timeouts()


@dag(
    dag_id="log_enrichment",
    schedule=enrichment_schedule(),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=RUN_TIMEOUT,
    default_args={
        "retries": 2,
        "retry_delay": timedelta(seconds=20),
        "execution_timeout": TASK_TIMEOUT,
    },
    params=EnrichmentParams.dag_params(),
    tags=["log-enrichment"],
    doc_md=__doc__,
)
def log_enrichment() -> None:
    @task(retries=0, execution_timeout=timedelta(minutes=5))
    def preflight() -> list[int]:
        """Validate rules, settings, broker and model; create missing topics; list partitions."""
        from enrich.airflow import enrichment

        return enrichment.preflight(get_current_context()["params"])

    @task(map_index_template="partition {{ partition }}")
    def enrich_partition(partition: int) -> dict[str, Any]:
        """One partition's micro-batches, one Kafka transaction each (safe to retry)."""
        from enrich.airflow import enrichment

        context = get_current_context()
        context["partition"] = partition  # type: ignore[typeddict-unknown-key]  # map index
        return enrichment.enrich_partition(partition, context["params"], context["dag"].dag_id)

    @task
    def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
        """Totals of the run (also the task's XCom), logged to MLflow as time series."""
        from enrich.airflow import enrichment

        total = enrichment.summarize(list(runs), "run")
        context = get_current_context()
        enrichment.record_run(total, context["run_id"])
        enrichment.publish_metrics(total, context["dag"].dag_id)
        return total

    @task(outlets=[labels_asset()])
    def announce_labels(total: dict[str, Any]) -> None:
        """Update the labels Asset (scheduling model_training) when there are new labels."""
        from airflow.sdk.exceptions import AirflowSkipException

        if not total["labels"]:
            raise AirflowSkipException("no new training labels in this run")
        get_current_context()["outlet_events"][labels_asset()].extra = {
            "labels": total["labels"],
            "offsets": total["offsets"],
        }

    @task.short_circuit
    def behind(total: dict[str, Any]) -> bool:
        """True when a partition stopped on its time budget with input still waiting."""
        return bool(total.get("behind"))

    # the next run at once, with this run's conf (max_active_runs=1 queues it until this
    # run ends)
    catch_up = TriggerDagRunOperator(
        task_id="catch_up",
        trigger_dag_id="log_enrichment",
        conf="{{ dag_run.conf | tojson }}",
        retries=0,
    )

    @task
    def check_drift(total: dict[str, Any]) -> list[str]:
        """The drift thresholds (Params) this run's figures cross, if any."""
        from enrich.airflow import enrichment
        from enrich.airflow.params import EnrichmentParams

        params = EnrichmentParams.parse(get_current_context()["params"])
        return enrichment.drift_alarms(total, params)

    @task.short_circuit
    def drifted(alarms: list[str]) -> bool:
        """True when a drift threshold was crossed."""
        return bool(alarms)

    # the labelling DAG asks about the templates the drift brought (they wait in the queue)
    queue_labelling = TriggerDagRunOperator(
        task_id="queue_labelling",
        trigger_dag_id="labelling",
        retries=0,
    )

    @task(retries=0)
    def drift_alarm(alarms: list[str], total: dict[str, Any]) -> str:
        """Fail visibly with what crossed which threshold (or tell ENRICH_DRIFT_CALLBACK)."""
        from enrich.airflow import enrichment

        return enrichment.raise_drift(alarms, total)

    total = summarize(enrich_partition.expand(partition=preflight()))
    announce_labels(total)
    behind(total) >> catch_up
    alarms = check_drift(total)
    drifted(alarms) >> queue_labelling >> drift_alarm(alarms, total)


log_enrichment()
