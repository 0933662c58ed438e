"""The labelling DAG with a person in the loop: real broker, real Airflow (dag.test + the API
server a user's browser talks to), real MLflow.

The questions are answered the way the Required actions page answers them: PATCH on
Airflow's human-in-the-loop API with a user's token. Timeouts are resolved by the scheduler's
own sweep (``SchedulerJobRunner.check_awaiting_input_timeouts``), which ``dag.test`` does not
run by itself.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from airflow.utils.state import DagRunState
from mlflow.tracking import MlflowClient

from enrich import defaults
from enrich.core.formats import LabelCodec, LabelRecord
from enrich.core.labels import Label, Taxonomy
from enrich.core.normalize import fingerprint, normalize
from enrich.core.records import RawRecord, Source
from enrich.core.rules import load_rules
from enrich.engine import review
from enrich.engine.routing import EnrichSettings, enrich_batch
from enrich.io import kafka, stores, transactions
from enrich.learn import training
from enrich.samples import generate
from tests.integration.airflow_api import USER, AirflowAPI, api_server
from tests.integration.pipeline_env import Pipeline, env_vars

# Lines no default rule matches: they land in the review queue. A1/A2 are one template.
A1 = "frobnicator 17 spun up widget at 0x1f3a"
A2 = "frobnicator 923 spun up widget at 0x2b"
B = "quux daemon reticulated splines for tenant acme"
C = "zorblax handshake phase two done with peer"
D = "the flux capacitor reading is nominal"
TEXTS = {"A": A1, "B": B, "C": C, "D": D}
FP = {name: fingerprint(normalize(text)) for name, text in TEXTS.items()}
# each line's template as the pipeline mines it (ids are content-addressed: the same in
# every process); A1 and A2 make one
_MINED = enrich_batch([RawRecord(t.encode()) for t in [A1, A2, B, C, D]], None, load_rules())
TID = dict(zip("AABCD", (r["template_id"] for r in _MINED.records()), strict=True))
GOOD = {"severity": "WARNING", "event_type": "State change", "category": "Hardware Infrastructure"}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, stack_env: None) -> Iterator[AirflowAPI]:
    with api_server(tmp_path_factory.mktemp("api")) as server:
        yield server


@pytest.fixture(scope="module", autouse=True)
def short_answer_timeout() -> Iterator[None]:
    with env_vars(ENRICH_ANSWER_TIMEOUT_HOURS=str(2 / 3600)):  # 2 s, enforced by the sweep
        yield


def queue_lines(pipe: Pipeline, texts: list[str]) -> None:
    """Put lines in the review queue the way log_enrichment does (enrich_batch → write_result)."""
    records = [
        RawRecord(
            json.dumps({"message": t, "host": f"web-{i}", "container": "billing"}).encode(),
            Source(pipe.stack.topics.raw, 0, i, 1_700_000_000_000 + i),
        )
        for i, t in enumerate(texts)
    ]
    result = enrich_batch(records, None, load_rules(), EnrichSettings(review_k=10))
    producer = kafka.idempotent_producer(pipe.config)
    transactions.write_result(producer, pipe.stack.topics, result)
    kafka.flush_or_fail(producer, pipe.stack.topics.review)


def human_labels(pipe: Pipeline) -> dict[str, dict[str, Any]]:
    """People's labels by template id (each labels its template)."""
    out = {}
    for m in pipe.read(pipe.stack.topics.labels):
        value = json.loads(m.value())
        if value["source"] == "human":
            assert m.key() == f"human:t:{value['template_id']}".encode()
            out[value["template_id"]] = value
    return out


def run_answering(
    pipe: Pipeline, api: AirflowAPI, respond: Callable[[list[dict[str, Any]]], None], n: int
) -> tuple[Any, list[dict[str, Any]]]:
    """Run the labelling DAG; once ``n`` questions wait, hand them to ``respond`` (on a
    thread, as a person in a browser would be)."""
    seen: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def person() -> None:
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                waiting = api.waiting_questions("labelling")
                if len(waiting) >= n:
                    seen.extend(waiting)
                    respond(waiting)
                    return
                time.sleep(0.5)
            raise AssertionError(f"{n} questions never appeared")
        except BaseException as err:  # surfaced in the main thread
            errors.append(err)

    thread = threading.Thread(target=person, daemon=True)
    thread.start()
    run = pipe.run_dag("labelling")
    thread.join(10)
    if errors:
        raise errors[0]
    return run, seen


