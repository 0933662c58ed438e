"""``enrich_batch``: raw records in → enriched records, training labels, review queries,
dead letters and counts out. Pure: no Kafka, MLflow or Airflow; deterministic for a seed.

Routing (``policy="model_first"``, the documented behaviour of the system this replaces):

* the model's confidence ≥ ``threshold``: the model's label, ``labelled_by: model``;
* below: the first matching rule's label, ``labelled_by: rules``; it becomes a training label;
* below and no rule: the model's best guess (the taxonomy's fallback when there is no model),
  ``labelled_by: none`` and ``needs_review: true``; the batch's review queries are the top
  ``review_k`` of these (one per fingerprint) by the query strategy.

``policy="rules_first"``: a matching rule always decides (and teaches); the model only labels
lines no rule matches. Confident model predictions are never taught back.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from enrich import learner as learner_mod
from enrich.errors import ConfigError
from enrich.features import fingerprint, normalize_many
from enrich.labels import DEFAULT_TAXONOMY, Label, Taxonomy
from enrich.learner import DEFAULT_STRATEGY, STRATEGIES, Model
from enrich.records import (
    DEFAULT_MAX_VALUE_BYTES,
    TEXT_FIELDS,
    DeadLetter,
    LogRecord,
    RawBatch,
    RawRecord,
    Source,
    decode,
    encode_json,
)
from enrich.rules import RuleSet

POLICIES = ("model_first", "rules_first")
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
    "source",
)


@dataclass(frozen=True)
class EnrichSettings:
    threshold: float = 0.75
    policy: str = "model_first"
    review_k: int = 10
    strategy: str = DEFAULT_STRATEGY
    max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES
    text_fields: tuple[str, ...] = TEXT_FIELDS
    random_state: int = 0
    taxonomy: Taxonomy = DEFAULT_TAXONOMY

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise ConfigError(f"threshold must be between 0 and 1, got {self.threshold}")
        if self.policy not in POLICIES:
            raise ConfigError(f"policy must be one of {', '.join(POLICIES)}, got {self.policy!r}")
        if self.review_k < 0:
            raise ConfigError(f"review_k must be 0 or more, got {self.review_k}")
        if self.strategy not in STRATEGIES:
            raise ConfigError(
                f"unknown query strategy {self.strategy!r}; choose one of {', '.join(STRATEGIES)}"
            )
        if self.max_value_bytes < 1:
            raise ConfigError(f"max_value_bytes must be positive, got {self.max_value_bytes}")
        if not self.text_fields:
            raise ConfigError("text_fields must name at least one field")


@dataclass(frozen=True)
class TrainingLabel:
    """A label that teaches the model, keyed by the fingerprint of the normalised text."""

    fingerprint: str
    text: str
    label: Label
    source: str  # "rules" or "human"
    rule: str | None = None
    origin: Source | None = None
    by: str | None = None  # who labelled it (human labels)
    labelled_at: int | None = None  # epoch ms; None: when it is written

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "fingerprint": self.fingerprint,
            "text": self.text,
            **self.label.to_dict(),
            "source": self.source,
            "rule": self.rule,
            "origin": self.origin.coordinates if self.origin else None,
        }
        if self.by is not None:
            out["by"] = self.by
        if self.labelled_at is not None:
            out["labelled_at"] = self.labelled_at
        return out


@dataclass(frozen=True)
class ReviewItem:
    """A message the model most needs a person to label."""

    fingerprint: str
    text: str
    fields: dict[str, Any] | None
    guess: Label
    confidence: float | None
    score: float
    strategy: str
    origin: Source

    def to_dict(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "text": self.text,
            "fields": self.fields,
            "guess": self.guess.to_dict(),
            "confidence": self.confidence,
            "score": self.score,
            "strategy": self.strategy,
            "origin": self.origin.coordinates,
        }


@dataclass
class BatchResult:
    """What ``enrich_batch`` made of one batch.

    ``enriched`` holds the output records as UTF-8 JSON values, in input order, and
    ``enriched_keys`` their keys: the source coordinates ``topic:partition:offset``.
    """

    enriched: list[bytes] = field(default_factory=list)
    enriched_keys: list[str] = field(default_factory=list)
    labels: list[TrainingLabel] = field(default_factory=list)
    queries: list[ReviewItem] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    counts: dict[str, Any] = field(default_factory=dict)

    def records(self) -> list[dict[str, Any]]:
        """The enriched records decoded (for tests and small tools; the pipeline sends bytes)."""
        return [json.loads(v) for v in self.enriched]


def enrich_batch(
    records: Sequence[RawRecord] | RawBatch,
    model: Model | None,
    rules: RuleSet,
    settings: EnrichSettings | None = None,
) -> BatchResult:
    """Enrich one batch. Every input is in ``enriched`` or ``dead_letters``, in input order.

    ``records`` are :class:`RawRecord` objects or one partition's :class:`RawBatch`. Never
    raises for bad input; raises ConfigError only for invalid settings (checked when
    ``EnrichSettings`` is built). Idempotent: the same records, model, rules and settings give
    the same result.
    """
    settings = settings or EnrichSettings()
    result = BatchResult()
    src = _Columns.of(records)

    # 1. decode; dead letters keep their source coordinates; rows[i]: input index of decoded[i]
    decoded: list[LogRecord] = []
    rows: list[int] = []
    max_bytes, text_fields = settings.max_value_bytes, settings.text_fields
    for row, value in enumerate(src.values):
        out = decode(value, max_bytes, text_fields)
        if isinstance(out, LogRecord):
            decoded.append(out)
            rows.append(row)
        else:
            result.dead_letters.append(DeadLetter(out[0], out[1], value, src.source(row)))
    n = len(decoded)

    # 2. normalise once; the model sees each distinct normalised text once
    normalized = normalize_many([r.text for r in decoded])
    slot = {t: i for i, t in enumerate(dict.fromkeys(normalized))}  # distinct, in order
    inverse = list(map(slot.__getitem__, normalized))
    if model is not None and n:
        best, conf = model.predict_normalized(list(slot))
        class_idx, confidence = best[inverse], conf[inverse]
        classes = model.classes
        # as the output writes it, once per distinct text
        conf_json = [b"null" if c != c else repr(c).encode() for c in np.round(conf, 4).tolist()]
    else:
        class_idx = np.zeros(n, dtype=np.intp)
        confidence = np.full(n, np.nan)
        classes = [settings.taxonomy.fallback]
        conf_json = [b"null"] * len(slot)
    confident = confidence >= settings.threshold  # NaN (no model) is never confident

    # 3. rules, only where they can decide
    need_rules = ~confident if settings.policy == "model_first" else np.ones(n, dtype=bool)
    rule_idx = np.full(n, -1, dtype=np.intp)
    where = np.flatnonzero(need_rules)
    if len(where):
        rule_idx[where] = rules.match_records([decoded[i] for i in where])

    # 4. route
    if settings.policy == "model_first":
        by_model = confident
        by_rules = ~confident & (rule_idx >= 0)
    else:
        by_rules = rule_idx >= 0
        by_model = ~by_rules & confident
    review = ~(by_model | by_rules)

    # fingerprints (one per distinct text), training labels and review candidates: only
    # lines the model did not label
    route = np.where(by_rules, _RULES, np.where(by_model, _MODEL, _REVIEW))
    route_l, rule_l = route.tolist(), rule_idx.tolist()
    seen_labels: set[str] = set()
    candidates: dict[str, int] = {}
    fps: list[str | None] = [None] * n
    slot_fps: list[str | None] = [None] * len(slot)
    for i in np.flatnonzero(~by_model).tolist():
        fp = slot_fps[inverse[i]]
        if fp is None:
            fp = slot_fps[inverse[i]] = fingerprint(normalized[i])
        fps[i] = fp
        if route_l[i] == _REVIEW:
            candidates.setdefault(fp, i)
        elif fp not in seen_labels:
            seen_labels.add(fp)
            rule = rules.rules[rule_l[i]]
            result.labels.append(
                TrainingLabel(
                    fp, decoded[i].text, rule.label, "rules", rule.name, src.source(rows[i])
                )
            )

    model_meta = {"name": model.name, "version": model.version} if model is not None else None
    writer = _Output(src, model_meta, classes, rules)
    result.enriched, result.enriched_keys = writer.encode(
        decoded, rows, route, np.where(by_rules, rule_idx, class_idx), conf_json, inverse, fps
    )

    # 5. review queries: top k distinct candidates by the strategy
    if settings.review_k and candidates:
        cand_idx = list(candidates.values())
        pool = np.asarray([normalized[i] for i in cand_idx], dtype=object)
        scorer = model.pipeline if model is not None else learner_mod.unfitted_learner()
        picked, scores = STRATEGIES[settings.strategy](
            scorer, pool, settings.review_k, settings.random_state
        )
        for j, score in zip(picked, scores, strict=True):
            i = cand_idx[int(j)]
            conf_i = None if np.isnan(confidence[i]) else float(confidence[i])
            result.queries.append(
                ReviewItem(
                    fps[i] or "",
                    decoded[i].text,
                    decoded[i].fields,
                    classes[class_idx[i]],
                    conf_i,
                    float(score),
                    settings.strategy,
                    src.source(rows[i]),
                )
            )

    with_conf = confidence[~np.isnan(confidence)]
    result.counts = {
        "in": len(src.values),
        "out": n,
        "dead_letters": len(result.dead_letters),
        "by_model": int(by_model.sum()),
        "by_rules": int(by_rules.sum()),
        "needs_review": int(review.sum()),
        "labels": len(result.labels),
        "queries": len(result.queries),
        "review_candidates": len(candidates),
        "mean_confidence": round(float(with_conf.mean()), 4) if len(with_conf) else None,
        "model_version": model.version if model is not None else None,
    }
    return result


try:  # the native encoder of the same outputs (native/); the Python loop below otherwise
    from enrich_native import encode_records as _native_encode_records
except ImportError:
    _native_encode_records = None

_RULES, _MODEL, _REVIEW = 0, 1, 2
_ENRICHMENT_KEYS = frozenset(ENRICHMENT_KEYS)
# An output record after its head: ``{"message":"<text>",`` for a plain line, a JSON object's
# bytes up to its closing brace (and a comma unless it is empty) for an object.
_RECORD = b'%b%b,"confidence":%b,"fingerprint":%b,%b,"offset":%d,"timestamp":%b}}'


def _where(topic: str, partition: int) -> tuple[str, bytes]:
    """The key prefix of a record from ``topic``/``partition``, and its source's JSON start."""
    source = b'"source":{"topic":%b,"partition":%d' % (encode_json(topic), partition)
    return f"{topic}:{partition}:", source


