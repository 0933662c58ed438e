"""enrich_batch: routing, outputs, training labels, review queries, dead letters, counts."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any, cast

import numpy as np
import pytest

from enrich.core.formats import ENRICHMENT_KEYS, LabelCodec, LabelRecord, ReviewItem
from enrich.core.labels import DEFAULT_TAXONOMY, Label
from enrich.core.records import LogRecord, RawBatch, RawRecord, Source, decode
from enrich.core.rules import load_rules, parse_rules
from enrich.core.templates import Miner, new_miner
from enrich.defaults import THRESHOLD
from enrich.engine.routing import Enricher, EnrichSettings, enrich_batch
from enrich.errors import ConfigError
from enrich.learn.model import Model, make_learner
from enrich.samples import generate
from tests.unit.fixed_model import fixed_model

GUESS = Label("ERROR", "State change", "Software Infrastructure")
OTHER = Label("INFO", "Heartbeat", "Monitoring & Logging")
RULE_LABEL = {
    "severity": "WARNING",
    "event_type": "Security and Anomalies",
    "category": "Connectivity and Security",
}
RULES = parse_rules({"rules": [{"name": "alarm", "regex": "alarm", "label": RULE_LABEL}]})


def raw(values: Sequence[bytes | None], topic: str = "logs.raw") -> list[RawRecord]:
    return [
        RawRecord(v, Source(topic, 1, 100 + i, 1_700_000_000_000 + i, None))
        for i, v in enumerate(values)
    ]


@pytest.mark.parametrize(
    ("confidence", "text", "labelled_by", "label"),
    [
        (THRESHOLD, "alarm at", "model", GUESS),  # exactly at the threshold: the model decides
        (THRESHOLD + 1e-4, "alarm above", "model", GUESS),  # just above
        # just below: the rule decides
        (THRESHOLD - 1e-4, "alarm below", "rules", Label(**RULE_LABEL)),
        # below, no rule: the model's guess, for review
        (THRESHOLD - 1e-4, "quiet below", "none", GUESS),
    ],
)
def test_routing_around_the_threshold(
    confidence: float, text: str, labelled_by: str, label: Label
) -> None:
    model = fixed_model((GUESS, OTHER), {text.split()[1]: confidence})
    result = enrich_batch(raw([text.encode()]), model, RULES)
    (out,) = result.records()
    assert out["labelled_by"] == labelled_by
    assert Label(out["severity"], out["event_type"], out["category"]) == label
    assert out["confidence"] == pytest.approx(confidence, abs=1e-4)
    assert out["needs_review"] is (labelled_by == "none")
    assert out["rule"] == ("alarm" if labelled_by == "rules" else None)
    assert out["model"] == {"name": "test-model", "version": "7"}
    assert [lbl.source for lbl in result.labels] == (["rules"] if labelled_by == "rules" else [])


@pytest.mark.parametrize(
    ("threshold", "confidence", "labelled_by"),
    [
        (0.75, 0.74996, "rules"),  # rounds to 0.75, yet below the threshold
        (0.75, 0.75, "model"),
        (0.74994, 0.74994, "model"),  # rounds to 0.7499, yet at the threshold
        (0.74994, 0.749939, "rules"),
    ],
)
def test_the_written_confidence_never_contradicts_who_labelled(
    threshold: float, confidence: float, labelled_by: str
) -> None:
    model = fixed_model((GUESS, OTHER), {"alarm": confidence})
    settings = EnrichSettings(threshold=threshold)
    (out,) = enrich_batch(raw([b"alarm now"]), model, RULES, settings).records()
    assert out["labelled_by"] == labelled_by
    assert (out["confidence"] >= threshold) is (labelled_by == "model")
    assert out["confidence"] == pytest.approx(confidence, abs=1.5e-4)


def test_every_record_has_a_fingerprint_whoever_labelled_it() -> None:
    model = fixed_model((GUESS, OTHER), {"alarm": 0.99, "quiet": 0.5})
    values = [b"alarm 1", b"alarm 2", b"quiet 3", b'{"msg": "alarm 4"}', b""]
    records = enrich_batch(raw(values), model, RULES).records()
    assert [r["labelled_by"] for r in records] == ["model", "model", "none", "model", "none"]
    fps = [r["fingerprint"] for r in records]
    assert all(isinstance(fp, str) and fp for fp in fps)
    assert fps[0] == fps[1] == fps[3]  # one template, whatever the number or the wrapping
    assert len(set(fps)) == 3


@pytest.mark.parametrize("policy", ["model_first", "rules_first"])
def test_a_persons_label_wins_over_model_rules_and_the_stated_level(policy: str) -> None:
    model = fixed_model((GUESS, OTHER), {"alarm": 0.99, "quiet": 0.5})
    person = Label("CRITICAL", "Security and Anomalies", "Connectivity and Security")
    (probe,) = enrich_batch(raw([b"alarm 1"]), None, RULES).records()
    values = [
        b"alarm 1",
        b"2026-11-29 10:00:00,000 WARN [main] com.acme.Pump - alarm 2",  # states WARN
        b"quiet 3",
        b"alarm",  # another template
    ]
    settings = EnrichSettings(policy=policy)
    result = enrich_batch(
        raw(values), model, RULES, settings, people={probe["fingerprint"]: person}
    )
    first, second, quiet, other = result.records()
    for r in (first, second):
        assert Label(r["severity"], r["event_type"], r["category"]) == person
        assert (r["labelled_by"], r["severity_by"], r["needs_review"]) == ("human", "human", False)
        assert r["rule"] is None
    assert second["parsed"]["log.level"] == "WARN"  # the line still says what it says
    assert quiet["labelled_by"] == "none"
    assert other["labelled_by"] == ("model" if policy == "model_first" else "rules")
    assert result.counts["by_people"] == 2
    assert probe["fingerprint"] not in {x.fingerprint for x in result.labels}
    assert probe["fingerprint"] not in {q.fingerprint for q in result.queries}


def test_confident_predictions_are_never_taught_back() -> None:
    model = fixed_model((GUESS, OTHER), {"alarm": 0.99})
    result = enrich_batch(raw([b"alarm one", b"alarm two"]), model, RULES)
    assert result.counts["by_model"] == 2
    assert result.labels == []


def test_rules_first_policy_lets_a_matching_rule_win_over_a_confident_model() -> None:
    model = fixed_model((GUESS, OTHER), {"alarm": 0.99, "quiet": 0.99})
    settings = EnrichSettings(policy="rules_first")
    result = enrich_batch(raw([b"alarm x", b"quiet y"]), model, RULES, settings)
    assert [r["labelled_by"] for r in result.records()] == ["rules", "model"]
    assert len(result.labels) == 1


def test_bootstrap_without_model_uses_rules_then_fallback() -> None:
    result = enrich_batch(raw([b"alarm 1", b"unknown thing 2"]), None, RULES)
    by_rules, review = result.records()
    assert by_rules["labelled_by"] == "rules"
    assert review["labelled_by"] == "none"
    assert Label(review["severity"], review["event_type"], review["category"]) == (
        DEFAULT_TAXONOMY.fallback
    )
    assert review["needs_review"] is True
    assert review["confidence"] is None
    assert review["model"] is None
    assert [q.text for q in result.queries] == ["unknown thing 2"]


def test_every_input_is_enriched_or_dead_lettered_in_order_with_its_coordinates() -> None:
    values = [b"alarm", None, b"\xff", b"[1]", b'{"message": "alarm", "host": "h"}', b""]
    result = enrich_batch(raw(values), None, RULES)
    assert len(result.records()) + len(result.dead_letters) == len(values)
    assert [r["source"]["offset"] for r in result.records()] == [100, 104, 105]
    assert [d.source.offset for d in result.dead_letters] == [101, 102, 103]
    assert [d.reason for d in result.dead_letters] == [
        "null_value",
        "invalid_utf8",
        "json_not_object",
    ]
    assert result.dead_letters[1].value == b"\xff"  # the original bytes, untouched
    first = result.records()[0]
    assert first["source"] == {
        "topic": "logs.raw",
        "partition": 1,
        "offset": 100,
        "timestamp": 1_700_000_000_000,
    }
    assert result.counts["in"] == 6
    assert result.counts["out"] == 3
    assert result.counts["dead_letters"] == 3


def test_json_fields_pass_through_and_clashing_keys_are_kept_aside() -> None:
    value = {"message": "alarm raised", "host": "db-1", "severity": "high", "nested": {"a": [1]}}
    (out,) = enrich_batch(raw([json.dumps(value).encode()]), None, RULES).records()
    assert out["message"] == "alarm raised"
    assert out["host"] == "db-1"
    assert out["nested"] == {"a": [1]}
    assert out["original_fields"] == {"severity": "high"}
    assert out["severity"] == "WARNING"
    json.dumps(out)  # serialisable as it is


ENRICHMENT = set(ENRICHMENT_KEYS)


@pytest.mark.parametrize(
    "value",
    [
        b'{"message": "alarm", "n": 1.0, "big": 12345678901234567890, "e": "caf\\u00e9"}',
        b'{"message":"quiet","host":"h"}  \n',  # trailing blanks after the object
        b"{}",
        b'{ "log": "alarm in log field" }',
        '{"message": "unicode \u00e9\u4e2d \U0001f600 alarm"}'.encode(),
        b'{"message": "x", "dup": 1, "dup": 2}',
    ],
)
def test_a_json_object_is_extended_byte_for_byte(value: bytes) -> None:
    model = fixed_model((GUESS, OTHER), {"alarm": 0.9, "quiet": 0.6})
    result = enrich_batch(raw([value]), model, RULES)
    (out_bytes,) = result.enriched
    body = value.rstrip()[:-1]
    assert out_bytes.startswith(body)  # its own bytes: number spelling, escapes, key order
    out = json.loads(out_bytes)
    assert {k: v for k, v in out.items() if k not in ENRICHMENT} == json.loads(value)
    assert set(out) - set(json.loads(value)) == ENRICHMENT
    assert result.enriched_keys == ["logs.raw:1:100"]
    assert out["source"] == {
        "topic": "logs.raw",
        "partition": 1,
        "offset": 100,
        "timestamp": 1_700_000_000_000,
    }


def test_the_fast_output_decodes_to_the_same_record_as_the_object_path() -> None:
    """Every route (model, rules, review) and both input kinds, against the reference that
    builds the object and encodes it (used for clashing keys and stdlib-only JSON)."""
    from enrich.engine.output import InputColumns, OutputWriter, Route

    values = [b"alarm x", b"quiet y", b"other z", b'{"message": "alarm", "a": [1, {"b": null}]}']
    values += [b'{"message": "quiet", "a": "\\ud83d\\ude00"}', b'{"log": "other"}']
    model = fixed_model((GUESS, OTHER), {"alarm": 0.5, "quiet": 0.9, "other": 0.6})
    records = raw(values)
    result = enrich_batch(records, model, RULES)
    model_meta = {"name": "test-model", "version": "7"}
    writer = OutputWriter(model_meta, model.classes, RULES)
    columns = InputColumns.of(records)
    decoded = [json.loads(v) for v in result.enriched]
    for row, (value, out) in enumerate(zip(values, decoded, strict=True)):
        rec = decode(value)
        assert isinstance(rec, LogRecord)
        kind = {"rules": 0, "model": 1, "none": 2}[out["labelled_by"]]
        idx = (
            0
            if kind == 0
            else [c.class_name for c in model.classes].index(
                Label(out["severity"], out["event_type"], out["category"]).class_name
            )
        )
        conf = json.dumps(out["confidence"]).encode()
        fp, parsed = out["fingerprint"], out["parsed"]
        template = (out["template_id"], out["template"])
        expected = writer.reference(
            columns, rec, row, Route(kind), idx, conf, fp, 0, parsed, template
        )
        assert out == json.loads(json.dumps(expected))
    assert [r["labelled_by"] for r in decoded] == [
        "rules",
        "model",
        "none",
        "rules",
        "model",
        "none",
    ]


def test_records_from_several_partitions_keep_their_own_coordinates() -> None:
    records = [
        RawRecord(b"alarm a", Source("logs.raw", 0, 7, None)),
        RawRecord(b'{"message": "b"}', Source("other", 2, 9, 5)),
        RawRecord(b"c", Source("logs.raw", 0, 8, 6)),
    ]
    result = enrich_batch(records, None, RULES)
    assert result.enriched_keys == ["logs.raw:0:7", "other:2:9", "logs.raw:0:8"]
    assert [r["source"] for r in result.records()] == [
        {"topic": "logs.raw", "partition": 0, "offset": 7, "timestamp": None},
        {"topic": "other", "partition": 2, "offset": 9, "timestamp": 5},
        {"topic": "logs.raw", "partition": 0, "offset": 8, "timestamp": 6},
    ]


def test_columns_and_records_give_the_same_output() -> None:
    values: list[bytes | None] = [b"alarm 1", None, b'{"message": "m", "k": 1}', b"plain"]
    batch = RawBatch(
        "logs.raw",
        1,
        values,
        [100 + i for i in range(4)],
        [1_700_000_000_000 + i for i in range(4)],
        [None] * 4,
    )
    a, b = enrich_batch(batch, None, RULES), enrich_batch(raw(values), None, RULES)
    assert a.enriched == b.enriched
    assert a.enriched_keys == b.enriched_keys
    assert a.dead_letters == b.dead_letters
    assert a.labels == b.labels


def test_training_labels_are_one_per_fingerprint_and_carry_the_rule() -> None:
    values = [b"alarm 1 from 10.0.0.1", b"alarm 2 from 10.0.0.2", b"alarm now"]
    result = enrich_batch(raw(values), None, RULES)
    assert result.counts["by_rules"] == 3
    assert len(result.labels) == 2  # "alarm <NUM> from <IP>" once, "alarm now" once
    assert {lbl.rule for lbl in result.labels} == {"alarm"}
    assert json.loads(LabelCodec.encode(result.labels[0]))["origin"] == "logs.raw:1:100"


def test_the_model_is_asked_once_per_distinct_normalised_body() -> None:
    dupes = [f"payment {i} declined by acquirer for account {i}".encode() for i in range(30)]
    others = [b"quota exceeded for tenant blue", b"cache warmed with new schema", b""]
    asked: list[str] = []
    model = fixed_model((GUESS, OTHER), {})
    inner = model.predict_proba_normalized

    def counting(texts: list[str]) -> np.ndarray:
        asked.extend(texts)
        return inner(texts)

    object.__setattr__(model, "predict_proba_normalized", counting)
    result = enrich_batch(raw(dupes + others), model, load_rules())
    assert result.counts["distinct_bodies"] == 4  # one payment template, two others, ""
    assert len(asked) == len(set(asked)) == 4  # each distinct body once


def test_review_queries_are_top_k_distinct_and_skip_near_duplicates() -> None:
    dupes = [f"payment {i} declined by acquirer for account {i}".encode() for i in range(30)]
    others = [b"quota exceeded for tenant blue", b"cache warmed with new schema"]
    model = fixed_model((GUESS, OTHER), {})  # 0.5 confidence everywhere: all need review
    settings = EnrichSettings(review_k=3)
    result = enrich_batch(raw(dupes + others), model, load_rules(), settings)
    assert result.counts["needs_review"] == 32
    assert result.counts["review_candidates"] == 3  # 30 lines of one template: one candidate
    texts = sorted(q.text for q in result.queries)
    assert len(texts) == 3
    assert sum(t.startswith("payment") for t in texts) == 1
    assert len({q.fingerprint for q in result.queries}) == 3


def test_default_strategy_asks_one_of_each_similar_template() -> None:
    # near-duplicates that differ by a word (different fingerprints), plus distinct templates
    similar = [
        f"login anomaly for user {u} via {p}".encode()
        for u in ("ann", "bob", "cy", "dee")
        for p in ("web", "app")
    ]
    distinct = [b"refund ledger mismatch detected", b"export finished for tenant"]
    # the login lines are the most uncertain (0.5): pure uncertainty would ask three of them
    model = fixed_model((GUESS, OTHER), {"login": 0.50, "refund": 0.55, "export": 0.55})
    result = enrich_batch(raw(similar + distinct), model, RULES, EnrichSettings(review_k=3))
    texts = [q.text for q in result.queries]
    assert sum(t.startswith("login") for t in texts) == 1
    assert {"refund ledger mismatch detected", "export finished for tenant"} <= set(texts)


def test_same_input_same_output() -> None:
    values = [f"line {i} alarm".encode() if i % 3 else f"other {i}".encode() for i in range(50)]
    a = enrich_batch(raw(values), None, RULES)
    b = enrich_batch(raw(values), None, RULES)
    assert a.enriched == b.enriched
    assert a.enriched_keys == b.enriched_keys
    assert [q.fingerprint for q in a.queries] == [q.fingerprint for q in b.queries]


@pytest.fixture(scope="module")
def trained() -> Model:
    """A model trained from the rules' labels on generated lines, as the pipeline boots."""
    boot = enrich_batch([RawRecord(v) for _s, v in generate(4_000, seed=5)], None, load_rules())
    learner = make_learner([x.text for x in boot.labels], [x.label for x in boot.labels])
    return Model(learner.estimator, "test-model", "3")


