"""The native front (``enrich_native.Parser.front``) gives what the Python reference gives.

``enrich.engine.front.read_part_reference`` is the reference: ``decode``, ``parse_safely``,
``normalize`` and ``head_of``, value by value. ``read_part`` runs the native front and
completes what it leaves to Python; both must give the same rows, dead letters, bodies,
severity codes, parsed fields, normalised bodies, output heads and (decoded on demand) log
records, for values of every format, JSON records of every key variant, container records,
the sample generator's values and the edge cases of JSON decoding.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence

import pytest

from enrich import defaults
from enrich.config import StackSettings
from enrich.core.formats import ENRICHMENT_KEYS
from enrich.core.parse import LogFormats, builtin_formats
from enrich.core.rules import load_rules
from enrich.engine.front import default_threads, read_part, read_part_reference
from enrich.engine.routing import EnrichSettings
from enrich.errors import ConfigError
from enrich.samples import generate
from tests.native_build import native_module
from tests.unit.test_native_parser import (
    LINES,
    docker_record,
    iso,
    journald_record,
    json_record,
    years_for,
    zap_record,
)

native = native_module()
F = builtin_formats()


def compare(
    values: Sequence[bytes | None],
    years: Sequence[int | None] | None = None,
    formats: LogFormats = F,
    max_bytes: int = defaults.MAX_VALUE_BYTES,
    text_fields: tuple[str, ...] = defaults.TEXT_FIELDS,
) -> int:
    """Assert native == reference; return how many values (dead letters aside) the native
    front left to Python."""
    values = list(values)
    years = list(years) if years is not None else [2026] * len(values)
    got = read_part(values, years, formats, max_bytes, text_fields)
    want = read_part_reference(values, years, formats, max_bytes, text_fields)
    assert list(got.rows) == list(want.rows)
    assert got.dead == want.dead
    for name in ("bodies", "severity", "fields_json"):
        a, b = list(getattr(got.parsed, name)), list(getattr(want.parsed, name))
        bad = [(values[got.rows[i]], a[i], b[i]) for i in range(len(b)) if a[i] != b[i]]
        assert (name, bad[:3]) == (name, [])
    for name in ("normalized", "heads"):
        a, b = list(getattr(got, name)), list(getattr(want, name))
        bad = [(values[got.rows[i]], a[i], b[i]) for i in range(len(b)) if a[i] != b[i]]
        assert (name, bad[:3]) == (name, [])
    assert list(got.records) == list(want.records)
    kinds = native.Parser(formats.spec()).front(
        values, years, max_bytes, text_fields, ENRICHMENT_KEYS
    )[1]
    return kinds.count(0) - len(want.dead)


def encoded(lines: Sequence[str]) -> list[bytes]:
    return [line.encode("utf-8", "surrogatepass") for line in lines]


def test_lines_of_every_format() -> None:
    r = random.Random(3)
    lines = [LINES[name](r) for name in sorted(LINES) for _ in range(150)]
    values = encoded(lines)
    left = compare(values, years_for(len(values), r))
    assert left < len(values) * 0.2


def test_json_records_and_container_records() -> None:
    r = random.Random(4)
    values = [
        json.dumps(json_record(r), ensure_ascii=r.random() < 0.5).encode() for _ in range(1500)
    ]
    values += [json.dumps(journald_record(r)).encode() for _ in range(300)]
    values += [json.dumps(zap_record(r), ensure_ascii=False).encode() for _ in range(300)]
    values += [docker_record(r) for _ in range(600)]
    values += [f"{iso(r)} stdout F {json.dumps(json_record(r, 1))}".encode() for _ in range(600)]
    left = compare(values, years_for(len(values), r))
    assert left < len(values) * 0.15


def test_generated_samples_take_the_native_path() -> None:
    values = [v for _s, v in generate(20_000, seed=17)]
    r = random.Random(17)
    left = compare(values, years_for(len(values), r))
    assert left < len(values) * 0.01


def test_decoding_edge_cases() -> None:
    values: list[bytes | None] = [
        None,  # a tombstone
        b"",
        b"   ",
        b"\xff\xfe not UTF-8",
        b'{"message": 5}',  # text not a string: a dead letter
        b'{"message": null, "msg": "second key"}',
        b'{"msg": {"nested": 1}, "log": "x"}',
        b"[1, 2]",  # JSON, not an object
        b'"a JSON string"',
        b"[Sun Dec 04 04:47:44 2005] [error] mod_jk child workerEnv in error state 6",
        b"[not json",
        b'  {"msg": "leading blank", "level": "warn"}',  # json.loads: not verbatim
        b'{"msg": "NaN is not JSON", "x": NaN}',
        b'{"msg": "x", "v": Infinity}',
        b'{"msg": "lone \\ud800 surrogate"}',
        b'{"msg": "pair \\ud83d\\ude00 ok", "level": "INFO"}',
        b'{"msg": "escapes \\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9"}',
        b'{"msg": "big", "pid": 123456789012345678901234567890}',
        b'{"msg": "float pid", "pid": 1.5, "level": 30}',
        b'{"msg": "huge", "ts": 1e400}',
        b'{"msg": "dup", "level": "debug", "level": "error"}',
        b'{"severity": "high", "msg": "an enrichment key"}',
        b'{"message": "reserved source", "source": {"a": 1}}',
        b"{}",
        b"{} \n",
        b'{"msg": "trailing"}   \r\n',
        b'{"msg": "trailing garbage"} x',
        b'{"msg": "control \x01 char"}',
        b'{"a":' * 80 + b"1" + b"}" * 80,  # deeper than the native reader goes
        b'{"log": {"level": "error"}, "message": "dotted level"}',
        b'{"log.level": "warn", "event": {"original": "original text"}}',
        b'{"event.original": "flat dotted key"}',
        b'{"Body": "otel body", "SeverityNumber": 17, "SeverityText": ""}',
        b'{"MESSAGE": "journald", "PRIORITY": "3", "_PID": "42"}',
        b'{"message": "{\\"msg\\": \\"inner json\\", \\"level\\": \\"error\\"}"}',
        b'{"log": "2026-11-29T10:00:00.000000000Z stdout F {\\"msg\\": 1}\\n"}',
        "caf\u00e9 d\u00e9j\u00e0 vu ERROR 42".encode(),
        "\u00a0 non-breaking blanks \u2003".encode(),
        '{"msg": "\u00a0 unicode blanks stripped \u3000"}'.encode(),
        b"x" * 200,
    ]
    left = compare(values)
    assert left <= 10  # what strict JSON leaves to json.loads, odd numbers, the deep one


def test_custom_text_fields_and_size_limit() -> None:
    values = [
        b'{"text": "custom field", "message": "not this one", "level": "warn"}',
        b'{"message": "no custom field here"}',
        b'{"payload": {"text": "nested custom"}}',
        b"a plain line that is long enough to pass the limit",
        b"short",
    ]
    compare(values, text_fields=("text", "payload.text"))
    compare(values, max_bytes=20)


def test_years_must_match_values() -> None:
    parser = native.Parser(F.spec())
    with pytest.raises(ValueError, match="years"):
        parser.front([b"x"], [], 10, defaults.TEXT_FIELDS, ENRICHMENT_KEYS)


def test_threads_do_not_change_the_result() -> None:
    values = [v for _s, v in generate(7_000, seed=23)] + [None, b"\xff", b'{"msg": 1}']
    years = [2026] * len(values)

    rules = load_rules()

    def columns(threads: int) -> tuple[object, ...]:
        f = read_part(values, years, F, threads=threads, split=rules.split_matcher)
        p = f.parsed
        return (
            list(f.rows),
            f.dead,
            list(p.bodies),
            list(p.severity),
            list(p.fields_json),
            f.normalized,
            list(f.heads),
            list(f.split_first if f.split_first is not None else []),
        )

    one = columns(1)
    assert one[7] == rules.split_matcher.first(one[2])  # the splitting rules' answers
    # the text rules' answers, matched where the front keeps the bodies
    f = read_part(values, years, F, threads=2)
    got = f.first_rule(rules.text_matcher, list(range(len(f.rows))))
    assert got is not None
    assert got == rules.text_matcher.first(one[2])
    assert max(got) >= 0  # some lines match a rule
    assert min(got) == -1  # some none
    assert columns(2) == one
    assert columns(3) == one


def test_front_threads_come_from_the_environment_or_the_cores(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ENRICH_FRONT_THREADS", "3")
    assert StackSettings.from_env().front_threads == 3
    monkeypatch.delenv("ENRICH_FRONT_THREADS")
    assert StackSettings.from_env().front_threads is None
    assert 1 <= default_threads() <= 4
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv("ENRICH_FRONT_THREADS", bad)
        with pytest.raises(ConfigError, match="ENRICH_FRONT_THREADS"):
            StackSettings.from_env()
    with pytest.raises(ConfigError, match="threads"):
        EnrichSettings(threads=0)
