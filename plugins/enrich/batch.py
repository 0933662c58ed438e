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

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from enrich import learner as learner_mod
from enrich.errors import ConfigError
from enrich.features import fingerprint, normalize
from enrich.labels import DEFAULT_TAXONOMY, Label, Taxonomy
from enrich.learner import DEFAULT_STRATEGY, STRATEGIES, Model
from enrich.records import (
    DEFAULT_MAX_VALUE_BYTES,
    TEXT_FIELDS,
    DeadLetter,
    LogRecord,
    RawRecord,
    Source,
    decode,
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
    enriched: list[dict[str, Any]] = field(default_factory=list)
    labels: list[TrainingLabel] = field(default_factory=list)
    queries: list[ReviewItem] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    counts: dict[str, Any] = field(default_factory=dict)


def enrich_batch(
    records: Sequence[RawRecord],
    model: Model | None,
    rules: RuleSet,
    settings: EnrichSettings | None = None,
) -> BatchResult:
    """Enrich one batch. Every input is in ``enriched`` or ``dead_letters``, in input order.

    Never raises for bad input; raises ConfigError only for invalid settings (checked when
    ``EnrichSettings`` is built). Idempotent: the same records, model, rules and settings give
    the same result.
    """
    settings = settings or EnrichSettings()
    result = BatchResult()

    # 1. decode; dead letters keep their source coordinates
    decoded: list[LogRecord] = []
    sources: list[Source] = []
    for raw in records:
        out = decode(raw.value, settings.max_value_bytes, settings.text_fields)
        if isinstance(out, LogRecord):
            decoded.append(out)
            sources.append(raw.source)
        else:
            result.dead_letters.append(DeadLetter(out[0], out[1], raw.value, raw.source))
    n = len(decoded)

    # 2. normalise once; the model sees each distinct normalised text once
    normalized = [normalize(r.text) for r in decoded]
    if model is not None and n:
        slot: dict[str, int] = {}
        inverse = np.fromiter((slot.setdefault(t, len(slot)) for t in normalized), np.intp, n)
        best, conf = model.predict_normalized(list(slot))
        class_idx, confidence = best[inverse], conf[inverse]
        classes = model.classes
    else:
        class_idx = np.zeros(n, dtype=np.intp)
        confidence = np.full(n, np.nan)
        classes = [settings.taxonomy.fallback]
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

    model_meta = {"name": model.name, "version": model.version} if model is not None else None
    # plain Python lists: per-record indexing of numpy arrays costs more than the work itself
    rules_l, review_l, model_l = by_rules.tolist(), review.tolist(), by_model.tolist()
    class_l, rule_l = class_idx.tolist(), rule_idx.tolist()
    conf_l = [None if c != c else c for c in np.round(confidence, 4).tolist()]  # NaN → None
    seen_labels: set[str] = set()
    candidates: dict[str, int] = {}
    fps: list[str | None] = [None] * n
    enriched = result.enriched
    for i, rec in enumerate(decoded):
        fp = None
        if rules_l[i]:
            rule = rules.rules[rule_l[i]]
            label, labelled_by, rule_name = rule.label, "rules", rule.name
            fp = fps[i] = fingerprint(normalized[i])
            if fp not in seen_labels:
                seen_labels.add(fp)
                result.labels.append(
                    TrainingLabel(fp, rec.text, label, "rules", rule_name, sources[i])
                )
        else:
            label = classes[class_l[i]]
            labelled_by = "model" if model_l[i] else "none"
            rule_name = None
            if review_l[i]:
                fp = fps[i] = fingerprint(normalized[i])
                candidates.setdefault(fp, i)
        enriched.append(
            _enriched(
                rec,
                sources[i],
                label,
                conf_l[i],
                labelled_by,
                review_l[i],
                model_meta,
                rule_name,
                fp,
            )
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
                    sources[i],
                )
            )

    with_conf = confidence[~np.isnan(confidence)]
    result.counts = {
        "in": len(records),
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


def _enriched(
    rec: LogRecord,
    source: Source,
    label: Label,
    confidence: float | None,
    labelled_by: str,
    needs_review: bool,
    model: dict[str, Any] | None,
    rule: str | None,
    fp: str | None,
) -> dict[str, Any]:
    enrichment = {
        "severity": label.severity,
        "event_type": label.event_type,
        "category": label.category,
        "confidence": confidence,
        "labelled_by": labelled_by,
        "needs_review": needs_review,
        "model": model,
        "rule": rule,
        "fingerprint": fp,
        "source": {
            "topic": source.topic,
            "partition": source.partition,
            "offset": source.offset,
            "timestamp": source.timestamp_ms,
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
