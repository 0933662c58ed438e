"""``enrich_batch``: raw records in → enriched records, training labels, review queries,
dead letters and counts out. Pure: no Kafka, MLflow or Airflow; deterministic for a seed.

Routing (``policy="model_first"``, the documented behaviour of the system this replaces):

* a line whose template a person labelled (or the line itself, for answers given before
  templates were mined): that label, all three fields (``labelled_by: human``,
  ``severity_by: human``), whatever the model or rules say;
* the model's confidence ≥ ``threshold``: the model's label, ``labelled_by: model``;
* below: the first matching rule's label, ``labelled_by: rules``; it becomes a training label
  (one per template and label a batch);
* below and no rule: the model's best guess (the taxonomy's fallback when there is no model),
  ``labelled_by: none`` and ``needs_review: true``; the batch's review queries are the top
  ``review_k`` of their templates (one item per template, with its line count and a few
  example lines) by the query strategy, weighted by the templates' lines.

``policy="rules_first"``: a matching rule always decides (and teaches); the model only labels
lines no rule matches. Confident model predictions are never taught back.

Rules, normalisation, fingerprint and model see the message body the parser found
(``enrich.core.parse``). A level the line states is the severity (``severity_by: line``):
rules and model then decide the event type and category only, and a rule's training label
carries the line's severity. An empty body is never taught nor asked about.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np

from enrich import defaults
from enrich.core.formats import RULES, TEMPLATE_UNIT, LabelRecord, ReviewItem
from enrich.core.labels import DEFAULT_TAXONOMY, Label, Taxonomy
from enrich.core.normalize import fingerprints
from enrich.core.parse import (
    SEVERITIES,
    LogFormats,
    ParsedColumns,
    builtin_formats,
    parsed_fields,
)
from enrich.core.records import DeadLetter, LogRecord, RawBatch, RawRecord, Source, encode_json
from enrich.core.rules import RuleSet
from enrich.core.templates import Miner, new_miner
from enrich.engine.front import Column, Front, read_part
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
    threads: int | None = None  # the native front's (None: ``front.default_threads()``)

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
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"threads must be 1 or more, got {self.threads}")


@dataclass
class BatchResult:
    """What ``enrich_batch`` made of one batch.

    ``enriched`` holds the output records as UTF-8 JSON values, in input order, and
    ``enriched_keys`` their keys: the source coordinates ``topic:partition:offset``.
    ``counts["distinct_bodies"]``: the distinct normalised bodies of the batch, each one model
    input (the model is asked once per distinct body a batch, not once per line).
    """

    enriched: list[bytes] = field(default_factory=list)
    enriched_keys: list[str] = field(default_factory=list)
    labels: list[LabelRecord] = field(default_factory=list)
    queries: list[ReviewItem] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    counts: dict[str, Any] = field(default_factory=dict)
    # the template miner's changes while the batch was enriched (``TemplateMiner.changes``):
    # the pipeline writes them to the templates topic in the batch's transaction
    templates: list[dict[str, Any]] = field(default_factory=list)

    def output_count(self) -> int:
        """How many records writing this result produces."""
        return len(self.enriched) + len(self.labels) + len(self.queries) + len(self.dead_letters)

    def records(self) -> list[dict[str, Any]]:
        """The enriched records decoded (for tests and small tools; the pipeline sends bytes)."""
        return [json.loads(v) for v in self.enriched]


def enrich_batch(
    records: Sequence[RawRecord] | RawBatch,
    model: Model | None,
    rules: RuleSet,
    settings: EnrichSettings | None = None,
    formats: LogFormats | None = None,
    people: Mapping[str, Label] | None = None,
    queued: Collection[str] = (),
    miner: Miner | None = None,
) -> BatchResult:
    """Enrich one batch. Every input is in ``enriched`` or ``dead_letters``, in input order.

    ``records`` are :class:`RawRecord` objects or one partition's :class:`RawBatch`;
    ``formats`` the log formats the parser knows (None: the built-in ones); ``people`` the
    labels people gave, by fingerprint, ``queued`` the fingerprints waiting in the review
    queue, ``miner`` the template miner to go on with (None: a new one; see ``Enricher``).
    Never raises for bad input; raises ConfigError only for invalid settings (checked when
    ``EnrichSettings`` is built). Idempotent: the same records, model, rules, settings and
    formats (and a new miner) give the same result. ``Enricher`` gives the same result for a
    batch fed to it in parts, templates aside.
    """
    enricher = Enricher(model, rules, settings, formats, people, queued, miner)
    enriched, keys = enricher.add(records)
    result = enricher.finish()
    result.enriched, result.enriched_keys = enriched, keys
    return result


EXAMPLES = 3  # distinct lines a review item shows of its template


@dataclass
class _Candidate:
    """A template that may be asked about: its first line needing review in the batch (what
    its review item shows and the strategy scores), its lines needing review (``count``) and
    the first lines of a few of its distinct normalised bodies (``examples``, ``shown``)."""

    fingerprint: str
    normalized: str
    body: str
    fields: dict[str, Any] | None  # the JSON record's own fields, if any
    parsed_json: bytes  # else the parsed fields give the item's context
    guess: Label
    confidence: float
    coordinates: str
    template_id: str = ""
    template: str = ""
    count: int = 0
    examples: list[str] = field(default_factory=list)
    shown: list[str] = field(default_factory=list)  # the examples' normalised bodies

    def example(self, body: str, normalized: str) -> None:
        if len(self.examples) < EXAMPLES and normalized not in self.shown:
            self.examples.append(body)
            self.shown.append(normalized)


@dataclass(frozen=True, slots=True)
class ReadPart:
    """A part of a batch as ``Enricher.read`` left it: its input columns and its front."""

    src: InputColumns
    front: Front


class Enricher:
    """``enrich_batch`` over a batch given in consecutive parts: ``add`` each part (its
    enriched values and keys come back at once, so they can be written while the next part is
    read), then ``finish`` for the batch's training labels, review queries, dead letters and
    counts. The result is the same as one ``enrich_batch`` call over the whole batch: each
    distinct normalised body is predicted once per batch, a training label is made for the
    first line of each fingerprint, review queries are picked among all the batch's
    candidates. Templates aside: the templates of a part's lines are mined when the part is
    added, so a record's ``template_id`` is its template's as it stood then (a later part may
    generalise it; the old id resolves to the new one in ``miner``).

    ``miner``: the template miner (``enrich.core.templates``); a task passes one to all its
    batches, so templates grow from batch to batch; by default a new one.

    ``people``: the labels people gave, by unit (``LabelRecord.unit``): ``t:<template id>``
    for an answer about a template (an id that generalised since applies to the template it
    became), a fingerprint for one about a single line (answers given before templates were
    mined; they win over their template's). A line with such a label takes it, all three
    fields (``labelled_by`` and ``severity_by``: ``human``), before the model and the rules,
    and is neither taught again nor asked about.

    ``queued``: template ids (or fingerprints) already waiting in the review queue: their
    lines are not asked about again (``counts["already_queued"]``), so the batch's questions
    go to others."""

    def __init__(
        self,
        model: Model | None,
        rules: RuleSet,
        settings: EnrichSettings | None = None,
        formats: LogFormats | None = None,
        people: Mapping[str, Label] | None = None,
        queued: Collection[str] = (),
        miner: Miner | None = None,
    ) -> None:
        self.model, self.rules = model, rules
        self.miner = miner if miner is not None else new_miner()
        self._identity: list[bytes] = []  # by slot: its fingerprint's and template's JSON
        # by slot (distinct normalised body): its template's id and text
        self._slot_template_ids: list[str] = []
        self._slot_template_texts: list[str] = []
        self._template_json: dict[str, bytes] = {}
        self._created_before: int | None = None  # the miner's count when this batch began
        self._queued = queued
        self.settings = settings or EnrichSettings()
        self.formats = formats if formats is not None else builtin_formats()
        table = sorted(set((people or {}).values()))
        index = {label: i for i, label in enumerate(table)}
        by_unit = {unit: index[x] for unit, x in (people or {}).items()}
        self._template_people = {
            u[len(TEMPLATE_UNIT) :]: i for u, i in by_unit.items() if u.startswith(TEMPLATE_UNIT)
        }
        self._scores = _Scores(
            model,
            self.settings,
            {u: i for u, i in by_unit.items() if not u.startswith(TEMPLATE_UNIT)},
        )
        model_meta = {"name": model.name, "version": model.version} if model is not None else None
        self._writer = OutputWriter(model_meta, self._scores.classes, rules, table)
        self._seen: set[tuple[str, str]] = set()  # (template id, label) taught this batch
        self._candidates: dict[str, _Candidate] = {}
        self._already_queued: set[str] = set()
        self._labels: list[LabelRecord] = []
        self._dead: list[DeadLetter] = []
        self._counts = dict.fromkeys(
            ("in", "out", "by_people", "by_model", "by_rules", "needs_review"), 0
        )
        self._counts["severity_from_line"] = 0
        self._conf_sum, self._conf_n = 0.0, 0

    def read(self, records: Sequence[RawRecord] | RawBatch) -> ReadPart:
        """Steps 1-3 of ``add`` for a part: decode (dead letters keep their source
        coordinates), parse (header fields, the level the line states, the message body),
        normalise each body. It depends on no earlier part, so it may run in another thread
        while ``add`` routes the part before (the native front runs without the GIL)."""
        settings = self.settings
        src = InputColumns.of(records)
        front = read_part(
            src.values,
            _years(src),
            self.formats,
            settings.max_value_bytes,
            settings.text_fields,
            settings.threads,
            self.rules.split_matcher,
        )
        return ReadPart(src, front)

    def add_all(
        self, parts: Iterable[Sequence[RawRecord] | RawBatch]
    ) -> Iterator[tuple[list[bytes], list[str]]]:
        """``add`` each of ``parts`` in turn, yielding its values and keys; the next part is
        taken from ``parts`` and ``read`` in a thread while this one is routed and encoded
        (and while the caller writes what was yielded), so the parser's work overlaps the
        Python work of the part before."""
        with ThreadPoolExecutor(1, thread_name_prefix="enrich-front") as pool:
            ahead: Future[ReadPart] | None = None
            for part in parts:
                nxt = pool.submit(self.read, part)
                if ahead is not None:
                    yield self.add(ahead.result())
                ahead = nxt
            if ahead is not None:
                yield self.add(ahead.result())

    def add(
        self, records: Sequence[RawRecord] | RawBatch | ReadPart
    ) -> tuple[list[bytes], list[str]]:
        """Enrich the next part of the batch (or a part ``read`` already): its enriched
        values and keys, in input order (its dead letters are kept for ``finish``)."""
        settings, rules = self.settings, self.rules
        # 1-3. the front (``read``); record i is input row rows[i]
        part = records if isinstance(records, ReadPart) else self.read(records)
        src, front = part.src, part.front
        for d in front.dead:
            self._dead.append(DeadLetter(d.reason, d.detail, src.values[d.row], src.source(d.row)))
        rows, decoded, parsed = front.rows, front.records, front.parsed
        bodies = parsed.bodies
        stated = np.asarray(parsed.severity, dtype=np.intp)

        # a line a value-sensitive rule splits off its template (``exited with code 137``
        # from ``... code 0``) carries that rule's marker, so it gets its own fingerprint,
        # training key and model input; the model sees each distinct normalised body once a
        # batch
        distinct, index = front.distinct, np.asarray(front.norm_index, dtype=np.intp)
        marks = rules.split_marks(
            bodies, self._split_lookup(decoded, parsed, rules), front.split_first
        )
        if any(marks):
            at = {t: k for k, t in enumerate(distinct)}
            for i in [i for i, m in enumerate(marks) if m]:
                index[i] = at.setdefault(distinct[index[i]] + marks[i], len(at))
            # only the bodies some record still has (their order does not matter)
            kept, index = np.unique(index, return_inverse=True)
            every = list(at)
            distinct = [every[k] for k in kept.tolist()]
        scores = self._scores.of(distinct, index, stated > 0)
        identity, tids = self._mine(distinct, index, scores.distinct_slot)
        person = scores.person
        if self._template_people:
            resolved = {self.miner.resolve(t): i for t, i in self._template_people.items()}
            found = np.fromiter((resolved.get(t, -1) for t in tids), dtype=np.intp, count=len(tids))
            person = np.where(person >= 0, person, found[index])

        # 4. people's labels first; rules, only where they can decide; route
        route, rule_idx = _route(bodies, decoded, parsed, scores.confident, rules, front, settings)
        by_people = person >= 0
        route = np.where(by_people, Route.HUMAN, route)

        # 5. training labels and review candidates only for lines the rules or nobody
        # labelled, never for an empty body: per template, its lines nobody labelled (a
        # review candidate: the first of them, their count, a few distinct ones), and the
        # first line of each rule label the rules gave its lines (a training label)
        fps, slot = self._scores.fps, scores.slot
        nonempty = np.fromiter(map(bool, distinct), dtype=bool, count=len(distinct))[index]
        rule_l, stated_l = rule_idx.tolist(), stated.tolist()
        tids_by_slot, texts_by_slot = self._slot_template_ids, self._slot_template_texts
        sel = np.flatnonzero((route == Route.REVIEW) & nonempty)
        if len(sel):
            _, first, lines = np.unique(slot[sel], return_index=True, return_counts=True)
            order = np.argsort(first)
            for i, n in zip(sel[first[order]].tolist(), lines[order].tolist(), strict=True):
                fp = fps[slot[i]]
                tid, text = tids_by_slot[slot[i]], texts_by_slot[slot[i]]
                if tid in self._queued or fp in self._queued:
                    self._already_queued.add(tid)
                    continue
                body = bodies[i] + marks[i]
                cand = self._candidates.get(tid)
                if cand is None:
                    cand = self._candidates[tid] = self._candidate(
                        fp,
                        i,
                        body,
                        distinct[index[i]],
                        decoded,
                        parsed,
                        scores,
                        src.source(rows[i]),
                        tid,
                        text,
                    )
                cand.count += n
                cand.example(body, distinct[index[i]])
        sel = np.flatnonzero((route == Route.RULES) & nonempty)
        if len(sel):
            first = np.sort(np.unique(slot[sel], return_index=True)[1])
            for i in sel[first].tolist():
                rule = rules.rules[rule_l[i]]
                label = _with_severity(rule.label, stated_l[i])
                tid, template = tids_by_slot[slot[i]], texts_by_slot[slot[i]]
                if (tid, label.class_name) in self._seen:
                    continue
                self._seen.add((tid, label.class_name))
                origin = src.source(rows[i]).coordinates
                text = bodies[i] + marks[i]
                self._labels.append(
                    LabelRecord(
                        fps[slot[i]],
                        text,
                        label,
                        RULES,
                        rule.name,
                        origin,
                        template_id=tid,
                        template=template,
                    )
                )

        # 6. the output records
        decisions = Decisions(
            route,
            np.where(route == Route.RULES, rule_idx, np.where(by_people, person, scores.class_idx)),
            np.where(by_people, 0, stated),  # a person's label is all three fields
            self._scores.confidence_json,
            scores.record_slot,
            identity,
            fps,
            self._slot_template_ids,
            self._slot_template_texts,
            parsed.fields_json,
            bodies,
        )
        values, keys = self._writer.encode(src, decoded, rows, front.heads, decisions, front.native)

        counts = self._counts
        counts["in"] += len(src.values)
        counts["out"] += len(decoded)
        counts["by_people"] += int(by_people.sum())
        counts["by_model"] += int((route == Route.MODEL).sum())
        counts["by_rules"] += int((route == Route.RULES).sum())
        counts["needs_review"] += int((route == Route.REVIEW).sum())
        counts["severity_from_line"] += int((stated > 0).sum())
        with_conf = scores.confidence[~np.isnan(scores.confidence)]
        self._conf_sum += float(with_conf.sum())
        self._conf_n += len(with_conf)
        return values, keys

    def _mine(
        self, distinct: list[str], index: np.ndarray, slots: np.ndarray
    ) -> tuple[list[bytes], list[str]]:
        """Mine the part's distinct bodies (each with its line count) into templates; by
        slot, what the output writes after ``"fingerprint":``: the fingerprint, then the
        record's ``template_id`` and ``template`` as they are once the part is mined; and
        each distinct body's template id."""
        counts = np.bincount(index, minlength=len(distinct)).tolist()
        if self._created_before is None:
            self._created_before = self.miner.created
        ids, texts = self.miner.add_many(distinct, counts)
        identity, fps_json = self._identity, self._scores.fingerprint_json
        if len(identity) < len(fps_json):
            more = len(fps_json) - len(identity)
            self._slot_template_ids.extend([""] * more)
            self._slot_template_texts.extend([""] * more)
            identity.extend(fps_json[len(identity) :])
        known = self._template_json
        for slot, tid, text in zip(slots.tolist(), ids, texts, strict=True):
            tail = known.get(tid)
            if tail is None:
                tail = known[tid] = b',"template_id":"%b","template":%b' % (
                    tid.encode(),
                    encode_json(text),
                )
            identity[slot] = fps_json[slot] + tail
            self._slot_template_ids[slot] = tid
            self._slot_template_texts[slot] = text
        return identity, ids

    def finish(self) -> BatchResult:
        """The batch's training labels, review queries (the top ``review_k`` candidates by
        the query strategy), dead letters and counts; ``enriched`` is left empty (``add``
        returned it)."""
        settings = self.settings
        candidates = _by_current_template(self._candidates.values(), self.miner)
        queries = _queries(candidates, self.model, settings) if settings.review_k else []
        counts: dict[str, Any] = {
            "in": self._counts["in"],
            "out": self._counts["out"],
            "dead_letters": len(self._dead),
            **{k: self._counts[k] for k in ("by_people", "by_model", "by_rules", "needs_review")},
            "severity_from_line": self._counts["severity_from_line"],
            "labels": len(self._labels),
            "queries": len(queries),
            "review_candidates": len(candidates),
            "already_queued": len(self._already_queued),
            "distinct_bodies": len(self._scores.slots),
            "templates": len(self.miner),
            "new_templates": 0
            if self._created_before is None
            else self.miner.created - self._created_before,
            "mean_confidence": round(self._conf_sum / self._conf_n, 4) if self._conf_n else None,
            "model_version": self.model.version if self.model is not None else None,
        }
        return BatchResult(
            labels=self._labels,
            queries=queries,
            dead_letters=self._dead,
            counts=counts,
            templates=self.miner.changes(),
        )

    @staticmethod
    def _split_lookup(
        decoded: Sequence[LogRecord], parsed: ParsedColumns, rules: RuleSet
    ) -> _FieldLookup | None:
        """The fields a splitting rule of a field looks up (every record), or None."""
        if not any(rules.rules[i].field for i in rules.splitting):
            return None
        return _FieldLookup(decoded, parsed, list(range(len(decoded))))

    def _candidate(
        self,
        fp: str,
        i: int,
        body: str,
        normalized: str,
        decoded: Sequence[LogRecord],
        parsed: ParsedColumns,
        scores: _PartScores,
        source: Source,
        template_id: str,
        template: str,
    ) -> _Candidate:
        conf = float(scores.confidence[i])
        classes = self._scores.classes
        return _Candidate(
            fp,
            normalized,
            body,
            decoded[i].fields,
            parsed.fields_json[i],
            _with_severity(classes[scores.class_idx[i]], parsed.severity[i]),
            conf,
            source.coordinates,
            template_id,
            template,
        )


def _by_current_template(candidates: Iterable[_Candidate], miner: Miner) -> list[_Candidate]:
    """The candidates by their template as it is at the batch's end: those of templates that
    generalised into one become one (the first, with the lines and examples of all)."""
    out: dict[str, _Candidate] = {}
    for c in candidates:
        tid = miner.resolve(c.template_id)
        kept = out.get(tid)
        if kept is None:
            text = miner.template(tid) if tid != c.template_id else None
            out[tid] = replace(
                c,
                template_id=tid,
                template=text or c.template,
                examples=list(c.examples),
                shown=list(c.shown),
            )
            continue
        kept.count += c.count
        for body, normalized in zip(c.examples, c.shown, strict=True):
            kept.example(body, normalized)
    return list(out.values())


def _with_severity(label: Label, code: int) -> Label:
    """``label`` with the severity the line states (code 0: as it is)."""
    return label if code == 0 else replace(label, severity=SEVERITIES[code - 1])


def _years(src: InputColumns) -> list[int | None]:
    """The year of each value's Kafka timestamp: what a year-less timestamp (syslog's
    ``Nov  1 10:00:00``) is read in."""
    by_day: dict[int, int] = {}
    out: list[int | None] = []
    for ts in src.timestamps:
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
class _PartScores:
    """The model's decision for each record of one part: ``class_idx`` (into the classes),
    ``confidence`` (NaN without a model), ``confident`` (≥ threshold), ``slot`` (the record's
    distinct normalised body in the batch) and ``record_slot`` (its entry in the confidence
    JSON: ``2 * slot + stated``)."""

    class_idx: np.ndarray
    confidence: np.ndarray
    confident: np.ndarray
    slot: np.ndarray
    record_slot: list[int]
    person: np.ndarray  # index of the person's label of the record's template, else -1
    distinct_slot: np.ndarray  # the slot of each of the part's distinct bodies


class _Scores:
    """The model's label and confidence per distinct normalised body of a batch, each body
    predicted once (NaN and the taxonomy's fallback without a model). For a line that states
    its severity the model decides only the event type and category: its confidence is that
    of the best (event type, category) pair, summed over the severities.
    ``confidence_json[2 * slot + stated]``: the confidence as the output writes it."""

    def __init__(
        self, model: Model | None, settings: EnrichSettings, people: Mapping[str, int]
    ) -> None:
        self.model, self.threshold, self.people = model, settings.threshold, people
        self._person = np.empty(0, dtype=np.intp)
        self.classes: Sequence[Label] = (
            model.classes if model is not None else [settings.taxonomy.fallback]
        )
        self.slots: dict[str, int] = {}
        self.confidence_json: list[bytes] = []
        self.fps: list[str] = []  # by slot
        self.fingerprint_json: list[bytes] = []  # by slot, as the output writes them
        empty = np.empty(0, dtype=np.intp)
        self._best, self._pair_best = empty, empty
        self._conf, self._pair_conf = np.empty(0), np.empty(0)

    def of(self, distinct: Sequence[str], index: np.ndarray, stated: np.ndarray) -> _PartScores:
        """The decisions for a part whose record i has the normalised body
        ``distinct[index[i]]`` (``distinct`` without repeats)."""
        slots = self.slots
        fresh = [t for t in distinct if t not in slots]
        if fresh:
            self._predict(fresh)
        distinct_slot = np.fromiter(
            map(slots.__getitem__, distinct), dtype=np.intp, count=len(distinct)
        )
        slot = distinct_slot[index]
        record_slot = (slot * 2 + stated).tolist()
        person = self._person[slot]
        if self.model is None:
            n = len(slot)
            confidence = np.full(n, np.nan)
            return _PartScores(
                np.zeros(n, dtype=np.intp),
                confidence,
                np.zeros(n, dtype=bool),
                slot,
                record_slot,
                person,
                distinct_slot,
            )
        class_idx = np.where(stated, self._pair_best[slot], self._best[slot])
        confidence = np.where(stated, self._pair_conf[slot], self._conf[slot])
        confident = confidence >= self.threshold
        return _PartScores(
            class_idx, confidence, confident, slot, record_slot, person, distinct_slot
        )

    def _predict(self, fresh: list[str]) -> None:
        start = len(self.slots)
        self.slots.update(zip(fresh, range(start, start + len(fresh)), strict=True))
        fresh_fps, fresh_json = fingerprints(fresh)
        self.fps.extend(fresh_fps)
        self.fingerprint_json.extend(fresh_json)
        people = self.people
        found = [people.get(fp, -1) for fp in fresh_fps] if people else [-1] * len(fresh)
        self._person = np.concatenate([self._person, np.asarray(found, dtype=np.intp)])
        if self.model is None:
            self.confidence_json.extend([b"null"] * (2 * len(fresh)))
            return
        proba = self.model.predict_proba_normalized(fresh)
        best = proba.argmax(axis=1)
        conf = proba[np.arange(len(fresh)), best]
        pair_best, pair_conf = _pair_scores(proba, self.classes)
        self._best = np.concatenate([self._best, best])
        self._conf = np.concatenate([self._conf, conf])
        self._pair_best = np.concatenate([self._pair_best, pair_best])
        self._pair_conf = np.concatenate([self._pair_conf, pair_conf])
        both = np.stack([conf, pair_conf], axis=1).ravel()
        written = written_confidence(both, self.threshold).tolist()
        self.confidence_json.extend(b"null" if c != c else repr(c).encode() for c in written)


def written_confidence(confidence: np.ndarray, threshold: float) -> np.ndarray:
    """The confidences as records show them: rounded to 4 decimals, but never across the
    threshold (0.74996 under a threshold of 0.75 shows as 0.7499, not as 0.75), so a record's
    confidence always agrees with who labelled it."""
    shown = np.round(confidence, 4)
    below = confidence < threshold
    shown = np.where(below & (shown >= threshold), np.round(shown - 1e-4, 4), shown)
    return np.where(~below & (shown < threshold), np.round(shown + 1e-4, 4), shown)


def _pair_scores(proba: np.ndarray, classes: Sequence[Label]) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the most likely class of the most likely (event type, category) pair, and
    that pair's probability (summed over its severities)."""
    pairs: dict[tuple[str, str], int] = {}
    group = np.fromiter(
        (pairs.setdefault((c.event_type, c.category), len(pairs)) for c in classes),
        dtype=np.intp,
        count=len(classes),
    )
    # summed by slicing the pairs' columns, not by a product with a one-hot matrix: a matrix
    # product goes to the BLAS, whose threads then spin on the cores the task shares with
    # the Kafka client's threads and the parser's (measured: 14 % of the task's CPU)
    order = np.argsort(group, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(group[order]) != 0])
    pair_proba = np.add.reduceat(proba[:, order], starts, axis=1)
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
    front: Front,
    settings: EnrichSettings,
) -> tuple[np.ndarray, np.ndarray]:
    """Per record its :class:`Route`, and the first matching rule's index (-1: none, or not
    asked because the model decides). Rules see the body, and the parsed and JSON fields;
    the rules of the text are matched where the native front keeps the bodies."""
    n, policy = len(decoded), settings.policy
    need_rules = ~confident if policy == defaults.MODEL_FIRST else np.ones(n, dtype=bool)
    rule_idx = np.full(n, -1, dtype=np.intp)
    where = np.flatnonzero(need_rules).tolist()
    if where:
        lookup = _FieldLookup(decoded, parsed, where) if rules.fields_used else None
        firsts = front.first_rule(rules.text_matcher, where)
        if firsts is None:
            rule_idx[where] = rules.match([bodies[i] for i in where], lookup)
        else:  # a body is read as a Python string only where the front's answer is -2
            texts = Column(bodies.__getitem__, where, len(where), {})
            rule_idx[where] = rules.match(texts, lookup, firsts)
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
    candidates: Sequence[_Candidate], model: Model | None, settings: EnrichSettings
) -> list[ReviewItem]:
    """The review queries: ``settings.review_k`` of the candidates (one per template)
    picked by the query strategy, each weighted by its template's lines."""
    if not candidates:
        return []
    pool = np.asarray([c.normalized for c in candidates], dtype=object)
    weights = np.asarray([c.count for c in candidates], dtype=np.float64)
    scorer = model.pipeline if model is not None else unfitted_learner()
    picked, picked_scores = STRATEGIES[settings.strategy](
        scorer, pool, settings.review_k, settings.random_state, weights=weights
    )
    queries = []
    for j, score in zip(picked, picked_scores, strict=True):
        c = candidates[int(j)]
        context = c.fields if c.fields is not None else parsed_fields(c.parsed_json)
        queries.append(
            ReviewItem(
                c.fingerprint,
                c.body,
                dict(context) if context else None,
                c.guess.to_dict(),
                None if np.isnan(c.confidence) else c.confidence,
                float(score),
                settings.strategy,
                c.coordinates,
                template_id=c.template_id,
                template=c.template,
                count=c.count,
                examples=tuple(c.examples),
            )
        )
    return queries
