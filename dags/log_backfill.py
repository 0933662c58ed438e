"""log_backfill: re-enrich history with a chosen model, without touching the live cursor.

Each run maps its data interval ``[start, end)`` to offsets on every input partition with
``offsets_for_times`` (read ``lateness_s`` past its end, for messages that arrived late) and
re-enriches exactly the messages whose timestamps fall inside it, so it works with
``airflow backfill create --dag-id log_backfill --from-date ... --to-date ...``.
A manual run may instead give explicit per-partition offset ranges (``offsets``), the model
(``champion``, ``challenger``, a version number, or ``none`` for rules only) and the target
topic (default ``<output topic>.backfill``, dead letters in ``<target>.dlq``; the live topic
only when named). Output keys are the source coordinates, so re-running one interval with one
model version writes the same records; headers name the run and the model version; no
consumer offsets are committed.
"""

# XComArg stands in for task results when wiring; mypy cannot see through the decorator.
# mypy: disable-error-code="arg-type"
from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import CronDataIntervalTimetable, dag, get_current_context, task

from enrich.airflow.params import BackfillParams


@dag(
    dag_id="log_backfill",
    # data intervals [day, next day): each run (and each backfill run) covers one day
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    is_paused_upon_creation=True,
    max_active_runs=4,
    params=BackfillParams.dag_params(),
    tags=["log-enrichment", "backfill"],
    doc_md=__doc__,
)
def log_backfill() -> None:
    @task(retries=0)
    def plan() -> list[dict[str, Any]]:
        """Per-partition offset ranges of this run's interval (or the explicit ones)."""
        from enrich.airflow import backfill

        context = get_current_context()
        return backfill.plan(
            context["params"],
            context.get("data_interval_start"),
            context.get("data_interval_end"),
        )

    @task(retries=2, map_index_template="partition {{ part['partition'] }}")
    def reenrich(part: dict[str, Any]) -> dict[str, Any]:
        """Re-enrich one partition's range in one transaction (safe to retry)."""
        from enrich.airflow import backfill

        context = get_current_context()
        context["part"] = part  # type: ignore[typeddict-unknown-key]  # map index
        return backfill.reenrich(part, context["params"], context["dag"].dag_id, context["run_id"])

    @task
    def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
        """Totals of the backfill run."""
        from enrich.airflow import enrichment

        return enrichment.summarize(list(runs), "backfill")

    summarize(reenrich.expand(part=plan()))


log_backfill()
