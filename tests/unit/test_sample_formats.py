"""Generated lines are parsed as their samples say: the format, the body, the severity of the
level they write and the header fields, format by format."""

from __future__ import annotations

from collections import Counter, defaultdict
from functools import lru_cache

import pytest
import yaml

from enrich import defaults
from enrich.core.parse import builtin_formats
from enrich.core.records import LogRecord, decode
from enrich.samples import Sample, generate

N = 4000
SEED = 1101
YEAR = 2026
PINO = {"10": "trace", "20": "debug", "30": "info", "40": "warn", "50": "error", "60": "fatal"}


@lru_cache(maxsize=1)
def samples() -> list[tuple[Sample, bytes]]:
    return list(generate(N, seed=SEED))


def expected_severity(sample: Sample) -> str | None:
    """The taxonomy severity of the level the line writes, by the parser's vocabulary (and the
    format's own words: Redis' ``#``, PostgreSQL's ``DEBUG1``; pino's numbers)."""
    if sample.level is None:
        return None
    formats = builtin_formats()
    name = (sample.format or "").split("/")[-1]
    fmt = next((f for f in formats.formats if f.name == name), None)
    level = formats.level(PINO.get(sample.level, sample.level), fmt)
    return level.severity if level is not None else f"<{sample.level!r} not in the vocabulary>"


def problems(sample: Sample, value: bytes) -> list[str]:
    record = decode(value)
    assert isinstance(record, LogRecord)
    got = builtin_formats().parse_record(record, YEAR)
    out = []
    if got.fields.get("format") != sample.format:
        out.append(f"format {got.fields.get('format')!r}, expected {sample.format!r}")
    if got.body.strip() != sample.text:
        out.append(f"body {got.body.strip()!r}, expected {sample.text!r}")
    if got.severity != expected_severity(sample):
        out.append(f"severity {got.severity!r}, expected {expected_severity(sample)!r}")
    for key, want in sample.fields.items():
        have = got.fields.get(key)
        # JSON values are kept as written: journald writes every value as a string ("_PID": "812")
        if have != want and not (key == "process.pid" and have == str(want)):
            out.append(f"{key} {have!r}, expected {want!r}")
    return out


def by_format() -> dict[str | None, list[tuple[Sample, bytes]]]:
    """The samples by expected format, but for the known gaps (by gap name)."""
    out: dict[str | None, list[tuple[Sample, bytes]]] = defaultdict(list)
    for sample, value in samples():
        out[sample.format].append((sample, value))
    return out


def test_every_sample_parses_as_it_says() -> None:
    failures: dict[str, list[str]] = {}
    for fmt, pairs in by_format().items():
        wrong = [(value, p) for sample, value in pairs if (p := problems(sample, value))]
        if wrong:
            value, first = wrong[0]
            failures[str(fmt)] = [f"{len(wrong)}/{len(pairs)} wrong, e.g. {value!r}", *first]
    assert not failures, failures


def test_a_written_level_is_the_family_severity() -> None:
    wrong = Counter(
        f"{s.family} {s.format} {s.level}"
        for s, _v in samples()
        if s.level is not None and expected_severity(s) != s.severity
    )
    assert not wrong, wrong.most_common(5)


def test_every_format_appears_and_some_lines_are_in_none() -> None:
    names = {f["name"] for f in yaml.safe_load(defaults.FORMATS_FILE.read_text())["formats"]}
    seen: Counter[str | None] = Counter()
    for sample, _value in generate(20_000, seed=7):
        for part in (sample.format or "").split("/"):
            seen[part or None] += 1
    missing = (names | {"json", "logfmt"}) - set(seen)
    assert not missing, sorted(missing)
    assert 0.02 < seen[None] / 20_000 < 0.25, seen[None]


@pytest.mark.parametrize("share", [0.0, 0.3, 1.0])
def test_json_share_is_the_share_of_json_records(share: float) -> None:
    values = [v for _s, v in generate(3000, seed=5, json_share=share)]
    got = sum(v.startswith(b"{") for v in values) / len(values)
    assert abs(got - share) < 0.03, got
