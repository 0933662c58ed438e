"""The parser stage: formats → header fields, the level the line states, the body."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from enrich.core.labels import Label
from enrich.core.parse import builtin_formats, load_formats, parse_formats
from enrich.core.records import LogRecord, RawRecord, Source, decode
from enrich.core.rules import parse_rules
from enrich.engine.routing import enrich_batch
from enrich.errors import ConfigError
from tests.unit.fixed_model import fixed_model

F = builtin_formats()


def parse(value: str | bytes, year: int = 2026) -> Any:
    rec = decode(value.encode() if isinstance(value, str) else value)
    assert isinstance(rec, LogRecord)
    return F.parse_record(rec, year)


@pytest.mark.parametrize(
    ("line", "fmt", "body", "severity", "fields"),
    [
        # syslog, BSD: no level, the program and pid in the header
        (
            "Nov  1 10:00:00 bastion-1 sshd[812]: Failed password for root from 203.0.113.5 port 52211 ssh2",
            "rfc3164",
            "Failed password for root from 203.0.113.5 port 52211 ssh2",
            None,
            {
                "host.name": "bastion-1",
                "service.name": "sshd",
                "process.pid": 812,
                "timestamp": "2026-11-01T10:00:00Z",
            },
        ),
        # syslog with <PRI>: 34 = auth (4) * 8 + crit (2)
        (
            "<34>Nov 29 10:00:00 db-1 su: 'su root' failed for lonvick on /dev/pts/8",
            "rfc3164",
            "'su root' failed for lonvick on /dev/pts/8",
            "CRITICAL",
            {"log.syslog.priority": 34, "log.syslog.facility.code": 4, "service.name": "su"},
        ),
        # RFC 5424 with structured data
        (
            '<165>1 2026-11-29T10:00:00.003+01:00 mymachine evntslog 77 ID47 [exampleSDID@32473 iut="3"] An application event log entry',
            "rfc5424",
            "An application event log entry",
            "INFO",
            {
                "timestamp": "2026-11-29T09:00:00.003Z",
                "host.name": "mymachine",
                "service.name": "evntslog",
                "process.pid": 77,
                "severity_number": 10,
            },
        ),
        # log4j with thread and logger, comma millis
        (
            "2026-11-29 10:00:00,978 WARN [main] org.apache.kafka.clients.NetworkClient: Connection to node 1 could not be established",
            "log4j",
            "Connection to node 1 could not be established",
            "WARNING",
            {
                "process.thread.name": "main",
                "log.logger": "org.apache.kafka.clients.NetworkClient",
                "timestamp": "2026-11-29T10:00:00.978Z",
                "log.level": "WARN",
            },
        ),
        # Log4j2's %d{ISO8601} %-5p %c{1}:%L - %m
        (
            "2026-11-29T10:00:00,001 ERROR JobScheduler:217 - Job 42 failed: timeout",
            "log4j",
            "Job 42 failed: timeout",
            "ERROR",
            {"log.logger": "JobScheduler", "log.origin.file.line": 217},
        ),
        # klog
        (
            "E1129 10:00:00.123456   4242 reflector.go:147] failed to list *v1.Pod: connection refused",
            "klog",
            "failed to list *v1.Pod: connection refused",
            "ERROR",
            {
                "log.origin.file.name": "reflector.go",
                "log.origin.file.line": 147,
                "timestamp": "2026-11-29T10:00:00.123456Z",
            },
        ),
        # Python logging default
        (
            "CRITICAL:root:database is gone",
            "python_default",
            "database is gone",
            "CRITICAL",
            {"log.logger": "root"},
        ),
        # logcat threadtime, Android's letters
        (
            "11-29 10:00:00.123  1234  1260 W ActivityManager: Slow operation: 145ms so far",
            "logcat",
            "Slow operation: 145ms so far",
            "WARNING",
            {"process.pid": 1234, "process.thread.name": "1260", "log.logger": "ActivityManager"},
        ),
        # Apache error log (2.2)
        (
            "[Sun Nov 29 10:00:00 2026] [error] [client 198.51.100.7] Directory index forbidden by rule: /var/www/",
            "apache_error",
            "Directory index forbidden by rule: /var/www/",
            "ERROR",
            {"client.address": "198.51.100.7", "timestamp": "2026-11-29T10:00:00Z"},
        ),
        # access log: no level, the whole line is the body
        (
            '203.0.113.9 - - [29/Nov/2026:10:00:00 +0100] "GET /api HTTP/1.1" 503 12 "-" "curl/8.4.0"',
            "access",
            '203.0.113.9 - - [29/Nov/2026:10:00:00 +0100] "GET /api HTTP/1.1" 503 12 "-" "curl/8.4.0"',
            None,
            {
                "http.response.status_code": 503,
                "http.request.method": "GET",
                "timestamp": "2026-11-29T09:00:00Z",
                "user_agent.original": "curl/8.4.0",
            },
        ),
        # logfmt, logrus's text formatter
        (
            'time="2026-11-29T10:00:00Z" level=warning msg="retrying connection" attempt=3',
            "logfmt",
            "retrying connection",
            "WARNING",
            {"timestamp": "2026-11-29T10:00:00Z", "log.level": "warning"},
        ),
        # a CRI container line wrapping a klog line
        (
            "2026-11-29T10:00:00.5Z stderr F I1129 10:00:00.000001       1 leaderelection.go:250] attempting to acquire leader lease",
            "cri/klog",
            "attempting to acquire leader lease",
            "INFO",
            {"log.iostream": "stderr", "timestamp": "2026-11-29T10:00:00.500Z"},
        ),
        # Windows servicing columns
        (
            "2026-11-29 10:00:00, Warning               CSI    Repair of component failed",
            "windows_cbs",
            "Repair of component failed",
            "WARNING",
            {"service.name": "CSI"},
        ),
        # no known format: the whole line, nothing stated
        (
            "the flux capacitor reading is nominal",
            None,
            "the flux capacitor reading is nominal",
            None,
            {},
        ),
    ],
)
def test_a_line_splits_into_fields_body_and_severity(
    line: str, fmt: str | None, body: str, severity: str | None, fields: dict[str, Any]
) -> None:
    got = parse(line)
    assert got.fields.get("format") == fmt
    assert got.body == body
    assert got.severity == severity
    assert {k: got.fields.get(k) for k in fields} == fields


@pytest.mark.parametrize(
    ("record", "body", "severity", "fields"),
    [
        # logrus/zap/pino's text key: msg (the record of the issue that found it)
        ({"level": "error", "msg": "payment db down"}, "payment db down", "ERROR", {}),
        # pino: numeric levels
        (
            {"level": 50, "time": 1764410400000, "msg": "boom", "pid": 7, "hostname": "web-1"},
            "boom",
            "ERROR",
            {"timestamp": "2025-11-29T10:00:00Z", "process.pid": 7, "host.name": "web-1"},
        ),
        # journald's JSON export
        (
            {
                "MESSAGE": "Started nginx.service.",
                "PRIORITY": "6",
                "SYSLOG_IDENTIFIER": "systemd",
                "_SYSTEMD_UNIT": "init.scope",
                "_HOSTNAME": "web-1",
                "_PID": "1",
                "__REALTIME_TIMESTAMP": "1764410400000000",
            },
            "Started nginx.service.",
            "INFO",
            {
                "service.name": "systemd",
                "systemd.unit": "init.scope",
                "timestamp": "2025-11-29T10:00:00Z",
            },
        ),
        # OpenTelemetry: SeverityText / SeverityNumber and Body
        (
            {"Body": "cache miss storm", "SeverityNumber": 13},
            "cache miss storm",
            "WARNING",
            {"severity_number": 13},
        ),
        # ECS: nested log.level and the message
        (
            {"message": "disk almost full", "log": {"level": "warn"}},
            "disk almost full",
            "WARNING",
            {"log.level": "warn"},
        ),
        # GELF
        (
            {"short_message": "worker crashed", "level": 3, "host": "w-2"},
            "worker crashed",
            "ERROR",
            {"host.name": "w-2"},
        ),
        # Serilog compact: @m / @l
        ({"@message": "order placed", "@l": "Information"}, "order placed", "INFO", {}),
        # event.original, nested
        ({"event": {"original": "raw line here"}}, "raw line here", None, {}),
        # Docker json-file wrapping a log4j line: the inner line is parsed too
        (
            {
                "log": "2026-11-29 10:00:00,001 ERROR [main] c.e.App - failed to start\n",
                "stream": "stderr",
                "time": "2026-11-29T10:00:00.0012Z",
            },
            "failed to start",
            "ERROR",
            {
                "format": "json/log4j",
                "log.iostream": "stderr",
                "timestamp": "2026-11-29T10:00:00.0012Z",
            },
        ),
        # a level this project does not know: kept as written, no severity
        (
            {"msg": "x", "level": "loud"},
            "x",
            None,
            {"log.level": "loud", "log.level.unknown": True},
        ),
    ],
)
def test_json_records_by_their_keys(
    record: dict[str, Any], body: str, severity: str | None, fields: dict[str, Any]
) -> None:
    got = parse(json.dumps(record))
    assert got.body == body
    assert got.severity == severity
    assert {k: got.fields.get(k) for k in fields} == fields


@pytest.mark.parametrize(
    ("written", "severity", "number"),
    [
        ("TRACE", "DEBUG", 1),
        ("DEBUG", "DEBUG", 5),
        ("V", "DEBUG", 2),
        ("D", "DEBUG", 5),
        ("7", "DEBUG", 5),
        ("INFO", "INFO", 9),
        ("NOTICE", "INFO", 10),
        ("I", "INFO", 9),
        ("Info", "INFO", 9),
        ("5", "INFO", 10),
        ("6", "INFO", 9),
        ("WARN", "WARNING", 13),
        ("WARNING", "WARNING", 13),
        ("W", "WARNING", 13),
        ("4", "WARNING", 13),
        ("ERROR", "ERROR", 17),
        ("ERR", "ERROR", 17),
        ("E", "ERROR", 17),
        ("3", "ERROR", 17),
        ("FATAL", "CRITICAL", 21),
        ("SEVERE", "CRITICAL", 21),
        ("CRIT", "CRITICAL", 21),
        ("ALERT", "CRITICAL", 23),
        ("EMERG", "CRITICAL", 24),
        ("F", "CRITICAL", 21),
        ("0", "CRITICAL", 24),
        ("1", "CRITICAL", 23),
        ("2", "CRITICAL", 21),
    ],
)
def test_the_level_mapping(written: str, severity: str, number: int) -> None:
    level = F.level(written)
    assert level is not None
    assert (level.severity, level.number) == (severity, number)


def test_a_stated_level_is_the_severity_even_when_the_model_guesses_otherwise() -> None:
    guess = Label("INFO", "Useless", "Uncategorized")
    model = fixed_model((guess, Label("ERROR", "Useless", "Uncategorized")), {"db": 0.99})
    rules = parse_rules({"rules": []})
    values = [
        b'{"level":"error","msg":"payment db down"}',  # states ERROR
        b"payment db down",  # states nothing: the model decides
    ]
    out = enrich_batch(
        [RawRecord(v, Source("t", 0, i)) for i, v in enumerate(values)], model, rules
    ).records()
    assert (out[0]["severity"], out[0]["severity_by"]) == ("ERROR", "line")
    assert (out[0]["event_type"], out[0]["labelled_by"]) == ("Useless", "model")
    assert (out[1]["severity"], out[1]["severity_by"]) == ("INFO", "model")


def test_rules_see_the_body_and_may_match_a_parsed_field() -> None:
    auth = {
        "severity": "WARNING",
        "event_type": "Authentication and Authorization",
        "category": "Connectivity and Security",
    }
    rules = parse_rules(
        {
            "rules": [
                {
                    "name": "cron-job",
                    "field": "service.name",
                    "regex": "^CRON$",
                    "label": {
                        "severity": "INFO",
                        "event_type": "State change",
                        "category": "Automation & CI/CD",
                    },
                },
                {"name": "anchored-body", "regex": "^Failed password", "label": auth},
            ]
        }
    )
    values = [
        b"Nov 29 10:00:00 web-1 CRON[42]: (root) CMD (run-parts /etc/cron.hourly)",
        b"Nov 29 10:00:00 web-1 sshd[812]: Failed password for root from 203.0.113.5",
    ]
    out = enrich_batch(
        [RawRecord(v, Source("t", 0, i, 1_764_410_400_000)) for i, v in enumerate(values)],
        None,
        rules,
    ).records()
    assert [r["rule"] for r in out] == ["cron-job", "anchored-body"]
    assert out[1]["parsed"]["timestamp"] == "2025-11-29T10:00:00Z"  # year from Kafka's stamp


def test_an_empty_body_is_never_taught() -> None:
    rules = parse_rules(
        {
            "rules": [
                {
                    "name": "no-content",
                    "regex": r"^\s*$",
                    "label": {
                        "severity": "INFO",
                        "event_type": "Useless",
                        "category": "Uncategorized",
                    },
                }
            ]
        }
    )
    result = enrich_batch([RawRecord(b'{"level":"error"}', Source("t", 0, 1))], None, rules)
    (out,) = result.records()
    assert (out["severity"], out["severity_by"], out["rule"]) == ("ERROR", "line", "no-content")
    assert result.labels == []


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"formats": [{"name": "x", "regex": "(a"}]}, r"format 'x': bad regex"),
        ({"formats": [{"name": "x", "regex": "^(a)\\1"}]}, r"format 'x': bad regex"),
        ({"formats": [{"name": "x", "regex": "a"}]}, r"format 'x': the regex must be anchored"),
        ({"formats": [{"name": "x", "regex": "^a", "colour": 1}]}, r"unknown key\(s\) colour"),
        (
            {"formats": [{"name": "x", "regex": "^(?P<timestamp>\\d+) ", "timestamp": "mayan"}]},
            r"timestamp 'mayan' is not one of",
        ),
        ({"levels": {"loud": ["LOUD", 9]}, "formats": []}, r"level 'loud'"),
        (
            {
                "formats": [
                    {
                        "name": "x",
                        "regex": "^a (?P<body>.*)$",
                        "examples": [{"line": "a b", "body": "c"}],
                    }
                ]
            },
            r"format 'x': example 'a b': body is 'b', the example says 'c'",
        ),
        (
            {"formats": [{"name": "x", "regex": "^a (?P<body>.*)$", "counter_examples": ["a b"]}]},
            r"counter-example 'a b'",
        ),
    ],
)
def test_a_bad_formats_file_says_what_to_fix(document: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_formats([(document, "mine.yaml")])


def test_the_user_s_formats_are_tried_first(tmp_path: Path) -> None:
    mine = tmp_path / "mine.yaml"
    mine.write_text(
        yaml.safe_dump(
            {
                "formats": [
                    {
                        "name": "ours",
                        "regex": r"^OURS \| (?P<level>\w+) \| (?P<body>.*)$",
                        "examples": [{"line": "OURS | warn | hello", "body": "hello"}],
                    }
                ]
            }
        )
    )
    formats = load_formats(user=mine)
    got = formats.parse_line("OURS | warn | hello")
    assert (got.fields["format"], got.body, got.severity) == ("ours", "hello", "WARNING")
    assert formats.formats[-1].name == F.formats[-1].name  # the built-in ones follow
