"""The output topic's values for a whole batch, fast: ``OutputWriter.encode``.

Each value is what ``EnrichedCodec.encode(EnrichedCodec.record(...))`` gives for the record
(``OutputWriter.reference`` builds exactly that, and the tests compare the two); it is only
written faster. A strict JSON object input is extended as it is, byte for byte (its own
fields, order, number spelling and escapes pass through untouched) with the enrichment
appended, and the enrichment's fixed part (label, who labelled, model, rule) is encoded once
per route and rule or class. Any other input (a field named like an enrichment key, JSON only
the stdlib reads) takes the reference path. The native encoder (``native/``, Rust) writes the
same bytes as the Python loop here when it is installed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import numpy as np

from enrich.core.formats import (
    BY_HUMAN,
    BY_MODEL,
    BY_NOBODY,
    BY_RULES,
    ENRICHMENT_KEYS,
    EnrichedCodec,
)
from enrich.core.labels import Label
from enrich.core.records import LogRecord, RawBatch, RawRecord, Source, encode_json
from enrich.core.rules import RuleSet
from enrich.core.templates import template_params

try:  # the native encoder of the same outputs (native/); the Python loop below otherwise
    from enrich_native import encode_front as _native_encode_front
    from enrich_native import encode_records as _native_encode_records
except ImportError:
    _native_encode_records = _native_encode_front = None


class Route(IntEnum):
    """Who labelled a record."""

    RULES = 0
    MODEL = 1
    REVIEW = 2  # nobody: the model's guess, queued for a person
    HUMAN = 3  # a person labelled the line's template


_BY = {Route.RULES: BY_RULES, Route.MODEL: BY_MODEL, Route.REVIEW: BY_NOBODY, Route.HUMAN: BY_HUMAN}
# severity codes: 0, the line states none; 1-5, it states one of these
_SEVERITIES = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_ENRICHMENT_KEYS = frozenset(ENRICHMENT_KEYS)
# An output record after its head (``enrich.engine.front.head_of``): ``{"message":"<text>",``
# for a plain line, a JSON object's bytes up to its closing brace (and a comma unless it is
# empty) for an object.
_RECORD = (
    b'%b%b,"confidence":%b,"fingerprint":%b,"template_params":%b,%b,"offset":%d,'
    b'"timestamp":%b},"parsed":%b}'
)


@dataclass
class InputColumns:
    """A batch's inputs as columns, whichever form they came in."""

    values: list[bytes | None]
    topics: list[str]
    partitions: list[int]
    offsets: list[int]
    timestamps: list[int | None]
    keys: Sequence[bytes | None]

    @classmethod
    def of(cls, records: Sequence[RawRecord] | RawBatch) -> InputColumns:
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


@dataclass(frozen=True)
class Decisions:
    """What routing decided for each decoded record, in record order.

    ``route``: a :class:`Route` per record; ``label_index``: its rule's index (RULES), its
    class's index (MODEL, REVIEW) or its person's label's index (HUMAN); ``severity``: 0,
    or 1-5 for the severity the line states (DEBUG .. CRITICAL), which then replaces the
    label's; ``confidence_json``: the model's confidence as the output writes it, and
    ``text_slot[i]`` record i's entry in it (``2 * slot + stated``, where ``slot`` is the
    record's distinct normalised body); by slot: ``identity_json``, what follows
    ``"fingerprint":`` in the record (the fingerprint's JSON, then the ``template_id`` and
    ``template`` members), ``fingerprints``, ``template_ids`` and ``template_texts``; per
    record: ``parsed``, what the parser found, as JSON, and
    ``bodies``, its message body (its ``template_params`` are the body's values where its
    template varies).
    """

    route: np.ndarray
    label_index: np.ndarray
    severity: np.ndarray
    confidence_json: Sequence[bytes]
    text_slot: Sequence[int]
    identity_json: Sequence[bytes]
    fingerprints: Sequence[str]
    template_ids: Sequence[str]
    template_texts: Sequence[str]
    parsed: Sequence[bytes]
    bodies: Sequence[str]


