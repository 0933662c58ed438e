"""model_training against the real broker, MLflow and Airflow: bootstrap from an empty
registry to a first champion, an identical retrain and re-sent labels skip, a worse candidate
stays challenger, too few new labels skip, and the next enrichment run labels with the
champion."""

from __future__ import annotations

import json
from typing import Any

import mlflow
import pytest
from airflow.utils.state import DagRunState
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from enrich import defaults
from enrich.core.rules import load_rules
from enrich.io import kafka
from enrich.samples import generate
from tests.integration.pipeline_env import Pipeline


@pytest.fixture(scope="module")
def pipe(pipe: Pipeline) -> Pipeline:
    kafka.produce(pipe.config, pipe.stack.topics.raw, [v for _s, v in generate(6000, seed=41)])
    return pipe


def states(run: Any) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


def n_versions(pipe: Pipeline) -> int:
    return len(MlflowClient().search_model_versions(f"name = '{pipe.stack.registered_model}'"))


def champion_version(pipe: Pipeline) -> str:
    alias = MlflowClient().get_model_version_by_alias(
        pipe.stack.registered_model, defaults.CHAMPION
    )
    return str(alias.version)


@pytest.fixture(scope="module")
def champion(pipe: Pipeline) -> str:
    """The champion's version: the bootstrap test's, or trained here when a test runs alone."""
    try:
        return champion_version(pipe)
    except MlflowException:
        assert pipe.run_dag("model_training").state == DagRunState.SUCCESS
        return champion_version(pipe)


def test_bootstrap_from_an_empty_registry_to_a_first_champion(pipe: Pipeline) -> None:
    client = MlflowClient()
    run = pipe.run_dag("model_training")

    assert run.state == DagRunState.SUCCESS
    name = pipe.stack.registered_model
    champion = client.get_model_version_by_alias(name, defaults.CHAMPION)
    assert str(champion.version) == "1"
    assert pipe.read(pipe.stack.topics.labels), "bootstrap wrote rule labels"
    mlflow_run = client.get_run(str(champion.run_id))
    assert mlflow_run.data.tags["decision"] == "promoted to champion"
    assert mlflow_run.data.metrics["macro_f1"] > 0.5
    assert int(mlflow_run.data.params["n_train"]) >= 20
    assert mlflow_run.data.params["n_human_labels"] == "0"
    assert mlflow_run.data.params["decided_on"] == "rules"  # no people's labels yet
    assert mlflow_run.data.metrics["rules_macro_f1"] == mlflow_run.data.metrics["macro_f1"]
    assert "people_macro_f1" not in mlflow_run.data.metrics
    artifacts = {a.path for a in client.list_artifacts(str(champion.run_id))}
    assert {
        "confusion_matrix.png",
        "classification_report.json",
        "label_counts.json",
        "labels_offsets.json",
        "rule_report.json",
    } <= artifacts
    assert json.loads(mlflow_run.data.tags["labels_offsets"])
    # the rule report over the labels it trained on: every rule label's line is matched
    report = mlflow.artifacts.load_dict(f"runs:/{champion.run_id}/rule_report.json")
    assert report["lines"] >= int(mlflow_run.data.params["n_labels"])
    assert report["coverage"] == mlflow_run.data.metrics["rules_coverage"]
    assert report["coverage"] > 0.9  # (a line a rule split off carries its marker)
    assert report["flagged"] == []
    assert len(report["rules"]) == len(load_rules().rules)


def test_a_retrain_on_the_same_labels_and_settings_is_skipped(
    pipe: Pipeline, champion: str
) -> None:
    """It would register the same model again (the tie rule itself: test_training.py)."""
    before = n_versions(pipe)
    run = pipe.run_dag("model_training", run_conf={"min_new_labels": 0})

    assert run.state == DagRunState.SUCCESS
    assert states(run)["train"] == "skipped"
    assert n_versions(pipe) == before


def test_labels_sent_again_unchanged_are_no_new_information(pipe: Pipeline, champion: str) -> None:
    """Enrichment re-sends the rule labels bootstrap already wrote (same lines): the labels
    topic grows, yet nothing new is learnt, so the default min_new_labels skips training."""
    versions = n_versions(pipe)
    before = sum(pipe.high(pipe.stack.topics.labels).values())
    assert pipe.run_dag("log_enrichment").state == DagRunState.SUCCESS
    resent = sum(pipe.high(pipe.stack.topics.labels).values()) - before
    assert resent >= 10, "copies of known labels were sent"

    # counting copies, these alone would reach min_new_labels
    run = pipe.run_dag("model_training", run_conf={"min_new_labels": resent})

    assert run.state == DagRunState.SUCCESS
    assert states(run)["train"] == "skipped"
    assert n_versions(pipe) == versions


def test_a_worse_candidate_does_not_take_the_alias(pipe: Pipeline, champion: str) -> None:
    client = MlflowClient()
    before = n_versions(pipe)
    # heavy regularisation: a clearly worse model on the same evaluation split
    run = pipe.run_dag("model_training", run_conf={"min_new_labels": 0, "C": 0.0001})

    assert run.state == DagRunState.SUCCESS
    name = pipe.stack.registered_model
    assert champion_version(pipe) == champion
    challenger = client.get_model_version_by_alias(name, defaults.CHALLENGER)
    assert str(challenger.version) == str(before + 1)
    data = client.get_run(str(challenger.run_id)).data
    assert data.params["C"] == "0.0001"
    assert data.metrics["macro_f1"] < data.metrics["champion_macro_f1"]
    assert data.tags["decision"] == "kept as challenger"


def test_too_few_new_labels_skip_training(pipe: Pipeline, champion: str) -> None:
    before = n_versions(pipe)
    run = pipe.run_dag("model_training")  # default: at least 50 new labels
    assert run.state == DagRunState.SUCCESS
    assert states(run)["train"] == "skipped"
    assert n_versions(pipe) == before


def test_enrichment_uses_the_champion(pipe: Pipeline, champion: str) -> None:
    assert pipe.run_dag("log_enrichment").state == DagRunState.SUCCESS  # what is there first
    start = pipe.high(pipe.stack.topics.enriched)
    kafka.produce(pipe.config, pipe.stack.topics.raw, [v for _s, v in generate(1000, seed=43)])
    run = pipe.run_dag("log_enrichment")
    assert run.state == DagRunState.SUCCESS
    records = [
        json.loads(m.value() or b"{}")
        for m in pipe.read(pipe.stack.topics.enriched)
        if (m.offset() or 0) >= start[m.partition() or 0]
    ]
    assert len(records) == 1000  # this run's, and only those
    model_records = [r for r in records if r["labelled_by"] == "model"]
    assert len(model_records) > 500
    version = champion_version(pipe)
    assert {json.dumps(r["model"]) for r in model_records} == {
        json.dumps({"name": pipe.stack.registered_model, "version": version})
    }
    assert all(r["confidence"] >= defaults.THRESHOLD for r in model_records)


def test_the_label_set_is_capped_keeping_the_newest(pipe: Pipeline) -> None:
    client = MlflowClient()
    run = pipe.run_dag("model_training", run_conf={"min_new_labels": 0, "max_labels": 60})
    assert run.state == DagRunState.SUCCESS
    versions = client.search_model_versions(f"name = '{pipe.stack.registered_model}'")
    newest = max(versions, key=lambda v: int(v.version))
    params = client.get_run(str(newest.run_id)).data.params
    assert params["n_labels"] == "60"
    assert params["max_labels"] == "60"
    assert int(params["n_labels_over_cap"]) > 0
    assert int(params["n_label_records_read"]) >= 60 + int(params["n_labels_over_cap"])
