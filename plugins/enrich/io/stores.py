"""The labels and review topics as stores: write labels, read them merged, read the queue.

Records are written and read through their codecs (``enrich.core.formats``). Readers go one
partition at a time by assign (``partition_readers``, ``read_partitions``), commit nothing,
and skip a record they cannot read with a warning (counted), so one bad record never stops
training or labelling.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Producer

from enrich.core.formats import (
    HUMAN,
    LabelCodec,
    LabelRecord,
    ReviewCodec,
    ReviewItem,
    TemplateCodec,
)
from enrich.core.labels import Label, Taxonomy
from enrich.core.templates import Miner, new_miner
from enrich.io.kafka import flush_or_fail, idempotent_producer, produce_one
from enrich.io.reading import partition_readers, read_latest, read_partitions
from enrich.learn.training import changed_labels, merge_labels

log = logging.getLogger(__name__)
_UNREADABLE = (ValueError, KeyError, TypeError)
HUMAN_KEY_PREFIX = LabelCodec.key(HUMAN, "").encode()


def send_label(
    producer: Producer, topic: str, label: LabelRecord, now_ms: int | None = None
) -> None:
    """Produce one training label to the compacted labels topic (in the caller's
    transaction, if any)."""
    produce_one(
        producer,
        topic,
        LabelCodec.encode(label, now_ms),
        LabelCodec.key_of(label),
    )


def write_labels(config: Mapping[str, Any], topic: str, labels: Iterable[LabelRecord]) -> int:
    """Produce ``labels`` with an idempotent producer and flush; return how many.

    Raises StackError if a delivery failed. Idempotent in effect: the topic is compacted by
    (source, unit), so writing a label again replaces it.
    """
    producer = idempotent_producer(config)
    count = 0
    for label in labels:
        send_label(producer, topic, label)
        count += 1
    flush_or_fail(producer, topic)
    return count


@dataclass(frozen=True)
class LabelsRead:
    """The labels topic merged to one label per unit (``labels``, ``LabelRecord.unit``), the
    end offsets read, how many records were read, and how many units got a new label since
    the offsets ``since`` (``changed``: all of them without ``since``)."""

    labels: dict[str, LabelRecord]
    ends: dict[int, int]
    read: int
    changed: int


def read_labels(
    config: Mapping[str, Any],
    topic: str,
    taxonomy: Taxonomy,
    group_id: str,
    since: Mapping[int, int] | None = None,
) -> LabelsRead:
    """Read the labels topic merged (human over rules, latest wins), a chunk (10,000
    records) at a time, so memory follows the number of distinct lines, not the topic's
    length (its uncompacted tail included). ``since``: end offsets of an earlier read (the
    last training's); what changed after them is counted."""
    merged: dict[str, LabelRecord] = {}
    before: dict[str, LabelRecord] = {}
    ends: dict[int, int] = {}
    read = bad = 0
    for p, reader in partition_readers(config, topic, group_id):
        cut = (since or {}).get(p, 0)
        for chunk in reader.chunks():
            read += len(chunk)
            batch, old = [], []
            for m in chunk:
                try:
                    item = LabelCodec.decode(m.value() or b"", taxonomy)
                except _UNREADABLE:
                    bad += 1
                    continue
                batch.append(item)
                if (m.offset() or 0) < cut:
                    old.append(item)
            merge_labels(batch, into=merged)
            merge_labels(old, into=before)
        ends[p] = reader.next_offset
    if bad:
        log.warning("skipped %d unreadable or out-of-taxonomy labels", bad)
    changed = changed_labels(before, merged) if since is not None else len(merged)
    return LabelsRead(merged, ends, read, changed)


class PeopleLabels:
    """The labels people gave, by unit (``t:<template id>`` for an answer about a template, a
    fingerprint for one about a line), from the labels topic (its ``human:`` keys; the latest
    label of a unit wins): the first ``refresh`` reads the topic a chunk at
    a time, later ones only what was written since. Labels with values the taxonomy does not
    have are skipped with a warning."""

    def __init__(self) -> None:
        self._labels: dict[str, LabelRecord] = {}
        self._ends: dict[int, int] = {}
        self._topic: str | None = None

    def refresh(
        self, config: Mapping[str, Any], topic: str, taxonomy: Taxonomy, group_id: str
    ) -> dict[str, Label]:
        if topic != self._topic:
            self._labels, self._ends, self._topic = {}, {}, topic
        bad, recreated = 0, False
        with contextlib.closing(
            partition_readers(config, topic, group_id, starts=self._ends)
        ) as readers:
            for p, reader in readers:
                if reader.rng.start > reader.rng.end:  # the topic was deleted and made again
                    recreated = True
                    break
                for chunk in reader.chunks():
                    found = []
                    for m in chunk:
                        key = m.key()
                        if key is None or not key.startswith(HUMAN_KEY_PREFIX):
                            continue
                        try:
                            found.append(LabelCodec.decode(m.value() or b"", taxonomy))
                        except _UNREADABLE:
                            bad += 1
                    merge_labels(found, into=self._labels)
                self._ends[p] = reader.next_offset
        if recreated:
            self._topic = None
            return self.refresh(config, topic, taxonomy, group_id)
        if bad:
            log.warning("skipped %d unreadable or out-of-taxonomy people's labels", bad)
        return {unit: x.label for unit, x in self._labels.items() if x.source == HUMAN}


def queued_fingerprints(
    config: Mapping[str, Any], topic: str, newest: int, group_id: str
) -> set[str]:
    """The keys (template ids; fingerprints in items queued before templates) of the newest
    ``newest`` review items of each partition (assign + seek, nothing committed): what
    enrichment does not queue again."""
    found: set[str] = set()
    for _p, messages, _end in read_partitions(config, topic, group_id, newest=newest):
        for m in messages:
            key = m.key()
            if key:
                found.add(key.decode("utf-8", "replace"))
    return found


def human_labelled(config: Mapping[str, Any], topic: str, group_id: str) -> set[str]:
    """The units a person has labelled (``t:<template id>``, or a fingerprint): the
    ``human:`` keys of the labels topic (a chunk of records at a time; only the keys are
    kept)."""
    found: set[str] = set()
    for _p, reader in partition_readers(config, topic, group_id):
        for m in (m for chunk in reader.chunks() for m in chunk):
            key = m.key()
            if key is None:
                continue
            try:
                source, unit = LabelCodec.parse_key(key)
            except ValueError:
                continue
            if source == HUMAN:
                found.add(unit)
    return found


def read_review_items(
    config: Mapping[str, Any], topic: str, window: int, group_id: str
) -> list[ReviewItem]:
    """The last ``window`` items of each review partition (assign + seek; nothing is
    committed, so reading never takes an item away)."""
    items, bad = [], 0
    for _p, messages, _end in read_partitions(config, topic, group_id, newest=window):
        for m in messages:
            try:
                items.append(ReviewCodec.decode(m.value() or b""))
            except _UNREADABLE:
                bad += 1
    if bad:
        log.warning("skipped %d unreadable review items", bad)
    return items


def read_templates(config: Mapping[str, Any], topic: str, group_id: str) -> list[dict[str, Any]]:
    """The template miner's state from the compacted templates topic: the latest record of
    each template id (a tombstone removes it; ``read_latest``: only those are decoded);
    unreadable records are skipped with a warning. A topic that does not exist yet is an
    empty state."""
    latest = read_latest(config, topic, group_id, missing_ok=True)
    state: list[dict[str, Any]] = []
    bad = latest.keyless
    for key, value in latest.values.items():
        try:
            rec = TemplateCodec.decode(key, value)
        except (*_UNREADABLE, UnicodeDecodeError):
            bad += 1
            continue
        if rec is not None:
            state.append(rec)
    if bad:
        log.warning("skipped %d unreadable template records in %s", bad, topic)
    return state


def restore_miner(config: Mapping[str, Any], topic: str, group_id: str) -> Miner:
    """A template miner in the state the templates topic holds (``read_templates``): what
    each id is now (``resolve``), the live templates' texts and line counts."""
    miner = new_miner()
    miner.restore(read_templates(config, topic, group_id))
    return miner
