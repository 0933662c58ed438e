"""The record format of every topic the pipeline writes: one codec per topic.

Each codec says the record's key, its value as bytes, and how to read the value back:

* ``EnrichedCodec`` — the output topic: the input record with the enrichment keys added,
  keyed ``topic:partition:offset`` of its source (``enrich.engine.output`` writes the same
  bytes faster, for whole batches);
* ``LabelCodec`` — the compacted labels topic: one :class:`LabelRecord`, keyed by its source
  and what it labels (a template, a template's lines of one rule label, or one line);
* ``ReviewCodec`` — the review queue: one :class:`ReviewItem`, keyed by template id;
* ``DeadLetterCodec`` — the dead-letter topic: the original bytes, keyed by the source
  coordinates, with the reason in headers.

Pure: no Kafka client is needed to encode or decode (headers are ``(name, bytes)`` pairs).
"""

from __future__ import annotations

import hashlib
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
    "template_params",
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
    ``template_params`` (the body's values where the template varies, in order),
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
    """A label that teaches the model. ``fingerprint`` and ``text``: the line it was made
    from (the fingerprint of its normalised body); ``template_id``/``template``: the template
    it labels (``enrich.core.templates``; None for labels written before templates were
    mined, which label only their line). ``origin``: the source coordinates of the line;
    ``by``: who labelled it (people's labels); ``labelled_at``: epoch ms (None: when it is
    written)."""

    fingerprint: str
    text: str
    label: Label
    source: str  # "rules" or "human"
    rule: str | None = None
    origin: str | None = None
    by: str | None = None
    labelled_at: int | None = None
    template_id: str | None = None
    template: str | None = None

    @property
    def unit(self) -> str:
        """What the label labels, the key training keeps one label per (see ``unit_of``)."""
        return unit_of(self.source, self.fingerprint, self.template_id, self.label)


TEMPLATE_UNIT = "t:"


def unit_of(source: str, fingerprint: str, template_id: str | None, label: Label) -> str:
    """What a label labels: a person's answer labels a whole template (``t:<id>``); the rules
    label a template's lines one label at a time (``t:<id>:<digest of the label>``: lines of
    one template that rules label differently never merge); a label without a template, its
    line (the fingerprint)."""
    if template_id is None:
        return fingerprint
    if source == HUMAN:
        return TEMPLATE_UNIT + template_id
    digest = hashlib.blake2b(label.class_name.encode(), digest_size=4).hexdigest()
    return f"{TEMPLATE_UNIT}{template_id}:{digest}"


def unit_template(unit: str) -> str | None:
    """The template id of a unit (None: a line's fingerprint)."""
    if not unit.startswith(TEMPLATE_UNIT):
        return None
    return unit[len(TEMPLATE_UNIT) :].split(":", 1)[0]


def with_template(unit: str, template_id: str) -> str:
    """``unit`` naming ``template_id`` instead of its own (a template that generalised)."""
    if not unit.startswith(TEMPLATE_UNIT):
        return unit
    _old, sep, rest = unit[len(TEMPLATE_UNIT) :].partition(":")
    return TEMPLATE_UNIT + template_id + sep + rest


class LabelCodec:
    """Key ``<source>:<unit>`` (``LabelRecord.unit``): one latest label per source and what
    it labels, so a later rule label never compacts away a person's label, and a person's
    later answer about a template replaces their earlier one."""

    @staticmethod
    def key(source: str, unit: str) -> str:
        return f"{source}:{unit}"

    @staticmethod
    def key_of(label: LabelRecord) -> str:
        return f"{label.source}:{label.unit}"

    @staticmethod
    def parse_key(key: bytes) -> tuple[str, str]:
        """``(source, unit)`` of a key; ValueError for a key of another shape."""
        source, sep, unit = key.decode().partition(":")
        if not sep or source not in SOURCE_RANK:
            raise ValueError(f"not a label key: {key!r}")
        return source, unit

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
        if label.template_id is not None:
            value["template_id"] = label.template_id
            value["template"] = label.template
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
        tid = data.get("template_id")
        template = data.get("template")
        return LabelRecord(
            data["fingerprint"],
            data["text"],
            label,
            source,
            data.get("rule"),
            data.get("origin"),
            data.get("by"),
            int(data.get("labelled_at") or 0),
            tid if isinstance(tid, str) and tid else None,
            template if isinstance(template, str) else None,
        )


# ---- the review queue -------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewItem:
    """A template neither the model nor a rule could label, queued for a person: one line of
    it (its fingerprint, text and source fields), the model's guess then, and the query
    strategy's score; ``template_id``/``template``: the template (None in items queued before
    templates were mined), ``count``: its lines in the batch that needed review,
    ``examples``: a few of its distinct lines."""

    fingerprint: str
    text: str
    fields: dict[str, Any] | None
    guess: dict[str, str]
    confidence: float | None
    score: float
    strategy: str
    origin: str
    queued_at: int | None = None  # epoch ms; None: when it is written
    template_id: str | None = None
    template: str | None = None
    count: int = 1
    examples: tuple[str, ...] = ()

    @property
    def unit(self) -> str:
        """What answering it labels: its template (``t:<id>``), else its line."""
        return self.fingerprint if self.template_id is None else TEMPLATE_UNIT + self.template_id


class ReviewCodec:
    """Key: the template id, else the fingerprint (one template's items land on one
    partition)."""

    @staticmethod
    def key(item: ReviewItem) -> str:
        return item.template_id or item.fingerprint

    @staticmethod
    def encode(item: ReviewItem, written_at: int | None = None) -> bytes:
        value: dict[str, Any] = {
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
        if item.template_id is not None:
            value.update(
                template_id=item.template_id,
                template=item.template,
                count=item.count,
                examples=list(item.examples),
            )
        return encode_json(value)

    @staticmethod
    def decode(value: bytes) -> ReviewItem:
        """ValueError/KeyError/TypeError for a value that is not a review item."""
        data = json.loads(value)
        fields = data.get("fields")
        tid, template = data.get("template_id"), data.get("template")
        examples = data.get("examples")
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
            tid if isinstance(tid, str) and tid else None,
            template if isinstance(template, str) else None,
            max(1, int(data.get("count") or 1)),
            tuple(str(x) for x in examples) if isinstance(examples, list) else (),
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
