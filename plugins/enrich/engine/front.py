"""The engine's front: one part's Kafka values decoded, parsed and normalised, as columns.

``read_part`` is what ``Enricher.add`` starts with. The reference is plain Python, value by
value: ``decode`` (a log record or a dead letter), ``LogFormats.parse_safely`` (the body, the
severity the line states, the parsed fields), ``normalize`` of the body, and the head of the
output value (``head_of``). The native front (``enrich_native.Parser.front``) gives the same
columns in one pass over the values, without a Python object per record in between; values it
leaves to Python (dead letters, and the rare ones where the two might read differently) take
the reference path. ``tests/unit/test_front.py`` compares the two.

A record's :class:`LogRecord` is decoded again only when something asks for it
(``Front.records[i]``): a rule that reads a JSON field, a review question, an output value
that takes the reference path.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

from enrich import defaults
from enrich.core.formats import ENRICHMENT_KEYS
from enrich.core.normalize import normalize
from enrich.core.parse import LogFormats, ParsedColumns, severity_code
from enrich.core.records import LogRecord, decode, encode_json

_RESERVED = frozenset(ENRICHMENT_KEYS)


def front_threads() -> int:
    """Threads the native front reads a part with (parts of 2,048 values or more are
    split between them; the results do not depend on it): ``ENRICH_FRONT_THREADS``, else
    the cores this process may run on, at most 4."""
    configured = os.environ.get("ENRICH_FRONT_THREADS", "").strip()
    if configured:
        return max(1, int(configured))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(4, cores or 1))


_THREADS = front_threads()


@dataclass(frozen=True)
class DeadRow:
    row: int  # the value's index in the part
    reason: str
    detail: str


class Records(Sequence[LogRecord]):
    """The decoded record of each row in ``rows``, decoded when first asked for."""

    def __init__(
        self,
        values: Sequence[bytes | None],
        rows: Sequence[int],
        max_bytes: int,
        text_fields: tuple[str, ...],
        known: dict[int, LogRecord] | None = None,
    ) -> None:
        self._values, self._rows = values, rows
        self._max_bytes, self._text_fields = max_bytes, text_fields
        self._known: dict[int, LogRecord] = known or {}

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, i: int) -> LogRecord: ...
    @overload
    def __getitem__(self, i: slice) -> list[LogRecord]: ...
    def __getitem__(self, i: int | slice) -> LogRecord | list[LogRecord]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        rec = self._known.get(i)
        if rec is None:
            out = decode(self._values[self._rows[i]], self._max_bytes, self._text_fields)
            if not isinstance(out, LogRecord):  # the front decoded it: it cannot be dead
                raise AssertionError(f"record {i} decodes as a dead letter now: {out}")
            rec = self._known[i] = out
        return rec

    def __iter__(self) -> Iterator[LogRecord]:
        return (self[i] for i in range(len(self)))


@dataclass
class Front:
    """One part's values as the engine works on them; record ``i`` is input row ``rows[i]``.

    ``distinct``: the distinct normalised bodies, in order of first appearance, and
    ``norm_index[i]`` record i's among them. ``heads[i]``: the start of record i's output
    value (see ``head_of``), None where the output writer builds the record as an object
    instead."""

    rows: list[int]
    dead: list[DeadRow]
    parsed: ParsedColumns
    distinct: list[str]
    norm_index: list[int]
    heads: list[bytes | None]
    records: Records
    # per record, the splitting rules' native matcher's answer for its body (see
    # ``RuleSet.split_marks``), where the front ran it
    split_first: list[int] | None = None

    @property
    def normalized(self) -> list[str]:
        """Each record's normalised body."""
        return list(map(self.distinct.__getitem__, self.norm_index))


def _index(normalized: Sequence[str]) -> tuple[list[str], list[int]]:
    """The distinct texts, in order of first appearance, and each text's index among them."""
    at: dict[str, int] = {}
    index = [at.setdefault(n, len(at)) for n in normalized]
    return list(at), index


