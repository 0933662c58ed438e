"""Rules: validated with the rule's name and the reason, first match wins, linear time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from enrich.core.labels import DEFAULT_TAXONOMY
from enrich.core.records import LogRecord
from enrich.core.rules import RulesCache, RuleSet, load_rules, parse_rules
from enrich.defaults import RULES_FILE as DEFAULT_RULES_FILE
from enrich.errors import ConfigError

LABEL = {"severity": "ERROR", "event_type": "State change", "category": "Datas"}
OTHER = {"severity": "INFO", "event_type": "Heartbeat", "category": "Monitoring & Logging"}


def rule(name: str = "r", **kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"name": name, "regex": "boom", "label": LABEL}
    base.update(kw)
    return {k: v for k, v in base.items() if v is not None}


def test_default_rules_load_and_every_rule_has_examples_both_ways() -> None:
    rules = load_rules()
    assert len(rules) >= 30
    for r in rules.rules:
        assert r.examples, f"rule {r.name} has no example line"
        if r.name != "no-content":
            assert r.counter_examples, f"rule {r.name} has no counter-example"


@pytest.fixture(scope="module")
def default_rules() -> RuleSet:
    return load_rules()


def test_loading_a_rules_file_checks_each_example_once() -> None:
    """The examples are checked when the rules load (``RuleSet.check_examples``), once per
    file: the default file loads; one example that its rule no longer wins, or one
    counter-example it does, stops the load naming the rule and the line."""
    data = yaml.safe_load(DEFAULT_RULES_FILE.read_text())
    checked = sum(
        len(r.get("examples", [])) + len(r.get("counter_examples", [])) for r in data["rules"]
    )
    assert checked > 400
    assert len(parse_rules(data)) == len(data["rules"])

    rules = data["rules"]
    first, later = rules[1], next(r for r in rules[2:] if r.get("examples") and not r.get("field"))
    stolen = yaml.safe_load(DEFAULT_RULES_FILE.read_text())
    stolen["rules"][1]["examples"] = [*first.get("examples", []), later["examples"][0]]
    with pytest.raises(ConfigError, match=rf"rule {first['name']!r}: example .* is matched by"):
        parse_rules(stolen)
    own = yaml.safe_load(DEFAULT_RULES_FILE.read_text())
    own["rules"][1]["counter_examples"] = [first["examples"][0]]
    with pytest.raises(ConfigError, match=rf"rule {first['name']!r}: counter-example"):
        parse_rules(own)


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        # bad regex: RE2 has no lookaround; the rule is named
        ([rule("look", regex="(?=x)y")], r"rule 'look': bad regex .*RE2 syntax"),
        ([rule("unclosed", regex="(abc")], r"rule 'unclosed': bad regex"),
        # unknown label value
        ([rule("lbl", label={**LABEL, "severity": "FATAL"})], r"rule 'lbl': severity 'FATAL'"),
        # duplicate name
        ([rule("dup"), rule("dup", regex="other")], r"rule 'dup': duplicate name"),
        # missing keys
        ([rule("nolabel", label=None)], r"rule 'nolabel': missing key 'label'"),
        ([{"regex": "x", "label": LABEL}], r"rule #1: missing key 'name'"),
        ([rule("nomatch", regex=None)], r"rule 'nomatch': needs exactly one of"),
        ([rule("both", contains="x")], r"rule 'both': needs exactly one of"),
        # other mistakes
        ([rule("flag", flags=["VERBOSE"])], r"rule 'flag': flags must be"),
        ([rule("typo", lable=LABEL)], r"rule 'typo': unknown key\(s\) lable"),
        ([rule("ex", examples=["no match here"])], r"rule 'ex': example 'no match here'"),
        ([rule("cx", counter_examples=["boom"])], r"rule 'cx': counter-example 'boom'"),
        # an example shadowed by an earlier rule is a mistake in the file's order
        (
            [rule("wide", regex="o"), rule("narrow", examples=["boom"])],
            r"rule 'narrow': example 'boom' is matched by rule 'wide' first",
        ),
    ],
)
def test_bad_rules_fail_with_the_rule_name_and_reason(rules: list[Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_rules({"rules": rules})


@pytest.mark.parametrize("doc", [None, [], {"rules": "x"}, {"rule": []}])
def test_rules_document_shape_is_checked(doc: Any) -> None:
    with pytest.raises(ConfigError, match="expected a mapping with a 'rules' list"):
        parse_rules(doc)


def test_first_match_wins_in_file_order() -> None:
    rules = parse_rules({"rules": [rule("a", regex="disk"), rule("b", regex="disk full")]})
    assert rules.first_match("the disk full alarm") == 0
    reordered = parse_rules({"rules": [rule("b", regex="disk full"), rule("a", regex="disk")]})
    assert reordered.first_match("the disk full alarm") == 0
    assert reordered.rules[0].name == "b"


def test_contains_is_literal_and_flags_apply() -> None:
    rules = parse_rules(
        {
            "rules": [
                rule("lit", regex=None, contains="a.b(c)"),
                rule("ci", regex="timeout", flags=["IGNORECASE"], label=OTHER),
            ]
        }
    )
    assert rules.first_match("x a.b(c) y") == 0
    assert rules.first_match("x aXb(c) y") == -1
    assert rules.first_match("Read TIMEOUT") == 1


def test_rule_on_a_json_field() -> None:
    rules = parse_rules(
        {"rules": [rule("by-host", regex="^db-", field="host"), rule("text", regex="boom")]}
    )
    records = [
        LogRecord("boom", {"host": "db-1", "message": "boom"}, "message"),
        LogRecord("boom", {"host": "web-1", "message": "boom"}, "message"),
        LogRecord("boom"),  # a plain line has no fields
        LogRecord("quiet", {"host": "db-2"}, None),
    ]
    assert rules.match_records(records) == [0, 1, 1, 0]


def test_catastrophic_pattern_runs_in_linear_time() -> None:
    """(a+)+$ backtracks exponentially in a backtracking engine; RE2 does not."""
    rules = parse_rules({"rules": [rule("evil", regex="(a+)+$"), rule("x", regex="(x+x+)+y")]})
    # a backtracking engine would not return from these calls at all
    assert rules.first_match("a" * 50_000 + "!") == -1
    assert rules.first_match("x" * 50_000) == -1


def test_hundreds_of_rules_match_in_one_pass() -> None:
    many = [rule(f"r{i}", regex=rf"\bcode-{i}\b") for i in range(500)]
    rules = parse_rules({"rules": many})
    lines = [LogRecord(f"error code-{i} seen") for i in (0, 250, 499)] + [LogRecord("none")]
    assert rules.match_records(lines) == [0, 250, 499, -1]


def test_rules_file_is_reloaded_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"rules": [rule("one")]}))
    cache = RulesCache(path)
    first = cache.get()
    assert cache.get() is first  # unchanged file: no reload
    path.write_text(yaml.safe_dump({"rules": [rule("one"), rule("two", regex="bang")]}))
    assert [r.name for r in cache.get().rules] == ["one", "two"]
    path.write_text("rules: [ {name: broken")
    with pytest.raises(ConfigError, match="not valid YAML"):
        cache.get()


def test_missing_rules_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read rules file"):
        load_rules(tmp_path / "nope.yaml")


def test_a_line_utf8_cannot_encode_is_matched_not_raised() -> None:
    """A lone surrogate (from a JSON ``\\ud800`` escape) reaches the rules as text."""
    rules = parse_rules(
        {
            "rules": [
                {"name": "boom", "contains": "boom", "label": DEFAULT_TAXONOMY.fallback.to_dict()}
            ]
        }
    )
    lines = [LogRecord("boom \ud800 here"), LogRecord("quiet \udfff"), LogRecord("boom")]
    assert rules.match_records(lines) == [0, -1, 0]
    assert rules.first_match("\ud800 boom") == 0