@pytest.mark.parametrize("with_model", [True, False])
def test_a_batch_in_parts_gives_what_the_whole_batch_gives(
    trained: Model, with_model: bool
) -> None:
    """The pipeline writes each part's records while it reads the next: the outputs, labels,
    queries, dead letters and counts are those of one call over the whole batch."""
    values: list[bytes | None] = [v for _s, v in generate(3_000, seed=11)]
    values[7:7] = [None, b"\xff\xfe", b"[1,2]", b'{"message": 5}', b"x" * 2_000_000]
    batch = RawBatch(
        "logs.raw",
        2,
        values,
        list(range(500, 500 + len(values))),
        [1_700_000_000_000 + i for i in range(len(values))],
        [None] * len(values),
    )
    model, rules = (trained if with_model else None), load_rules()
    settings = EnrichSettings(review_k=25)
    whole_miner = new_miner()
    whole = enrich_batch(batch, model, rules, settings, miner=whole_miner)
    assert whole.counts["by_rules"]
    assert whole.counts["needs_review"]
    assert whole.counts["by_model"] if with_model else not whole.counts["by_model"]
    for size, ahead in ((1, False), (997, False), (2_000, False), (997, True), (2_000, True)):
        enricher = Enricher(model, rules, settings)
        enriched: list[bytes] = []
        keys: list[str] = []
        pieces = [
            RawBatch(
                batch.topic,
                batch.partition,
                batch.values[start : start + size],
                batch.offsets[start : start + size],
                batch.timestamps[start : start + size],
                batch.keys[start : start + size],
            )
            for start in range(0, len(values), size)
        ]
        # ahead: each part read (parsed) in a thread while the one before is routed
        for got, got_keys in (
            enricher.add_all(pieces) if ahead else (enricher.add(x) for x in pieces)
        ):
            enriched += got
            keys += got_keys
        parts = enricher.finish()
        # a record's template is its template once its part was mined: a later part may
        # generalise it (its old id then resolves to the new one); the rest is the same
        got_out = [_without_template(v) for v in enriched]
        assert got_out == [_without_template(v) for v in whole.enriched]
        for value in enriched:
            tid = json.loads(value)["template_id"]
            assert enricher.miner.template(tid) is not None  # resolves to a live template
        assert keys == whole.enriched_keys
        # training labels and review items are per template: the same once each template is
        # taken as it is at the end
        assert enricher.miner.templates() == whole_miner.templates()
        assert _by_template(parts.labels, enricher.miner) == _by_template(whole.labels, whole_miner)
        assert [_resolved(q, enricher.miner) for q in parts.queries] == [
            _resolved(q, whole_miner) for q in whole.queries
        ]
        assert parts.dead_letters == whole.dead_letters
        skip = ("templates", "new_templates", "labels")
        assert {k: v for k, v in parts.counts.items() if k not in skip} == pytest.approx(
            {k: v for k, v in whole.counts.items() if k not in skip}
        )
        assert parts.counts["new_templates"] >= whole.counts["new_templates"] > 0


