"""The native parser (native/, Rust) gives exactly what the Python reference gives.

``LogFormats.parse_record`` is the reference; ``enrich_native.Parser.parse_many`` must give
the same body, severity code and ``encode_json`` of the fields for every record it parses,
and hand every other record back (``None``) to the Python path. The records here are built
per format of ``include/log_formats.yaml`` (valid and invalid dates, offsets, odd bodies),
as logfmt lines and as JSON records of every key variant the reference reads, wrapped in
Docker's and CRI's records, plus the sample generator's values.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from typing import Any

import pytest
import yaml

from enrich import defaults
from enrich.core.parse import SEVERITIES, LogFormats, builtin_formats, parse_formats
from enrich.core.records import LogRecord, decode, encode_json
from enrich.samples import generate
from tests.native_build import native_module

native = native_module()
if not hasattr(native, "Parser"):
    pytest.fail("enrich_native has no Parser: rebuild it (make native)", pytrace=False)

F = builtin_formats()
Rng = random.Random
YEARS = (2026, 2026, 2026, 2024, 2023, None, 1, 9999)


def reference(formats: LogFormats, rec: LogRecord, year: int | None) -> tuple[str, int, bytes]:
    p = formats.parse_record(rec, year)
    code = 0 if p.severity is None else SEVERITIES.index(p.severity) + 1
    return p.body, code, encode_json(p.fields)


def raises(formats: LogFormats, rec: LogRecord, year: int | None) -> bool:
    """The reference raises on a few odd records (an offset of 24 hours or more in a JSON
    timestamp, a date that leaves years 1-9999 in UTC); the native parser leaves them to it."""
    try:
        formats.parse_record(rec, year)
    except (ValueError, OverflowError):
        return True
    return False


def parsed_format(formats: LogFormats, rec: LogRecord) -> str:
    """The format the reference finds ("" where it raises)."""
    if raises(formats, rec, 2026):
        return ""
    return str(formats.parse_record(rec, 2026).fields.get("format", ""))


def compare(
    records: Sequence[LogRecord],
    years: Sequence[int | None] | None = None,
    formats: LogFormats = F,
) -> int:
    """Assert native == Python for every record the native parser parsed; return how many
    it left to Python."""
    years = list(years) if years is not None else [2026] * len(records)
    bodies, codes, fields = native.Parser(formats.spec()).parse_many(records, years)
    assert len(bodies) == len(codes) == len(fields) == len(records)
    mismatches = []
    left = 0
    for rec, year, body, code, js in zip(records, years, bodies, codes, fields, strict=True):
        if body is None:
            assert js is None
            left += 1
            continue
        want = reference(formats, rec, year)
        if (body, code, js) != want:
            mismatches.append((rec, year, (body, code, js), want))
    assert mismatches[:3] == []
    return left


def records_of(lines: Sequence[str]) -> list[LogRecord]:
    """Each line as the record it is (``LogRecord(line)``) and as ``decode`` reads it."""
    out = [LogRecord(line) for line in lines]
    for line in lines:
        rec = decode(line.encode("utf-8", "surrogatepass"))
        if isinstance(rec, LogRecord):
            out.append(rec)
    return out


def values_of(values: Sequence[bytes]) -> list[LogRecord]:
    return [rec for v in values if isinstance(rec := decode(v), LogRecord)]


def years_for(n: int, rng: Rng) -> list[int | None]:
    return [rng.choice(YEARS) for _ in range(n)]


# ---- the pieces of a line --------------------------------------------------------------------

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
HOSTS = [
    "web-01",
    "db-2.internal",
    "bastion-1",
    "ip-10-0-0-7",
    "kafka-0.kafka-headless",
    "h\u00f4te",
]
SERVICES = ["sshd", "kernel", "systemd", "nginx", "CRON", "postgres", "app-api", "su", "d\u00e6mon"]
THREADS = ["main", "http-nio-8080-exec-1", "pool-2-thread-7", "Thread-0", "", "w\u00f6rker 3"]
CALLERS = ["payments/client.go:88", "main.go:1", "x.go:abc", ":12", "a:b:12", "x.go:", "nocolon"]
ODD_CALLERS = ["x.go:\u0661\u0662", "caf\u00e9.go:7", "x.go:99999999999999999999999"]


def caller(r: Rng) -> str:
    return r.choice(ODD_CALLERS if r.random() < 0.05 else CALLERS)


LOGGERS = ["org.apache.kafka.Server", "c.e.orders.OrderController", "App", "billing.worker", "x"]
MESSAGES = [
    "Accepted publickey for alice from 198.51.100.4 port 50022 ssh2",
    "connection reset by peer",
    "",
    "user \"bob\" said: 'hi'",
    "path C:\\temp\\new\\file.txt not found",
    "tab\tseparated\tvalues",
    'level=error msg="nested logfmt" code=7',
    'json inside {"a": 1}',
    "caf\u00e9 cr\u00e8me br\u00fbl\u00e9e",
    "\u65e5\u672c\u8a9e\u306e\u30ed\u30b0",
    "emoji \U0001f600 ok",
    "ERROR: something broke",
    "[WARN] disk 91% full",
    "trailing spaces   ",
    "- dash first",
    "x=1 y=2",
    "control \x01 char and \x7f",
    "\\u00e9 written as an escape",
    "a]b[c (d) {e}",
    "ends with a backslash \\",
    'Exception in thread "main" java.lang.NullPointerException',
    "    at com.example.App.main(App.java:42)",
    "GET /api/v1/orders?id=17&x=%20 HTTP/1.1",
    "-",
    "a\u00a0non-breaking space",
]
LEVEL_WORDS = [
    "TRACE", "DEBUG", "INFO", "NOTICE", "WARN", "WARNING", "ERROR", "ERR", "FATAL", "CRITICAL",
    "CRIT", "SEVERE", "PANIC", "ALERT", "EMERG", "LOG", "STATEMENT", "DETAIL", "HINT", "CONTEXT",
    "DEBUG1", "DEBUG5", "trace", "debug", "info", "warn", "error", "fatal", "Info", "Verbose",
    "Perf", "VERBOSE", "CONFIG", "UNKNOWN", "X",
]  # fmt: skip


def msg(r: Rng) -> str:
    return r.choice(MESSAGES)


def ymd(r: Rng) -> tuple[int, int, int]:
    if r.random() < 0.1:  # invalid and edge dates
        return r.choice(
            [
                (2026, 13, 1),
                (2026, 11, 31),
                (2026, 2, 29),
                (2024, 2, 29),
                (2026, 0, 10),
                (2026, 4, 0),
                (0, 1, 1),
                (1, 1, 1),
                (9999, 12, 31),
                (2026, 12, 32),
                (1900, 2, 29),
                (2000, 2, 29),
            ]
        )
    return r.randint(1995, 2035), r.randint(1, 12), r.randint(1, 28)


def date(r: Rng, sep: str = "-") -> str:
    y, m, d = ymd(r)
    return f"{y:04d}{sep}{m:02d}{sep}{d:02d}"


def hms(r: Rng) -> str:
    if r.random() < 0.05:
        return r.choice(["24:00:00", "23:60:00", "23:59:60", "00:00:00", "23:59:59"])
    return f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}"


def frac(r: Rng, n: int | None = None, sep: str = ".") -> str:
    n = r.choice([0, 0, 1, 2, 3, 3, 6, 7, 9]) if n is None else n
    if n == 0:
        return ""
    digits = r.choice(
        ["0" * n, "1" + "0" * (n - 1), "".join(r.choice("0123456789") for _ in range(n))]
    )
    return sep + digits


def zone(r: Rng, colon: bool = True, none: bool = True) -> str:
    zones = ["Z", "Z", "+00:00", "+01:00", "-05:00", "+05:30", "+14:00", "-12:00", "+23:59"]
    zones += ["+24:00", "-99:99", "+00:99"]  # no timezone has these: no timestamp
    if none:
        zones += ["", ""]
    z = r.choice(zones)
    return z if colon or len(z) < 3 else z.replace(":", "")


def iso(r: Rng, sep: str = "T", zone_ok: bool = True, zone_needed: bool = True) -> str:
    z = zone(r, colon=r.random() < 0.8, none=not zone_needed) if zone_ok else ""
    return f"{date(r)}{sep}{hms(r)}{frac(r)}{z}"


def level(r: Rng, words: Sequence[str] = LEVEL_WORDS) -> str:
    return r.choice(words)


def pid(r: Rng) -> str:
    return str(r.choice([1, 42, 812, 4242, 65535, r.randint(1, 10**6)]))


# ---- one generator per built-in format -------------------------------------------------------


def klog_line(r: Rng) -> str:
    mmdd = r.choice([f"{r.randint(1, 12):02d}{r.randint(1, 28):02d}", "1345", "0230", "1131"])
    return (
        f"{r.choice('IWEF')}{mmdd} {hms(r)}.{r.randint(0, 999999):06d}"
        f"{' ' * r.randint(1, 7)}{r.randint(1, 99999)} {r.choice(['reflector.go', 'x.go'])}"
        f":{r.randint(1, 999)}] {msg(r)}"
    )


def log4j_line(r: Rng) -> str:
    lvl = r.choice(["TRACE", "DEBUG", "INFO", "WARN", "WARNING", "ERROR", "FATAL", "SEVERE"])
    d = f"{date(r)}{r.choice(' T')}{hms(r)}{frac(r, 3, r.choice(',.'))}"
    return r.choice(
        [
            f"{d} {lvl} [{r.choice(THREADS)}] {r.choice(LOGGERS)}: {msg(r)}",
            f"{d}{zone(r)} [{r.choice(THREADS)}] {lvl:<5} {r.choice(LOGGERS)} - {msg(r)}",
            f"{d} {lvl} {r.choice(LOGGERS)}:{r.randint(1, 999)} - {msg(r)}",
            f"{d} {lvl} {r.choice(LOGGERS)}[ctx] - {msg(r)}",
        ]
    )


def json_line(r: Rng) -> str:
    return json.dumps(json_record(r, depth=1), ensure_ascii=r.random() < 0.5)


def logfmt_line(r: Rng) -> str:
    pairs: list[str] = []
    first = r.choice(["level", "lvl", "time", "ts", "t", "msg", "caller", "x"])
    keys = [first, *r.sample(
        ["level", "msg", "message", "time", "ts", "caller", "err", "host", "service", "pid",
         "host.name", "component", "SeverityNumber", "PRIORITY", "@timestamp", "thread", "k"],
        r.randint(0, 6),
    )]  # fmt: skip
    for key in keys:
        pairs.append(f"{key}={logfmt_value(r, key)}")
    line = r.choice([" ", "  ", "\t"]).join(pairs)
    if first == "x" or r.random() < 0.2:
        line = r.choice(["prefix ", "", "junk=1 "]) + line + r.choice(["", " level=warn", " msg=x"])
    return line


def logfmt_value(r: Rng, key: str) -> str:
    if key in ("level", "lvl") and r.random() < 0.7:
        return r.choice(["info", "WARN", "error", "debug", "30", "3", '""', '" "', "fatal", "x"])
    if key in ("time", "ts", "@timestamp") and r.random() < 0.7:
        return r.choice(
            [iso(r), "1700000000", "1700000000123", "1700000000123456", '"' + iso(r) + '"']
        )
    if key in ("SeverityNumber", "PRIORITY", "pid"):
        return r.choice(["9", "17", "0", "25", "3", "x", "007"])
    return r.choice(
        [
            "plain",
            "",
            '"quoted value"',
            '"escapes \\" \\\\ \\n \\t \\/ \\b \\f"',
            '"unicode \\u00e9 \\ud83d\\ude00"',
            '"lone \\ud800 surrogate"',
            '"bad escape \\x"',
            '"raw\ttab"',
            '"unterminated',
            '"trailing backslash\\"',
            "a=b",
            '"' + msg(r).replace("\\", "\\\\").replace('"', '\\"') + '"',
            "caf\u00e9",
            '"\\u0000 nul"',
            "@@",
        ]
    )


def cri_line(r: Rng) -> str:
    inner = r.choice(
        [klog_line, log4j_line, json_line, logfmt_line, lambda r: msg(r), lambda r: "", docker_json]
    )(r)
    return f"{iso(r)} {r.choice(['stdout', 'stderr'])} {r.choice('FP')} {inner}"


def docker_json(r: Rng) -> str:
    return json.dumps(
        {"log": r.choice([klog_line, log4j_line, logfmt_line])(r) + "\n", "stream": "stdout"}
    )


def rfc5424_line(r: Rng) -> str:
    pri = r.choice(["", f"<{r.randint(0, 191)}>", "<999>", "<0>"])
    sd = r.choice(["-", '[exampleSDID@32473 iut="3" eventSource="App"]', '[a b="c\\]d"][e f="g"]'])
    body = r.choice(["", " " + msg(r), " "])
    ts = r.choice([iso(r), "-", f"{date(r)}Tgarbage"])
    return (
        f"{pri}1 {ts} {r.choice(HOSTS)} {r.choice(SERVICES)} {r.choice([pid(r), '-', 'abc'])} "
        f"{r.choice(['-', 'ID47', 'msg-1'])} {sd}{body}"
    )


def rfc3164_line(r: Rng) -> str:
    pri = r.choice(["", "", f"<{r.randint(0, 191)}>", "<191>", "<13>"])
    mon = r.choice([*MONTHS, "Foo"])
    day = r.choice([f"{r.randint(1, 31):>2}", f"{r.randint(1, 31):02d}", "30", " 0"])
    svc = r.choice(SERVICES) + r.choice(["", f"[{pid(r)}]"])
    return f"{pri}{mon} {day} {hms(r)} {r.choice(HOSTS)} {svc}:{r.choice([' ', ''])}{msg(r)}"


def syslog_iso_line(r: Rng) -> str:
    svc = r.choice(SERVICES) + r.choice(["", f"[{pid(r)}]"])
    return f"{iso(r)} {r.choice(HOSTS)} {svc}: {msg(r)}"


def logcat_line(r: Rng) -> str:
    md = r.choice([f"{r.randint(1, 12):02d}-{r.randint(1, 28):02d}", "13-01", "02-30"])
    tag = r.choice(["AndroidRuntime", "ActivityManager", "", "Tag With Spaces"])
    return (
        f"{md} {hms(r)}.{r.randint(0, 999):03d} {pid(r):>5} {pid(r):>5} "
        f"{r.choice('VDIWEFA')} {tag}{' ' * r.randint(0, 3)}: {msg(r)}"
    )


def logcat_brief_line(r: Rng) -> str:
    tag = r.choice(["ActivityManager", "dalvikvm", "x y"])
    return f"{r.choice('VDIWEFA')}/{tag}({pid(r):>5}): {msg(r)}"


def spring_line(r: Rng) -> str:
    app = r.choice(["", "[orders] "])
    return (
        f"{iso(r, r.choice('T '), zone_needed=False)}  {level(r):>5} {pid(r)} --- {app}"
        f"[{r.choice(THREADS):>15}] {r.choice(LOGGERS):<40} : {msg(r)}"
    )


def zookeeper_line(r: Rng) -> str:
    myid = r.choice(["", " [myid:1]", " [myid:]"])
    return (
        f"{date(r)} {hms(r)},{r.randint(0, 999):03d}{myid} - {level(r):<5} "
        f"[QuorumPeer[myid=1](plain=0.0.0.0:2181):Follower@{r.randint(1, 999)}] - {msg(r)}"
    )


def kafka_line(r: Rng) -> str:
    logger = r.choice(["", " (kafka.server.KafkaServer)", " (state.change.logger)"])
    return f"[{date(r)} {hms(r)},{r.randint(0, 999):03d}] {level(r)} {msg(r)}{logger}"


def logback_line(r: Rng) -> str:
    thread = r.choice(THREADS) or "main"
    return f"{hms(r)}.{r.randint(0, 999):03d} [{thread}] {level(r)} {r.choice(LOGGERS)} - {msg(r)}"


def python_line(r: Rng) -> str:
    lvl = r.choice(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"])
    stamp = f"{date(r)} {hms(r)}{frac(r, r.choice([0, 3]), ',')}"
    return f"{stamp} - {r.choice(LOGGERS)} - {lvl} - {msg(r)}"


def python_default_line(r: Rng) -> str:
    lvl = r.choice(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"])
    return f"{lvl}:{r.choice(['urllib3.connectionpool', 'root', 'a.b'])}:{msg(r)}"


def gunicorn_line(r: Rng) -> str:
    z = r.choice(["", " +0000", " -0500", " +0530", " +2400"])
    return f"[{date(r)} {hms(r)}{z}] [{pid(r)}] [{level(r)}] {msg(r)}"


def postgres_line(r: Rng) -> str:
    tz = r.choice(["", " UTC", " CET", " +01", " -05"])
    who = r.choice(["", " app@orders", " postgres@postgres"])
    lvl = r.choice(["LOG", "ERROR", "FATAL", "PANIC", "WARNING", "NOTICE", "INFO", "DEBUG"])
    lvl = r.choice([lvl, "DEBUG1", "DEBUG5", "STATEMENT", "DETAIL", "HINT", "CONTEXT"])
    return f"{date(r)} {hms(r)}{frac(r, r.choice([0, 3, 6]))}{tz} [{pid(r)}]{who} {lvl}:  {msg(r)}"


def mysql_line(r: Rng) -> str:
    lvl = r.choice(["System", "Warning", "Error", "Note"])
    code = f"MY-{r.randint(0, 999999):06d}"
    return (
        f"{iso(r)} {r.randint(0, 99)} [{lvl}] [{code}] [{r.choice(['Server', 'InnoDB'])}] {msg(r)}"
    )


def redis_line(r: Rng) -> str:
    y, m, d = ymd(r)
    mon = MONTHS[(m - 1) % 12] if 1 <= m <= 12 else "Foo"
    return (
        f"{pid(r)}:{r.choice('XCSM')} {d:02d} {mon} {y:04d} {hms(r)}.{r.randint(0, 999):03d} "
        f"{r.choice('.-*#')} {msg(r)}"
    )


def nginx_error_line(r: Rng) -> str:
    lvl = r.choice(["debug", "info", "notice", "warn", "error", "crit", "alert", "emerg", "x"])
    cid = r.choice(["", f"*{r.randint(1, 9999)} "])
    return f"{date(r, '/')} {hms(r)} [{lvl}] {pid(r)}#{r.randint(0, 99)}: {cid}{msg(r)}"


def apache_error_line(r: Rng) -> str:
    y, m, d = ymd(r)
    mon = MONTHS[(m - 1) % 12] if 1 <= m <= 12 else "Foo"
    day = r.choice([f"{d:02d}", f"{d:>2}"])
    us = r.choice(["", f".{r.randint(0, 999999):06d}"])
    lvl = r.choice(
        ["error", "warn", "notice", "info", "debug", "trace1", "trace8", "emerg", "crit"]
    )
    mod = r.choice(["", "core:", "ssl:", "proxy_fcgi:"])
    pidpart = r.choice(["", f" [pid {pid(r)}]", f" [pid {pid(r)}:tid {r.randint(1, 10**9)}]"])
    client = r.choice(["", " [client 198.51.100.7]", " [client 198.51.100.7:50022]"])
    stamp = f"{r.choice(DAYS)} {mon} {day} {hms(r)}{us} {y:04d}"
    return f"[{stamp}] [{mod}{lvl}]{pidpart}{client} {msg(r)}"


def access_line(r: Rng) -> str:
    y, m, d = ymd(r)
    mon = MONTHS[(m - 1) % 12] if 1 <= m <= 12 else "Foo"
    z = r.choice(["+0000", "-0500", "+0530", "+2400"])
    method = r.choice(["GET", "POST", "PUT", "DELETE", "HEAD"])
    tail = r.choice(
        ["", ' "-" "curl/8.4.0"', ' "https://example.com/" "Mozilla/5.0 (X11)"', ' "" ""']
    )
    size = r.choice(["0", "12", "-", "154967"])
    return (
        f"{r.choice(['203.0.113.9', '::1', '10.0.0.7'])} - {r.choice(['-', 'alice'])} "
        f'[{d:02d}/{mon}/{y:04d}:{hms(r)} {z}] "{method} /api/v1/orders?id={r.randint(1, 99)} '
        f'HTTP/1.1" {r.choice([200, 201, 304, 404, 503])} {size}{tail}'
    )


def zap_line(r: Rng) -> str:
    logger = r.choice(["", "payments\t"])
    caller = r.choice(["", "payments/client.go:88\t"])
    extra = r.choice(["", '\t{"order": 17}', '\t{"a": "b\\tc"}'])
    body = msg(r).replace("\t", " ")
    return f"{iso(r)}\t{level(r).upper()}\t{logger}{caller}{body}{extra}"


def windows_cbs_line(r: Rng) -> str:
    lvl = r.choice(["Info", "Warning", "Error", "Critical", "Verbose", "Perf"])
    pad, pad2 = " " * r.randint(1, 20), " " * r.randint(1, 4)
    return f"{date(r)} {hms(r)}, {lvl}{pad}{r.choice(['CBS', 'CSI'])}{pad2}{msg(r)}"


def go_log_line(r: Rng) -> str:
    return f"{date(r, '/')} {hms(r)}{frac(r, r.choice([0, 6]))} {msg(r)}"


def timestamp_level_line(r: Rng) -> str:
    open_, close = r.choice([("", ""), ("[", "]")])
    lo, lc = r.choice([("", ""), ("[", "]")])
    stamp = iso(r, r.choice("T "), zone_needed=False)
    return f"{open_}{stamp}{close} {lo}{level(r)}{lc}{r.choice(['', ':'])} {msg(r)}"


def level_first_line(r: Rng) -> str:
    lo, lc = r.choice([("", ""), ("[", "]")])
    return f"{lo}{level(r)}{lc}{r.choice(['', ':'])}{r.choice([' ', '  ', chr(9)])}{msg(r)}"


def plain_line(r: Rng) -> str:
    alphabet = 'abcXYZ0123 =:"\\[]{}-.\t,\u00e9level=msg='
    return r.choice(
        [
            msg(r),
            "".join(r.choice(alphabet) for _ in range(r.randint(0, 40))),
            f"{r.choice(HOSTS)} {msg(r)}",
        ]
    )


LINES: dict[str, Callable[[Rng], str]] = {
    "cri": cri_line,
    "rfc5424": rfc5424_line,
    "rfc3164": rfc3164_line,
    "syslog_iso": syslog_iso_line,
    "klog": klog_line,
    "logcat": logcat_line,
    "logcat_brief": logcat_brief_line,
    "spring_boot": spring_line,
    "zookeeper": zookeeper_line,
    "kafka": kafka_line,
    "log4j": log4j_line,
    "logback": logback_line,
    "python": python_line,
    "python_default": python_default_line,
    "gunicorn": gunicorn_line,
    "postgres": postgres_line,
    "mysql": mysql_line,
    "redis": redis_line,
    "nginx_error": nginx_error_line,
    "apache_error": apache_error_line,
    "access": access_line,
    "zap_console": zap_line,
    "windows_cbs": windows_cbs_line,
    "go_log": go_log_line,
    "timestamp_level": timestamp_level_line,
    "level_first": level_first_line,
    "logfmt": logfmt_line,
    "plain": plain_line,
}

# ---- JSON records ----------------------------------------------------------------------------

TEXT_KEYS = [*defaults.TEXT_FIELDS, "event.original/nested", None]
LEVEL_VALUES: list[Any] = ["info", "WARN", " error ", "", "  ", "unknown", "E", "Warning", 3, None]
TIMESTAMP_VALUES: list[Any] = [
    1_700_000_000,
    1_700_000_000_123,
    1_700_000_000_123_456,
    1_700_000_000.5,
    1_700_000_000.123456789,
    1_700_000_000_123.4,
    0,
    -1,
    -62_135_596_800,
    -62_135_596_801,
    253_402_300_799,
    253_402_300_800,
    99_999_999_999,
    1e300,
    -1e20,
    0.0000005,
    1.0000005,
    "1700000000",
    "1700000000123",
    "1700000000123456",
    "0001700000000",
    "",
    "not a date",
    "2026-11-29T10:00:00Z",
    "2026-11-29 10:00:00,123",
    "2026-11-29T10:00:00.000000001+05:30",
    "  2026-11-29T10:00:00.5  ",
    "2026-11-29T10:00:00 +0100",
    "2026-02-29T10:00:00Z",
    "0001-01-01T00:00:00-01:00",
    "2026-11-29T10:00:00+00:99",
    True,
    None,
    {"nested": 1},
    [],
]


def iso_value(r: Rng) -> str:
    return iso(r, r.choice("T "), zone_needed=False)


def json_record(r: Rng, depth: int = 0) -> dict[str, Any]:
    rec: dict[str, Any] = {}
    key = r.choice(TEXT_KEYS)
    text: Any = r.choice([msg(r), klog_line(r), log4j_line(r), logfmt_line(r), cri_line(r)])
    if r.random() < 0.03:
        text = r.choice([17, None, ["a"]])  # not a string: a dead letter, or no text
    if key == "event.original/nested":
        rec["event"] = {"original": text}
    elif key is not None:
        rec[key] = text
    for _ in range(r.randint(0, 3)):  # the level, as text
        lk = r.choice(["level", "severity", "lvl", "levelname", "log.level", "SeverityText",
                       "severity_text", "@l", "loglevel", "log.level/nested"])  # fmt: skip
        value: Any = r.choice(LEVEL_VALUES + LEVEL_WORDS)
        if lk == "log.level/nested":
            if "log" not in rec:  # {"log": {"level": ...}}: ECS's nested form
                rec["log"] = {"level": value}
        else:
            rec[lk] = value
    for _ in range(r.randint(0, 2)):  # the level, as a number
        nk = r.choice(["SeverityNumber", "severity_number", "PRIORITY", "level"])
        rec[nk] = r.choice(
            [r.randint(0, 25), r.choice([10, 20, 30, 40, 50, 60, 35, 70, -1]), str(r.randint(0, 9)),
             9.0, True, "x", 2**70, "0" * 20 + "5", None]
        )  # fmt: skip
    for out, keys in {
        "timestamp": ["@timestamp", "timestamp", "time", "ts", "Timestamp", "__REALTIME_TIMESTAMP"],
        "host": ["host.name", "hostname", "host", "_HOSTNAME", "host/nested"],
        "service": [
            "service.name",
            "service",
            "app",
            "SYSLOG_IDENTIFIER",
            "_COMM",
            "service/nested",
        ],
        "pid": ["process.pid", "pid", "_PID"],
        "thread": ["process.thread.name", "thread", "thread_name"],
        "logger": ["log.logger", "logger", "logger_name", "name"],
        "unit": ["_SYSTEMD_UNIT", "systemd.unit", "unit"],
        "stream": ["stream"],
        "caller": ["caller", "log.origin.file.name"],
    }.items():
        if r.random() < 0.5:
            continue
        k = r.choice(keys)
        if out == "timestamp":
            value = r.choice([iso_value(r), iso_value(r), r.choice(TIMESTAMP_VALUES)])
        elif out == "pid":
            value = r.choice([int(pid(r)), pid(r), None, True, {"x": 1}, "abc"])
        else:
            value = r.choice(
                [r.choice(HOSTS + SERVICES + THREADS + LOGGERS), None, "", "caf\u00e9"]
            )
            if out == "caller":
                value = r.choice([caller(r), caller(r), value, 17])
        if k.endswith("/nested"):
            rec[k.split("/")[0]] = {"name": value}
        else:
            rec[k] = value
    if depth == 0 and r.random() < 0.1:
        rec["extra"] = {"deep": [1, 2.5, {"x": None}], "f": 0.1}
    return rec


def journald_record(r: Rng) -> dict[str, Any]:
    """journald's JSON export: every value a string."""
    return {
        "__REALTIME_TIMESTAMP": str(r.randint(1_600_000_000_000_000, 1_800_000_000_000_000)),
        "PRIORITY": str(r.randint(0, 7)),
        "_PID": pid(r),
        "_HOSTNAME": r.choice(HOSTS),
        "SYSLOG_IDENTIFIER": r.choice(SERVICES),
        "_SYSTEMD_UNIT": r.choice(["kubelet.service", "ssh.service"]),
        "MESSAGE": r.choice([klog_line(r), msg(r), logfmt_line(r)]),
    }


