"""model_training and labelling on the cluster: the model goes through the MLflow server
(tracking, registry and artifacts) that every worker reaches; people answer the labelling
questions through the API server while Celery workers and the triggerer run the DAG."""

from __future__ import annotations

import json
import time
from typing import Any

from mlflow.tracking import MlflowClient

from enrich import defaults
from enrich.config import StackSettings, Topics
from enrich.engine import review
from tests.cluster.conftest import ClusterAPI, Ledger, high, records_since
from tests.cluster.test_enrichment_on_cluster import LINES, produce

GOOD = {"severity": "WARNING", "event_type": "State change", "category": "Hardware Infrastructure"}


def test_training_registers_a_champion_the_workers_enrich_with(
    api: ClusterAPI, kafka_config: dict[str, Any], stack_topics: Topics, caught_up: None
) -> None:
    api.unpause("model_training")
    assert api.run("model_training", {"min_new_labels": 0})["state"] == "success"

    client = MlflowClient()  # the cluster's MLflow server
    assert client.tracking_uri.startswith("http://")
    name = StackSettings.from_env().registered_model
    champion = client.get_model_version_by_alias(name, defaults.CHAMPION)
    artifacts = {a.path for a in client.list_artifacts(str(champion.run_id))}
    assert "classification_report.json" in artifacts  # uploaded by a worker, served by MLflow

    ledger = Ledger(kafka_config, stack_topics)
    produce(kafka_config, stack_topics.raw, LINES, seed=171)
    run = api.run("log_enrichment")
    assert run["state"] == "success"
    tis = api.task_instances("log_enrichment", run["dag_run_id"])
    hosts = {ti["hostname"].split("@")[0] for ti in tis if ti["task_id"] == "enrich_partition"}
    assert hosts == {"worker1", "worker2"}
    assert ledger.check() == {"inputs": LINES, "lost": 0, "duplicated": 0, "unexpected": 0}
    models = {
        json.dumps(json.loads(m.value())["model"], sort_keys=True)
        for m in records_since(kafka_config, stack_topics.enriched, ledger.enriched)
    }
    assert models == {json.dumps({"name": name, "version": str(champion.version)})}


def test_people_answer_the_labelling_questions_through_the_api(
    api: ClusterAPI, kafka_config: dict[str, Any], stack_topics: Topics, caught_up: None
) -> None:
    """A person answers the questions of the labelling runs (a scheduled one may be waiting
    before the triggered one starts): the first with a label, every other with Skip; exactly
    that one human label reaches the labels topic."""
    labels_before = high(kafka_config, stack_topics.labels)
    api.unpause("labelling")
    run_id = api.trigger("labelling", {"k": 3})
    saved: list[dict[str, Any]] = []
    deadline = time.monotonic() + 600
    while api.get(f"/dags/labelling/dagRuns/{run_id}")["state"] not in ("success", "failed"):
        assert time.monotonic() < deadline, "the labelling run did not finish in 600 s"
        for question in api.waiting_questions("labelling"):
            if not saved:
                api.answer(question, [review.SAVE], GOOD).raise_for_status()
                saved.append(question)
            else:
                api.answer(question, [review.SKIP], {}).raise_for_status()
        time.sleep(2)

    assert api.get(f"/dags/labelling/dagRuns/{run_id}")["state"] == "success"
    assert saved, "no question was asked"
    human = [
        json.loads(m.value())
        for m in records_since(kafka_config, stack_topics.labels, labels_before)
        if json.loads(m.value())["source"] == "human"
    ]
    assert len(human) == 1
    assert human[0]["by"] == "admin"
    assert {k: human[0][k] for k in GOOD} == GOOD
