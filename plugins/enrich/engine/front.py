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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast, overload

import numpy as np

from enrich import defaults
from enrich.core.formats import ENRICHMENT_KEYS
from enrich.core.normalize import normalize
from enrich.core.parse import LogFormats, ParsedColumns, severity_code
from enrich.core.records import LogRecord, decode, encode_json

_RESERVED = frozenset(ENRICHMENT_KEYS)
T = TypeVar("T")


def default_threads() -> int:
    """Threads the native front reads a part with unless told (parts of 2,048 values or more
    are split between them; the results do not depend on it): the cores this process may
    run on, at most 4."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(4, cores or 1))


@dataclass(frozen=True)
class DeadRow:
    row: int  # the value's index in the part
    reason: str
    detail: str


class Column(Sequence[T]):
    """One column of the values the native front read, kept in its ``FrontBatch`` and made a
    Python object only when asked for: record ``i`` is the batch's value ``rows[i]`` (``rows``
    None: value ``i``); a value in ``over`` (one the reference read) takes that."""

    def __init__(
        self, get: Callable[[int], T], rows: Sequence[int] | None, n: int, over: dict[int, T]
    ) -> None:
        self._get, self._rows, self._n, self.over = get, rows, n, over

    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, i: int) -> T: ...
    @overload
    def __getitem__(self, i: slice) -> list[T]: ...
    def __getitem__(self, i: int | slice) -> T | list[T]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._n))]
        if not -self._n <= i < self._n:
            raise IndexError(i)
        i %= self._n
        row = i if self._rows is None else self._rows[i]
        if row in self.over:
            return self.over[row]
        return self._get(row)

    def __iter__(self) -> Iterator[T]:
        return (self[i] for i in range(self._n))


def _records(
    values: Sequence[bytes | None],
    rows: Sequence[int] | None,
    n: int,
    max_bytes: int,
    text_fields: tuple[str, ...],
    known: dict[int, LogRecord],
) -> Column[LogRecord]:
    """Each record's :class:`LogRecord` (``known``, by value), else decoded when first asked
    for and kept there."""

    def decoded(row: int) -> LogRecord:
        out = decode(values[row], max_bytes, text_fields)
        if not isinstance(out, LogRecord):  # the front decoded it: it cannot be dead
            raise AssertionError(f"value {row} decodes as a dead letter now: {out}")
        known[row] = out
        return out

    return Column(decoded, rows, n, known)


@dataclass(frozen=True)
class NativeColumns:
    """Where the output writer finds the heads, bodies and parsed fields natively
    (``encode_front``): the front's batch, each record's value in it (None: record i is value
    i), and the heads, fields and bodies of the values the reference read, by value."""

    batch: Any
    rows: list[int] | None
    heads: dict[int, bytes | None]
    fields: dict[int, bytes]
    bodies: dict[int, str]


@dataclass
class Front:
    """One part's values as the engine works on them; record ``i`` is input row ``rows[i]``.

    ``distinct``: the distinct normalised bodies, and ``norm_index[i]`` record i's among
    them. ``heads[i]``: the start of record i's output value (see ``head_of``), None where
    the output writer builds the record as an object instead. ``split_first``: per record,
    the splitting rules' native matcher's answer for its body (see ``RuleSet.split_marks``),
    where the front ran it; ``native``: where the writer reads heads and fields natively."""

    rows: Sequence[int]
    dead: list[DeadRow]
    parsed: ParsedColumns
    distinct: list[str]
    norm_index: Sequence[int]
    heads: Sequence[bytes | None]
    records: Sequence[LogRecord]
    split_first: Sequence[int] | None = None
    native: NativeColumns | None = None

    @property
    def normalized(self) -> list[str]:
        """Each record's normalised body."""
        return [self.distinct[k] for k in self.norm_index]

    def first_rule(self, matcher: Any, records: list[int]) -> list[int] | None:
        """``matcher.first`` (a native ``RuleMatcher``) of the bodies of ``records``, matched
        where the native front keeps them (no Python string a body, without the GIL); -2 for
        a body the reference read (match it with RE2). None without the native front."""
        native = self.native
        if native is None or matcher is None:
            return None
        rows = records if native.rows is None else [native.rows[i] for i in records]
        firsts: list[int] = native.batch.first_rule(matcher, rows)
        if native.bodies:
            over = native.bodies
            firsts = [-2 if r in over else j for r, j in zip(rows, firsts, strict=True)]
        return firsts


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
    threads: int | None = None,
    split: Any = None,
) -> Front:
    """The front of ``values`` (``years[i]``: the year value i's year-less timestamp is read
    in): natively where the native parser is built (with ``threads`` threads; None:
    ``default_threads()``), else the reference. ``split``: the splitting rules' native
    matcher (``RuleSet.split_matcher``), run on each body there too."""
    native = formats.native_parser()
    if native is None:
        return read_part_reference(values, years, formats, max_bytes, text_fields)
    values = values if isinstance(values, list) else list(values)
    years = years if isinstance(years, list) else list(years)
    threads = default_threads() if threads is None else threads
    batch, kinds_b, codes_b, norms_b, splits_b, distinct = native.front(
        values, years, max_bytes, text_fields, ENRICHMENT_KEYS, threads, split
    )
    kinds = np.frombuffer(kinds_b, dtype=np.uint8)
    codes = np.frombuffer(codes_b, dtype=np.uint8).astype(np.intp)
    norms = np.frombuffer(norms_b, dtype="<i4").astype(np.intp)
    splits = np.frombuffer(splits_b, dtype="<i4").astype(np.intp)
    known: dict[int, LogRecord] = {}
    dead: list[DeadRow] = []
    bodies_over: dict[int, str] = {}
    fields_over: dict[int, bytes] = {}
    heads_over: dict[int, bytes | None] = {}
    for row in np.flatnonzero(kinds == 0).tolist():  # dead letters and rare values
        out = decode(values[row], max_bytes, text_fields)
        if not isinstance(out, LogRecord):
            dead.append(DeadRow(row, out[0], out[1]))
            continue
        p = formats.parse_safely(out, years[row])
        bodies_over[row], codes[row] = p.body, severity_code(p.severity)
        fields_over[row], heads_over[row] = encode_json(p.fields), head_of(out, values[row])
        known[row] = out
    gone = {d.row for d in dead}
    unnormalised = [r for r in np.flatnonzero(norms < 0).tolist() if r not in gone]
    if unnormalised:  # not ASCII (or read by the reference): normalised in Python
        at = {n: i for i, n in enumerate(distinct)}
        for row in unnormalised:
            body = bodies_over[row] if row in bodies_over else batch.body(row)
            norms[row] = at.setdefault(normalize(body), len(at))
        distinct = list(at)
    rows: list[int] | None = None
    n = len(values)
    if dead:
        rows = [r for r in range(n) if r not in gone]
        codes, norms, splits = codes[rows], norms[rows], splits[rows]
        n = len(rows)
    # numpy's integer arrays serve as sequences of ints here
    codes_s, norms_s = cast(Sequence[int], codes), cast(Sequence[int], norms)
    return Front(
        range(n) if rows is None else rows,
        dead,
        ParsedColumns(
            Column(batch.body, rows, n, bodies_over),
            codes_s,
            Column(batch.fields, rows, n, fields_over),
        ),
        distinct,
        norms_s,
        Column(batch.head, rows, n, heads_over),
        _records(values, rows, n, max_bytes, text_fields, known),
        cast(Sequence[int], splits) if split is not None else None,
        NativeColumns(batch, rows, heads_over, fields_over, bodies_over),
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
    known = dict(zip(rows, decoded, strict=True))
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
        _records(values, rows, len(rows), max_bytes, text_fields, known),
    )