def by_text(details: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out = {}
    for d in details:
        for name, text in TEXTS.items():
            if text in d["body"] or (name == "A" and A2 in d["body"]):
                out[name] = d
    return out


def test_people_label_the_queue_in_airflow_and_unanswered_lines_come_back(
    pipe: Pipeline, api: AirflowAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    queue_lines(pipe, [A1, A2, B, C, D, A1])
    answers: dict[str, int] = {}

    def respond(waiting: list[dict[str, Any]]) -> None:
        asked = by_text(waiting)
        assert set(asked) == {"A", "B", "C", "D"}, "one question per template"
        assert asked["A"]["options"] == [review.SAVE, review.SKIP]
        assert asked["A"]["params"]["severity"]["value"] == "INFO"  # pre-set to the guess
        assert "web-" in asked["A"]["body"]
        assert "billing" in asked["A"]["body"]
        for name, chosen, params in [
            ("A", [review.SAVE], GOOD),
            ("B", [review.SKIP], {}),
            ("C", [review.SAVE], {**GOOD, "severity": "FATAL"}),  # not in the taxonomy
            ("D", [review.SAVE], {**GOOD, "severity": "ERROR"}),
        ]:
            answers[name] = api.answer(asked[name], chosen, params).status_code

    run, seen = run_answering(pipe, api, respond, 4)

    assert len(seen) == 4, "A1 and A2 share a template and are asked once"
    assert answers == {"A": 200, "B": 200, "C": 200, "D": 200}
    states = {(ti.task_id, ti.map_index): ti.state for ti in run.get_task_instances()}
    assert sorted(s for (t, _i), s in states.items() if t == "ask") == [
        "failed",
        "success",
        "success",
        "success",
    ], "the out-of-taxonomy answer is refused"
    assert states[("save", -1)] == "success"
    labels = human_labels(pipe)
    assert set(labels) == {TID["A"], TID["D"]}
    assert labels[TID["A"]]["severity"] == "WARNING"
    assert labels[TID["D"]]["severity"] == "ERROR"
    assert labels[TID["A"]]["by"] == USER
    assert labels[TID["A"]]["labelled_at"] > 1_700_000_000_000
    assert labels[TID["A"]]["text"] in (A1, A2)

    # the refusal says what to fix (dag.test writes task logs to stdout)
    log_text = capsys.readouterr().out
    assert "'FATAL' is not in the taxonomy" in log_text
    assert "CRITICAL" in log_text  # the allowed values are listed

    # next run: only the skipped (B) and refused (C) lines are asked again; nobody answers
    # in time, the scheduler's sweep applies the default (Skip), nothing is lost or written
    def time_out(waiting: list[dict[str, Any]]) -> None:
        from airflow.jobs.job import Job
        from airflow.jobs.scheduler_job_runner import SchedulerJobRunner

        sweep = SchedulerJobRunner(job=Job())
        deadline = time.monotonic() + 60
        while api.waiting_questions("labelling") and time.monotonic() < deadline:
            sweep.check_awaiting_input_timeouts()  # resolves those past their 2 s timeout
            time.sleep(0.2)

    run, seen = run_answering(pipe, api, time_out, 2)
    assert set(by_text(seen)) == {"B", "C"}
    assert run.state == DagRunState.SUCCESS
    assert set(human_labels(pipe)) == {TID["A"], TID["D"]}

    # and the timed-out lines are asked again by the run after; this time B is answered
    def answer_b(waiting: list[dict[str, Any]]) -> None:
        asked = by_text(waiting)
        assert set(asked) == {"B", "C"}
        api.answer(asked["B"], [review.SAVE], GOOD).raise_for_status()
        api.answer(asked["C"], [review.SKIP], {}).raise_for_status()

    run, _seen = run_answering(pipe, api, answer_b, 2)
    assert set(human_labels(pipe)) == {TID["A"], TID["B"], TID["D"]}


def test_a_human_label_outranks_the_rule_label_in_the_next_training(
    pipe: Pipeline, api: AirflowAPI
) -> None:
    # people's labels for A, B and D: given in the UI by the first test; written here when
    # this test runs alone
    producer = kafka.idempotent_producer(pipe.config)
    given = human_labels(pipe)
    answers = {"A": Label(**GOOD), "B": Label(**GOOD), "D": Label(**{**GOOD, "severity": "ERROR"})}
    for name, label in answers.items():
        if TID[name] not in given:
            person = LabelRecord(
                FP[name], TEXTS[name], label, "human", by=USER, template_id=TID[name]
            )
            stores.send_label(producer, pipe.stack.topics.labels, person)
    # a rule label for D's line (an older rule said otherwise), and enough rule labels to train
    rule_says = Label("INFO", "Useless", "Uncategorized")
    old = LabelRecord(FP["D"], D, rule_says, "rules", "old-rule", template_id=TID["D"])
    stores.send_label(producer, pipe.stack.topics.labels, old)
    kafka.flush_or_fail(producer, pipe.stack.topics.labels)
    kafka.produce(pipe.config, pipe.stack.topics.raw, [v for _s, v in generate(3000, seed=3)])

    run = pipe.run_dag("model_training")
    assert run.state == DagRunState.SUCCESS

    client = MlflowClient()
    champion = client.get_model_version_by_alias(pipe.stack.registered_model, defaults.CHAMPION)
    params = client.get_run(str(champion.run_id)).data.params
    assert params["n_human_labels"] == "3"  # A, B and D
    stored = [
        LabelCodec.decode(m.value(), Taxonomy.load()) for m in pipe.read(pipe.stack.topics.labels)
    ]
    merged = training.by_template(training.merge_labels(stored))
    d_labels = [x for x in merged.values() if x.template_id == TID["D"]]
    assert [(x.source, x.label.severity) for x in d_labels] == [("human", "ERROR")]


def test_the_api_refuses_requests_without_a_token(api: AirflowAPI) -> None:
    import httpx

    response = httpx.get(f"{api.base}/api/v2/dags/labelling/dagRuns/~/hitlDetails", timeout=10)
    assert response.status_code == 401
    patch = httpx.patch(
        f"{api.base}/api/v2/dags/labelling/dagRuns/x/taskInstances/ask/0/hitlDetails",
        json={"chosen_options": ["Skip"]},
        timeout=10,
    )
    assert patch.status_code == 401
