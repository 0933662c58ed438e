"""A person's label takes effect (issue 13, item 9; issue 15, item 3), against the real
broker, MLflow and Airflow: an answer about a template labels every line of it in the next
log_enrichment run, lines it never saw included, also after the template generalised; and
held-out answers decide the champion."""

from __future__ import annotations

import json

from airflow.utils.state import DagRunState

from enrich.core.formats import HUMAN, LabelRecord
from enrich.core.labels import Label
from enrich.core.normalize import fingerprint, normalize
from enrich.core.records import RawRecord
from enrich.core.rules import load_rules
from enrich.engine.routing import enrich_batch
from enrich.io import kafka, stores
from enrich.learn.training import is_eval
from enrich.samples import generate
from tests.integration.pipeline_env import Pipeline

PERSON = Label("ERROR", "Security and Anomalies", "Application & Middleware")


def held_out_templates(n: int) -> list[tuple[str, str]]:
    """``n`` lines of distinct templates (and their template ids) in the evaluation slice."""
    # a template apiece: a first word of letters (at most 80 of them: the miner's tree routes
    # a node's first 100 words apart) times a number of words
    words = ["".join(chr(97 + int(d)) for d in str(i)) + "flux" for i in range(80)]
    lines = [
        f"{w} capacitor {' '.join(['misaligned'] * k)} in bay 7"
        for k in range(1, 1 + -(-5 * n // len(words)) * 2)
        for w in words
    ]
    records = enrich_batch([RawRecord(x.encode()) for x in lines], None, load_rules()).records()
    assert len({r["template_id"] for r in records}) == len(lines)
    found = [
        (line, out["template_id"])
        for line, out in zip(lines, records, strict=True)
        if is_eval(out["template_id"])
    ]
    assert len(found) >= n, "too few templates in the evaluation slice"
    return found[:n]


def answer(line: str, template_id: str) -> LabelRecord:
    """A person's answer about a template, as the labelling DAG's save step writes it."""
    fp = fingerprint(normalize(line))
    return LabelRecord(fp, line, PERSON, HUMAN, by="ana", template_id=template_id)


def test_a_persons_answer_labels_every_line_of_its_template_in_the_next_run(
    pipe: Pipeline,
) -> None:
    line = "gravitic flux capacitor misaligned in bay seven"
    raw, labels = pipe.stack.topics.raw, pipe.stack.topics.labels
    # one key: one partition, one task's miner (tasks of other partitions mine apart until
    # the templates topic carries their state to the next run)
    kafka.produce(pipe.config, raw, [line.encode()], keys=[b"bay"])
    first = pipe.run_dag("log_enrichment")
    assert first.state == DagRunState.SUCCESS
    (before,) = [json.loads(m.value()) for m in pipe.read(pipe.stack.topics.enriched)]
    assert before["labelled_by"] == "none"  # no rule, no model: a question for a person
    (item,) = [json.loads(m.value()) for m in pipe.read(pipe.stack.topics.review)]
    assert item["template_id"] == before["template_id"]

    stores.write_labels(pipe.config, labels, [answer(line, item["template_id"])])
    # the same line, and other lines of its template it never saw: the template generalises
    # (its id changes), the answer follows it
    others = [line.replace("seven", w) for w in ("nine", "twelve")]
    kafka.produce(pipe.config, raw, [x.encode() for x in [line, *others]], keys=[b"bay"] * 3)
    second = pipe.run_dag("log_enrichment")

    assert second.state == DagRunState.SUCCESS
    records = [
        json.loads(m.value())
        for m in pipe.read(pipe.stack.topics.enriched)
        if json.loads(m.value())["source"] != before["source"]
    ]
    assert len(records) == 3
    assert len({r["fingerprint"] for r in records}) == 3
    assert {r["template"] for r in records} == {"gravitic flux capacitor misaligned in bay <*>"}
    assert records[0]["template_id"] != before["template_id"]  # it generalised
    for r in records:
        assert Label(r["severity"], r["event_type"], r["category"]) == PERSON
        assert (r["labelled_by"], r["severity_by"], r["needs_review"]) == ("human", "human", False)
    keys = [m.key().decode() for m in pipe.read(labels)]
    assert keys == [f"human:t:{before['template_id']}"]  # the rules teach nothing of it
    queued = [json.loads(m.value()) for m in pipe.read(pipe.stack.topics.review)]
    assert len(queued) == 1  # and nobody is asked about it again

    # each run's figures are an MLflow time series: templates seen, new templates, the share
    # of lines in templates people labelled
    from mlflow.tracking import MlflowClient

    from enrich.io import tracking

    client = MlflowClient()
    experiment = client.get_experiment_by_name(tracking.enrichment_experiment(pipe.stack))
    assert experiment is not None
    (day,) = client.search_runs([experiment.experiment_id])
    history = {
        k: [m.value for m in client.get_metric_history(day.info.run_id, k)]
        for k in ("labelled_template_share", "new_templates", "templates", "needs_review_share")
    }
    assert history == {
        "labelled_template_share": [0.0, 1.0],
        "new_templates": [1.0, 0.0],  # generalising a template starts none
        "templates": [1.0, 1.0],
        "needs_review_share": [1.0, 0.0],
    }


def test_with_enough_peoples_labels_held_out_the_champion_is_chosen_on_them(
    pipe: Pipeline,
) -> None:
    from mlflow.tracking import MlflowClient

    from enrich import defaults

    kafka.produce(pipe.config, pipe.stack.topics.raw, [v for _s, v in generate(3000, seed=51)])
    assert pipe.run_dag("log_enrichment").state == DagRunState.SUCCESS  # rule labels
    n = defaults.MIN_PEOPLE_EVAL + 5
    answers = [answer(line, tid) for line, tid in held_out_templates(n)]
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
