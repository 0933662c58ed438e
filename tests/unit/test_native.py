"""The native normaliser (native/, Rust) gives exactly what the Python reference gives.

``enrich.core.normalize.normalize`` is the reference; ``enrich_native.normalize_many`` must agree
on every ASCII line and hand every other line back (``None``) to the Python path.
"""

from __future__ import annotations

import random

import pytest

from enrich.core.labels import DEFAULT_TAXONOMY, Label
from enrich.core.normalize import normalize, normalize_many
from enrich.core.records import LogRecord, decode
from enrich.samples import generate
from tests.native_build import native_module
from tests.unit.fixed_model import fixed_model

native = native_module()

EDGE_TOKENS = [
    "0x",
    "0x1F",
    "0xZZ",
    "0X1F",
    "abcdef",
    "abcde1",
    "abc12",
    "ABCDEF12",
    "deadbeef",
    "<NUM>",
    "<ab>",
    "<A1>",
    "<HTTP_5XX>",
    "'x'",
    '"x"',
    "'x\"",
    "..",
    ".5",
    "5.",
    "1..2",
    "1.2.3.4",
    "1.2.3.4:80",
    "1.2.3.4:123456",
    "999.999.999.999",
    "1.2.3.4.5",
    "::1",
    "a:b:c",
    "fe80::1",
    "fe80::1%eth0",
    "SHA256:abc+/=",
    "SHA256:",
    "2026-11-01",
    "2026-11-01T10:00:00Z",
    "2026-11-01 10:00:00",
    "2026-11-01T10:00:00.123+02:00",
    "01/Nov/2026:10:00:00",
    "01/nov/2026:10:00:00",
    "10:00:00",
    "10:00:00,123",
    "1:00:00",
    "/var/log/x",
    "/var",
    "s3://b/k/",
    "http://host/a/b",
    "C:/x/y",
    "+5",
    "-5.5",
    "1,5",
    "--5",
    "deadbeef-dead-beef-dead-beefdeadbeef",
    "12345678-1234-1234-1234-1234567890ab",
    "[<TS>",
    "(<IP>),",
    "sshd[812]:",
    "pid=42;",
    "key=user:42",
    "v1.2.3-rc4",
    "[]",
    "()",
    "''",
    '""',
    "`x`",
    "x:",
    "x.",
    "::",
    "-",
    "+",
    "a_b",
    "_1",
    "1_000",
    "e1",
    "1e5",
]


def _corpus() -> list[str]:
    lines = []
    for _source, value in generate(20_000, seed=7):
        record = decode(value)
        if isinstance(record, LogRecord):
            lines.append(record.text)
    lines += EDGE_TOKENS
    lines += [f"x {a} {b} y" for a, b in zip(EDGE_TOKENS, reversed(EDGE_TOKENS), strict=True)]
    lines += [
        "Nov  1 10:00:00 web-01 sshd[812]: Accepted publickey for root",
        "Nov 1 10:00:00 web-01",  # a header and nothing else: not dropped (4 tokens)
        "Nov 01 1:00:00 web-01 x y",  # the clock is not hh:mm:ss: kept
        'GET "/x" 503 done',
        '"GET / HTTP/1.1" 503 12 "GET / HTTP/1.1" 200',
        '"a" 600 "b" 099 "c" 404',
        'x" 200',  # '" ' present, the code follows a token ending in a quote
        "a\x1cb\x1dc\x1ed\x1fe\x0bf\x0cg\rh\ti\nj",  # what str.split() splits on
        "   leading and trailing   ",
        "",
    ]
    rng = random.Random(11)
    alphabet = "0123456789abcdefABCDEFxXSHA:/.-+_,;[](){}<>\"'`@%~= \t\x1c"
    lines += [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(20_000)
    ]
    return lines


def test_native_equals_the_python_reference_on_ascii_lines() -> None:
    lines = _corpus()
    got = native.normalize_many(lines)
    mismatches = [
        (line, n, normalize(line))
        for line, n in zip(lines, got, strict=True)
        if n != normalize(line)
    ]
    assert mismatches[:5] == []
    assert len(lines) > 40_000


