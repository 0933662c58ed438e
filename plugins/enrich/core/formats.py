"""The record format of every topic the pipeline writes: one codec per topic.

Each codec says the record's key, its value as bytes, and how to read the value back:

* ``EnrichedCodec`` — the output topic: the input record with the enrichment keys added,
  keyed ``topic:partition:offset`` of its source (``enrich.engine.output`` writes the same
  bytes faster, for whole batches);
* ``LabelCodec`` — the compacted labels topic: one :class:`LabelRecord`, keyed
  ``<source>:<fingerprint>``;
* ``ReviewCodec`` — the review queue: one :class:`ReviewItem`, keyed by fingerprint;
* ``DeadLetterCodec`` — the dead-letter topic: the original bytes, keyed by the source
  coordinates, with the reason in headers.

Pure: no Kafka client is needed to encode or decode (headers are ``(name, bytes)`` pairs).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from enrich.core.labels import Label, Taxonomy
from enrich.core.records import DeadLetter, LogRecord, Source, encode_json

Headers = list[tuple[str, bytes]]


def now_ms() -> int:
    return int(time.time() * 1000)


# ---- the output topic -------------------------------------------------------------------

# Keys this project adds to a record; an input field of the same name is kept in
# ``original_fields`` instead of being overwritten.
ENRICHMENT_KEYS = (
    "severity",
    "event_type",
    "category",
    "confidence",
    "labelled_by",
    "needs_review",
    "model",
    "rule",
    "fingerprint",
    "template_id",
    "template",
    "source",
    "severity_by",
    "parsed",
)
# who labelled an output record (its ``labelled_by``)
BY_MODEL, BY_RULES, BY_HUMAN, BY_NOBODY = "model", "rules", "human", "none"


class EnrichedCodec:
    """An enriched record: the input's own fields (or ``message`` for a plain line), then the
    enrichment: ``severity``, ``event_type``, ``category``, ``labelled_by`` (who chose the
    event type and category: human, model, rules or none), ``severity_by`` (``human`` for a
    person's label, ``line`` when the line states its level, else as ``labelled_by``),
    ``needs_review``, ``model``, ``rule``, ``confidence``, ``fingerprint``, ``template_id``
    and ``template`` (the template mined from the message body, ``enrich.core.templates``),
    ``source`` (topic, partition, offset, timestamp of the input) and ``parsed`` (what the
    parser found: format, timestamp, level, host, ...)."""

    @staticmethod
    def key(source: Source) -> str:
        return source.coordinates

    @staticmethod
    def record(rec: LogRecord, enrichment: Mapping[str, Any]) -> dict[str, Any]:
        """The output object: input fields clashing with an enrichment key move to
        ``original_fields``."""
        if rec.fields is None:
            return {"message": rec.text, **enrichment}
        out = dict(rec.fields)
        clashes = {k: out.pop(k) for k in ENRICHMENT_KEYS if k in out}
        if clashes:
            out["original_fields"] = clashes
        out.update(enrichment)
        return out

    @staticmethod
    def encode(record: Mapping[str, Any]) -> bytes:
        return encode_json(record)

    @staticmethod
    def decode(value: bytes) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(value)
        return out


# ---- the templates topic (compacted) -----------------------------------------------------


class TemplateCodec:
    """The template miner's state (``enrich.core.templates``), one record per template id:
    key the id; value ``{"template", "count", "last", "first"}`` for a template, or
    ``{"replaced_by": id}`` for an id that generalised into another; a tombstone (no value)
    for an evicted template, which compaction then drops."""

    @staticmethod
    def key(record: Mapping[str, Any]) -> bytes:
        return str(record["id"]).encode()

    @staticmethod
    def encode(record: Mapping[str, Any]) -> bytes | None:
        if record.get("evicted"):
            return None
        return encode_json({k: v for k, v in record.items() if k != "id"})

    @staticmethod
    def decode(key: bytes, value: bytes | None) -> dict[str, Any] | None:
        """The record of a message (None for a tombstone); ValueError if unreadable."""
        if value is None:
            return None
        body = json.loads(value)
        if not isinstance(body, dict):
            raise ValueError("a template record is a JSON object")
        return {**body, "id": key.decode("utf-8")}


# ---- the labels topic (compacted) --------------------------------------------------------

# A human label outranks a rule label of the same line.
SOURCE_RANK = {"rules": 0, "human": 1}
RULES, HUMAN = "rules", "human"


@dataclass(frozen=True)
class LabelRecord:
    """A label that teaches the model, for the line with this fingerprint (of its normalised
    text). ``origin``: the source coordinates of the line it was made from; ``by``: who
    labelled it (people's labels); ``labelled_at``: epoch ms (None: when it is written)."""

    fingerprint: str
    text: str
    label: Label
    source: str  # "rules" or "human"
    rule: str | None = None
    origin: str | None = None
    by: str | None = None
    labelled_at: int | None = None


class LabelCodec:
    """Key ``<source>:<fingerprint>``: one latest label per (source, line), so a later rule
    label never compacts away a person's label of the same line."""

    @staticmethod
    def key(source: str, fingerprint: str) -> str:
        return f"{source}:{fingerprint}"

    @staticmethod
    def parse_key(key: bytes) -> tuple[str, str]:
        """``(source, fingerprint)`` of a key; ValueError for a key of another shape."""
        source, sep, fingerprint = key.decode().partition(":")
        if not sep or source not in SOURCE_RANK:
            raise ValueError(f"not a label key: {key!r}")
        return source, fingerprint

    @staticmethod
    def encode(label: LabelRecord, written_at: int | None = None) -> bytes:
        """The value; ``labelled_at`` is the label's own, else ``written_at``, else now."""
        value: dict[str, Any] = {
            "labelled_at": label.labelled_at or written_at or now_ms(),
            "fingerprint": label.fingerprint,
            "text": label.text,
            **label.label.to_dict(),
            "source": label.source,
            "rule": label.rule,
            "origin": label.origin,
        }
        if label.by is not None:
            value["by"] = label.by
        return encode_json(value)

    @staticmethod
    def decode(value: bytes, taxonomy: Taxonomy) -> LabelRecord:
        """Read a value back; ValueError/KeyError/TypeError (or ConfigError, a ValueError, for
        a label outside ``taxonomy``) for one that is not a label."""
        data = json.loads(value)
        label = taxonomy.label(
            {k: data[k] for k in ("severity", "event_type", "category")}, where="stored label"
        )
        source = data.get("source", RULES)
        if source not in SOURCE_RANK:
            raise ValueError(f"unknown label source {source!r}")
        return LabelRecord(
            data["fingerprint"],
            data["text"],
            label,
            source,
            data.get("rule"),
            data.get("origin"),
            data.get("by"),
            int(data.get("labelled_at") or 0),
        )


# ---- the review queue -------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewItem:
    """A line neither the model nor a rule could label, queued for a person: its text and
    source fields, the model's guess then, and the query strategy's score."""

    fingerprint: str
    text: str
    fields: dict[str, Any] | None
    guess: dict[str, str]
    confidence: float | None
    score: float
    strategy: str
    origin: str
    queued_at: int | None = None  # epoch ms; None: when it is written


class ReviewCodec:
    """Key: the fingerprint (one template's items land on one partition)."""

    @staticmethod
    def key(item: ReviewItem) -> str:
        return item.fingerprint

    @staticmethod
    def encode(item: ReviewItem, written_at: int | None = None) -> bytes:
        return encode_json(
            {
                "fingerprint": item.fingerprint,
                "text": item.text,
                "fields": item.fields,
                "guess": item.guess,
                "confidence": item.confidence,
                "score": item.score,
                "strategy": item.strategy,
                "origin": item.origin,
                "queued_at": item.queued_at or written_at or now_ms(),
            }
        )

    @staticmethod
    def decode(value: bytes) -> ReviewItem:
        """ValueError/KeyError/TypeError for a value that is not a review item."""
        data = json.loads(value)
        fields = data.get("fields")
        return ReviewItem(
            str(data["fingerprint"]),
            str(data["text"]),
            fields if isinstance(fields, dict) else None,
            dict(data.get("guess") or {}),
            data.get("confidence"),
            float(data.get("score") or 0.0),
            str(data.get("strategy") or ""),
            str(data.get("origin") or ""),
            int(data.get("queued_at") or 0),
        )


# ---- the dead-letter topic ---------------------------------------------------------------


class DeadLetterCodec:
    """The value is the original bytes, untouched; headers ``reason`` (one of
    ``enrich.core.records.REASONS``), ``detail``, ``source`` (coordinates),
    ``source_timestamp`` (epoch ms or empty) and ``source_key`` (when the input had a key)."""

    @staticmethod
    def key(dead: DeadLetter) -> str:
        return dead.source.coordinates

    @staticmethod
    def headers(dead: DeadLetter) -> Headers:
        s = dead.source
        headers = [
            ("reason", dead.reason.encode()),
            ("detail", dead.detail.encode()),
            ("source", s.coordinates.encode()),
            ("source_timestamp", str(s.timestamp_ms or "").encode()),
        ]
        if s.key is not None:
            headers.append(("source_key", s.key))
        return headers

    @staticmethod
    def decode(value: bytes | None, headers: Sequence[tuple[str, bytes | None]]) -> DeadLetter:
        h = dict(headers)
        topic, partition, offset = (h.get("source") or b"::-1").decode().rsplit(":", 2)
        stamp = (h.get("source_timestamp") or b"").decode()
        return DeadLetter(
            (h.get("reason") or b"").decode(),
            (h.get("detail") or b"").decode(),
            value,
            Source(
                topic,
                int(partition or -1),
                int(offset),
                int(stamp) if stamp else None,
                h.get("source_key"),
            ),
        )