def zap_record(r: Rng) -> dict[str, Any]:
    """zap's, logrus' and pino's JSON encoders."""
    rec: dict[str, Any] = {
        "level": r.choice(["info", "warn", "error", "debug", "dpanic", 30, 40, 50, 60]),
        r.choice(["ts", "time"]): r.choice(
            [1_700_000_000 + r.random(), r.randint(1_600_000_000_000, 1_800_000_000_000), iso(r)]
        ),
        "caller": caller(r),
        r.choice(["msg", "message"]): msg(r),
    }
    if r.random() < 0.5:
        rec["logger"] = r.choice(LOGGERS)
    if r.random() < 0.3:
        rec[r.choice(["pid", "hostname", "name"])] = r.choice(
            [pid(r), int(pid(r)), r.choice(HOSTS)]
        )
    return rec


def docker_record(r: Rng) -> bytes:
    line = r.choice([klog_line, log4j_line, json_line, logfmt_line, cri_line, plain_line])(r)
    rec = {"log": line + r.choice(["\n", "", "\n\n"]), "stream": r.choice(["stdout", "stderr"])}
    rec["time"] = f"{date(r)}T{hms(r)}.{r.randint(0, 10**9 - 1):09d}Z"
    return json.dumps(rec).encode()


# ---- the tests -------------------------------------------------------------------------------


