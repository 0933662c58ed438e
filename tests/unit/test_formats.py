"""One codec per topic: what each writes is what it reads back, keys included."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from enrich.core.formats import (
    ENRICHMENT_KEYS,
    DeadLetterCodec,
    EnrichedCodec,
    LabelCodec,
    LabelRecord,
    ReviewCodec,
    ReviewItem,
)
from enrich.core.labels import DEFAULT_TAXONOMY, Label
from enrich.core.records import DeadLetter, LogRecord, Source

LABEL = Label("ERROR", "State change", "Software Infrastructure")


@pytest.mark.parametrize(
    "record",
    [
        # a rule label, stamped when written
        LabelRecord("ab" * 16, "disk full on /var", LABEL, "rules", "disk-full", "logs.raw:0:7"),
        # a person's label keeps who and when
        LabelRecord("cd" * 16, "x", LABEL, "human", by="ann", labelled_at=1_700_000_000_123),
    ],
)
def test_a_label_reads_back_as_written(record: LabelRecord) -> None:
    value = LabelCodec.encode(record, written_at=42)
    back = LabelCodec.decode(value, DEFAULT_TAXONOMY)
    assert back.fingerprint == record.fingerprint
    assert (back.text, back.label, back.source) == (record.text, record.label, record.source)
    assert (back.rule, back.origin, back.by) == (record.rule, record.origin, record.by)
    assert back.labelled_at == (record.labelled_at or 42)
    key = LabelCodec.key(record.source, record.fingerprint)
    assert LabelCodec.parse_key(key.encode()) == (record.source, record.fingerprint)


@pytest.mark.parametrize("key", [b"robot:abc", b"no-separator", b"\xff\xfe:x"])
def test_a_key_of_another_shape_is_not_a_label_key(key: bytes) -> None:
    with pytest.raises(ValueError):  # noqa: PT011  # UnicodeDecodeError is one too
        LabelCodec.parse_key(key)


def test_a_label_outside_the_taxonomy_is_refused_on_read() -> None:
    value = LabelCodec.encode(LabelRecord("f", "t", Label("LOUD", "x", "y"), "rules"))
    with pytest.raises(ValueError, match="LOUD"):
        LabelCodec.decode(value, DEFAULT_TAXONOMY)


def test_a_review_item_reads_back_as_written() -> None:
    item = ReviewItem(
        "ef" * 16, "quux", {"host": "h1"}, LABEL.to_dict(), 0.4, 0.6, "diverse", "t:1:2"
    )
    back = ReviewCodec.decode(ReviewCodec.encode(item, written_at=99))
    assert back == replace(item, queued_at=99)
    assert ReviewCodec.key(item) == item.fingerprint


def test_a_dead_letter_keeps_its_bytes_and_says_why_in_headers() -> None:
    dead = DeadLetter("invalid_utf8", "byte 3", b"ab\xffc", Source("logs.raw", 2, 9, 1234, b"k"))
    headers = DeadLetterCodec.headers(dead)
    assert dict(headers)["reason"] == b"invalid_utf8"
    assert DeadLetterCodec.key(dead) == "logs.raw:2:9"
    assert DeadLetterCodec.decode(dead.value, headers) == dead


def test_an_enriched_record_keeps_a_clashing_input_field_apart() -> None:
    rec = LogRecord("boom", {"message": "boom", "severity": "mine", "host": "h"}, "message")
    record = EnrichedCodec.record(rec, {"severity": "ERROR"})
    assert record["severity"] == "ERROR"
    assert record["original_fields"] == {"severity": "mine"}
    assert EnrichedCodec.decode(EnrichedCodec.encode(record)) == json.loads(json.dumps(record))
    assert EnrichedCodec.key(Source("logs.raw", 1, 5)) == "logs.raw:1:5"
    assert "source" in ENRICHMENT_KEYS
