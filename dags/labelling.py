"""labelling: people label the templates the model most needs, in the Airflow UI.

Each run (default hourly, ``ENRICH_LABELLING_SCHEDULE``; or by hand) reads the review queue
that ``log_enrichment`` fills (one item per template of lines nobody could label), drops
templates a person already labelled, re-scores the rest with the current champion and asks
about the top ``k`` (uncertain, unlike each other, and with many lines). Every question is
one ``ask`` task waiting in **Required actions** (Browse → Required actions, or the task's
*Required action* tab): one line, its host/container fields, its template with its line
count and a few other lines of it, the model's guess and a form with severity, event type
and category from the taxonomy.

``Save label`` labels the template: from the next enrichment run on, every line of it takes
that label (``labelled_by: human``) before the model and the rules are asked, and training
learns it in place of the rules' labels of its lines; a later answer replaces an earlier
one. ``Skip``, or no answer within ``ENRICH_ANSWER_TIMEOUT_HOURS`` (24), leaves the template
in the queue for a later run. ``save`` writes the labels and updates the labels Asset, which
schedules ``model_training``.
"""

# XComArg stands in for task results when wiring; mypy cannot see through the decorator.
# mypy: disable-error-code="arg-type"
from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import dag, get_current_context, task

from enrich.airflow.assets import labels_asset
from enrich.airflow.hitl import LabelQuestionOperator
from enrich.airflow.params import LabellingParams, answer_timeout, labelling_schedule


@dag(
    dag_id="labelling",
    schedule=labelling_schedule(),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    params=LabellingParams.dag_params(),
    tags=["log-enrichment", "human-in-the-loop"],
    doc_md=__doc__,
)
def labelling() -> None:
    @task(retries=1)
    def pick() -> list[dict[str, Any]]:
        """Top k questions from the review queue, re-scored with the champion."""
        from enrich.airflow import labelling

        return labelling.pick_questions(get_current_context()["params"])

    questions = pick()
    ask = LabelQuestionOperator.partial(
        task_id="ask",
        response_timeout=answer_timeout(),
        map_index_template="{{ task.question['text'][:60] }}",
    ).expand_kwargs(questions)

    @task(trigger_rule="all_done", outlets=[labels_asset()])
    def save(asked: list[dict[str, Any]], answers: list[dict[str, Any]]) -> dict[str, Any]:
        """Answers → human labels on the labels topic; skipped lines stay queued."""
        from airflow.sdk.exceptions import AirflowSkipException

        from enrich.airflow import labelling

        result = labelling.save_answers(list(answers), asked=len(asked))
        if not result["labelled"]:
            raise AirflowSkipException(f"no labels saved: {result}")
        get_current_context()["outlet_events"][labels_asset()].extra = result
        return result

    save(questions, ask.output)


labelling()
