"""The sample generator is deterministic and its labels obey the taxonomy and the rules."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from enrich.core.labels import DEFAULT_TAXONOMY, Label
from enrich.core.parse import builtin_formats
from enrich.core.records import LogRecord, decode
from enrich.core.rules import load_rules
from enrich.samples import FAMILIES, FAMILY_BY_NAME, generate


def test_same_seed_same_lines() -> None:
    assert [v for _s, v in generate(200, seed=4)] == [v for _s, v in generate(200, seed=4)]
    assert [s for s, _v in generate(200, seed=4)] == [s for s, _v in generate(200, seed=4)]
    assert [v for _s, v in generate(50, seed=4)] != [v for _s, v in generate(50, seed=5)]


def test_start_sets_the_lines_time() -> None:
    start = datetime(2025, 3, 9, 23, 59, 59, tzinfo=UTC)
    for sample, value in generate(300, seed=2, start=start, json_share=0.0):
        if sample.format == "rfc3164" and not value.startswith(b"<"):
            assert value.startswith((b"Mar 10 00:", b"Mar  9 23:59:59")), value


def test_every_family_label_is_in_the_taxonomy_and_every_family_is_generated() -> None:
    for family in FAMILIES:
        DEFAULT_TAXONOMY.validate(Label(family.severity, family.event_type, family.category))
    seen = Counter(s.family for s, _v in generate(20_000, seed=1))
    assert set(seen) == set(FAMILY_BY_NAME)


def test_samples_keep_their_family_label() -> None:
    for sample, _value in generate(500, seed=6):
        family = FAMILY_BY_NAME[sample.family]
        assert (sample.severity, sample.event_type, sample.category) == (
            family.severity,
            family.event_type,
            family.category,
        )
        assert sample.text
        assert sample.text == sample.text.strip()


def field_lookup(fields: dict[str, Any]) -> Callable[[int, str], Any]:
    """What the rules' ``field`` lookups see for one line."""

    def lookup(_i: int, name: str) -> Any:
        return fields.get(name)

    return lookup


def test_default_rules_label_covered_families_right_and_leave_the_others() -> None:
    """On generated lines as the engine sees them (the parsed body, the parsed and JSON
    fields; a level the line states is the severity): every rule-covered family gets its true
    label from the rules, and no rule claims an application-specific line (those are for the
    model and people)."""
    rules = load_rules()
    formats = builtin_formats()
    wrong: Counter[str] = Counter()
    for sample, value in generate(5000, seed=13):
        record = decode(value)
        assert isinstance(record, LogRecord)
        parsed = formats.parse_record(record, 2026)
        if parsed.fields.get("format") != sample.format:
            continue  # a line the parser misreads (test_sample_formats says which)
        fields = {**(record.fields or {}), **parsed.fields}
        index = rules.match([parsed.body], field_lookup(fields))[0]
        family = FAMILY_BY_NAME[sample.family]
        if family.covered_by_rules:
            truth = Label(sample.severity, sample.event_type, sample.category)
            label = rules.rules[index].label if index >= 0 else None
            if label is not None and parsed.severity is not None:
                label = replace(label, severity=parsed.severity)
            if label != truth:
                wrong[sample.family] += 1
        elif index >= 0:
            wrong[f"{sample.family} claimed by {rules.rules[index].name}"] += 1
    assert not wrong, wrong.most_common(8)