def test_non_ascii_lines_go_back_to_python() -> None:
    lines = ["caf\u00e9 12 ok", "\u0661\u0662\u0663 arabic digits", "x\u00a0y 5", "\ud800 7"]
    assert native.normalize_many(lines) == [None] * 4
    assert normalize_many(lines) == [normalize(line) for line in lines]
    mixed = ["plain 12", *lines, "more 0x1f"]
    assert normalize_many(mixed) == [normalize(line) for line in mixed]


def test_native_outputs_are_byte_identical_to_the_python_encoder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every route and input kind, escapes included, through the three encoders."""
    from enrich.core.parse import LogFormats
    from enrich.core.records import RawBatch
    from enrich.core.rules import load_rules
    from enrich.engine import output
    from enrich.engine.routing import enrich_batch

    values: list[bytes | None] = [v for _s, v in generate(3_000, seed=3)]
    values += [
        b'{"message": "quote \\" backslash \\\\ tab \\t ctl \\u0001 \\u00e9 \\ud83d\\ude00"}',
        'plain line with "quotes", \\ and \t tab, caf\u00e9 \U0001f600 \x01 \x7f'.encode(),
        b"backspace \x08 and form feed \x0c, as msgspec escapes them",
        b'{"message": "clash", "severity": "mine"}',  # a reserved key: the object path
        b'{"message": "lone \\ud800 surrogate"}',  # only the stdlib reads it
        b"{}",
        b'  {"message": "leading blank"}',
        None,  # a dead letter shifts the rows
        b'{"log": "x", "n": 1.0e3, "big": 123456789012345678901234567890}  \r\n',
        # template parameters: a syslog header, Unicode and \x1c separators, a split marker
        b"Nov  3 10:00:00 web-01 sshd[812]: Accepted password for bob from 10.0.0.7 port 5 ssh2",
        "caf\u00e9\u00a0au lait 42 times\u2003over".encode(),
        b"sep\x1cfield 7 of 9",
        b"Task exited with return code 137",
        b"Task exited with return code 0",
    ]
    batch_in = RawBatch(
        "logs.raw",
        2,
        values,
        list(range(1000, 1000 + len(values))),
        [None if i % 7 == 0 else 1_700_000_000_000 + i for i in range(len(values))],
        [None] * len(values),
    )
    rules = load_rules()
    # confident on two templates (the model's route); the rest goes to the rules or review
    model = fixed_model(
        (Label("INFO", "Heartbeat", "Monitoring & Logging"), DEFAULT_TAXONOMY.fallback),
        {"heartbeat": 0.9, "GET": 0.95},
    )
    for m in (None, model):
        # the native front's batch, written by encode_front
        native_out = enrich_batch(batch_in, m, rules)
        # the Python front's columns, written by encode_records (a format Rust cannot compile)
        with monkeypatch.context() as patch:
            patch.setattr(LogFormats, "native_parser", lambda self: None)
            records_out = enrich_batch(batch_in, m, rules)
        # the Python loop, the reference
        with monkeypatch.context() as patch:
            patch.setattr(output, "_native_encode_front", None)
            patch.setattr(output, "_native_encode_records", None)
            python_out = enrich_batch(batch_in, m, rules)
        assert native_out.enriched == records_out.enriched == python_out.enriched
        assert native_out.enriched_keys == records_out.enriched_keys == python_out.enriched_keys
        assert len(native_out.enriched) == len(values) - 1
    routes = {r["labelled_by"] for r in native_out.records()}
    assert routes == {"model", "rules", "none"}


def test_native_fingerprints_are_hashlibs() -> None:
    from enrich.core.normalize import fingerprint

    texts = [
        "",
        "Accepted publickey for <*> from <IP> port <NUM> ssh<NUM>",
        "déjà vu <NUM>",
        "lone \ud800 surrogate",  # from a JSON escape: hashed as surrogatepass encodes it
        *(normalize(v.decode("utf-8", "replace")) for _s, v in generate(300, seed=3)),
    ]
    plain, quoted = native.fingerprints(texts)
    assert plain == [fingerprint(t) for t in texts]
    assert quoted == [b'"%s"' % fingerprint(t).encode() for t in texts]
