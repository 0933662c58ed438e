"""The review queue and people's answers (pure logic; the DAG is tested in integration)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from enrich.core.formats import LabelCodec, ReviewCodec, ReviewItem
from enrich.core.labels import DEFAULT_TAXONOMY, Label
from enrich.core.normalize import fingerprint, normalize
from enrich.core.records import RawRecord
from enrich.core.rules import load_rules
from enrich.defaults import STRATEGIES
from enrich.engine import review
from enrich.engine.routing import EnrichSettings, enrich_batch
from enrich.learn.model import Model, make_learner
from enrich.samples import generate

GUESS = {"severity": "INFO", "event_type": "Useless", "category": "Uncategorized"}


def item(text: str, queued_at: int = 1) -> ReviewItem:
    return ReviewItem(
        fingerprint(normalize(text)),
        text,
        None,
        GUESS,
        None,
        0.0,
        "diverse",
        "logs.raw:0:1",
        queued_at,
    )


def test_pending_keeps_one_item_per_fingerprint_and_drops_labelled_ones() -> None:
    a1, a2 = item("job 17 started on node 4", 1), item("job 99 started on node 8", 5)
    b = item("cache warmed in 3 ms")
    assert a1.fingerprint == a2.fingerprint
    waiting = review.pending([a1, b, a2], labelled={b.fingerprint})
    # the latest of the line, with the lines of both; b is already labelled
    assert waiting == [replace(a2, count=2)]


def test_queue_items_round_trip_from_the_review_topic_format() -> None:
    records = [RawRecord(json.dumps({"message": "zzz qqq 12", "host": "h1"}).encode())]
    result = enrich_batch(records, None, load_rules(), EnrichSettings(review_k=5))
    value = ReviewCodec.encode(result.queries[0], written_at=42)
    parsed = ReviewCodec.decode(value)
    assert parsed.text == "zzz qqq 12"
    assert parsed.fields == {"message": "zzz qqq 12", "host": "h1"}
    assert parsed.queued_at == 42


def test_pick_asks_about_distinct_templates_first_with_the_champions_guess() -> None:
    boot = enrich_batch([RawRecord(v) for _s, v in generate(3000, seed=2)], None, load_rules())
    learner = make_learner([x.text for x in boot.labels], [x.label for x in boot.labels])
    model = Model(learner.estimator, "m", "3")
    texts = [f"widget {i} frobbed in zone {i % 3}" for i in range(20)]
    texts += ["disk quota nearly exceeded on /var", "peer handshake renegotiated"]
    waiting = review.pending([item(t) for t in texts], set())
    assert len(waiting) == 3  # 20 lines of one template + 2 others
    questions = review.pick_questions(waiting, model, DEFAULT_TAXONOMY, k=2)
    assert len(questions) == 2
    assert len({q.fingerprint for q in questions}) == 2
    for q in questions:
        assert q.confidence is not None
        assert 0.0 <= q.confidence <= 1.0
        DEFAULT_TAXONOMY.label(q.guess)  # a guess inside the taxonomy


@pytest.fixture(scope="module")
def champion() -> Model:
    boot = enrich_batch([RawRecord(v) for _s, v in generate(3000, seed=2)], None, load_rules())
    learner = make_learner([x.text for x in boot.labels], [x.label for x in boot.labels])
    return Model(learner.estimator, "m", "3")


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("with_model", [True, False])
def test_every_offered_strategy_works_with_and_without_a_champion(
    champion: Model, strategy: str, with_model: bool
) -> None:
    """Each strategy the DAGs offer, in enrichment's review queries and in the labelling pick."""
    model = champion if with_model else None
    records = [RawRecord(v) for _s, v in generate(800, seed=17)]
    settings = EnrichSettings(review_k=5, strategy=strategy, threshold=0.999)
    result = enrich_batch(records, model, load_rules(), settings)
    assert result.counts["review_candidates"] > 10  # more candidates than questions
    assert len(result.queries) == 5
    assert len({q.fingerprint for q in result.queries}) == 5
    assert all(q.strategy == strategy for q in result.queries)

    texts = [f"widget {i} frobbed in zone {i % 3}" for i in range(20)]
    texts += [
        "disk quota nearly exceeded on /var",
        "peer handshake renegotiated",
        "x y z",
        "cache warmed with new schema",
        "login refused for unknown user",
        "replica lagging behind primary",
        "certificate expires soon",
    ]
    waiting = review.pending([item(t) for t in texts], set())
    assert len(waiting) == 8  # 20 lines of one template + 7 others
    questions = review.pick_questions(waiting, model, DEFAULT_TAXONOMY, 3, strategy)
    assert len(questions) == 3
    assert len({q.fingerprint for q in questions}) == 3


