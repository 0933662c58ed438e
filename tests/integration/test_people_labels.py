"""A person's label takes effect (issue 13, item 9), against the real broker, MLflow and
Airflow: the next log_enrichment run labels every line of that template with it, also when
its fingerprint is in the evaluation slice the model is never trained on."""

from __future__ import annotations

import json

from airflow.utils.state import DagRunState

from enrich.core.formats import HUMAN, LabelRecord
from enrich.core.labels import Label
from enrich.core.records import RawRecord
from enrich.core.rules import load_rules
from enrich.engine.routing import enrich_batch
from enrich.io import kafka, stores
from enrich.learn.training import is_eval
from enrich.samples import generate
from tests.integration.pipeline_env import Pipeline

PERSON = Label("ERROR", "Security and Anomalies", "Application & Middleware")


def held_out_templates(n: int) -> list[tuple[str, str]]:
    """``n`` lines (and their fingerprints) of distinct templates in the evaluation slice."""
    lines = [
        f"quantum flux capacitor {''.join(chr(97 + int(d)) for d in str(i))} misaligned in bay 7"
        for i in range(20 * n)
    ]
    records = enrich_batch([RawRecord(x.encode()) for x in lines], None, load_rules()).records()
    found = [
        (line, out["fingerprint"])
        for line, out in zip(lines, records, strict=True)
        if is_eval(out["fingerprint"])
    ]
    assert len(found) >= n, "too few templates in the evaluation slice"
    return found[:n]


def held_out_template() -> tuple[str, str]:
    return held_out_templates(1)[0]


def test_a_persons_label_takes_effect_in_the_next_run(pipe: Pipeline) -> None:
    line, fp = held_out_template()
    raw, labels = pipe.stack.topics.raw, pipe.stack.topics.labels
    kafka.produce(pipe.config, raw, [line.encode()])
    first = pipe.run_dag("log_enrichment")
    assert first.state == DagRunState.SUCCESS
    (before,) = [json.loads(m.value()) for m in pipe.read(pipe.stack.topics.enriched)]
    assert before["labelled_by"] == "none"  # no rule, no model: a question for a person

    # the labelling DAG's save step writes the answer this way
    stores.write_labels(pipe.config, labels, [LabelRecord(fp, line, PERSON, HUMAN, by="ana")])
    kafka.produce(pipe.config, raw, [line.encode(), line.replace("bay 7", "bay 9").encode()])
    second = pipe.run_dag("log_enrichment")

    assert second.state == DagRunState.SUCCESS
    records = [
        json.loads(m.value())
        for m in pipe.read(pipe.stack.topics.enriched)
        if json.loads(m.value())["source"] != before["source"]
    ]
    assert len(records) == 2
    for r in records:
        assert r["fingerprint"] == fp
        assert Label(r["severity"], r["event_type"], r["category"]) == PERSON
        assert (r["labelled_by"], r["severity_by"], r["needs_review"]) == ("human", "human", False)
    new_rule_labels = [
        m for m in pipe.read(labels) if m.key().decode() != f"human:{fp}" and fp in m.key().decode()
    ]
    assert new_rule_labels == []  # a person's line is not taught again by the rules


def test_with_enough_peoples_labels_held_out_the_champion_is_chosen_on_them(
    pipe: Pipeline,
) -> None:
    from mlflow.tracking import MlflowClient

    from enrich import defaults

    kafka.produce(pipe.config, pipe.stack.topics.raw, [v for _s, v in generate(3000, seed=51)])
    assert pipe.run_dag("log_enrichment").state == DagRunState.SUCCESS  # rule labels
    n = defaults.MIN_PEOPLE_EVAL + 5
    answers = [LabelRecord(fp, line, PERSON, HUMAN, by="ana") for line, fp in held_out_templates(n)]
    stores.write_labels(pipe.config, pipe.stack.topics.labels, answers)

    run = pipe.run_dag("model_training", run_conf={"min_new_labels": 0})

    assert run.state == DagRunState.SUCCESS
    client = MlflowClient()
    version = client.get_model_version_by_alias(pipe.stack.registered_model, defaults.CHAMPION)
    data = client.get_run(str(version.run_id)).data
    assert data.params["decided_on"] == "people"
    assert int(data.params["n_eval_people"]) == n
    assert {"rules_accuracy", "rules_macro_f1", "people_accuracy", "people_macro_f1"} <= set(
        data.metrics
    )
    assert data.metrics["accuracy"] == data.metrics["people_accuracy"]
