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

from enrich import defaults
from enrich.core.formats import RULES, LabelRecord, ReviewItem
from enrich.core.labels import DEFAULT_TAXONOMY, Label, Taxonomy
from enrich.core.normalize import fingerprint, normalize_many
from enrich.core.records import DeadLetter, LogRecord, RawBatch, RawRecord, decode
from enrich.core.rules import RuleSet
from enrich.engine.output import Decisions, InputColumns, OutputWriter, Route
from enrich.errors import ConfigError
from enrich.learn.model import Model, unfitted_learner
from enrich.learn.strategies import STRATEGIES


@dataclass(frozen=True)
class EnrichSettings:
    threshold: float = defaults.THRESHOLD
    policy: str = defaults.POLICY
    review_k: int = defaults.REVIEW_K
    strategy: str = defaults.STRATEGY
    max_value_bytes: int = defaults.MAX_VALUE_BYTES
    text_fields: tuple[str, ...] = defaults.TEXT_FIELDS
    random_state: int = defaults.RANDOM_STATE
    taxonomy: Taxonomy = DEFAULT_TAXONOMY

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise ConfigError(f"threshold must be between 0 and 1, got {self.threshold}")
        if self.policy not in defaults.POLICIES:
            raise ConfigError(
                f"policy must be one of {', '.join(defaults.POLICIES)}, got {self.policy!r}"
            )
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


@dataclass
class BatchResult:
    """What ``enrich_batch`` made of one batch.

    ``enriched`` holds the output records as UTF-8 JSON values, in input order, and
    ``enriched_keys`` their keys: the source coordinates ``topic:partition:offset``.
    """

    enriched: list[bytes] = field(default_factory=list)
    enriched_keys: list[str] = field(default_factory=list)
    labels: list[LabelRecord] = field(default_factory=list)
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
    src = InputColumns.of(records)

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

    # 2. normalise once; the model sees each distinct normalised text once
    normalized = normalize_many([r.text for r in decoded])
    slot = {t: i for i, t in enumerate(dict.fromkeys(normalized))}  # distinct, in order
    text_slot = list(map(slot.__getitem__, normalized))
    scores = _Scores.of(model, list(slot), text_slot, settings)

    # 3. rules, only where they can decide; 4. route
    route, rule_idx = _route(decoded, scores.confident, rules, settings.policy)

    # 5. fingerprints (one per distinct text), training labels and review candidates: only
    # for lines the model did not label
    fps: list[str | None] = [None] * len(decoded)
    slot_fps: list[str | None] = [None] * len(slot)
    candidates: dict[str, int] = {}
    seen: set[str] = set()
    route_l, rule_l = route.tolist(), rule_idx.tolist()
    for i in np.flatnonzero(route != Route.MODEL).tolist():
        fp = slot_fps[text_slot[i]]
        if fp is None:
            fp = slot_fps[text_slot[i]] = fingerprint(normalized[i])
        fps[i] = fp
        if route_l[i] == Route.REVIEW:
            candidates.setdefault(fp, i)
        elif fp not in seen:
            seen.add(fp)
            rule = rules.rules[rule_l[i]]
            origin = src.source(rows[i]).coordinates
            result.labels.append(
                LabelRecord(fp, decoded[i].text, rule.label, RULES, rule.name, origin)
            )

    # 6. the output records
    model_meta = {"name": model.name, "version": model.version} if model is not None else None
    writer = OutputWriter(model_meta, scores.classes, rules)
    decisions = Decisions(
        route,
        np.where(route == Route.RULES, rule_idx, scores.class_idx),
        scores.confidence_json,
        text_slot,
        fps,
    )
    result.enriched, result.enriched_keys = writer.encode(src, decoded, rows, decisions)

    # 7. review queries: the top k distinct candidates by the strategy
    if settings.review_k and candidates:
        result.queries = _queries(
            candidates, decoded, normalized, fps, rows, src, scores, model, settings
        )

    with_conf = scores.confidence[~np.isnan(scores.confidence)]
    result.counts = {
        "in": len(src.values),
        "out": len(decoded),
        "dead_letters": len(result.dead_letters),
        "by_model": int((route == Route.MODEL).sum()),
        "by_rules": int((route == Route.RULES).sum()),
        "needs_review": int((route == Route.REVIEW).sum()),
        "labels": len(result.labels),
        "queries": len(result.queries),
        "review_candidates": len(candidates),
        "mean_confidence": round(float(with_conf.mean()), 4) if len(with_conf) else None,
        "model_version": model.version if model is not None else None,
    }
    return result


