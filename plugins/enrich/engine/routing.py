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

Rules, normalisation, fingerprint and model see the message body the parser found
(``enrich.core.parse``). A level the line states is the severity (``severity_by: line``):
rules and model then decide the event type and category only, and a rule's training label
carries the line's severity. An empty body is never taught nor asked about.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np

from enrich import defaults
from enrich.core.formats import RULES, LabelRecord, ReviewItem
from enrich.core.labels import DEFAULT_TAXONOMY, Label, Taxonomy
from enrich.core.normalize import fingerprint, normalize_many
from enrich.core.parse import SEVERITIES, LogFormats, ParsedColumns, builtin_formats
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
    formats: LogFormats | None = None,
) -> BatchResult:
    """Enrich one batch. Every input is in ``enriched`` or ``dead_letters``, in input order.

    ``records`` are :class:`RawRecord` objects or one partition's :class:`RawBatch`;
    ``formats`` the log formats the parser knows (None: the built-in ones). Never raises for
    bad input; raises ConfigError only for invalid settings (checked when ``EnrichSettings``
    is built). Idempotent: the same records, model, rules, settings and formats give the same
    result.
    """
    settings = settings or EnrichSettings()
    formats = formats if formats is not None else builtin_formats()
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

    # 2. parse: header fields, the level the line states, the message body
    parsed = formats.parse_columns(decoded, _years(src, rows))
    bodies = parsed.bodies
    stated = np.asarray(parsed.severity, dtype=np.intp)

    # 3. normalise each body once; the model sees each distinct normalised body once
    normalized = normalize_many(bodies)
    slot = {t: i for i, t in enumerate(dict.fromkeys(normalized))}  # distinct, in order
    text_slot = np.fromiter(map(slot.__getitem__, normalized), np.intp, len(normalized))
    scores = _Scores.of(model, list(slot), text_slot, stated > 0, settings)

    # 4. rules, only where they can decide; route
    route, rule_idx = _route(bodies, decoded, parsed, scores.confident, rules, settings.policy)

    # 5. fingerprints (one per distinct body), training labels and review candidates: only
    # for lines the model did not label, and never for an empty body
    fps: list[str | None] = [None] * len(decoded)
    slot_fps: list[str | None] = [None] * len(slot)
    candidates: dict[str, int] = {}
    seen: set[str] = set()
    route_l, rule_l, slot_l, stated_l = (
        route.tolist(),
        rule_idx.tolist(),
        text_slot.tolist(),
        stated.tolist(),
    )
    for i in np.flatnonzero(route != Route.MODEL).tolist():
        fp = slot_fps[slot_l[i]]
        if fp is None:
            fp = slot_fps[slot_l[i]] = fingerprint(normalized[i])
        fps[i] = fp
        if not normalized[i]:
            continue  # nothing to learn from, nothing to ask about
        if route_l[i] == Route.REVIEW:
            candidates.setdefault(fp, i)
        elif fp not in seen:
            seen.add(fp)
            rule = rules.rules[rule_l[i]]
            label = _with_severity(rule.label, stated_l[i])
            origin = src.source(rows[i]).coordinates
            result.labels.append(LabelRecord(fp, bodies[i], label, RULES, rule.name, origin))

    # 6. the output records
    model_meta = {"name": model.name, "version": model.version} if model is not None else None
    writer = OutputWriter(model_meta, scores.classes, rules)
    decisions = Decisions(
        route,
        np.where(route == Route.RULES, rule_idx, scores.class_idx),
        stated,
        scores.confidence_json,
        scores.record_slot,
        fps,
        parsed.fields_json,
    )
    result.enriched, result.enriched_keys = writer.encode(src, decoded, rows, decisions)

    # 7. review queries: the top k distinct candidates by the strategy
    if settings.review_k and candidates:
        result.queries = _queries(
            candidates, decoded, parsed, normalized, fps, rows, src, scores, model, settings
        )

    with_conf = scores.confidence[~np.isnan(scores.confidence)]
    result.counts = {
        "in": len(src.values),
        "out": len(decoded),
        "dead_letters": len(result.dead_letters),
        "by_model": int((route == Route.MODEL).sum()),
        "by_rules": int((route == Route.RULES).sum()),
        "needs_review": int((route == Route.REVIEW).sum()),
        "severity_from_line": int((stated > 0).sum()),
        "labels": len(result.labels),
        "queries": len(result.queries),
        "review_candidates": len(candidates),
        "mean_confidence": round(float(with_conf.mean()), 4) if len(with_conf) else None,
        "model_version": model.version if model is not None else None,
    }
    return result


def _with_severity(label: Label, code: int) -> Label:
    """``label`` with the severity the line states (code 0: as it is)."""
    return label if code == 0 else replace(label, severity=SEVERITIES[code - 1])


def _years(src: InputColumns, rows: Sequence[int]) -> list[int | None]:
    """The year of each record's Kafka timestamp: what a year-less timestamp (syslog's
    ``Nov  1 10:00:00``) is read in."""
    by_day: dict[int, int] = {}
    out: list[int | None] = []
    for r in rows:
        ts = src.timestamps[r]
        if ts is None:
            out.append(None)
            continue
        day = ts // 86_400_000
        year = by_day.get(day)
        if year is None:
            year = by_day[day] = datetime.fromtimestamp(day * 86_400, UTC).year
        out.append(year)
    return out