def test_every_example_of_the_formats_file() -> None:
    doc = yaml.safe_load(defaults.FORMATS_FILE.read_text(encoding="utf-8"))
    lines = [e["line"] for f in doc["formats"] for e in f.get("examples", [])]
    lines += [c for f in doc["formats"] for c in f.get("counter_examples", [])]
    assert len(lines) >= len(doc["formats"])
    records = records_of(lines)
    assert compare(records) == 0
    assert compare(records, [None] * len(records)) == 0


@pytest.mark.parametrize("name", sorted(LINES))
def test_lines_of_each_format(name: str) -> None:
    r = random.Random(name)
    lines = [LINES[name](r) for _ in range(400)]
    records = records_of(lines)
    left = compare(records, years_for(len(records), r))
    # what is left to Python: non-ASCII logfmt lines, levels, timestamps (and lone surrogates)
    assert left < len(records) * 0.2
    if name != "plain":  # the line shapes reach the format they are built for
        found = {parsed_format(F, rec).split("/")[0] for rec in records[:50]}
        assert name in found


def test_json_records_of_every_key_variant() -> None:
    r = random.Random(5)
    values = [
        json.dumps(json_record(r), ensure_ascii=r.random() < 0.5).encode() for _ in range(3000)
    ]
    values += [json.dumps(journald_record(r)).encode() for _ in range(500)]
    values += [json.dumps(zap_record(r), ensure_ascii=False).encode() for _ in range(500)]
    records = values_of(values)
    assert len(records) > 3500
    left = compare(records, years_for(len(records), r))
    assert left < len(records) * 0.15


