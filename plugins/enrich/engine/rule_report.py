"""The rule report: how each rule of a rules file does on a set of lines.

The rules file is data people edit; this is how they see which rule to fix. For every rule:
how many lines it matches (``matches``, ``coverage``) and decides (``decides``: it is the first
match, the one the pipeline applies), which other rules match the same lines (``overlaps``)
and which of those give another label (``conflicts``), and, on lines a person labelled,
whether the label the rule gives (with the severity the line states, as the pipeline does)
is the person's (``people``). A rule that contradicts people on more than
``max_disagreement`` of at least ``min_compared`` lines is ``flagged``; rules that match no
line are listed in ``never_fire``.

Pure: lines in, a JSON-ready report out (``enrich rules report``, and an artifact of every
training run, over the labels it trained on).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from enrich import defaults
from enrich.core.formats import HUMAN, LabelRecord
from enrich.core.labels import FIELDS, Label
from enrich.core.parse import SEVERITIES, LogFormats, builtin_formats, severity_code
from enrich.core.records import LogRecord, decode
from enrich.core.rules import RuleSet

WITHOUT_SEVERITY = ("event_type", "category")
MAX_DISAGREEMENT = 0.2  # a rule contradicting people on more than this share is flagged
MIN_COMPARED = 3  # ... once people labelled at least this many of its lines


@dataclass(frozen=True)
class ReportLine:
    """A line to report on: its text (a raw log line or a record's JSON), and the label a
    person gave it, if any."""

    text: str
    person: Label | None = None


@dataclass
class _RuleStats:
    matches: int = 0
    decides: int = 0
    compared: int = 0
    agreed: int = 0
    overlaps: Counter[str] = field(default_factory=Counter)
    conflicts: Counter[str] = field(default_factory=Counter)
    disagreements: Counter[str] = field(default_factory=Counter)  # people's labels instead


def rule_report(
    lines: Iterable[ReportLine],
    rules: RuleSet,
    formats: LogFormats | None = None,
    max_disagreement: float = MAX_DISAGREEMENT,
    min_compared: int = MIN_COMPARED,
    compare: Sequence[str] = FIELDS,
) -> dict[str, Any]:
    """The report over ``lines`` (each parsed as the pipeline parses it: rules see the
    message body and the parsed and JSON fields). ``compare``: the label fields a rule must
    give as the person did to agree (``WITHOUT_SEVERITY`` for the labels topic's lines,
    message bodies whose stated level is gone while their labels keep it)."""
    if not 0.0 <= max_disagreement <= 1.0:
        raise ValueError(f"max_disagreement must be between 0 and 1, got {max_disagreement}")
    formats = formats if formats is not None else builtin_formats()
    stats = [_RuleStats() for _ in rules.rules]
    names = [r.name for r in rules.rules]
    n = covered = labelled = 0
    for line in lines:
        n += 1
        body, stated, fields = _parse(line.text, formats)
        hits = rules.all_matches(body, fields)
        if hits:
            covered += 1
            stats[hits[0]].decides += 1
        if line.person is not None:
            labelled += 1
        for i in hits:
            s = stats[i]
            s.matches += 1
            label = rules.rules[i].label
            for j in hits:
                if j != i:
                    s.overlaps[names[j]] += 1
                    if rules.rules[j].label != label:
                        s.conflicts[names[j]] += 1
            if line.person is not None:
                gives = label if stated == 0 else replace(label, severity=SEVERITIES[stated - 1])
                s.compared += 1
                if all(getattr(gives, f) == getattr(line.person, f) for f in compare):
                    s.agreed += 1
                else:
                    s.disagreements[" / ".join(getattr(line.person, f) for f in FIELDS)] += 1
    out_rules = []
    for rule, s in zip(rules.rules, stats, strict=True):
        disagreement = (s.compared - s.agreed) / s.compared if s.compared else None
        flagged = (
            disagreement is not None
            and s.compared >= min_compared
            and disagreement > max_disagreement
        )
        out_rules.append(
            {
                "rule": rule.name,
                "label": rule.label.to_dict(),
                "matches": s.matches,
                "coverage": round(s.matches / n, 4) if n else 0.0,
                "decides": s.decides,
                "overlaps": dict(sorted(s.overlaps.items())),
                "conflicts": dict(sorted(s.conflicts.items())),
                "people": {
                    "compared": s.compared,
                    "agreed": s.agreed,
                    "agreement": None if disagreement is None else round(1 - disagreement, 4),
                    "people_said": dict(s.disagreements.most_common(3)),
                },
                "flagged": flagged,
            }
        )
    return {
        "lines": n,
        "covered": covered,
        "coverage": round(covered / n, 4) if n else 0.0,
        "labelled_by_people": labelled,
        "max_disagreement": max_disagreement,
        "min_compared": min_compared,
        "compared_fields": list(compare),
        "never_fire": [r["rule"] for r in out_rules if not r["matches"]],
        "flagged": [r["rule"] for r in out_rules if r["flagged"]],
        "conflicting_pairs": _pairs(out_rules),
        "rules": out_rules,
    }


def label_lines(labels: Iterable[LabelRecord]) -> list[ReportLine]:
    """The lines of stored training labels (the labels topic, merged), each with the
    person's label where it is one, in a fixed order."""
    return [
        ReportLine(x.text, x.label if x.source == HUMAN else None)
        for x in sorted(labels, key=lambda x: x.unit)
    ]


def _pairs(rules: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each pair of rules that match the same lines with different labels, most lines first."""
    seen: dict[tuple[str, str], int] = {}
    for r in rules:
        for other, count in r["conflicts"].items():
            a, b = sorted((r["rule"], other))
            seen[(a, b)] = count
    ordered = sorted(seen.items(), key=lambda kv: (-kv[1], kv[0]))
    return [{"rules": list(pair), "lines": count} for pair, count in ordered]


def _parse(text: str, formats: LogFormats) -> tuple[str, int, dict[str, Any]]:
    """A line's message body, the code of the severity it states (0: none) and the fields
    rules may match (the parsed ones, then the JSON record's own)."""
    rec = decode(
        text.encode("utf-8", "surrogatepass"), defaults.MAX_VALUE_BYTES, defaults.TEXT_FIELDS
    )
    if not isinstance(rec, LogRecord):  # a line the pipeline dead-letters: its text as is
        return text, 0, {}
    parsed = formats.parse_safely(rec)
    fields: dict[str, Any] = defaultdict(lambda: None)
    fields.update(rec.fields or {})
    fields.update(parsed.fields)
    return parsed.body, severity_code(parsed.severity), dict(fields)


def render(report: Mapping[str, Any]) -> str:
    """The report as a table for a terminal: one row per rule, in the file's order."""
    head = ("rule", "matches", "coverage", "decides", "overlaps", "conflicts", "people", "")
    rows = [head]
    for r in report["rules"]:
        people = r["people"]
        rows.append(
            (
                r["rule"],
                str(r["matches"]),
                f"{r['coverage']:.1%}",
                str(r["decides"]),
                str(sum(r["overlaps"].values())),
                str(sum(r["conflicts"].values())),
                f"{people['agreed']}/{people['compared']}" if people["compared"] else "-",
                "CONTRADICTS PEOPLE"
                if r["flagged"]
                else ("never fires" if not r["matches"] else ""),
            )
        )
    widths = [max(len(row[k]) for row in rows) for k in range(len(head))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    lines.append("")
    lines.append(
        f"{report['lines']} lines, {report['coverage']:.1%} matched by a rule; "
        f"{report['labelled_by_people']} labelled by people; "
        f"{len(report['never_fire'])} rules never fire; "
        f"flagged (disagree with people on more than {report['max_disagreement']:.0%} of at "
        f"least {report['min_compared']} lines): {', '.join(report['flagged']) or 'none'}"
    )
    for pair in report["conflicting_pairs"][:10]:
        a, b = pair["rules"]
        lines.append(f"  {a} and {b} match {pair['lines']} lines alike with different labels")
    return "\n".join(lines)
