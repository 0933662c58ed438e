"""The sample generator is deterministic and its labels obey the taxonomy and the rules."""

from __future__ import annotations

from collections import Counter

from enrich.core.labels import DEFAULT_TAXONOMY, Label
from enrich.core.records import LogRecord, decode
from enrich.core.rules import load_rules
from enrich.samples import FAMILIES, FAMILY_BY_NAME, generate


def test_same_seed_same_lines() -> None:
    assert [v for _s, v in generate(200, seed=4)] == [v for _s, v in generate(200, seed=4)]
    assert [v for _s, v in generate(50, seed=4)] != [v for _s, v in generate(50, seed=5)]


def test_every_family_label_is_in_the_taxonomy() -> None:
    for family in FAMILIES:
        DEFAULT_TAXONOMY.validate(Label(family.severity, family.event_type, family.category))


def test_default_rules_label_covered_families_right_and_leave_the_others() -> None:
    """On generated lines: every rule-covered family gets its true label from the rules,
    and no rule claims an application-specific line (those are for the model and people)."""
    rules = load_rules()
    wrong: Counter[str] = Counter()
    for sample, value in generate(5000, seed=13):
        record = decode(value)
        assert isinstance(record, LogRecord)
        index = rules.first_match(record.text, record.fields)
        family = FAMILY_BY_NAME[sample.family]
        if family.covered_by_rules:
            truth = Label(sample.severity, sample.event_type, sample.category)
            if index < 0 or rules.rules[index].label != truth:
                wrong[sample.family] += 1
        elif index >= 0:
            wrong[f"{sample.family} claimed by {rules.rules[index].name}"] += 1
    assert not wrong, wrong.most_common(5)