def test_container_records_wrapping_lines_and_json() -> None:
    r = random.Random(9)
    values = [docker_record(r) for _ in range(1500)]
    # CRI lines around a JSON record, and Docker records around CRI lines around JSON
    values += [f"{iso(r)} stdout F {json.dumps(json_record(r, 1))}".encode() for _ in range(1500)]
    records = values_of(values)
    left = compare(records, years_for(len(records), r))
    assert left < len(records) * 0.15
    formats = {parsed_format(F, rec) for rec in records}
    assert {"json/klog", "json/log4j", "json/cri/json", "cri/json", "json/logfmt"} <= formats


def test_edge_cases() -> None:
    lines = [
        "",
        " ",
        "{",
        "{}",
        "{not json",
        '{"message": "x"} trailing',
        "level=",
        "msg=",
        "=",
        "t=1",
        "a level=info",
        "x msg=hello level=error",
        'level=info msg="unterminated',
        'msg="a\\"',
        'msg="\\ud83d\\ude00 pair" level="\\u0057ARN"',
        'msg="\\udc00 lone low"',
        'level=info msg="x" level=error',
        "ts=1700000000 msg=epoch",
        "ts=99999999999999999999999 msg=huge",
        "time=2026-11-29T10:00:00+24:00 msg=bad-offset",
        "level=30 msg=pino-as-text",
        "\u00e9 level=info msg=unicode",
        "2026-11-29T10:00:00.123Z stdout F ",
        "2026-11-29T10:00:00.123Z stdout F {}",
        '2026-11-29T10:00:00.123Z stdout F {"log": "W1129 10:00:00.000123 1 x.go:1] nested\\n"}',
        '2026-11-29T10:00:00.123Z stdout F {"message": 5}',
        '2026-11-29T10:00:00.123Z stdout F {"message": "x", "ts": NaN}',
        '2026-11-29T10:00:00.123Z stdout F {"msg": "lone \\ud800"}',
        "2026-11-29T10:00:00.123Z stdout F [1, 2]",
        "2026-11-29T10:00:00.123Z stdout F 2026-11-29T10:00:00.123Z stderr P level=warn msg=x",
        "<999>1 - - - - - -",
        "<7>1 - - - - - - ",
        "<34>Nov  1 10:00:00 h s[1]: x",
        "Feb 29 10:00:00 h s: leap?",
        "1:M 29 Nov 2026 10:00:00.123 - dash level",
        "1:M 29 Nov 2026 10:00:00.123 . dot level",
        "123456789012345678901:M 29 Nov 2026 10:00:00.123 * big pid",
        "2026-11-29 10:00:00.123 UTC [00042] LOG:  leading zeros",
        "2026-11-29T10:00:00.123456789+05:30 db-1 systemd[1]: ns",
        "0999-01-01T00:00:00.5Z web s: year 999",
        "0001-01-01T00:00:00+01:00 web s: before year 1",
        "9999-12-31T23:59:59-01:00 web s: after year 9999",
        "[WARN]\tx",
        "ERROR \u00e9t\u00e9",
        "INFO\u00a0nbsp",
        "\ud800 lone surrogate line",
        # RE2's \s is [\t\n\f\r ], Python's (logfmt) also \v and \x1c-\x1f
        "W1129 10:00:00.000123\x0b12345 x.go:1] vertical tab",
        "W1129 10:00:00.000123\x0c12345 x.go:1] form feed",
        "[WARN]\x0bvertical tab",
        "level=info\x0bmsg=x",
        "level=info\x1cmsg=x\x1fk=v",
        "level=info msg=x\u3000k=v\u00a0z=1",
        "Nov  1 10:00:00 h s[1]: two\nlines",
        "2026-11-29T10:00:00.123Z stdout F two\nlines",
        "W1129 10:00:00.000123 1 x.go:1] two\nlines",
        'level=info msg="two\nlines" x="a\\\nb"',
        "h\u00e9llo=1 level=info msg=x",
        "\u00e9=1 level=info msg=x",
        "k\u00e9 level=info msg=x",
        "caf\u00e9=1",
    ]
    records = records_of(lines)
    for year in (2026, None, 1, 9999, 10000, 0, -5, 2**70):
        compare(records, [year] * len(records))
    dicts: list[dict[str, Any]] = [
        {},
        {"message": "x", "level": "\u0130NFO"},
        {"message": "x", "level": "\u00a0"},
        {"message": "x", "level": "  ", "SeverityNumber": 13},
        {"message": "x", "PRIORITY": "\u0663"},
        {"message": "x", "pid": 2**70},
        {"message": "x", "pid": 1.5},
        {"message": "x", "pid": False},
        {"message": "x", "host": {"name": "web-1"}, "host.name": None},
        {"message": "x", "host": {"name": {"deep": 1}}},
        {"message": "x", "service": {"name": "api"}, "service.name": "flat"},
        {"message": "x", "ts": "\u0662026-11-29T10:00:00Z"},
        {"message": "x", "ts": "2026-11-29T10:00:00+24:00"},
        {"message": "x", "ts": "0001-01-01T00:00:00+00:01"},
        {"message": "x", "ts": "9" * 30},
        {"message": "x", "ts": float("nan")},
        {"message": "x", "ts": float("inf")},
        {"message": "x", "ts": 2**70},
        {"message": "x", "ts": False, "time": 1_700_000_000},
        {"message": "x", "level": 60, "SeverityNumber": 9.0, "PRIORITY": "3"},
        {"message": "x", "severity_number": 24, "level": {"x": 1}},
        {"message": "x", "level": 35},
        {"message": "x", "level": "1" * 25},
        {"log": "\n", "stream": "stdout"},
        {"log": "plain\n"},
        {"log": "", "time": "2026-11-29T10:00:00Z"},
        {"log": "level=warn msg=inner\n", "time": "2026-11-29T10:00:00Z", "level": "info"},
        {"msg": "lone \ud800"},
        {"message": "x", "logger": "\ud800"},
        {"event": {"original": "nested text"}, "@l": "Warning"},
        {"message": "x", "extra": object()},
    ]
    recs = [LogRecord(d.get("message", ""), d, "message") for d in dicts]
    recs += [LogRecord(str(d.get("log", "")), d, "log") for d in dicts]
    recs += [LogRecord("  padded\n\n", {"log": 1}, "log"), LogRecord("x", {}, None)]
    compare(recs, [2026] * len(recs))


