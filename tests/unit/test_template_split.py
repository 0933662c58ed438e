"""Lines that rules label differently never share a training key (defects issue, item 10).

The normaliser masks numbers, so ``exited with code 137`` and ``exited with code 0`` are one
normalised line; a rule that tells them apart splits that template. The engine appends the
rule's marker to the normalised body of the lines it splits off, so they get their own
fingerprint, training key and model input.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from enrich.core.normalize import normalize, template_variants
from enrich.core.records import RawRecord, Source
from enrich.core.rules import load_rules, parse_rules
from enrich.engine.routing import EnrichSettings, enrich_batch
from enrich.errors import ConfigError
from enrich.learn.model import Model
from enrich.learn.training import train
from enrich.samples import generate

CRASH = {"severity": "WARNING", "event_type": "State change", "category": "Software Infrastructure"}
DONE = {"severity": "INFO", "event_type": "State change", "category": "Software Infrastructure"}

# lines the pack's rules label differently though they normalise alike (pairs from the issue
# and from the rules' own examples and counter-examples)
PAIRS = [
    (
        "CPU usage on node-3 is 97% for the last 5 minutes",
        "CPU usage on node-3 is 20% for the last 5 minutes",
    ),
    (
        "dockerd: container 3f2a (nginx:1.27) exited with code 137",
        "dockerd: container 3f2a (nginx:1.27) exited with code 0",
    ),
    ("Task exited with return code 1", "Task exited with return code 0"),
    (
        "nginx.service: Main process exited, code=exited, status=1/FAILURE",
        "nginx.service: Main process exited, code=exited, status=0/FAILURE",
    ),
]


def raw(lines: list[str]) -> list[RawRecord]:
    return [
        RawRecord(line.encode(), Source("logs.raw", 0, i, 1_700_000_000_000 + i, None))
        for i, line in enumerate(lines)
    ]


def test_variants_change_values_only() -> None:
    line = "kernel: EXT4-fs error on sda1: disk 'data' is 97% full after 12 retries"
    variants = template_variants(line)
    assert variants, "numbers and quoted values are varied"
    assert all(normalize(v) == normalize(line) for v in variants)
    assert all("EXT4-fs" in v and "sda1:" in v for v in variants), "names keep their digits"
    assert any("is 0% full" in v for v in variants)
    assert any("after 137 retries" in v for v in variants)
    assert any("'x'" in v for v in variants)
    ip = "Timed out waiting for reply from 192.0.2.123:123 (ntp.example.org)."
    assert template_variants(ip) == [], "addresses are not values to vary"


def test_the_packs_value_sensitive_rules_are_found() -> None:
    rules = load_rules()
    splitting = {rules.rules[i].name for i in rules.splitting}
    assert {
        "resource-pressure",
        "container-crash",
        "batch-job-failed",
        "systemd-unit-failed",
        "cron-job-failed",
    } <= splitting
    # rules any value of a masked number satisfies do not split their template
    # rules any value of a masked number satisfies do not split their template, nor does the
    # rule the other side of a split reaches (batch-job-succeeded matches every return code)
    assert not splitting & {
        "k8s-scaled",
        "disk-full",
        "network-link-down",
        "no-content",
        "batch-job-succeeded",
    }


def _rules(regex: str, **extra: object) -> list[dict[str, object]]:
    return [
        {
            "name": "exit-crash",
            "regex": regex,
            "label": CRASH,
            "examples": ["worker exited with code 137"],
            **extra,
        },
        {"name": "exit", "regex": "exited with code", "label": DONE},
    ]


def test_probing_finds_a_rule_that_tells_values_apart() -> None:
    sensitive = parse_rules({"rules": _rules(r"exited with code [1-9]\d*")})
    assert sensitive.splitting == (0,)
    assert sensitive.split_marks(["worker exited with code 137", "worker exited with code 0"]) == [
        " <RULE_EXIT_CRASH>",
        "",
    ]
    any_value = parse_rules({"rules": _rules(r"exited with code \d+")})
    assert any_value.splitting == ()
    assert any_value.split_marks(["worker exited with code 137"]) == [""]


def test_the_file_overrides_probing() -> None:
    off = parse_rules({"rules": _rules(r"exited with code [1-9]\d*", splits_template=False)})
    assert off.splitting == ()
    on = parse_rules({"rules": _rules(r"exited with code \d+", splits_template=True)})
    assert on.splitting == (0,)
    with pytest.raises(ConfigError, match="splits_template must be true or false"):
        parse_rules({"rules": _rules("x", splits_template="yes")})


def test_a_field_rule_splits_only_when_the_file_says_so() -> None:
    rule = {
        "name": "debug-lines",
        "field": "severity_number",
        "regex": "^[1-8]$",
        "label": {"severity": "DEBUG", "event_type": "Useless", "category": "Uncategorized"},
    }
    assert parse_rules({"rules": [rule]}).splitting == ()
    rules = parse_rules({"rules": [{**rule, "splits_template": True}]})
    lines = [
        '{"level":"debug","msg":"cache miss for key 42"}',
        '{"level":"info","msg":"cache miss for key 42"}',
    ]
    a, b = enrich_batch(raw(lines), None, rules, EnrichSettings(review_k=0)).records()
    assert a["fingerprint"] != b["fingerprint"]


@pytest.mark.parametrize(("first", "second"), PAIRS)
def test_lines_rules_label_differently_get_their_own_keys(first: str, second: str) -> None:
    rules = load_rules()
    assert normalize(first) == normalize(second)  # one template to the normaliser
    assert rules.first_match(first) != rules.first_match(second)
    result = enrich_batch(raw([first, second]), None, rules, EnrichSettings(review_k=0))
    a, b = result.records()
    assert a["fingerprint"] != b["fingerprint"]
    keys = [x.fingerprint for x in result.labels]
    assert len(keys) == len(set(keys))


def test_no_training_key_ever_holds_two_labels() -> None:
    """Over the sample generator's lines and the pairs above, in one batch and in batches one
    after another: every training key carries one label, however many lines it stands for
    (event type and category: a line that states its level keeps it, whatever the key)."""
    rules = load_rules()
    values = [value for _sample, value in generate(4000, seed=11)]
    lines = [v.decode() for v in values] + [x for p in PAIRS for x in p] * 3
    by_key: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for start in range(0, len(lines), 1000):
        result = enrich_batch(raw(lines[start : start + 1000]), None, rules)
        for record in result.records():
            if record["labelled_by"] == "rules":
                by_key[record["fingerprint"]].add((record["event_type"], record["category"]))
        for x in result.labels:
            by_key[x.fingerprint].add((x.label.event_type, x.label.category))
    merged = {k: v for k, v in by_key.items() if len(v) > 1}
    assert not merged


def test_a_model_trained_on_both_lines_tells_them_apart() -> None:
    """The model's input carries the marker: trained on rule labels of both sides of a
    split template, it gives each side its own label."""
    rules = load_rules()
    lines = []
    for n in range(40):
        lines += [
            f"Task exited with return code {1 + n % 3}",
            "Task exited with return code 0",
            f"kernel: e1000e: eth{n % 4} NIC Link is Down",
        ]
    result = enrich_batch(raw(lines), None, rules, EnrichSettings(review_k=0))
    texts = {x.text for x in result.labels}
    assert "Task exited with return code 1 <RULE_BATCH_JOB_FAILED>" in texts
    assert "Task exited with return code 0" in texts
    model = Model(train(result.labels * 5), "m", "1")
    # the model itself, on the texts as enrichment keys them (the rules never stand in)
    failed = normalize("Task exited with return code 2") + " <RULE_BATCH_JOB_FAILED>"
    succeeded = normalize("Task exited with return code 0")
    best, _conf = model.predict_normalized([failed, succeeded])
    guessed = [model.classes[int(i)] for i in best]
    want = [rules.rules[rules.first_match(line)].label for line in PAIRS[2]]
    assert guessed == want
    assert want[0] != want[1]
