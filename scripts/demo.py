"""`make demo`: load realistic sample logs, run the pipeline end to end, say what it did.

Against the stack `make up` prepared (scripts/env.sh), with the real broker, MLflow and
Airflow (each DAG run through ``dag.test()``, which records it in Airflow's metadata DB, so
the runs show in the UI):

1. produce sample log lines to the input topic;
2. ``log_enrichment`` (no model yet: rules, and review for the rest);
3. ``model_training`` (bootstrap labels if needed, train, register, promote);
4. ``log_enrichment`` again on new lines (now mostly labelled by the model);
5. a small ``log_backfill`` of the newest offsets into a side topic;
6. a ``labelling`` run queued for people: its questions wait in the Airflow UI's
   Required actions page once ``make airflow`` runs the scheduler.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from enrich import defaults, samples
from enrich.airflow import labelling
from enrich.airflow.runtime import Runtime
from enrich.config import StackSettings
from enrich.io import kafka, topics, tracking

LINES = int(os.environ.get("DEMO_LINES", "20000"))
DAGS = Path(__file__).resolve().parents[1] / "dags"


def run_dag(dag_id: str, conf: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run one DAG with dag.test(); return its state and the XCom of its last summary task."""
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(DAGS / f"{dag_id}.py")).get_dag(dag_id)
    run = dag.test(run_conf=conf or {})
    out: dict[str, Any] = {"state": str(run.state)}
    for ti in run.get_task_instances():
        if ti.task_id in ("summarize", "train") and ti.state == "success":
            out["result"] = ti.xcom_pull(task_ids=ti.task_id)
        if ti.task_id == "train" and ti.state == "skipped":
            out["result"] = {"skipped": True}
    if out["state"] != "success":
        raise SystemExit(f"demo: {dag_id} ended {out['state']}; see its task logs above")
    return out


def queue_labelling_run() -> str:
    """Unpause ``labelling`` and queue one run: the scheduler of ``make airflow`` starts it and
    its questions then wait for a person in the UI (nothing here blocks on them)."""
    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from airflow.utils.types import DagRunTriggeredByType

    with create_session() as session:
        model = session.get(DagModel, "labelling")
        if model is None:
            raise SystemExit("demo: the labelling DAG is not in Airflow's DB; run `make up`")
        model.is_paused = False
    run = trigger_dag(
        "labelling", triggered_by=DagRunTriggeredByType.CLI, triggering_user_name="demo"
    )
    return str(run.run_id) if run else "?"


def produce_sample(config: dict[str, Any], topic: str, n: int) -> int:
    before = sum(high for _low, high in topics.watermarks(config, topic).values())
    values = (v for _s, v in samples.generate(n, seed=1000 + before))
    return kafka.produce(config, topic, values, (str(before + i) for i in range(n)))


def say(step: str, summary: dict[str, Any]) -> None:
    r = summary.get("result") or {}
    if "in" in r:
        print(
            f"demo: {step}: {r['in']} in, {r['out']} out, {r['dead_letters']} dead letters; "
            f"labelled by model {r['by_model']}, rules {r['by_rules']}, nobody (review) "
            f"{r['needs_review']}; {r['labels']} new training labels; model "
            f"{r.get('model_version') or 'none'}"
        )
    elif "decision" in r:
        cand, champ = r["candidate"], r["champion"]
        before = (
            f"champion v{champ['version']} scored macro-F1 {champ['macro_f1']:.3f}"
            if champ["version"]
            else "no champion before"
        )
        print(
            f"demo: {step}: model version {r['version']} {r['decision']} (macro-F1 "
            f"{cand['macro_f1']:.3f}, accuracy {cand['accuracy']:.3f} on the held-out "
            f"split; {before})"
        )
    else:
        print(f"demo: {step}: {json.dumps(r)}")


def main() -> int:
    logging.getLogger("airflow").setLevel(logging.WARNING)
    stack = StackSettings.from_env()
    config = kafka.client_config(stack.kafka_conn_id)
    side = stack.topics.enriched + ".backfill"
    topics.ensure_topics(
        config, [*topics.project_topics(stack), topics.TopicSpec(side, stack.partitions)]
    )

    first = produce_sample(config, stack.topics.raw, LINES)
    print(f"demo: produced {first} sample log lines to {stack.topics.raw}")
    enrich1 = run_dag("log_enrichment")
    say("log_enrichment", enrich1)
    training = run_dag("model_training", {"min_new_labels": 0})
    say("model_training", training)
    second = produce_sample(config, stack.topics.raw, LINES)
    print(f"demo: produced {second} more lines")
    enrich2 = run_dag("log_enrichment")
    say("log_enrichment again", enrich2)
    marks = topics.watermarks(config, stack.topics.raw)
    low, high = marks[0]
    offsets = {"0": [max(low, high - 500), high]}
    backfill = run_dag(
        "log_backfill", {"offsets": offsets, "target_topic": side, "model": "champion"}
    )
    say(f"log_backfill of {stack.topics.raw}[0] offsets {offsets['0']} into {side}", backfill)

    waiting, labelled = labelling.review_queue(Runtime.current(), defaults.QUEUE_WINDOW)
    queued_run = queue_labelling_run()
    print(
        f"demo: review queue: {len(waiting)} line templates wait for a person "
        f"({len(labelled)} labelled by people so far); labelling run {queued_run} queued"
    )

    status = tracking.registry_status(stack)
    airflow_port = os.environ.get("AIRFLOW__API__PORT", "8080")
    print(
        "\nWhere to look:\n"
        f"  Kafka    {os.environ.get('KAFKA_BOOTSTRAP_SERVERS')}  topics: "
        f"{', '.join(stack.topics.all())}, {side}\n"
        f"  MLflow   make mlflow-ui -> http://127.0.0.1:{os.environ.get('MLFLOW_PORT', '5000')}"
        f"  experiment {stack.experiment}, model {stack.registered_model} "
        f"(aliases {status['aliases']})\n"
        f"  Airflow  make airflow   -> http://127.0.0.1:{airflow_port}"
        "  user admin; DAGs log_enrichment, model_training, log_backfill, labelling\n"
        f"  Label    make airflow, then http://127.0.0.1:{airflow_port}/required_actions"
        " (Browse -> Required actions): answer the labelling run's questions\n"
        "  Offline  .venv/bin/enrich label FILE --model models:/log-enricher@champion\n"
        "  Stop     make down\n"
    )
    print(
        json.dumps(
            {
                "messages_in": first + second,
                "runs": {
                    "log_enrichment_1": enrich1.get("result"),
                    "model_training": training.get("result"),
                    "log_enrichment_2": enrich2.get("result"),
                    "log_backfill": backfill.get("result"),
                },
                "review_queue": {"waiting": len(waiting), "labelled_by_people": len(labelled)},
                "labelling_run_queued": queued_run,
                "model": status,
            },
            default=str,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