CUSTOM = """
levels:
  chatty: [DEBUG, 3]
  info: [WARNING, 13]
formats:
  - name: wrapped
    regex: '^WRAP (?P<body>.*)$'
    reparse: true
  - name: epoch
    regex: '^@epoch (?P<timestamp>\\S+) (?P<level>\\w+) (?P<body>.*)$'
    timestamp: epoch
    levels: {chatty: [INFO, 9]}
  - name: groups
    regex: >-
      ^GROUPS (?P<format>\\S+) (?P<thread>\\S+) (?P<thread2>\\S+) (?P<pid>\\S+)
      (?P<pri>\\S+)(?: (?P<body>.*))?$
  - name: ascii
    regex: >-
      ^(?i)ascii\\b(?P<level>[a-z]+)\\s(?P<lineno>\\d+|x)\\W(?P<thread>[^\\]\\[&~]+)(?P<body>.*)$
  - name: noname
    regex: '^NONAME (\\w+) (?P<body>.*)$'
  - name: braces
    regex: '^BRACES a{,2} b{ 2} c{2} \\<(?P<thread>\\w{2,3})\\> (?P<body>.*)$'
  - name: greek
    regex: '^GREEK (?P<thread>\\p{Greek}+)\\b(?P<body>.*)$'
"""
KINDS = ["iso8601", "rfc3164", "klog", "logcat", "apache", "apache_error", "slash", "redis"]
for kind in KINDS:
    CUSTOM += f"  - name: ts_{kind}\n    regex: '^@{kind}@(?P<timestamp>[^@]*)@ ?(?P<body>.*)$'\n"
    CUSTOM += f"    timestamp: {kind}\n"