def head_of(rec: LogRecord, value: bytes | None) -> bytes | None:
    """The start of the output value of ``rec``: ``{"message":<text>,`` for a plain line; a
    strict JSON object's own bytes up to its closing brace (and a comma unless it is empty)
    when none of its keys is an enrichment key; else None."""
    fields = rec.fields
    if fields is None:
        return b'{"message":' + encode_json(rec.text) + b","
    if rec.verbatim and value is not None and _RESERVED.isdisjoint(fields):
        body = value.rstrip()[:-1]  # up to its "}"
        return body + b"," if fields else body
    return None


def read_part(
    values: Sequence[bytes | None],
    years: Sequence[int | None],
    formats: LogFormats,
    max_bytes: int = defaults.MAX_VALUE_BYTES,
    text_fields: tuple[str, ...] = defaults.TEXT_FIELDS,
    threads: int = _THREADS,
    split: Any = None,
) -> Front:
    """The front of ``values`` (``years[i]``: the year value i's year-less timestamp is read
    in): natively where the native parser is built (with ``threads`` threads), else the
    reference. ``split``: the splitting rules' native matcher (``RuleSet.split_matcher``),
    run on each body there too."""
    native = formats._native_parser()
    if native is None:
        return read_part_reference(values, years, formats, max_bytes, text_fields)
    values = values if isinstance(values, list) else list(values)
    years = years if isinstance(years, list) else list(years)
    kinds, bodies, codes, fields, heads, norms, distinct, splits = native.front(
        values, years, max_bytes, text_fields, ENRICHMENT_KEYS, threads, split
    )
    known: dict[int, LogRecord] = {}
    dead: list[DeadRow] = []
    if 0 in kinds:  # left to the reference: dead letters and rare values
        for row in [i for i, k in enumerate(kinds) if k == 0]:
            out = decode(values[row], max_bytes, text_fields)
            if not isinstance(out, LogRecord):
                dead.append(DeadRow(row, out[0], out[1]))
                continue
            p = formats.parse_safely(out, years[row])
            bodies[row], codes[row], fields[row] = (
                p.body,
                severity_code(p.severity),
                encode_json(p.fields),
            )
            heads[row] = head_of(out, values[row])
            known[row] = out
    if -1 in norms:  # not ASCII (or left to the reference): normalised in Python
        at = {n: i for i, n in enumerate(distinct)}
        for i, k in enumerate(norms):
            if k < 0 and bodies[i] is not None:
                norms[i] = at.setdefault(normalize(bodies[i]), len(at))
        distinct = list(at)
    rows: list[int] = list(range(len(values)))
    if dead:
        gone = {d.row for d in dead}
        rows = [r for r in rows if r not in gone]
        bodies, codes = [bodies[r] for r in rows], [codes[r] for r in rows]
        fields, heads = [fields[r] for r in rows], [heads[r] for r in rows]
        norms, splits = [norms[r] for r in rows], [splits[r] for r in rows]
        known = {i: known[r] for i, r in enumerate(rows) if r in known}
    return Front(
        rows,
        dead,
        ParsedColumns(bodies, codes, fields),
        distinct,
        norms,
        heads,
        Records(values, rows, max_bytes, text_fields, known),
        splits if split is not None else None,
    )


def read_part_reference(
    values: Sequence[bytes | None],
    years: Sequence[int | None],
    formats: LogFormats,
    max_bytes: int = defaults.MAX_VALUE_BYTES,
    text_fields: tuple[str, ...] = defaults.TEXT_FIELDS,
) -> Front:
    """``read_part`` value by value in Python (decode, parse, normalise, head): the
    reference, and the path where the native module is not built."""
    decoded: list[LogRecord] = []
    rows: list[int] = []
    dead: list[DeadRow] = []
    for row, value in enumerate(values):
        out = decode(value, max_bytes, text_fields)
        if isinstance(out, LogRecord):
            decoded.append(out)
            rows.append(row)
        else:
            dead.append(DeadRow(row, out[0], out[1]))
    found = formats.parse_many(decoded, [years[r] for r in rows])
    bodies = [p.body for p in found]
    return Front(
        rows,
        dead,
        ParsedColumns(
            bodies,
            [severity_code(p.severity) for p in found],
            [encode_json(p.fields) for p in found],
        ),
        *_index([normalize(b) for b in bodies]),
        [head_of(rec, values[r]) for rec, r in zip(decoded, rows, strict=True)],
        Records(values, rows, max_bytes, text_fields, dict(enumerate(decoded))),
    )