@dataclass
class _Columns:
    """The batch's inputs as columns, whichever form they came in."""

    values: list[bytes | None]
    topics: list[str]
    partitions: list[int]
    offsets: list[int]
    timestamps: list[int | None]
    keys: list[bytes | None]

    @classmethod
    def of(cls, records: Sequence[RawRecord] | RawBatch) -> _Columns:
        if isinstance(records, RawBatch):
            n = len(records)
            return cls(
                records.values,
                [records.topic] * n,
                [records.partition] * n,
                records.offsets,
                records.timestamps,
                records.keys,
            )
        sources = [r.source for r in records]
        return cls(
            [r.value for r in records],
            [s.topic for s in sources],
            [s.partition for s in sources],
            [s.offset for s in sources],
            [s.timestamp_ms for s in sources],
            [s.key for s in sources],
        )

    def source(self, row: int) -> Source:
        return Source(
            self.topics[row],
            self.partitions[row],
            self.offsets[row],
            self.timestamps[row],
            self.keys[row],
        )


class _Output:
    """Builds the output values: the input record with the enrichment keys added.

    A strict JSON object input is extended as it is, byte for byte (its own fields, order,
    number spelling and escapes pass through untouched), with the enrichment appended; the
    enrichment's fixed part (label, who labelled, model, rule) is encoded once per route and
    class or rule. Any other input (a field named like an enrichment key, JSON only the stdlib
    reads) is built as an object and encoded. Both give the same decoded record.
    """

    def __init__(
        self,
        src: _Columns,
        model: dict[str, Any] | None,
        classes: Sequence[Label],
        rules: RuleSet,
    ) -> None:
        self.src, self.model, self.classes, self.rules = src, model, classes, rules

    def _fixed(self, kind: int, idx: int) -> dict[str, Any]:
        if kind == _RULES:
            rule = self.rules.rules[idx]
            label, by, rule_name = rule.label, "rules", rule.name
        else:
            label, rule_name = self.classes[idx], None
            by = "model" if kind == _MODEL else "none"
        return {
            "severity": label.severity,
            "event_type": label.event_type,
            "category": label.category,
            "labelled_by": by,
            "needs_review": kind == _REVIEW,
            "model": self.model,
            "rule": rule_name,
        }

    def encode(
        self,
        decoded: Sequence[LogRecord],
        rows: Sequence[int],
        route: np.ndarray,
        fixed_idx: np.ndarray,
        conf_json: Sequence[bytes],
        inverse: Sequence[int],
        fps: Sequence[str | None],
    ) -> tuple[list[bytes], list[str]]:
        """The output value and key of each decoded record.

        ``route``: _RULES, _MODEL or _REVIEW per record; ``fixed_idx``: its rule or class;
        ``conf_json``: the confidence as JSON per distinct text, ``inverse[i]`` its slot.
        """
        src = self.src
        if len(rows) == len(src.values):  # no dead letters: record i is input row i
            raw, topics, partitions, offsets, stamps = (
                src.values,
                src.topics,
                src.partitions,
                src.offsets,
                src.timestamps,
            )
        else:
            raw = [src.values[r] for r in rows]
            topics = [src.topics[r] for r in rows]
            partitions = [src.partitions[r] for r in rows]
            offsets = [src.offsets[r] for r in rows]
            stamps = [src.timestamps[r] for r in rows]
        # per record: its key's prefix and the JSON of its source's topic and partition
        if len(set(topics)) == 1 and len(set(partitions)) == 1:  # one partition's batch
            prefix, source = _where(topics[0], partitions[0])
            prefixes, sources = [prefix] * len(rows), [source] * len(rows)
        else:
            known: dict[tuple[str, int], tuple[str, bytes]] = {}
            pairs = [
                known.get(tp) or known.setdefault(tp, _where(*tp))
                for tp in zip(topics, partitions, strict=True)
            ]
            prefixes, sources = [p for p, _s in pairs], [s for _p, s in pairs]
        keys = list(map(str.__add__, prefixes, map(str, offsets)))
        sids = (fixed_idx * 3 + route).tolist()
        static = {sid: encode_json(self._fixed(sid % 3, sid // 3))[1:-1] for sid in set(sids)}
        fps_json = [b"null" if fp is None else b'"%s"' % fp.encode() for fp in fps]
        if _native_encode_records is not None:
            statics = [static.get(sid, b"") for sid in range(max(sids, default=0) + 1)]
            values: list[bytes | None] = _native_encode_records(
                decoded,
                raw,
                statics,
                sids,
                conf_json,
                inverse,
                fps_json,
                sources,
                offsets,
                stamps,
                ENRICHMENT_KEYS,
            )
        else:
            values = []
            append, disjoint = values.append, _ENRICHMENT_KEYS.isdisjoint
            for i, (rec, value, source, offset, ts) in enumerate(
                zip(decoded, raw, sources, offsets, stamps)  # noqa: B905  # same lengths
            ):
                fields = rec.fields
                if fields is None:
                    head = b'{"message":' + encode_json(rec.text) + b","
                elif rec.verbatim and disjoint(fields):
                    body = value.rstrip()[:-1]  # type: ignore[union-attr]  # up to its "}"
                    head = body + b"," if fields else body
                else:
                    append(None)  # the object path, below
                    continue
                ts_json = b"null" if ts is None else b"%d" % ts
                fixed, conf = static[sids[i]], conf_json[inverse[i]]
                append(_RECORD % (head, fixed, conf, fps_json[i], source, offset, ts_json))
        if None in values:  # what the fast path left to the object path
            for i in [i for i, v in enumerate(values) if v is None]:
                kind, idx = sids[i] % 3, sids[i] // 3
                conf = conf_json[inverse[i]]
                values[i] = encode_json(
                    self.as_object(decoded[i], rows[i], kind, idx, conf, fps[i])
                )
        return values, keys  # type: ignore[return-value]  # no None left

    def as_object(
        self, rec: LogRecord, row: int, kind: int, idx: int, confidence: bytes, fp: str | None
    ) -> dict[str, Any]:
        """The reference: the output record as an object (``encode`` gives its JSON)."""
        src = self.src
        enrichment = {
            **self._fixed(kind, idx),
            "confidence": json.loads(confidence),
            "fingerprint": fp,
            "source": {
                "topic": src.topics[row],
                "partition": src.partitions[row],
                "offset": src.offsets[row],
                "timestamp": src.timestamps[row],
            },
        }
        if rec.fields is None:
            return {"message": rec.text, **enrichment}
        out = dict(rec.fields)
        clashes = {k: out.pop(k) for k in ENRICHMENT_KEYS if k in out}
        if clashes:
            out["original_fields"] = clashes
        out.update(enrichment)
        return out