TIMESTAMP_TEXTS = [
    "29/Nov/2026:10:00:00 +0000",
    " 5/Nov/2026:10:00:00 +0530",
    "+5/Nov/2026:10:00:00 +0000",
    "-5/Nov/2026:10:00:00 +0000",
    "0_5/Nov/2026:10:00:00 +0000",
    "05/Nov/2026:10:00:00  +0000",
    "05/Nov/2026/10:00:00 +0000",
    "31/Nov/2026:10:00:00 +0000",
    "005/Nov/2026:10:00:00 +0000",
    "29/Foo/2026:10:00:00 +0000",
    "Sun Nov 29 10:00:00.123456 2026",
    "Sun Nov  1 10:00:00 2026",
    "Sun Nov 1_0 10:00:00 2026",
    "29 Nov 2026 10:00:00.123",
    "29 Nov 2026 10:00:00,5",
    "Nov  1 10:00:00",
    "Feb 29 10:00:00",
    "Nov 1 10:00:00 extra",
    "1129 10:00:00.000123",
    "1 10:00:00",
    "11-29 10:00:00.123",
    "2026-11-29 10:00:00 UTC",
    "2026-11-29 10:00:00 UTC UTC",
    "2026/11/29 10:00:00.5",
    "2026/11/29/10:00:00",
    "1700000000",
    "1700000000.25",
    "-1.5",
    "+.5",
    "1e9",
    "nan",
    "99999999999999999999",
    "",
    " ",
    "\t2026-11-29T10:00:00Z\x1c",
    "2026-11-29T10:00:00\x0b+01:00",
]


