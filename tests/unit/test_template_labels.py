"""Labels by template (issue 15, item 3): a person's answer labels a template, the rules teach
one label per template and label, training follows templates that generalise, the review queue
asks one question per template (pure logic; the DAGs are tested in integration)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from enrich.core.formats import HUMAN, RULES, LabelCodec, LabelRecord, ReviewCodec, ReviewItem
from enrich.core.labels import DEFAULT_TAXONOMY, Label
from enrich.core.normalize import fingerprint, normalize
from enrich.core.records import RawRecord, Source
from enrich.core.rules import load_rules, parse_rules
from enrich.core.templates import new_miner
from enrich.engine import review
from enrich.engine.routing import EnrichSettings, enrich_batch
from enrich.learn.model import unfitted_learner
from enrich.learn.strategies import diverse
from enrich.learn.training import by_template, merge_labels, split

PERSON = Label("ERROR", "Security and Anomalies", "Application & Middleware")
OTHER = Label("WARNING", "State change", "Hardware Infrastructure")
NOBODY = parse_rules({"rules": []})


def raw(lines: Sequence[str], start: int = 0) -> list[RawRecord]:
    return [
        RawRecord(x.encode(), Source("logs.raw", 0, start + i, 1_700_000_000_000 + i))
        for i, x in enumerate(lines)
    ]


def records(lines: Sequence[str], **kwargs: Any) -> list[dict[str, Any]]:
    return enrich_batch(raw(lines), None, kwargs.pop("rules", NOBODY), **kwargs).records()


def test_an_answer_about_a_template_labels_every_line_of_it_lines_never_seen_included() -> None:
    miner = new_miner()
    first = records(["reactor core alpha vented", "reactor core beta vented"], miner=miner)
    tid = first[0]["template_id"]
    assert first[1]["template_id"] == tid
    assert first[0]["labelled_by"] == "none"
    people = {f"t:{tid}": PERSON}
    result = enrich_batch(
        raw(["reactor core gamma vented", "reactor core alpha vented", "pump stalled"]),
        None,
        NOBODY,
        EnrichSettings(review_k=10),
        people=people,
        miner=miner,
    )
    out = result.records()
    for r in out[:2]:
        assert Label(r["severity"], r["event_type"], r["category"]) == PERSON
        assert (r["labelled_by"], r["severity_by"], r["needs_review"]) == ("human", "human", False)
    assert out[2]["labelled_by"] == "none"  # another template
    assert [q.text for q in result.queries] == ["pump stalled"]  # not asked about again
    assert result.counts["by_people"] == 2


def test_the_answer_follows_its_template_when_it_generalises() -> None:
    miner = new_miner()
    (before,) = records(["valve stuck open on seven"], miner=miner)
    people = {f"t:{before['template_id']}": PERSON}  # answered while it had one line
    out = enrich_batch(
        raw(["valve stuck open on nine"]), None, NOBODY, people=people, miner=miner
    ).records()
    assert out[0]["template"] == "valve stuck open on <*>"
    assert out[0]["template_id"] != before["template_id"]
    assert miner.resolve(before["template_id"]) == out[0]["template_id"]
    assert out[0]["labelled_by"] == "human"


def test_an_answer_about_one_line_wins_over_its_templates() -> None:
    lines = ["fan spinning slow one", "fan spinning slow two"]
    tid = records(lines)[0]["template_id"]
    one = fingerprint(normalize(lines[0]))
    out = records(lines, people={f"t:{tid}": PERSON, one: OTHER}, miner=new_miner())
    labels = [Label(r["severity"], r["event_type"], r["category"]) for r in out]
    assert labels == [OTHER, PERSON]


def test_rules_teach_one_label_per_template_and_label_and_never_merge_different_labels() -> None:
    rules = parse_rules(
        {
            "rules": [
                {"name": "alpha", "regex": "alpha", "label": PERSON.to_dict()},
                {"name": "beta", "regex": "beta", "label": OTHER.to_dict()},
            ]
        }
    )
    nodes = ("kepler", "newton", "curie", "darwin", "euler")
    lines = [f"job finished {w} on node {n}" for n in nodes for w in ("alpha", "beta")]
    result = enrich_batch(raw(lines), None, rules)
    tids = {r["template_id"] for r in result.records()}
    assert len(tids) == 1  # one template ...
    assert len({r["fingerprint"] for r in result.records()}) == 10  # ... of ten distinct lines
    taught = sorted((x.label, x.rule) for x in result.labels)
    assert taught == sorted([(PERSON, "alpha"), (OTHER, "beta")])  # one per label, not ten
    (tid,) = tids
    assert all(x.template_id == tid for x in result.labels)
    keys = {LabelCodec.key_of(x) for x in result.labels}
    assert len(keys) == 2
    assert all(k.startswith(f"rules:t:{tid}:") for k in keys)


def test_label_keys_and_round_trip() -> None:
    person = LabelRecord("fp1", "a line", PERSON, HUMAN, by="ana", template_id="00ff00ff00ff00ff")
    assert LabelCodec.key_of(person) == "human:t:00ff00ff00ff00ff"
    back = LabelCodec.decode(LabelCodec.encode(person, 7), DEFAULT_TAXONOMY)
    assert back == replace(person, labelled_at=7)
    legacy = LabelRecord("fp1", "a line", PERSON, RULES)
    assert LabelCodec.key_of(legacy) == "rules:fp1"
    assert LabelCodec.decode(LabelCodec.encode(legacy, 7), DEFAULT_TAXONOMY).template_id is None


def test_training_follows_generalised_templates_and_a_persons_answer_replaces_the_rules() -> None:
    def label(fp: str, x: Label, source: str, tid: str | None, at: int) -> LabelRecord:
        return LabelRecord(fp, f"line {fp}", x, source, labelled_at=at, template_id=tid)

    stored = [
        label("f1", OTHER, RULES, "aaaa000000000001", 1),  # rules on the old template
        label("f2", OTHER, RULES, "bbbb000000000002", 2),  # ... and on the one it became
        label("f3", PERSON, HUMAN, "aaaa000000000001", 3),  # a person, on the old id
        label("f4", OTHER, RULES, "cccc000000000003", 4),  # another template
        label("f5", PERSON, RULES, None, 5),  # a line's label from before templates
    ]
    aliases = {"aaaa000000000001": "bbbb000000000002"}
    merged = by_template(merge_labels(stored), lambda t: aliases.get(t, t))
    got = sorted((x.fingerprint, x.source, x.template_id) for x in merged.values())
    assert got == [
        ("f3", HUMAN, "bbbb000000000002"),
        ("f4", RULES, "cccc000000000003"),
        ("f5", RULES, None),
    ]
    # every label of one template falls on one side of the split
    many = [label(f"f{i}", OTHER, RULES, f"{i % 7:016x}", i) for i in range(70)]
    many += [replace(x, label=PERSON, source=HUMAN) for x in many]
    train, held = split(by_template(merge_labels(many)).values())
    assert not {x.template_id for x in train} & {x.template_id for x in held}


def item(text: str, tid: str, queued_at: int, count: int = 1) -> ReviewItem:
    return ReviewItem(
        fingerprint(normalize(text)),
        text,
        None,
        {"severity": "INFO", "event_type": "Useless", "category": "Uncategorized"},
        None,
        0.0,
        "diverse",
        "logs.raw:0:1",
        queued_at,
        tid,
        f"template {tid}",
        count,
        (text,),
    )


def test_the_queue_asks_once_per_template_as_it_is_now() -> None:
    old, new, other, done = "1" * 16, "2" * 16, "3" * 16, "4" * 16
    items = [
        item("valve seven stuck", old, 1, count=4),
        item("valve nine stuck", new, 2, count=3),
        item("pump stalled", other, 3),
        item("fan slow", done, 4),
    ]
    aliases = {old: new}
    state = {new: ("valve <*> stuck", 120), other: ("pump stalled", 1)}
    waiting = review.pending(items, {f"t:{done}"}, lambda t: aliases.get(t, t), state)
    assert [(x.template_id, x.template, x.count) for x in waiting] == [
        (new, "valve <*> stuck", 120),  # the line count the templates topic knows
        (other, "pump stalled", 1),
    ]
    assert waiting[0].text == "valve nine stuck"  # the latest queued
    assert waiting[0].examples == ("valve nine stuck", "valve seven stuck")
    # a label given on the old id counts for the template it became
    assert review.pending(items, {f"t:{old}"}, lambda t: aliases.get(t, t))[0].template_id == other


def test_a_question_shows_the_template_its_lines_and_labels_the_template() -> None:
    lines = [f"reactor core {w} vented" for w in ("alpha", "beta", "gamma", "delta")] * 2
    result = enrich_batch(raw(lines), None, NOBODY, EnrichSettings(review_k=5))
    (queued,) = result.queries
    assert queued.count == 8
    assert queued.template == "reactor core <*> vented"
    assert queued.examples == tuple(lines[:3])
    assert ReviewCodec.key(queued) == queued.template_id
    assert ReviewCodec.decode(ReviewCodec.encode(queued, 1)) == replace(queued, queued_at=1)
    (question,) = review.pick_questions([queued], None, DEFAULT_TAXONOMY, 3)
    text = review.body(json.loads(json.dumps(question.to_dict())))
    assert "**8** lines of the template" in text
    assert "reactor core <*> vented" in text
    assert "reactor core beta vented" in text
    assert "reactor core gamma vented" in text
    assert "this template (8 lines)" in review.subject(question.to_dict())
    answer = review.human_label(question.to_dict(), PERSON, "ana", None)
    assert LabelCodec.key_of(answer) == f"human:t:{queued.template_id}"


def test_diverse_starts_with_the_largest_templates_and_asks_each_once() -> None:
    pool = np.asarray(
        ["disk full on sda", "user login ok", "cache miss on key", "disk full on sdb"],
        dtype=object,
    )
    weights = np.asarray([5.0, 900.0, 40.0, 5.0])
    picked, scores = diverse(unfitted_learner(), pool, 3, weights=weights)
    assert picked.tolist()[:2] == [1, 2]  # no model: the most lines first
    assert len(set(picked.tolist())) == 3
    assert scores[0] == 1.0  # uncertainty 1 (no model) times the largest share of lines
    unweighted, _ = diverse(unfitted_learner(), pool, 1)
    assert unweighted.tolist() == [0]  # without weights: every item alike, the first


def test_rules_labels_of_the_default_rules_are_per_template() -> None:
    lines = [f"Accepted password for user{i} from 10.0.0.{i} port 22 ssh2" for i in range(50)]
    result = enrich_batch(raw(lines), None, load_rules())
    assert result.counts["by_rules"] == 50
    assert len(result.labels) == 1