@dataclass(frozen=True)
class _Scores:
    """The model's best class and confidence per record (NaN and the taxonomy's fallback
    without a model), and the confidence as the output writes it, per distinct text."""

    classes: Sequence[Label]
    class_idx: np.ndarray
    confidence: np.ndarray
    confident: np.ndarray
    confidence_json: list[bytes]

    @classmethod
    def of(
        cls,
        model: Model | None,
        distinct: list[str],
        text_slot: list[int],
        settings: EnrichSettings,
    ) -> _Scores:
        n = len(text_slot)
        if model is not None and n:
            best, conf = model.predict_normalized(distinct)
            class_idx, confidence = best[text_slot], conf[text_slot]
            conf_json = [
                b"null" if c != c else repr(c).encode() for c in np.round(conf, 4).tolist()
            ]
            classes: Sequence[Label] = model.classes
        else:
            class_idx = np.zeros(n, dtype=np.intp)
            confidence = np.full(n, np.nan)
            conf_json = [b"null"] * len(distinct)
            classes = [settings.taxonomy.fallback]
        confident = confidence >= settings.threshold  # NaN (no model) is never confident
        return cls(classes, class_idx, confidence, confident, conf_json)


def _route(
    decoded: Sequence[LogRecord], confident: np.ndarray, rules: RuleSet, policy: str
) -> tuple[np.ndarray, np.ndarray]:
    """Per record its :class:`Route`, and the first matching rule's index (-1: none, or not
    asked because the model decides)."""
    n = len(decoded)
    need_rules = ~confident if policy == defaults.MODEL_FIRST else np.ones(n, dtype=bool)
    rule_idx = np.full(n, -1, dtype=np.intp)
    where = np.flatnonzero(need_rules)
    if len(where):
        rule_idx[where] = rules.match_records([decoded[i] for i in where.tolist()])
    if policy == defaults.MODEL_FIRST:
        by_model = confident
        by_rules = ~confident & (rule_idx >= 0)
    else:
        by_rules = rule_idx >= 0
        by_model = ~by_rules & confident
    route = np.where(by_rules, Route.RULES, np.where(by_model, Route.MODEL, Route.REVIEW))
    return route, rule_idx


def _queries(
    candidates: dict[str, int],
    decoded: Sequence[LogRecord],
    normalized: Sequence[str],
    fps: Sequence[str | None],
    rows: Sequence[int],
    src: InputColumns,
    scores: _Scores,
    model: Model | None,
    settings: EnrichSettings,
) -> list[ReviewItem]:
    """The review queries: ``settings.review_k`` of the candidates (record index per
    fingerprint) picked by the query strategy."""
    cand_idx = list(candidates.values())
    pool = np.asarray([normalized[i] for i in cand_idx], dtype=object)
    scorer = model.pipeline if model is not None else unfitted_learner()
    picked, picked_scores = STRATEGIES[settings.strategy](
        scorer, pool, settings.review_k, settings.random_state
    )
    queries = []
    for j, score in zip(picked, picked_scores, strict=True):
        i = cand_idx[int(j)]
        conf = scores.confidence[i]
        queries.append(
            ReviewItem(
                fps[i] or "",
                decoded[i].text,
                decoded[i].fields,
                scores.classes[scores.class_idx[i]].to_dict(),
                None if np.isnan(conf) else float(conf),
                float(score),
                settings.strategy,
                src.source(rows[i]).coordinates,
            )
        )
    return queries
