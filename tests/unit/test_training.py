"""Training data rules: human over rules, a stable split, and who takes the champion alias."""

from __future__ import annotations

import pytest

from enrich.core.formats import LabelCodec, LabelRecord
from enrich.core.labels import DEFAULT_TAXONOMY, Label
from enrich.core.normalize import fingerprint
from enrich.errors import ConfigError
from enrich.learn.training import (
    beats,
    cap_labels,
    changed_labels,
    is_eval,
    label_set_digest,
    merge_labels,
    split,
    yardstick,
)

A = Label("ERROR", "State change", "Software Infrastructure")
B = Label("INFO", "Heartbeat", "Monitoring & Logging")


def stored(fp: str, label: Label, source: str, at: int) -> LabelRecord:
    return LabelRecord(fp, f"text {fp}", label, source, labelled_at=at)


def test_human_label_outranks_a_later_rule_label() -> None:
    merged = merge_labels([stored("f1", A, "human", 10), stored("f1", B, "rules", 99)])
    assert merged["f1"].label == A
    assert merged["f1"].source == "human"


def test_a_later_label_of_the_same_source_replaces_the_earlier_one() -> None:
    merged = merge_labels(
        [
            stored("f1", A, "human", 10),
            stored("f1", B, "human", 20),
            stored("f2", A, "rules", 5),
            stored("f2", B, "rules", 1),
        ]
    )
    assert merged["f1"].label == B
    assert merged["f2"].label == A


def test_split_depends_on_the_fingerprint_only() -> None:
    labels = [stored(fingerprint(f"line {i}"), A if i % 2 else B, "rules", i) for i in range(200)]
    train, held = split(labels)
    train2, held2 = split(reversed(labels))
    assert [x.fingerprint for x in held] == [x.fingerprint for x in held2]
    assert [x.fingerprint for x in train] == [x.fingerprint for x in train2]
    assert all(is_eval(x.fingerprint) for x in held)
    assert 20 <= len(held) <= 60  # about one in five


@pytest.mark.parametrize(
    ("candidate", "champion", "promote"),
    [
        ({"macro_f1": 0.8, "accuracy": 0.9}, None, True),  # no champion yet
        ({"macro_f1": 0.81, "accuracy": 0.8}, {"macro_f1": 0.8, "accuracy": 0.95}, True),
        ({"macro_f1": 0.8, "accuracy": 0.91}, {"macro_f1": 0.8, "accuracy": 0.9}, True),
        ({"macro_f1": 0.8, "accuracy": 0.9}, {"macro_f1": 0.8, "accuracy": 0.9}, False),  # tie
        ({"macro_f1": 0.7, "accuracy": 0.99}, {"macro_f1": 0.8, "accuracy": 0.9}, False),
    ],
)
def test_champion_decision_and_tie_rule(
    candidate: dict[str, float], champion: dict[str, float] | None, promote: bool
) -> None:
    assert beats(candidate, champion) is promote


def test_stored_label_is_validated_against_the_taxonomy() -> None:
    good = (
        b'{"fingerprint": "ab", "text": "t", "severity": "INFO", "event_type": "Heartbeat",'
        b' "category": "Datas", "source": "human", "labelled_at": 5, "by": "ann"}'
    )
    parsed = LabelCodec.decode(good, DEFAULT_TAXONOMY)
    assert (parsed.source, parsed.by, parsed.labelled_at) == ("human", "ann", 5)
    with pytest.raises(ConfigError, match="severity 'LOUD'"):
        LabelCodec.decode(good.replace(b'"INFO"', b'"LOUD"'), DEFAULT_TAXONOMY)


def test_label_cap_keeps_every_human_label_then_the_newest_rule_labels() -> None:
    label = Label("INFO", "Heartbeat", "Datas")
    labels = {
        f"r{i:03d}": LabelRecord(f"r{i:03d}", "t", label, "rules", labelled_at=1000 + i)
        for i in range(100)
    }
    labels |= {f"h{i}": LabelRecord(f"h{i}", "t", label, "human", labelled_at=i) for i in range(5)}
    capped = cap_labels(labels, 30)
    assert len(capped) == 30
    assert {f"h{i}" for i in range(5)} <= set(capped)  # old human labels stay
    assert {k for k in capped if k.startswith("r")} == {f"r{i:03d}" for i in range(75, 100)}
    assert cap_labels(labels, 1000) is labels  # under the cap: untouched
    only_humans = cap_labels({k: v for k, v in labels.items() if k.startswith("h")}, 2)
    assert set(only_humans) == {"h4", "h3"}  # humans alone over the cap: the newest stay


def test_only_new_lines_and_new_labels_count_as_new_information() -> None:
    before = merge_labels([stored("f1", A, "rules", 1), stored("f2", B, "rules", 2)])
    resent = [stored("f1", A, "rules", 50), stored("f2", B, "rules", 60)]  # copies, later
    after = merge_labels([*before.values(), *resent])
    assert changed_labels(before, after) == 0
    after = merge_labels(
        [
            *after.values(),
            stored("f3", A, "rules", 70),  # a new line
            stored("f2", A, "rules", 80),  # another label
            stored("f1", A, "human", 90),  # a person confirms the rule: a person's label now
        ]
    )
    assert changed_labels(before, after) == 3


def test_the_label_set_digest_changes_with_what_training_learns_only() -> None:
    labels = [stored("f1", A, "rules", 1), stored("f2", B, "human", 2)]
    digest = label_set_digest(labels, C=20.0)
    resent = [LabelRecord("f1", "another text of f1", A, "rules", labelled_at=9), labels[1]]
    assert label_set_digest(reversed(resent), C=20.0) == digest  # order, text, time: same
    assert label_set_digest([stored("f1", B, "rules", 1), labels[1]], C=20.0) != digest
    assert label_set_digest([stored("f1", A, "human", 1), labels[1]], C=20.0) != digest
    assert label_set_digest(labels, C=1.0) != digest


def test_the_yardstick_is_peoples_labels_once_there_are_enough() -> None:
    rules = [stored(f"r{i}", A, "rules", i) for i in range(50)]
    people = [stored(f"h{i}", B, "human", i) for i in range(29)]
    assert yardstick(rules + people, min_people=30) == ("rules", rules)
    people.append(stored("h29", B, "human", 29))
    assert yardstick(people + rules, min_people=30) == ("human", people)
