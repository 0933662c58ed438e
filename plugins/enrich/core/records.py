"""Decoding Kafka values into log records; anything undecodable becomes a dead letter.

A value is either a JSON object whose text is in ``message`` or ``log`` (all other fields
are kept and passed through untouched) or a plain text line. Only values that start with
``{``, ``[`` or ``"`` are read as JSON; a value that starts like JSON but does not parse is
kept as a plain line (a truncated record is still a log line). Decoding never raises: the
caller gets a :class:`LogRecord` or a :class:`DeadLetter` with a machine-readable reason.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from enrich import defaults

# Dead-letter reasons: one constant each, so consumers of the DLQ can switch on them.
TOMBSTONE = "null_value"
TOO_LARGE = "value_too_large"
INVALID_UTF8 = "invalid_utf8"
JSON_NOT_OBJECT = "json_not_object"
JSON_TOO_DEEP = "json_too_deep"
TEXT_NOT_STRING = "text_not_string"
REASONS = (TOMBSTONE, TOO_LARGE, INVALID_UTF8, JSON_NOT_OBJECT, JSON_TOO_DEEP, TEXT_NOT_STRING)

# msgspec's strict RFC 8259 codec is 4x (decode) to 10x (encode) faster than the stdlib's;
# whatever it refuses takes the stdlib path, so results never depend on which one ran.
_fast_decode = msgspec.json.Decoder().decode
_fast_encode = msgspec.json.Encoder().encode
_FAST_ERRORS = (msgspec.MsgspecError, UnicodeError, RecursionError, ValueError, TypeError)


@dataclass(frozen=True, slots=True)
class Source:
    """Where a value came from; opaque to the engine, carried to the outputs."""

    topic: str = ""
    partition: int = -1
    offset: int = -1
    timestamp_ms: int | None = None
    key: bytes | None = None

    @property
    def coordinates(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One Kafka value and its source coordinates: the input of ``enrich_batch``."""

    value: bytes | None
    source: Source = field(default_factory=Source)


@dataclass(frozen=True, slots=True)
class RawBatch:
    """Consecutive messages of one partition as columns: the input of ``enrich_batch`` the
    pipeline builds from a consumer's messages without a :class:`Source` object per message."""

    topic: str
    partition: int
    values: list[bytes | None]
    offsets: list[int]
    timestamps: list[int | None]
    keys: Sequence[bytes | None]

    def __len__(self) -> int:
        return len(self.values)

    def source(self, i: int) -> Source:
        return Source(self.topic, self.partition, self.offsets[i], self.timestamps[i], self.keys[i])

    def records(self) -> list[RawRecord]:
        return [RawRecord(v, self.source(i)) for i, v in enumerate(self.values)]


@dataclass(slots=True)  # not frozen: frozen __init__ costs ~0.2 µs a line, the hot path
class LogRecord:
    """A decoded log line: its text and, for JSON input, the original object.

    ``verbatim``: the value is a strict RFC 8259 JSON object, so an output may extend its
    bytes as they are instead of re-encoding the decoded object.
    """

    text: str
    fields: dict[str, Any] | None = None
    text_field: str | None = None
    verbatim: bool = field(default=False, compare=False)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    reason: str
    detail: str
    value: bytes | None
    source: Source = field(default_factory=Source)


def decode(
    value: bytes | None,
    max_bytes: int = defaults.MAX_VALUE_BYTES,
    text_fields: tuple[str, ...] = defaults.TEXT_FIELDS,
) -> LogRecord | tuple[str, str]:
    """Decode one value: a :class:`LogRecord`, or ``(reason, detail)`` for a dead letter."""
    if value is None:
        return TOMBSTONE, "the message has a null value (tombstone)"
    if len(value) > max_bytes:
        return TOO_LARGE, f"value is {len(value)} bytes, over the limit of {max_bytes}"
    if value[:1] == b"{":  # the common case: a JSON object with no leading blank
        try:
            parsed = _fast_decode(value)
        except _FAST_ERRORS:
            parsed = None  # the stdlib path below decides
        if isinstance(parsed, dict):
            return _from_object(parsed, text_fields, verbatim=True)
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as err:
        return INVALID_UTF8, f"invalid UTF-8 at byte {err.start}: {err.reason}"
    head = text[:1]
    if head.isspace():
        head = text.lstrip()[:1]
    if head not in ("{", "[", '"'):
        return LogRecord(text.strip())
    try:
        parsed = json.loads(text)
    except RecursionError:
        return JSON_TOO_DEEP, "JSON nesting is too deep to decode"
    except ValueError:
        return LogRecord(text.strip())  # looks like JSON but is not: a plain line
    if not isinstance(parsed, dict):
        return JSON_NOT_OBJECT, f"JSON value is of type {type(parsed).__name__}, not an object"
    return _from_object(parsed, text_fields)


def _from_object(
    parsed: dict[str, Any], text_fields: tuple[str, ...], verbatim: bool = False
) -> LogRecord | tuple[str, str]:
    for name in text_fields:
        message = lookup(parsed, name)
        if message is not None:
            if not isinstance(message, str):
                return TEXT_NOT_STRING, (
                    f"field {name!r} is of type {type(message).__name__}, not a string"
                )
            return LogRecord(message.strip(), parsed, name, verbatim)
    return LogRecord("", parsed, None, verbatim)


_MISSING = object()


def lookup(data: Mapping[str, Any], key: str) -> Any:
    """``data[key]``; for a dotted key missing flat (``event.original``), the nested path;
    None when there is neither."""
    value = data.get(key, _MISSING)
    if value is not _MISSING or "." not in key:
        return None if value is _MISSING else value
    node: Any = data
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def encode_json(obj: Any) -> bytes:
    """UTF-8 JSON of an output record. Values JSON cannot carry as UTF-8 (a lone surrogate
    from a ``\\ud800`` escape in the input) are written as ASCII escapes instead of failing."""
    try:
        return _fast_encode(obj)
    except _FAST_ERRORS:
        return json.dumps(obj).encode("ascii")
