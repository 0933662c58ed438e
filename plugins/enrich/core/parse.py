"""The parser stage: a log line or record → its header fields, the level it states, its body.

Runs before the rules and the model, which then see only the message body: timestamps, hosts
and pids in a header no longer make two lines of one event look different, and a level the
line states is its severity. Formats are data (``include/log_formats.yaml``, plus the user's
own file tried first); a line in no known format is kept whole. JSON records (logrus, zap,
pino, bunyan, journald's JSON export, Docker's json-file, OpenTelemetry, GELF, ECS) are read
by their keys. Pure and deterministic: the same line and Kafka timestamp give the same result.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

import msgspec
import re2
import yaml

from enrich import defaults
from enrich.core import yamlfiles
from enrich.core.records import LogRecord, decode, lookup
from enrich.core.rules import re2_error, re2_options, set_match
from enrich.errors import ConfigError

log = logging.getLogger(__name__)
SEVERITIES = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
TIMESTAMP_KINDS = (
    "iso8601",
    "rfc3164",
    "klog",
    "logcat",
    "apache",
    "apache_error",
    "slash",
    "redis",
    "epoch",
)
# named groups of a format → output field names (OpenTelemetry / Elastic Common Schema)
GROUP_FIELDS = {
    "level": "log.level",
    "level2": "log.level",
    "level3": "log.level",
    "pri": "log.syslog.priority",
    "host": "host.name",
    "service": "service.name",
    "pid": "process.pid",
    "thread": "process.thread.name",
    "thread2": "process.thread.name",
    "logger": "log.logger",
    "unit": "systemd.unit",
    "file": "log.origin.file.name",
    "lineno": "log.origin.file.line",
    "stream": "log.iostream",
    "client": "client.address",
    "method": "http.request.method",
    "url": "url.original",
    "status": "http.response.status_code",
    "bytes": "http.response.body.bytes",
    "agent": "user_agent.original",
}
INT_FIELDS = frozenset(
    {
        "process.pid",
        "log.origin.file.line",
        "http.response.status_code",
        "http.response.body.bytes",
        "log.syslog.priority",
    }
)
FORMAT_KEYS = {"name", "regex", "timestamp", "reparse", "levels", "examples", "counter_examples"}
_MAX_MEM = 64 << 20  # RE2's memory for the formats' set and each format
MAX_DEPTH = 2  # a container wrapper around an app's line: parsed twice at most

# JSON records: where the level and the header fields are, tried in order. A key may be
# dotted ("log.level"): the flat key, else the nested path.
JSON_LEVEL_KEYS = (
    "level",
    "severity",
    "lvl",
    "levelname",
    "log.level",
    "SeverityText",
    "severity_text",
    "@l",
    "loglevel",
)
# numeric levels: SeverityNumber is OpenTelemetry's 1-24; PRIORITY journald's syslog 0-7;
# a number in "level" is pino/bunyan's 10-60, or syslog 0-7 (GELF)
JSON_NUMBER_KEYS = ("SeverityNumber", "severity_number", "PRIORITY", "level")
JSON_FIELDS = {
    "timestamp": ("@timestamp", "timestamp", "time", "ts", "Timestamp", "__REALTIME_TIMESTAMP"),
    "host.name": ("host.name", "hostname", "host", "_HOSTNAME"),
    "service.name": ("service.name", "service", "app", "SYSLOG_IDENTIFIER", "_COMM"),
    "process.pid": ("process.pid", "pid", "_PID"),
    "process.thread.name": ("process.thread.name", "thread", "thread_name"),
    "log.logger": ("log.logger", "logger", "logger_name", "name"),
    "systemd.unit": ("_SYSTEMD_UNIT", "systemd.unit", "unit"),
    "log.iostream": ("stream",),
    "log.origin.file.name": ("caller", "log.origin.file.name"),
}
_PINO = {10: "trace", 20: "debug", 30: "info", 40: "warn", 50: "error", 60: "fatal"}
_MONTHS = {
    m: i
    for i, m in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1
    )
}
_ISO = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:[,.](\d+))?\s*(Z|[+-]\d\d:?\d\d)?$"
)
_decode_json = msgspec.json.Decoder().decode
try:  # the native parser of the same results (native/); the Python code here otherwise
    from enrich_native import Parser as _NativeParser
except ImportError:
    _NativeParser = None
_LOGFMT_PAIR = re.compile(r'([\w.@-]+)=("(?:[^"\\]|\\.)*"|\S*)')


@dataclass(frozen=True, slots=True)
class Level:
    severity: str  # one of SEVERITIES
    number: int  # OpenTelemetry SeverityNumber, 1-24


@dataclass(slots=True)
class Parsed:
    """What the parser found. ``fields``: the output's ``parsed`` object (``format``,
    ``timestamp``, ``log.level``, ``severity_number``, ``host.name``, ...), empty when the
    line is in no known format and states nothing. ``severity``: the taxonomy severity of
    the level the line states (None: it states none, or a level not in the vocabulary: then
    ``fields`` has ``log.level`` as written and ``log.level.unknown: true``, and the rules or
    the model give the severity)."""

    body: str
    fields: dict[str, Any] = field(default_factory=dict)
    severity: str | None = None


@dataclass(frozen=True)
class Format:
    name: str
    pattern: str
    timestamp: str | None = None
    reparse: bool = False
    levels: Mapping[str, Level] = field(default_factory=dict)


class LogFormats:
    """The ordered formats and the level vocabulary, compiled; ``parse`` splits a record."""

    def __init__(
        self, formats: Sequence[Format], levels: Mapping[str, Level], source: str = "<formats>"
    ) -> None:
        self.formats = tuple(formats)
        self.levels = dict(levels)
        self.source = source
        self._native: Any = None
        self._set = re2.Set.SearchSet(re2_options(_MAX_MEM))
        self._compiled = []
        for f in self.formats:
            regex = re2.compile(f.pattern, re2_options(_MAX_MEM))
            names = sorted(regex.groupindex.items(), key=lambda kv: kv[1])
            self._compiled.append((regex._regexp, names))
            self._set.Add(f.pattern)
        self._set.Compile()

    def __len__(self) -> int:
        return len(self.formats)

    def level(self, written: str, fmt: Format | None = None) -> Level | None:
        key = written.strip().lower()
        if fmt is not None and key in fmt.levels:
            return fmt.levels[key]
        return self.levels.get(key)

    # ---- lines -------------------------------------------------------------------------

    def parse_line(self, text: str, year: int | None = None, depth: int = 0) -> Parsed:
        """Split one line; a line in no format is its own body with no fields."""
        hits = set_match(self._set, text) if self.formats else []
        if not hits:
            return self._logfmt(text, year) or Parsed(text)
        i = min(hits)
        fmt = self.formats[i]
        regexp, names = self._compiled[i]
        groups = _captures(regexp, names, text)
        if groups is None:  # the set matched, the anchored regex did not: treat as unknown
            return Parsed(text)
        fields: dict[str, Any] = {"format": fmt.name}
        body = groups.pop("body", None)
        severity = None
        for name, value in groups.items():
            if value is None or value == "" or (value == "-" and name != "level"):
                continue
            if name == "timestamp":
                stamp = normalize_timestamp(value, fmt.timestamp, year)
                if stamp is not None:
                    fields["timestamp"] = stamp
                continue
            out = GROUP_FIELDS.get(name, name)
            fields[out] = int(value) if out in INT_FIELDS and _is_int(value) else value
        if "log.level" in fields:
            level = self.level(fields["log.level"], fmt)
            if level is not None:
                severity = level.severity
                fields["severity_number"] = level.number
            else:
                fields["log.level.unknown"] = True
        elif "log.syslog.priority" in fields:
            pri = fields["log.syslog.priority"]
            if isinstance(pri, int):
                level = self.levels.get(str(pri % 8))
                if level is not None:
                    severity = level.severity
                    fields["severity_number"] = level.number
                    fields["log.syslog.facility.code"] = pri // 8
        parsed = Parsed(text if body is None else body, fields, severity)
        if fmt.reparse and depth < MAX_DEPTH and parsed.body:
            inner = self._inner(parsed.body, year, depth + 1)
            merged = {**fields, **inner.fields}
            if inner.fields.get("format"):
                merged["format"] = f"{fmt.name}/{inner.fields['format']}"
            if "timestamp" in fields:  # the runtime's clock is the record's timestamp
                merged["timestamp"] = fields["timestamp"]
            return Parsed(inner.body, merged, inner.severity or severity)
        return parsed

    def _inner(self, text: str, year: int | None, depth: int) -> Parsed:
        """A wrapped line: a JSON record (a structured logger inside a container) or a line."""
        if text[:1] == "{":
            rec = decode(text.encode("utf-8", "surrogatepass"))
            if isinstance(rec, LogRecord) and rec.fields is not None:
                return self.parse_record(rec, year, depth)
        return self.parse_line(text, year, depth)

    def _logfmt(self, text: str, year: int | None) -> Parsed | None:
        """logfmt (logrus text, go-kit, Heroku): ``key=value`` pairs with ``msg`` or
        ``level``; None if the line is not logfmt."""
        if "=" not in text or not (
            text.startswith(("level=", "lvl=", "time=", "ts=", "t=", "msg="))
            or " level=" in text
            or " msg=" in text
        ):
            return None
        pairs = {k: _unquote(v) for k, v in _LOGFMT_PAIR.findall(text)}
        if "msg" not in pairs and "message" not in pairs and "level" not in pairs:
            return None
        text = pairs.get("msg", pairs.get("message", ""))
        out = self.parse_record(LogRecord(text, dict(pairs)), year)
        out.fields["format"] = "logfmt"
        return out

    # ---- JSON records ------------------------------------------------------------------

    def parse_record(self, rec: LogRecord, year: int | None = None, depth: int = 0) -> Parsed:
        """A decoded record: a plain line is parsed as a line; a JSON object gives its level
        and header fields by key, and its text (``message``, ``msg``, ``log``, ``MESSAGE``,
        ...) is parsed again: a shipper's or container runtime's record of a formatted line
        (Docker's json-file, journald around klog, Filebeat's raw ``message``). The record's
        own keys win over what its text's header says."""
        if rec.fields is None:
            return self.parse_line(rec.text, year, depth)
        data = rec.fields
        fields: dict[str, Any] = {"format": "json"}
        for out, keys in JSON_FIELDS.items():
            for key in keys:
                value = lookup(data, key)
                if value is not None and not isinstance(value, (dict, list)):
                    if out == "timestamp":
                        value = _json_timestamp(value)
                        if value is None:
                            continue
                    elif out == "log.origin.file.name" and isinstance(value, str):
                        file, sep, line = value.rpartition(":")
                        if sep and file and _is_int(line):  # zap's and go-kit's caller
                            fields[out] = file
                            fields["log.origin.file.line"] = int(line)
                            break
                    elif out in INT_FIELDS and isinstance(value, str) and _is_int(value):
                        value = int(value)  # journald writes every value as a string
                    fields[out] = value
                    break
        severity = None
        written = None
        for key in JSON_LEVEL_KEYS:
            value = lookup(data, key)
            if isinstance(value, str) and value.strip():
                written = value
                break
        if written is not None:
            fields["log.level"] = written
            level = self.level(written)
            if level is not None:
                severity = level.severity
                fields["severity_number"] = level.number
            else:
                fields["log.level.unknown"] = True
        else:
            for key in JSON_NUMBER_KEYS:
                value = lookup(data, key)
                if isinstance(value, str) and _is_int(value):
                    value = int(value)
                if isinstance(value, int) and not isinstance(value, bool):
                    level = self._number_level(key, value)
                    fields["log.level"] = value
                    if level is not None:
                        severity = level.severity
                        fields["severity_number"] = level.number
                    else:
                        fields["log.level.unknown"] = True
                    break
        if rec.text and depth < MAX_DEPTH:
            inner = self._inner(rec.text.rstrip("\n"), year, depth + 1)
            inner_format = inner.fields.get("format")
            if inner_format:
                for key, value in inner.fields.items():
                    fields.setdefault(key, value)
                fields["format"] = f"json/{inner_format}"
                return Parsed(inner.body, fields, severity or inner.severity)
        return Parsed(rec.text, fields, severity)

    def _number_level(self, key: str, value: int) -> Level | None:
        if key in ("SeverityNumber", "severity_number"):  # OpenTelemetry: 4 numbers a level
            if not 1 <= value <= 24:
                return None
            return Level(
                ("DEBUG", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")[(value - 1) // 4], value
            )
        if key == "level" and value in _PINO:
            return self.levels.get(_PINO[value])
        if 0 <= value <= 7:
            return self.levels.get(str(value))
        return None

    def parse_many(
        self, records: Sequence[LogRecord], years: Sequence[int | None] | None = None
    ) -> list[Parsed]:
        years = years or [None] * len(records)
        return [self.parse_safely(r, y) for r, y in zip(records, years, strict=True)]

    def parse_safely(self, rec: LogRecord, year: int | None = None) -> Parsed:
        """``parse_record``, never raising on data: a record the parser cannot read (a value
        out of every range, nesting past the limit) is kept whole, with no fields."""
        try:
            return self.parse_record(rec, year)
        except (ValueError, OverflowError, RecursionError):
            return Parsed(rec.text)

    def native_parser(self) -> Any:
        """The native parser of these formats; None when it is not built, or when the Rust
        regex engine cannot compile one of the formats (then this process parses in Python,
        with the same results, and does not try again)."""
        if _NativeParser is None or self._native is False:
            return None
        if self._native is None:
            try:
                self._native = _NativeParser(self.spec())
            except ValueError as err:
                log.warning(
                    "native parser unavailable for %s (%s): parsing in Python", self.source, err
                )
                self._native = False
                return None
        return self._native

    def spec(self) -> str:
        """The formats and vocabularies as JSON: what the native parser is built from."""
        return json.dumps(
            {
                "formats": [
                    {
                        "name": f.name,
                        "regex": f.pattern,
                        "timestamp": f.timestamp,
                        "reparse": f.reparse,
                        "levels": {k: [v.severity, v.number] for k, v in f.levels.items()},
                    }
                    for f in self.formats
                ],
                "levels": {k: [v.severity, v.number] for k, v in self.levels.items()},
                "group_fields": GROUP_FIELDS,
                "int_fields": sorted(INT_FIELDS),
                "json_level_keys": JSON_LEVEL_KEYS,
                "json_number_keys": JSON_NUMBER_KEYS,
                "json_fields": JSON_FIELDS,
                "severities": SEVERITIES,
                # what ``decode`` reads a JSON text inside a line with (``_inner``)
                "text_fields": defaults.TEXT_FIELDS,
                "max_value_bytes": defaults.MAX_VALUE_BYTES,
            }
        )

    # ---- checks ------------------------------------------------------------------------

    def check_examples(self, examples: Mapping[str, Sequence[Any]]) -> None:
        """Each format's examples are parsed by it first, with the fields they state."""
        for fmt in self.formats:
            for example in examples.get(fmt.name, ()):
                line = example["line"]
                got = self.parse_line(line, 2026)
                found = got.fields.get("format", "")
                if found.split("/")[0] != fmt.name:
                    raise ConfigError(
                        f"{self.source}: format {fmt.name!r}: example {line!r} is parsed as "
                        f"{found or 'no format'}; fix the regex or move the format"
                    )
                for key, want in example.items():
                    if key == "line":
                        continue
                    have = got.body if key == "body" else got.fields.get(GROUP_FIELDS.get(key, key))
                    if str(have) != str(want):
                        raise ConfigError(
                            f"{self.source}: format {fmt.name!r}: example {line!r}: {key} is "
                            f"{have!r}, the example says {want!r}"
                        )


@dataclass(slots=True)
class ParsedColumns:
    """What the parser found for a batch, as the engine uses it."""

    bodies: Sequence[str]
    severity: Sequence[int]  # 0: the line states none; 1-5: DEBUG, INFO, WARNING, ERROR, CRITICAL
    fields_json: Sequence[bytes]

    def fields(self, i: int) -> dict[str, Any]:
        return parsed_fields(self.fields_json[i])


def parsed_fields(fields_json: bytes) -> dict[str, Any]:
    """The parsed fields of one record, from their JSON (``ParsedColumns.fields_json``)."""
    out: dict[str, Any] = _decode_json(fields_json)
    return out


def severity_code(severity: str | None) -> int:
    """0 for no severity, 1-5 for DEBUG .. CRITICAL."""
    return 0 if severity is None else SEVERITIES.index(severity) + 1


_ANCHOR = re2._re2.RE2.Anchor.ANCHOR_START


def _captures(
    regexp: Any, names: Sequence[tuple[str, int]], text: str
) -> dict[str, str | None] | None:
    """Named groups (name, group number) of an anchored match, as str; None if it does not
    match. Unnamed groups are ignored."""
    raw = text.encode("utf-8", "surrogatepass")
    spans = regexp.Match(_ANCHOR, raw, 0, len(raw))
    if spans[0][0] < 0:
        return None
    out: dict[str, str | None] = {}
    for name, index in names:
        start, end = spans[index]
        out[name] = None if start < 0 else raw[start:end].decode("utf-8", "surrogatepass")
    return out


def _is_int(text: str) -> bool:
    """ASCII digits only (``str.isdigit`` also takes ``²``, which ``int`` refuses)."""
    return text.isascii() and text.isdigit()


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            out: str = json.loads(value)
            return out
        except ValueError:
            return value[1:-1]
    return value


def _iso(dt: datetime) -> str:
    """RFC 3339 in UTC, milliseconds (or finer, as written) kept."""
    dt = dt.astimezone(UTC)
    if dt.microsecond:
        frac = f"{dt.microsecond:06d}".rstrip("0")
        frac = frac.ljust(3, "0")
        return dt.strftime("%Y-%m-%dT%H:%M:%S.") + frac + "Z"
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _from_iso(text: str) -> datetime | None:
    m = _ISO.match(text.strip())
    if m is None:
        return None
    y, mo, d, h, mi, s, frac, zone = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    tz = UTC
    try:
        if zone and zone != "Z":
            sign = 1 if zone[0] == "+" else -1
            hh, mm = int(zone[1:3]), int(zone[-2:])
            tz = timezone_of(sign * (hh * 60 + mm))  # ValueError at 24 hours or more
        return datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), micro, tzinfo=tz)
    except ValueError:
        return None