def _by_template(labels: list[LabelRecord], miner: Miner) -> set[tuple[str, str, str | None]]:
    out = {(miner.resolve(x.template_id or ""), x.label.class_name, x.rule) for x in labels}
    assert len(out) <= len(labels)
    return out


def _resolved(item: ReviewItem, miner: Miner) -> ReviewItem:
    return replace(item, template_id=miner.resolve(item.template_id or ""))


def _without_template(value: bytes) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(value)
    assert len(out.pop("template_id")) == 16
    assert isinstance(out.pop("template"), str)
    assert isinstance(out.pop("template_params"), list)
    return out


def test_empty_batch() -> None:
    result = enrich_batch([], None, RULES)
    assert result.records() == []
    assert result.counts["in"] == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"threshold": 1.5}, "threshold must be between 0 and 1"),
        ({"policy": "rules_only"}, "policy must be one of"),
        ({"review_k": -1}, "review_k must be 0 or more"),
        ({"strategy": "smart"}, "unknown query strategy 'smart'"),
        ({"max_value_bytes": 0}, "max_value_bytes must be positive"),
    ],
)
def test_invalid_settings_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        EnrichSettings(**kwargs)  # type: ignore[arg-type]


def test_templates_waiting_in_the_review_queue_are_not_asked_again() -> None:
    # four templates (a different number of words each)
    words = ("quiet", "quiet line", "quiet line here", "quiet line here again")
    lines = [w.encode() for w in words] * 2
    settings = EnrichSettings(review_k=10)
    first = enrich_batch(raw(lines), None, RULES, settings)
    asked = [q.template_id or "" for q in first.queries]
    assert len(asked) == 4
    again = enrich_batch(raw(lines), None, RULES, settings, queued=set(asked[:3]))
    assert [q.template_id for q in again.queries] == asked[3:]
    assert again.counts["already_queued"] == 3
    assert again.counts["needs_review"] == 8  # the lines still say so


