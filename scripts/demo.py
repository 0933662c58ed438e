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

It prints one line per step and where to look next; Airflow's and MLflow's own output (task
logs included) goes to ``var/demo.log``, whose path it prints.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from enrich import defaults, samples
from enrich.airflow import labelling
from enrich.airflow.runtime import Runtime
from enrich.config import StackSettings
from enrich.io import connection, kafka, topics, tracking

LINES = int(os.environ.get("DEMO_LINES", "20000"))
DAGS = Path(__file__).resolve().parents[1] / "dags"
LOG = Path(os.environ.get("ENRICH_VAR_DIR") or defaults.VAR_DIR) / "demo.log"
# what a person reads: the terminal's stdout (the process's own stdout goes to LOG)
out: TextIO = sys.stdout


def say_line(text: str) -> None:
    print(text, file=out, flush=True)


@contextmanager
def framework_output_to(path: Path) -> Iterator[TextIO]:
    """Send everything written to this process's stdout and stderr (Airflow's task logs,
    MLflow's messages, warnings) to ``path``; yield the terminal's stdout for our own lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with path.open("w") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        terminal = os.fdopen(os.dup(saved[0]), "w")
        try:
            yield terminal
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            terminal.close()
            os.close(saved[0])
            os.close(saved[1])


def run_dag(dag_id: str, conf: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run one DAG with dag.test(); return its state and the XCom of its last summary task."""
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(DAGS / f"{dag_id}.py")).get_dag(dag_id)
    run = dag.test(run_conf=conf or {})
    result: dict[str, Any] = {"state": str(run.state)}
    for ti in run.get_task_instances():
        if ti.task_id in ("summarize", "train") and ti.state == "success":
            result["result"] = ti.xcom_pull(task_ids=ti.task_id)
        if ti.task_id == "train" and ti.state == "skipped":
            result["result"] = {"skipped": True}
    if result["state"] != "success":
        raise SystemExit(f"demo: {dag_id} ended {result['state']}; its task logs are in {LOG}")
    return result


def _unfinished_runs(dag_id: str) -> set[str]:
    from airflow.models import DagRun
    from airflow.utils.state import DagRunState

    return {
        r.run_id
        for state in (DagRunState.QUEUED, DagRunState.RUNNING)
        for r in DagRun.find(dag_id=dag_id, state=state)
    }


def _fail_runs(dag_id: str, run_ids: set[str]) -> list[str]:
    """Mark the runs (and their unfinished tasks) failed, so the next run is not queued
    behind them (``max_active_runs=1``)."""
    from airflow.models import DagRun, TaskInstance
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState, State, TaskInstanceState

    if not run_ids:
        return []
    with create_session() as session:
        session.query(TaskInstance).filter(
            TaskInstance.dag_id == dag_id,
            TaskInstance.run_id.in_(run_ids),
            TaskInstance.state.in_(list(State.unfinished)),
        ).update({TaskInstance.state: TaskInstanceState.FAILED}, synchronize_session=False)
        session.query(DagRun).filter(DagRun.dag_id == dag_id, DagRun.run_id.in_(run_ids)).update(
            {DagRun.state: DagRunState.FAILED}, synchronize_session=False
        )
    return sorted(run_ids)


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
        say_line(
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
        say_line(
            f"demo: {step}: model version {r['version']} {r['decision']} (macro-F1 "
            f"{cand['macro_f1']:.3f}, accuracy {cand['accuracy']:.3f} on the held-out "
            f"split; {before})"
        )
    else:
        say_line(f"demo: {step}: {json.dumps(r)}")


DEMO_DAGS = ("log_enrichment", "model_training", "log_backfill")


def stop_cleanly_on_ctrl_c() -> None:
    """Ctrl-C stops the demo at once, its unfinished DAG runs marked failed: a run left
    ``running`` would keep every later run of its DAG queued (``max_active_runs=1``), and
    Airflow's in-process task runner would otherwise take the interrupt as one task's failure
    and go on."""
    earlier = {d: _unfinished_runs(d) for d in DEMO_DAGS}

    def interrupted(_signum: int, _frame: Any) -> None:
        for dag_id in DEMO_DAGS:
            failed = _fail_runs(dag_id, _unfinished_runs(dag_id) - earlier[dag_id])
            if failed:
                say_line(f"demo: interrupted: {dag_id} run {', '.join(failed)} marked failed")
        say_line("demo: interrupted")
        os._exit(130)

    signal.signal(signal.SIGINT, interrupted)


def main() -> int:
    global out
    print(f"demo: Airflow's and MLflow's own output goes to {LOG}", flush=True)
    stop_cleanly_on_ctrl_c()
    try:
        with framework_output_to(LOG) as terminal:
            out = terminal
            return demo()
    except SystemExit as stop:
        print(stop, file=sys.stderr)
        return 1


def demo() -> int:
    logging.getLogger("airflow").setLevel(logging.WARNING)
    stack = StackSettings.from_env()
    config = connection.client_config(stack.kafka_conn_id)
    side = stack.topics.enriched + ".backfill"
    topics.ensure_topics(
        config, [*topics.project_topics(stack), topics.TopicSpec(side, stack.partitions)]
    )

    first = produce_sample(config, stack.topics.raw, LINES)
    say_line(f"demo: produced {first} sample log lines to {stack.topics.raw}")
    # a new consumer group must say where it starts: here, with the lines just produced
    enrich1 = run_dag("log_enrichment", {"start_from": "earliest"})
    say("log_enrichment", enrich1)
    training = run_dag("model_training", {"min_new_labels": 0})
    say("model_training", training)
    second = produce_sample(config, stack.topics.raw, LINES)
    say_line(f"demo: produced {second} more lines")
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
    say_line(
        f"demo: review queue: {len(waiting)} line templates wait for a person "
        f"({len(labelled)} labelled by people so far); labelling run {queued_run} queued"
    )

    status = tracking.registry_status(stack)
    airflow_port = os.environ.get("AIRFLOW__API__PORT", "8080")
    say_line(
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
        f"  Logs     {LOG} (Airflow's task logs of these runs)\n"
        "  Stop     make down\n"
    )
    say_line(
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
