"""The rule report (issue 17, item 2) on a small labelled file: coverage, overlaps, conflicts,
agreement with people, rules that never fire, rules that contradict people."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from enrich.cli import main
from enrich.core.labels import Label
from enrich.core.rules import parse_rules
from enrich.engine.rule_report import ReportLine, render, rule_report

DISK = Label("ERROR", "Performance and Resources", "Hardware Infrastructure")
FULL = Label("WARNING", "Performance and Resources", "Software Infrastructure")
AUTH = Label("WARNING", "Authentication and Authorization", "Connectivity and Security")
SECURITY = Label("ERROR", "Security and Anomalies", "Connectivity and Security")
RULES = parse_rules(
    {
        "rules": [
            {"name": "disk-full", "regex": "disk .* full", "label": DISK.to_dict()},
            {"name": "anything-full", "contains": "full", "label": FULL.to_dict()},
            {"name": "login-failed", "contains": "login failed", "label": AUTH.to_dict()},
            {"name": "never", "contains": "flux capacitor", "label": DISK.to_dict()},
            {"name": "svc", "field": "service", "regex": "^payments$", "label": FULL.to_dict()},
        ]
    }
)
LINES = [
    ReportLine("disk sda1 is full", DISK),
    ReportLine("disk sdb is full", DISK),
    ReportLine("queue full, dropping"),
    ReportLine("login failed for bob", SECURITY),
    ReportLine("login failed for eve", SECURITY),
    ReportLine("login failed for ann", SECURITY),
    ReportLine("login failed for joe", AUTH),
    # the level the line states is the severity the rule's label takes
    ReportLine("2026-11-30 10:00:00,000 ERROR [main] Auth: login failed for max", SECURITY),
    ReportLine('{"msg": "charged card", "service": "payments"}'),
    ReportLine("nothing to see here"),
]


def test_the_report_says_what_each_rule_does() -> None:
    report = rule_report(LINES, RULES)
    by = {r["rule"]: r for r in report["rules"]}
    assert report["lines"] == 10
    assert report["covered"] == 9
    assert report["labelled_by_people"] == 7
    assert by["disk-full"]["matches"] == 2
    assert by["disk-full"]["decides"] == 2
    assert by["anything-full"]["matches"] == 3
    assert by["anything-full"]["decides"] == 1  # disk-full comes first on two
    assert by["disk-full"]["overlaps"] == {"anything-full": 2}
    assert by["disk-full"]["conflicts"] == {"anything-full": 2}
    assert report["conflicting_pairs"] == [{"rules": ["anything-full", "disk-full"], "lines": 2}]
    assert by["disk-full"]["people"] == {
        "compared": 2,
        "agreed": 2,
        "agreement": 1.0,
        "people_said": {},
    }
    login = by["login-failed"]
    assert login["matches"] == 5
    # max's line states ERROR: the rule's label becomes ERROR / Auth..., still not the person's
    assert login["people"]["compared"] == 5
    assert login["people"]["agreed"] == 1
    assert login["people"]["people_said"] == {
        "ERROR / Security and Anomalies / Connectivity and Security": 4
    }
    assert login["flagged"]
    assert by["svc"]["matches"] == 1  # a JSON record's field
    assert report["never_fire"] == ["never"]
    assert report["flagged"] == ["login-failed"]
    table = render(report)
    assert "CONTRADICTS PEOPLE" in table
    assert "never fires" in table
    assert "anything-full and disk-full match 2 lines alike" in table


def test_a_rule_needs_enough_peoples_lines_to_be_flagged() -> None:
    report = rule_report(LINES[3:5], RULES, min_compared=3)
    assert report["flagged"] == []
    assert rule_report(LINES[3:5], RULES, min_compared=2)["flagged"] == ["login-failed"]
    with pytest.raises(ValueError, match="max_disagreement"):
        rule_report(LINES, RULES, max_disagreement=1.5)


def test_the_cli_reports_a_labelled_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import csv

    data = tmp_path / "labelled.csv"
    with data.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "severity", "event_type", "category"])
        for line in LINES:
            person = line.person
            writer.writerow([line.text, *(person.to_dict().values() if person else ("", "", ""))])
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(
        json.dumps(
            {
                "rules": [
                    {"name": "login-failed", "contains": "login failed", "label": AUTH.to_dict()},
                    {"name": "never", "contains": "flux capacitor", "label": DISK.to_dict()},
                ]
            }
        )
    )
    argv = ["rules", "report", str(data), "--rules", str(rules_file), "--text-column", "text"]
    argv += ["--label-column", "severity,event_type,category", "--json"]
    assert main(argv) == 1  # a rule contradicts people: a non-zero exit for CI
    report = json.loads(capsys.readouterr().out)
    assert report["flagged"] == ["login-failed"]
    assert report["never_fire"] == ["never"]
    assert report["labelled_by_people"] == 7
    # plain lines, no labels: coverage only
    lines = tmp_path / "lines.log"
    lines.write_text("\n".join(x.text for x in LINES) + "\n")
    assert main(["rules", "report", str(lines), "--rules", str(rules_file)]) == 0
    plain = json.loads(capsys.readouterr().out)  # piped: JSON
    assert (plain["lines"], plain["coverage"], plain["labelled_by_people"]) == (10, 0.5, 0)
    assert "10 lines, 50.0% matched by a rule" in render(plain)
    assert main(["rules", "report", "--rules", str(rules_file)]) == 2
    assert "give an INPUT file" in capsys.readouterr().err