def timezone_of(minutes: int) -> timezone:
    return timezone(timedelta(minutes=minutes))


def normalize_timestamp(value: str, kind: str | None, year: int | None) -> str | None:
    """A timestamp as written → RFC 3339 UTC; None when it cannot be read (or has no year
    and ``year`` is None)."""
    try:
        dt = _read_timestamp(value.strip(), kind, year)
        return None if dt is None else _iso(dt)
    except (ValueError, KeyError, IndexError, OverflowError):
        return None  # unreadable, or outside the years 1-9999 once in UTC


def _read_timestamp(v: str, kind: str | None, year: int | None) -> datetime | None:
    if kind in (None, "iso8601"):
        return _from_iso(v.replace(" UTC", "Z") if v.endswith(" UTC") else v)
    if kind == "slash":  # 2026/11/29 10:00:00[.fff]
        return _from_iso(v.replace("/", "-", 2))
    if kind == "apache":  # 29/Nov/2026:10:00:00 +0000
        day, mon, rest = v.split("/", 2)
        yr, clock = rest.split(":", 1)
        hms, zone = clock.split(" ")
        return _from_iso(f"{yr}-{_MONTHS[mon]:02d}-{int(day):02d}T{hms}{zone}")
    if kind == "apache_error":  # Sun Nov 29 10:00:00[.ffffff] 2026
        _dow, mon, day, clock, yr = v.split()
        return _from_iso(f"{yr}-{_MONTHS[mon]:02d}-{int(day):02d}T{clock}")
    if kind == "redis":  # 29 Nov 2026 10:00:00.123
        day, mon, yr, clock = v.split()
        return _from_iso(f"{yr}-{_MONTHS[mon]:02d}-{int(day):02d}T{clock}")
    if kind == "epoch":
        return datetime.fromtimestamp(float(v), UTC)
    if year is None:
        return None
    if kind == "rfc3164":  # Nov  1 10:00:00
        mon, day, clock = v.split()
        return _from_iso(f"{year}-{_MONTHS[mon]:02d}-{int(day):02d}T{clock}")
    if kind == "klog":  # 1129 10:00:00.000123
        mmdd, clock = v.split()
        return _from_iso(f"{year}-{mmdd[:2]}-{mmdd[2:]}T{clock}")
    if kind == "logcat":  # 11-29 10:00:00.123
        mmdd, clock = v.split()
        return _from_iso(f"{year}-{mmdd}T{clock}")
    return None