def test_custom_formats_timestamp_kinds_and_regex_syntax() -> None:
    custom = yaml.safe_load(CUSTOM)
    builtin = yaml.safe_load(defaults.FORMATS_FILE.read_text(encoding="utf-8"))
    formats = parse_formats([(custom, "<custom>"), (builtin, "<builtin>")])
    lines = [f"@{kind}@{t}@ body" for kind in KINDS for t in TIMESTAMP_TEXTS]
    lines += [f"@epoch {t} {lvl} x" for t in TIMESTAMP_TEXTS for lvl in ("chatty", "info", "w")]
    lines += [
        "GROUPS myfmt t1 t2 42 13 body",
        "GROUPS - - t2 - - ",
        "GROUPS f - t2 0042 x",
        "GROUPS f a b 123456789012345678901234 7 big pid",
        "ASCIIwarn 12 main] x",
        "asciiINFO x\u00e9 body",
        "ascii\u00e9info 1 x",
        "ASCIIerror 1\u00e9[a&b~c] y",
        "ASCII_info 1 z",
        "NONAME word body",
        "BRACES a{,2} b{ 2} cc <ab> x",
        "BRACES aa bb cc <ab> x",
        "BRACES a{,2} b{ 2} c{2} <ab> x",
        "GREEK \u03b1\u03b2\u03b3 x",
        "GREEK \u03b1\u03b2\u03b3x",
    ]
    r = random.Random(3)
    for _ in range(300):
        inner = r.choice([json_line, logfmt_line, cri_line, klog_line, plain_line])(r)
        lines.append(f"WRAP {inner}")
        lines.append(f"WRAP WRAP {inner}")
        lines.append(f"WRAP WRAP WRAP {inner}")
    records = records_of(lines)
    for year in (2026, None, 2024):
        left = compare(records, [year] * len(records), formats)
        assert left < len(records) * 0.2


