"""The native rule matcher (``enrich_native.RuleMatcher``) behind ``RuleSet.split_marks`` and
``RuleSet.match``: the same first match as RE2's ``Set`` on every ASCII text, -2 (RE2's job)
on the others."""

from __future__ import annotations

import pytest

from enrich.core.normalize import template_variants
from enrich.core.rules import load_rules, parse_rules, set_match
from enrich.samples import generate
from tests.native_build import native_module

native = native_module()


def _texts() -> list[str]:
    rules = load_rules()
    texts = [v.decode("utf-8", "replace") for _s, v in generate(5_000, seed=5)]
    for rule in rules.rules:
        if rule.field is None:
            for text in (*rule.examples, *rule.counter_examples):
                texts += [text, *template_variants(text), text.upper(), text.lower()]
    return [*texts, "", " ", "Task exited with return code 1 déjà", "ünïcode CPU usage is 97%"]


def _re2_first(rule_set: object, text: str) -> int:
    hits = set_match(rule_set, text)
    return min(hits) if hits else -1


@pytest.mark.parametrize("which", ["all", "splitting"])
def test_the_native_matcher_agrees_with_re2(which: str) -> None:
    rules = load_rules()
    rule_set, indices = rules._sets[None]
    if which == "splitting":
        rule_set, indices = rules._split_sets[None]
    matcher = native.RuleMatcher([rules.rules[i].pattern for i in indices])
    texts = _texts()
    got = matcher.first(texts)
    want = [_re2_first(rule_set, t) if t.isascii() else -2 for t in texts]
    assert got == want
    assert sum(1 for x in got if x >= 0) > 500, "the texts exercise the rules"
    assert -2 in got
    assert -1 in got


def test_split_marks_agree_with_and_without_the_native_matcher() -> None:
    rules = load_rules()
    texts = _texts()
    with_native = rules.split_marks(texts)
    assert rules.split_matcher is not None
    rules.__dict__["split_matcher"] = None  # the RE2 path
    assert rules.split_marks(texts) == with_native


def test_match_agrees_with_and_without_the_native_matcher() -> None:
    rules = load_rules()
    texts = _texts()
    with_native = rules.match(texts)
    assert rules.text_matcher is not None
    assert sum(1 for x in with_native if x >= 0) > 500
    rules.__dict__["text_matcher"] = None  # the RE2 path
    assert rules.match(texts) == with_native


def test_a_pattern_the_regex_crate_reads_otherwise_keeps_re2() -> None:
    # \C (any byte) is RE2's alone: the native matcher refuses it, RE2 does the work
    rules = parse_rules(
        {
            "rules": [
                {
                    "name": "odd",
                    "regex": r"code [1-9]\C",
                    "splits_template": True,
                    "label": {
                        "severity": "ERROR",
                        "event_type": "State change",
                        "category": "Software Infrastructure",
                    },
                }
            ]
        }
    )
    assert rules.split_matcher is None
    assert rules.text_matcher is None
    assert rules.split_marks(["exit code 12", "exit code 0"]) == [" <RULE_ODD>", ""]
    assert rules.match(["exit code 12", "exit code 0"]) == [0, -1]


def test_the_any_pass_runs_only_with_a_fast_literal_prefilter() -> None:
    """Patterns that all start with literals are first checked as one alternation (a fast
    literal scan rejects most texts); others (the default packs: a pattern starting with a
    class) go straight to the set. The first match is the same either way."""
    literal = ["Failed password for ", "Accepted publickey for ", "session opened for user"]
    assert native.RuleMatcher(literal).prefiltered
    rules = load_rules()
    assert not rules.text_matcher.prefiltered
    assert not rules.split_matcher.prefiltered
    texts = [
        "Failed password for root from 10.0.0.1",
        "pam_unix(sshd:session): session opened for user bob",
        "nothing here",
        "Accepted publickey for alice; Failed password for bob",
    ]
    want = [0, 2, -1, 0]
    assert native.RuleMatcher(literal).first(texts) == want
    assert native.RuleMatcher([*literal, r"\w+ here"]).first(texts) == [0, 2, 3, 0]
    assert not native.RuleMatcher([*literal, r"\w+ here"]).prefiltered