def _json_timestamp(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, (int, float)):
            seconds = float(value)
            if seconds > 1e14:  # journald's __REALTIME_TIMESTAMP: microseconds
                seconds /= 1e6
            elif seconds > 1e11:  # milliseconds
                seconds /= 1e3
            return _iso(datetime.fromtimestamp(seconds, UTC))
        if isinstance(value, str):
            if _is_int(value):
                return _json_timestamp(int(value))
            dt = _from_iso(value)
            return None if dt is None else _iso(dt)
    except (OverflowError, OSError, ValueError):
        return None  # out of range, or outside the years 1-9999 once in UTC
    return None


# ---- loading -------------------------------------------------------------------------------


def _level_pair(value: Any, where: str) -> Level:
    if (
        not isinstance(value, list)
        or len(value) != 2
        or value[0] not in SEVERITIES
        or not isinstance(value[1], int)
        or not 1 <= value[1] <= 24
    ):
        raise ConfigError(
            f"{where}: a level maps to [severity, SeverityNumber], severity one of "
            f"{', '.join(SEVERITIES)} and a number 1-24; got {value!r}"
        )
    return Level(value[0], value[1])


def _parse_format(raw: Any, position: int, source: str) -> tuple[Format, list[Any]]:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: format #{position}: expected a mapping with name, regex")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{source}: format #{position}: missing key 'name'")
    where = f"{source}: format {name!r}"
    unknown = sorted(set(raw) - FORMAT_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")
    pattern = raw.get("regex")
    if not isinstance(pattern, str) or not pattern:
        raise ConfigError(f"{where}: missing key 'regex'")
    try:
        compiled = re2.compile(pattern, re2_options(_MAX_MEM))
    except re2.error as err:
        raise ConfigError(
            f"{where}: bad regex: {re2_error(err)} (formats use RE2 syntax: no backreferences or "
            "lookaround)"
        ) from None
    if not pattern.startswith("^"):
        raise ConfigError(f"{where}: the regex must be anchored at the line's start (^)")
    kind = raw.get("timestamp")
    if kind is not None and kind not in TIMESTAMP_KINDS:
        raise ConfigError(f"{where}: timestamp {kind!r} is not one of {', '.join(TIMESTAMP_KINDS)}")
    if "timestamp" in compiled.groupindex and kind is None:
        kind = "iso8601"
    levels = raw.get("levels") or {}
    if not isinstance(levels, Mapping):
        raise ConfigError(f"{where}: levels must be a mapping of level → [severity, number]")
    own = {str(k).lower(): _level_pair(v, f"{where}: level {k!r}") for k, v in levels.items()}
    examples = raw.get("examples", [])
    counters = raw.get("counter_examples", [])
    if not isinstance(examples, list) or not all(
        isinstance(e, Mapping) and isinstance(e.get("line"), str) for e in examples
    ):
        raise ConfigError(f"{where}: examples must be a list of mappings with a 'line'")
    if not isinstance(counters, list) or not all(isinstance(c, str) for c in counters):
        raise ConfigError(f"{where}: counter_examples must be a list of strings")
    fmt = Format(name, pattern, kind, bool(raw.get("reparse", False)), own)
    return fmt, [examples, counters]


def parse_formats(
    documents: Iterable[tuple[Any, str]], levels_from: Any | None = None
) -> LogFormats:
    """Build the formats of several parsed documents, in order (the first document's formats
    are tried first); the level vocabulary is the union, earlier documents winning. ConfigError
    names the file, the format and the problem."""
    formats: list[Format] = []
    checks: dict[str, list[Any]] = {}
    levels: dict[str, Level] = {}
    sources = []
    for data, source in documents:
        sources.append(source)
        if not isinstance(data, Mapping) or not isinstance(data.get("formats", []), list):
            raise ConfigError(f"{source}: expected a mapping with a 'formats' list")
        for key, value in (data.get("levels") or {}).items():
            levels.setdefault(str(key).lower(), _level_pair(value, f"{source}: level {key!r}"))
        for position, raw in enumerate(data.get("formats") or [], start=1):
            fmt, (examples, counters) = _parse_format(raw, position, source)
            if fmt.name in checks:
                raise ConfigError(f"{source}: format {fmt.name!r}: duplicate name")
            formats.append(fmt)
            checks[fmt.name] = [examples, counters]
    result = LogFormats(formats, levels, " + ".join(sources) or "<formats>")
    result.check_examples({name: ex for name, (ex, _c) in checks.items()})
    for fmt in formats:
        for counter in checks[fmt.name][1]:
            got = result.parse_line(counter, 2026).fields.get("format", "")
            if got.split("/")[0] == fmt.name:
                raise ConfigError(
                    f"{result.source}: format {fmt.name!r}: counter-example {counter!r} is "
                    "parsed by it; tighten the regex"
                )
    return result


def _read(path: Path, what: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot read {what} file {path}: {err.strerror}") from None
    try:
        return yamlfiles.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"{what} file {path} is not valid YAML: {err}") from None


def load_formats(path: str | Path | None = None, user: str | Path | None = None) -> LogFormats:
    """The built-in formats (``include/log_formats.yaml``, or ``path``) after the user's own
    (``user``, tried first)."""
    docs = []
    if user:
        docs.append((_read(Path(user), "formats"), str(user)))
    base = Path(path) if path else defaults.FORMATS_FILE
    docs.append((_read(base, "formats"), str(base)))
    return parse_formats(docs)


class FormatsCache:
    """The formats of one (built-in, user) pair of files, reloaded when either changes."""

    def __init__(self, path: str | Path | None = None, user: str | Path | None = None) -> None:
        self.path = Path(path) if path else defaults.FORMATS_FILE
        self.user = Path(user) if user else None
        self._stamp: tuple[Any, ...] | None = None
        self._formats: LogFormats | None = None

    def get(self) -> LogFormats:
        stamp = tuple(_stat(p) for p in (self.path, self.user) if p is not None)
        if self._formats is None or stamp != self._stamp:
            self._formats = load_formats(self.path, self.user)
            self._stamp = stamp
        return self._formats


def _stat(path: Path) -> tuple[int, int]:
    try:
        st = os.stat(path)
    except OSError as err:
        raise ConfigError(f"cannot read formats file {path}: {err.strerror}") from None
    return st.st_mtime_ns, st.st_size


@lru_cache(maxsize=1)
def builtin_formats() -> LogFormats:
    """The built-in formats (``include/log_formats.yaml``), loaded once per process."""
    return load_formats()