def test_deeply_nested_lines_are_left_to_python() -> None:
    """A logfmt msg of a logfmt msg ...: parsed natively a few levels down, then left to
    Python (which raises RecursionError some 250 levels down)."""
    records = [LogRecord("msg=" * n + "x") for n in (1, 10, 50, 100, 10_000)]
    bodies, _codes, _fields = native.Parser(F.spec()).parse_many(records, [2026] * 5)
    assert bodies[:3] == ["x", "x", "x"]
    assert bodies[3:] == [None, None]
    compare(records[:3])


def test_a_pattern_the_regex_crate_cannot_compile_is_a_value_error() -> None:
    doc = {"formats": [{"name": "quoted_literal", "regex": r"^\Qa.b\E (?P<body>.*)$"}]}
    formats = parse_formats([(doc, "<test>")])
    with pytest.raises(ValueError, match="quoted_literal"):
        native.Parser(formats.spec())


def test_generated_samples_are_parsed_natively() -> None:
    records = values_of([v for _s, v in generate(20_000, seed=13)])
    r = random.Random(13)
    left = compare(records, years_for(len(records), r))
    assert left < len(records) * 0.01


def test_years_must_match_records() -> None:
    parser = native.Parser(F.spec())
    with pytest.raises(ValueError, match="years"):
        parser.parse_many([LogRecord("x")], [])
    with pytest.raises(ValueError, match="years"):
        parser.parse_many([], [2026])