def test_pick_without_a_model_uses_the_fallback_guess() -> None:
    questions = review.pick_questions([item("a b c"), item("d e f")], None, DEFAULT_TAXONOMY, 5)
    assert len(questions) == 2
    assert all(q.guess == DEFAULT_TAXONOMY.fallback.to_dict() for q in questions)
    assert all(q.confidence is None for q in questions)


def test_answer_outside_the_taxonomy_is_refused_naming_field_and_allowed_values() -> None:
    with pytest.raises(ValueError, match="severity 'FATAL' is not in the taxonomy") as err:
        review.answer_label({**GUESS, "severity": "FATAL"}, DEFAULT_TAXONOMY)
    assert "CRITICAL" in str(err.value)
    with pytest.raises(ValueError, match="category None"):
        review.answer_label({"severity": "INFO", "event_type": "Useless"}, DEFAULT_TAXONOMY)
    assert review.answer_label(GUESS, DEFAULT_TAXONOMY) == Label(**GUESS)


def test_form_is_preset_to_the_guess_with_the_taxonomy_as_choices() -> None:
    q = {"guess": {**GUESS, "severity": "ERROR"}}
    form = review.form_params(q, DEFAULT_TAXONOMY)
    assert form["severity"]["default"] == "ERROR"
    assert form["severity"]["enum"] == list(DEFAULT_TAXONOMY.severity)
    assert form["category"]["enum"] == list(DEFAULT_TAXONOMY.category)


def test_body_quotes_the_line_as_data() -> None:
    text = "```rm -rf``` {{ 7*7 }} | <script>alert(1)</script>"
    q = {"text": text, "fields": {"host": "a|b", "pod": "x*y"}, "guess": GUESS, "origin": "t:0:1"}
    body = review.body(q)
    assert text in body
    assert body.startswith("````text\n")  # a fence longer than any backtick run inside
    assert "a\\|b" in body  # a pipe cannot break the table
    assert "x\\*y" in body


def test_a_line_a_rule_splits_off_is_shown_without_its_marker() -> None:
    q = {"text": "Task exited with return code 1 <RULE_BATCH_JOB_FAILED>", "guess": GUESS}
    body = review.body(q)
    assert "```text\nTask exited with return code 1\n```" in body
    assert "<RULE_" not in body
    assert "A rule (`batch_job_failed`) tells lines like this one apart" in body
    # the answer keeps the text as the engine keys it: training sees what enrichment sees
    label = review.human_label({**q, "fingerprint": "f" * 32}, Label(**GUESS), None, None)
    assert label.text == q["text"]


def test_human_label_records_who_and_when() -> None:
    when = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    q = {"fingerprint": "f" * 32, "text": "x"}
    label = review.human_label(q, Label(**GUESS), "alice", when)
    out = json.loads(LabelCodec.encode(label))
    assert out["source"] == "human"
    assert out["by"] == "alice"
    assert out["labelled_at"] == int(when.timestamp() * 1000)


def test_question_operator_never_renders_log_text_as_a_template() -> None:
    from enrich.airflow.hitl import LabelQuestionOperator

    q = {
        "fingerprint": "f" * 32,
        "text": "{{ conn.secret }} {% for x in y %}",
        "fields": {},
        "guess": GUESS,
        "confidence": 0.4,
        "score": 1.0,
        "origin": "t:0:1",
    }
    op = LabelQuestionOperator(task_id="ask", question=q)
    assert tuple(op.template_fields) == ()
    assert "{{ conn.secret }}" in (op.body or "")
    assert op.options == [review.SAVE, review.SKIP]
    assert op.defaults == [review.SKIP]  # a timeout skips: the line stays queued
    assert op.params["severity"] == "INFO"