def test_a_body_every_line_of_which_a_rule_splits_off_is_not_a_model_input() -> None:
    """``distinct_bodies`` counts what the model is asked about: the split-off bodies, not the
    template they were split from when no line of the batch keeps it."""
    lines = [b"Task exited with return code 1", b"Task exited with return code 2", b"hello 1"]
    result = enrich_batch(raw(lines), None, load_rules())
    assert result.counts["distinct_bodies"] == 2
    fps = [r["fingerprint"] for r in result.records()]
    assert fps[0] == fps[1] != fps[2]


def test_pair_scores_sum_each_pairs_severities() -> None:
    """The (event type, category) pair's probability is the sum over its severities, and the
    class picked is that pair's most likely one, whatever order the classes come in."""
    from enrich.engine.routing import _pair_scores

    rng = np.random.default_rng(7)
    classes = [
        Label(s, e, c)
        for e in ("Login", "Error")
        for c in ("Auth", "Datas")
        for s in ("INFO", "ERROR")
    ]
    order = rng.permutation(len(classes))
    classes = [classes[i] for i in order]
    proba = rng.random((40, len(classes)))
    proba /= proba.sum(axis=1, keepdims=True)
    best, score = _pair_scores(proba, classes)
    for row, (b, s) in enumerate(zip(best, score, strict=True)):
        sums: dict[tuple[str, str], float] = {}
        for c, p in zip(classes, proba[row], strict=True):
            sums[(c.event_type, c.category)] = sums.get((c.event_type, c.category), 0.0) + p
        pair = max(sums, key=lambda k: sums[k])
        assert s == pytest.approx(sums[pair])
        assert (classes[b].event_type, classes[b].category) == pair
        same = [
            p
            for c, p in zip(classes, proba[row], strict=True)
            if (c.event_type, c.category) == pair
        ]
        assert proba[row][b] == max(same)


def test_add_all_raises_what_reading_a_part_raised() -> None:
    """A part that fails to be read in the thread fails the caller, after the parts before
    it were yielded."""
    enricher = Enricher(None, RULES)

    def parts() -> Iterator[Sequence[RawRecord]]:
        yield [RawRecord(b"disk full on /var")]
        yield [cast(RawRecord, object())]  # reading it asks for a source it does not have

    got = enricher.add_all(parts())
    values, _keys = next(got)
    assert len(values) == 1
    with pytest.raises(AttributeError, match="source"):
        next(got)
