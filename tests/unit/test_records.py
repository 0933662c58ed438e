"""Decoding Kafka values: records for every decodable value, a dead letter with a reason else."""

from __future__ import annotations

import json

import pytest

from enrich.core import records
from enrich.core.records import LogRecord, decode


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, records.TOMBSTONE),  # a tombstone is not a log line
        (b"\xff\xfe broken", records.INVALID_UTF8),
        (b"ok \xc3\x28 split", records.INVALID_UTF8),  # invalid continuation byte
        (b"[1, 2, 3]", records.JSON_NOT_OBJECT),  # a JSON array
        (b'"just a string"', records.JSON_NOT_OBJECT),  # a JSON string
        (b'{"message": 42}', records.TEXT_NOT_STRING),  # text field is a number
        (b'{"message": {"nested": true}}', records.TEXT_NOT_STRING),  # ... or an object
        (b'{"log": ["a"]}', records.TEXT_NOT_STRING),
        (b"[" * 10_000 + b"]" * 10_000, records.JSON_TOO_DEEP),  # 10,000 levels deep
        (b'{"a":' * 10_000 + b"1" + b"}" * 10_000, records.JSON_TOO_DEEP),
        (b"x" * 2_000_001, records.TOO_LARGE),  # over the configured limit
    ],
)
def test_undecodable_values_become_dead_letters(value: bytes | None, reason: str) -> None:
    out = decode(value, max_bytes=2_000_000)
    assert isinstance(out, tuple)
    assert out[0] == reason
    assert out[1]  # a human-readable detail


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (b"plain line\n", "plain line"),
        (b"", ""),  # empty: the rules' "no content" case
        (b"   ", ""),
        (b"nul\x00byte", "nul\x00byte"),  # NUL is valid UTF-8: kept, labelled
        ("ctrl \x07 \u202eRTL mark".encode(), "ctrl \x07 \u202eRTL mark"),
        (b"12345", "12345"),  # a bare number is a line, not JSON
        (b'{"message": "truncated', '{"message": "truncated'),  # broken JSON: a plain line
        (b"x" * 200_000, "x" * 200_000),  # long but under the limit
    ],
)
def test_text_values_become_records(value: bytes, text: str) -> None:
    out = decode(value)
    assert out == LogRecord(text)


def test_json_record_keeps_every_field_and_prefers_message_over_log() -> None:
    value = json.dumps({"message": " hi ", "log": "other", "host": "web-1", "n": [1]}).encode()
    out = decode(value)
    assert isinstance(out, LogRecord)
    assert out.text == "hi"
    assert out.text_field == "message"
    assert out.fields == {"message": " hi ", "log": "other", "host": "web-1", "n": [1]}


def test_json_record_with_log_field_or_none() -> None:
    with_log = decode(b'{"log": "from docker", "stream": "stderr"}')
    assert isinstance(with_log, LogRecord)
    assert (with_log.text, with_log.text_field) == ("from docker", "log")
    without = decode(b'{"message": null, "host": "a"}')
    assert without == LogRecord("", {"message": None, "host": "a"}, None)


def test_text_fields_are_configurable() -> None:
    out = decode(b'{"msg": "custom"}', text_fields=("msg",))
    assert isinstance(out, LogRecord)
    assert out.text == "custom"


@pytest.mark.parametrize(
    "value",
    [
        b'{"message": "a", "n": 1.5, "big": 123456789012345678901234567890}',
        b'{"message": "\\ud800 lone surrogate escape"}',  # msgspec refuses, stdlib accepts
        b'{"message": "x", "f": NaN}',  # a stdlib extension msgspec refuses
        b'{"message": "x", "f": 1e400}',
        b'{"message": "dup", "message": "last wins"}',
        b'{"message": "\xff"}',  # invalid UTF-8 inside a JSON string
        b'{"log": 3}',
        b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
        b'{"message": "trailing"} junk',
    ],
)
def test_fast_json_path_decides_like_the_stdlib(
    value: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = decode(value)

    def refuse(_value: bytes) -> None:
        raise ValueError("fast path off")

    monkeypatch.setattr(records, "_fast_decode", refuse)
    assert decode(value) == fast


def test_encode_json_round_trips_and_escapes_what_utf8_cannot_carry() -> None:
    record = {"message": "ü \u202e", "n": [1, None], "big": 10**30}
    assert json.loads(records.encode_json(record)) == record
    lone = {"message": "\ud800"}
    out = records.encode_json(lone)
    assert out == b'{"message": "\\ud800"}'
    assert json.loads(out) == lone