@dataclass(frozen=True)
class _Scores:
    """The model's label and confidence per record (NaN and the taxonomy's fallback without
    a model). For a line that states its severity the model decides only the event type and
    category: its confidence is that of the best (event type, category) pair, summed over the
    severities. ``confidence_json``: the confidence as the output writes it, per distinct text
    (then again per distinct text for the stated-severity variant); ``record_slot[i]``: record
    i's entry in it."""

    classes: Sequence[Label]
    class_idx: np.ndarray
    confidence: np.ndarray
    confident: np.ndarray
    confidence_json: list[bytes]
    record_slot: list[int]

    @classmethod
    def of(
        cls,
        model: Model | None,
        distinct: list[str],
        text_slot: np.ndarray,
        stated: np.ndarray,
        settings: EnrichSettings,
    ) -> _Scores:
        n, d = len(text_slot), len(distinct)
        record_slot = (text_slot + np.where(stated, d, 0)).tolist()
        if model is not None and n:
            proba = model.predict_proba_normalized(distinct)
            best = proba.argmax(axis=1)
            conf = proba[np.arange(d), best]
            classes: Sequence[Label] = model.classes
            # only lines that state their level need the (event type, category) scores
            g_best, g_conf = _pair_scores(proba, classes) if stated.any() else (best, conf)
            class_idx = np.where(stated, g_best[text_slot], best[text_slot])
            confidence = np.where(stated, g_conf[text_slot], conf[text_slot])
            conf_json = [
                b"null" if c != c else repr(c).encode()
                for c in np.round(np.concatenate([conf, g_conf]), 4).tolist()
            ]
        else:
            class_idx = np.zeros(n, dtype=np.intp)
            confidence = np.full(n, np.nan)
            conf_json = [b"null"] * (2 * d)
            classes = [settings.taxonomy.fallback]
        confident = confidence >= settings.threshold  # NaN (no model) is never confident
        return cls(classes, class_idx, confidence, confident, conf_json, record_slot)


def _pair_scores(proba: np.ndarray, classes: Sequence[Label]) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the most likely class of the most likely (event type, category) pair, and
    that pair's probability (summed over its severities)."""
    pairs: dict[tuple[str, str], int] = {}
    group = np.fromiter(
        (pairs.setdefault((c.event_type, c.category), len(pairs)) for c in classes),
        dtype=np.intp,
        count=len(classes),
    )
    onehot = np.zeros((len(classes), len(pairs)))
    onehot[np.arange(len(classes)), group] = 1.0
    pair_proba = proba @ onehot
    best_pair = pair_proba.argmax(axis=1)
    rows = np.arange(len(proba))
    in_pair = np.where(group[None, :] == best_pair[:, None], proba, -1.0)
    return in_pair.argmax(axis=1), pair_proba[rows, best_pair]


def _route(
    bodies: Sequence[str],
    decoded: Sequence[LogRecord],
    parsed: ParsedColumns,
    confident: np.ndarray,
    rules: RuleSet,
    policy: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Per record its :class:`Route`, and the first matching rule's index (-1: none, or not
    asked because the model decides). Rules see the body, and the parsed and JSON fields."""
    n = len(decoded)
    need_rules = ~confident if policy == defaults.MODEL_FIRST else np.ones(n, dtype=bool)
    rule_idx = np.full(n, -1, dtype=np.intp)
    where = np.flatnonzero(need_rules).tolist()
    if where:
        lookup = _FieldLookup(decoded, parsed, where) if rules.fields_used else None
        rule_idx[where] = rules.match([bodies[i] for i in where], lookup)
    if policy == defaults.MODEL_FIRST:
        by_model = confident
        by_rules = ~confident & (rule_idx >= 0)
    else:
        by_rules = rule_idx >= 0
        by_model = ~by_rules & confident
    route = np.where(by_rules, Route.RULES, np.where(by_model, Route.MODEL, Route.REVIEW))
    return route, rule_idx


class _FieldLookup:
    """What a rule's ``field`` looks up for the i-th record of ``rows``: the parsed fields
    (decoded only when a rule asks), then the JSON record's own."""

    def __init__(self, decoded: Sequence[LogRecord], parsed: ParsedColumns, rows: list[int]):
        self.decoded, self.parsed, self.rows = decoded, parsed, rows
        self._fields: dict[int, dict[str, Any]] = {}

    def __call__(self, i: int, name: str) -> Any:
        row = self.rows[i]
        fields = self._fields.get(row)
        if fields is None:
            fields = self._fields[row] = self.parsed.fields(row)
        value = fields.get(name)
        if value is None and self.decoded[row].fields is not None:
            value = self.decoded[row].fields.get(name)  # type: ignore[union-attr]
        return value


def _queries(
    candidates: dict[str, int],
    decoded: Sequence[LogRecord],
    parsed: ParsedColumns,
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
        guess = _with_severity(scores.classes[scores.class_idx[i]], parsed.severity[i])
        context = parsed.fields(i) if decoded[i].fields is None else decoded[i].fields
        queries.append(
            ReviewItem(
                fps[i] or "",
                parsed.bodies[i],
                dict(context) if context else None,
                guess.to_dict(),
                None if np.isnan(conf) else float(conf),
                float(score),
                settings.strategy,
                src.source(rows[i]).coordinates,
            )
        )
    return queries