class OutputWriter:
    """Writes the output values and keys of one batch's decoded records."""

    def __init__(
        self,
        model: dict[str, Any] | None,
        classes: Sequence[Label],
        rules: RuleSet,
        people: Sequence[Label] = (),
    ) -> None:
        self.model, self.classes, self.rules, self.people = model, classes, rules, people

    def fixed_part(self, route: Route, index: int, severity: int = 0) -> dict[str, Any]:
        """The enrichment keys that follow from the route, the rule or class, and the
        severity the line states (0: none)."""
        if route == Route.RULES:
            rule = self.rules.rules[index]
            label, rule_name = rule.label, rule.name
        elif route == Route.HUMAN:
            label, rule_name = self.people[index], None
        else:
            label, rule_name = self.classes[index], None
        return {
            "severity": _SEVERITIES[severity - 1] if severity else label.severity,
            "event_type": label.event_type,
            "category": label.category,
            "labelled_by": _BY[route],
            "needs_review": route == Route.REVIEW,
            "model": self.model,
            "rule": rule_name,
            "severity_by": "line" if severity else _BY[route],
        }

    def _part_ids(self, decisions: Decisions) -> list[int]:
        """One id per (route, rule or class, stated severity): the fixed part of the
        enrichment is encoded once per id."""
        width = self._width()
        ids = (decisions.severity * width + decisions.label_index) * len(Route) + decisions.route
        ids_list: list[int] = ids.tolist()
        return ids_list

    def _width(self) -> int:
        return max(len(self.rules.rules), len(self.classes), len(self.people), 1)

    def _unpack(self, pid: int) -> tuple[Route, int, int]:
        width = self._width()
        route, rest = Route(pid % len(Route)), pid // len(Route)
        return route, rest % width, rest // width

    def reference(
        self,
        src: InputColumns,
        rec: LogRecord,
        row: int,
        route: Route,
        index: int,
        confidence_json: bytes,
        fingerprint: str | None,
        severity: int = 0,
        parsed: dict[str, Any] | None = None,
        template: tuple[str, str] | None = None,
        body: str = "",
    ) -> dict[str, Any]:
        """The output record of input ``row`` as an object (its JSON is the value);
        ``body``: its message body, whose values where the template varies are its
        ``template_params``."""
        identity = (
            {
                "template_id": template[0],
                "template": template[1],
                "template_params": template_params(body, template[1]),
            }
            if template
            else {}
        )
        enrichment = {
            **self.fixed_part(route, index, severity),
            "confidence": json.loads(confidence_json),
            "fingerprint": fingerprint,
            **identity,
            "source": {
                "topic": src.topics[row],
                "partition": src.partitions[row],
                "offset": src.offsets[row],
                "timestamp": src.timestamps[row],
            },
            "parsed": parsed or {},
        }
        return EnrichedCodec.record(rec, enrichment)

    def encode(
        self,
        src: InputColumns,
        decoded: Sequence[LogRecord],
        rows: Sequence[int],
        heads: Sequence[bytes | None],
        decisions: Decisions,
        native: Any = None,
    ) -> tuple[list[bytes], list[str]]:
        """The value and key of each decoded record; ``rows[i]``: record i's input row;
        ``heads[i]``: the start of its value (``enrich.engine.front.head_of``), None where it
        is built as an object (the reference path). ``native``: the front's
        ``NativeColumns``, where the heads and parsed fields are read from natively."""
        if len(rows) == len(src.values):  # no dead letters: record i is input row i
            topics, partitions = src.topics, src.partitions
            offsets, stamps = src.offsets, src.timestamps
        else:
            topics = [src.topics[r] for r in rows]
            partitions = [src.partitions[r] for r in rows]
            offsets = [src.offsets[r] for r in rows]
            stamps = [src.timestamps[r] for r in rows]
        prefixes, sources = _locations(topics, partitions)
        keys = list(map(str.__add__, prefixes, map(str, offsets)))
        part_ids = self._part_ids(decisions)
        parts = {
            pid: encode_json(self.fixed_part(*self._unpack(pid)))[1:-1] for pid in set(part_ids)
        }
        parsed_json, fps_json = decisions.parsed, decisions.identity_json
        conf_json, slot = decisions.confidence_json, decisions.text_slot
        values: list[bytes | None]
        table = [parts.get(pid, b"") for pid in range(max(part_ids, default=0) + 1)]
        texts, bodies = decisions.template_texts, decisions.bodies
        columns = (table, part_ids, conf_json, slot, fps_json, texts)
        tail = (sources, offsets, stamps)
        if native is not None and _native_encode_front is not None:
            values = _native_encode_front(
                native.batch,
                native.rows,
                native.heads,
                native.fields,
                *columns,
                native.bodies,
                *tail,
            )
        elif _native_encode_records is not None:
            values = _native_encode_records(heads, parsed_json, *columns, list(bodies), *tail)
        else:
            values = []
            append = values.append
            for i, (head, source, offset, ts) in enumerate(
                zip(heads, sources, offsets, stamps)  # noqa: B905  # same lengths
            ):
                if head is None:
                    append(None)  # the reference path, below
                    continue
                ts_json = b"null" if ts is None else b"%d" % ts
                fixed, conf, fp = parts[part_ids[i]], conf_json[slot[i]], fps_json[slot[i] >> 1]
                params = encode_json(template_params(bodies[i], texts[slot[i] >> 1]))
                append(
                    _RECORD
                    % (head, fixed, conf, fp, params, source, offset, ts_json, parsed_json[i])
                )
        if None in values:  # what the fast path left to the reference path
            for i in [i for i, v in enumerate(values) if v is None]:
                route, index, severity = self._unpack(part_ids[i])
                record = self.reference(
                    src,
                    decoded[i],
                    rows[i],
                    route,
                    index,
                    conf_json[slot[i]],
                    decisions.fingerprints[slot[i] >> 1],
                    severity,
                    json.loads(parsed_json[i]),
                    (decisions.template_ids[slot[i] >> 1], texts[slot[i] >> 1]),
                    bodies[i],
                )
                values[i] = EnrichedCodec.encode(record)
        return values, keys  # type: ignore[return-value]  # no None left


def _locations(topics: list[str], partitions: list[int]) -> tuple[list[str], list[bytes]]:
    """Per record: its key's prefix ``topic:partition:`` and the JSON start of its source."""

    def where(topic: str, partition: int) -> tuple[str, bytes]:
        source = b'"source":{"topic":%b,"partition":%d' % (encode_json(topic), partition)
        return f"{topic}:{partition}:", source

    n = len(topics)
    if len(set(topics)) == 1 and len(set(partitions)) == 1:  # one partition's batch
        prefix, source = where(topics[0], partitions[0])
        return [prefix] * n, [source] * n
    known: dict[tuple[str, int], tuple[str, bytes]] = {}
    pairs = [
        known.get(tp) or known.setdefault(tp, where(*tp))
        for tp in zip(topics, partitions, strict=True)
    ]
    return [p for p, _s in pairs], [s for _p, s in pairs]
