"""Reading offset ranges of one partition: committed data only, by assign, nothing committed.

A range is planned from a consumer group's committed offset (``plan_range``) or given
(backfill, training, labelling); ``read_range`` returns its messages and the offset after the
last one read. The engine's input is built from them as columns (``raw_batch``).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, overload

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from enrich import defaults
from enrich.core.records import RawBatch, RawRecord
from enrich.errors import ConfigError, StackError
from enrich.io.kafka import consumer_for
from enrich.io.topics import watermarks

CONSUME_CHUNK = 10_000
# one consume() waits at most this long: it returns when it has all it asked for or the time
# is out, and a range's last offsets are often commit markers that never arrive, so a long
# wait would be paid at the end of every read of a transactional topic
POLL_S = 0.05
# seconds without a message before a read below the high watermark gives up: only an open
# upstream transaction (holding the last stable offset back) or a stalled broker can cause
# that, and the read then returns what it has
IDLE_S = 15.0
# a state read's consume() waits at most this long before it checks whether every partition
# is read to its end
END_POLL_S = 0.01


@dataclass(frozen=True)
class PartitionRange:
    topic: str
    partition: int
    start: int  # first offset to read
    end: int  # one past the last offset to read


def explicit_ranges(
    spec: Mapping[str, Any], topic: str, partitions: Sequence[int]
) -> list[PartitionRange]:
    """``{"0": [from, to], ...}`` (``to`` exclusive) as ranges of ``topic``, by partition;
    ConfigError naming the entry that is not a range of one of ``partitions``."""
    ranges = []
    for key, bounds in sorted(spec.items(), key=lambda kv: int(kv[0])):
        partition = int(key)
        if (
            partition not in partitions
            or not isinstance(bounds, (list, tuple))
            or len(bounds) != 2
            or int(bounds[0]) > int(bounds[1])
        ):
            raise ConfigError(
                f"offsets[{key!r}] = {bounds!r}: need [from, to) of a partition "
                f"of {topic} (partitions: {sorted(partitions)})"
            )
        ranges.append(PartitionRange(topic, partition, int(bounds[0]), int(bounds[1])))
    return ranges


@dataclass(frozen=True)
class PartitionPlan:
    """The next range of a consumer group on one partition.

    ``fresh``: the group had no committed offset there (it starts as ``start_from`` says);
    ``lost``: ``[from, to)`` offsets the group never read that retention deleted first (empty
    when none)."""

    range: PartitionRange
    fresh: bool
    lost: tuple[int, int]

    @property
    def lost_count(self) -> int:
        return self.lost[1] - self.lost[0]


def plan_range(
    consumer: Consumer,
    topic: str,
    partition: int,
    max_messages: int,
    start_from: str = defaults.COMMITTED,
    timeout: float = 15.0,
    position: int | None = None,
) -> PartitionPlan:
    """[committed offset, min(high watermark, committed + max)) for the consumer's group.

    A group with no committed offset starts at the low watermark (``earliest``) or the high
    one (``latest``); with ``committed`` that is a ConfigError saying how to choose.
    ``position``: where the group is known to be (the end this task's last transaction
    committed), instead of asking the broker."""
    tp = TopicPartition(topic, partition)
    low, high = consumer.get_watermark_offsets(tp, timeout=timeout, cached=False)
    if position is not None:
        committed = position
    else:
        committed = consumer.committed([tp], timeout=timeout)[0].offset
    fresh = committed < 0
    if fresh and start_from == defaults.EARLIEST:
        start = low
    elif fresh and start_from == defaults.LATEST:
        start = high
    elif fresh:
        raise ConfigError(no_offsets_message(topic, [partition]))
    else:
        start = committed
    lost = (start, low) if start < low else (start, start)
    start = max(start, low)  # retention deleted what the group never read
    return PartitionPlan(
        PartitionRange(topic, partition, start, min(high, start + max_messages)), fresh, lost
    )


def no_offsets_message(topic: str, partitions: Sequence[int]) -> str:
    return (
        f"the consumer group has no committed offset on {topic} partition(s) "
        f"{', '.join(map(str, partitions))}: a new group must say where it starts; trigger "
        "the run with Param start_from=earliest (enrich the retained history) or "
        "start_from=latest (only lines produced from now on)"
    )


def committed_offsets(
    config: Mapping[str, Any], group_id: str, topic: str, partitions: Sequence[int]
) -> dict[int, int]:
    """The group's committed offset per partition (negative: none)."""
    consumer = consumer_for(config, group_id)
    try:
        tps = [TopicPartition(topic, p) for p in partitions]
        return {tp.partition: tp.offset for tp in consumer.committed(tps, timeout=15.0)}
    finally:
        consumer.close()


class RangeReader:
    """Reads one range of one partition in chunks (``chunks()``), so that a caller can
    process each chunk while the client fetches the next; ``next_offset``: the offset after
    the last one read so far.

    Stops at ``rng.end``: when a message at or past it arrives, or the consumer's position
    reaches it, every message of the range has been delivered (transaction markers and
    aborted records are never delivered, so the last offsets may never arrive). Gives up
    early when the broker has nothing more to return (an open transaction upstream holds the
    last stable offset back), keeping what it has.

    ``keep_assigned``: a read that ends normally leaves the partition assigned, and a read
    that starts where the consumer stands on that partition keeps the assignment, so the
    client goes on fetching between two ranges read one after the other (a new assignment
    drops what the client has prefetched and starts fetching again).
    """

    def __init__(
        self,
        consumer: Consumer,
        rng: PartitionRange,
        limit: int | None = None,
        keep_assigned: bool = False,
        chunk: int | None = None,
    ):
        self.consumer, self.rng, self.limit = consumer, rng, limit
        self.keep_assigned = keep_assigned
        self.chunk = chunk or CONSUME_CHUNK  # messages a consume() asks for
        self.next_offset = rng.start
        self.count = 0
        self._past_end = False

    def _reuse_assignment(self) -> bool:
        """The consumer has only this partition, and stands at the range's start."""
        rng, consumer = self.rng, self.consumer
        if not self.keep_assigned:
            return False
        assigned = [(tp.topic, tp.partition) for tp in consumer.assignment()]
        return assigned == [(rng.topic, rng.partition)] and _position(consumer, rng) == rng.start

    def chunks(self) -> Iterator[list[Message]]:
        """The range's messages, in offset order, in lists of up to ``chunk``."""
        rng, consumer = self.rng, self.consumer
        if rng.end <= rng.start:
            return
        if not self._reuse_assignment():
            consumer.assign([TopicPartition(rng.topic, rng.partition, rng.start)])
        try:
            yield from self._read()
        except BaseException:  # an error, or the caller closing this generator
            self._unassign()
            raise
        if not self.keep_assigned:
            self._unassign()

    def _unassign(self) -> None:
        # a caller that stopped reading on an error may close the consumer before this
        # generator is finalised: nothing is left to unassign then
        with contextlib.suppress(RuntimeError):
            self.consumer.unassign()

    def _read(self) -> Iterator[list[Message]]:
        rng, consumer, limit = self.rng, self.consumer, self.limit
        idle_since: float | None = None
        while self.next_offset < rng.end:
            if _position(consumer, rng) >= rng.end:
                # what is left are control records (a transaction's commit marker) or
                # aborted ones, which the client has skipped: nothing more will come
                self.next_offset = rng.end
                return
            want = min(self.chunk, rng.end - self.next_offset)
            if limit is not None:
                want = min(want, limit - self.count)
                if want <= 0:
                    return
            batch = consumer.consume(num_messages=max(want, 1), timeout=POLL_S)
            if not batch:
                now = time.monotonic()
                idle_since = now if idle_since is None else idle_since
                if now - idle_since >= IDLE_S:
                    return  # held back (an open upstream transaction): keep what we have
                continue
            idle_since = None
            chunk = self._keep(batch)
            if chunk:
                self.count += len(chunk)
                self.next_offset = (chunk[-1].offset() or 0) + 1
                yield chunk
            if self._past_end:
                self.next_offset = rng.end
                return

    def _keep(self, batch: list[Message]) -> list[Message]:
        """The messages of ``batch`` inside the range; notes when one lies past its end."""
        rng = self.rng
        room = None if self.limit is None else self.limit - self.count
        last = batch[-1] if batch else None
        if (
            last is not None
            and room is None
            and last.error() is None
            and (last.offset() or 0) < rng.end
            and not any(map(Message.error, batch))  # an error is an object, never falsy
        ):
            return batch  # all of it: a partition's offsets only grow (the common case)
        kept: list[Message] = []
        for msg in batch:
            if not _delivered(msg, rng.topic, rng.partition):
                continue
            if (msg.offset() or 0) >= rng.end:
                self._past_end = True
                break
            if room is not None and len(kept) >= room:
                break
            kept.append(msg)
        return kept


def _delivered(msg: Message, topic: str, partition: int | None = None) -> bool:
    """Whether a consumed ``msg`` of ``topic`` is a message (False: a partition's end was
    reported); a StackError naming the partition (``partition``, else the message's) for
    any other error the client delivered in its place."""
    err = msg.error()
    if err is None:
        return True
    if err.code() == KafkaError._PARTITION_EOF:
        return False
    where = msg.partition() if partition is None else partition
    raise StackError(f"reading {topic}[{where}]: {err.str()}")


def read_range(
    consumer: Consumer, rng: PartitionRange, limit: int | None = None
) -> tuple[list[Message], int]:
    """Messages of ``rng`` (at most ``limit``), and the offset after the last one read
    (``RangeReader`` in one list)."""
    reader = RangeReader(consumer, rng, limit)
    records = [msg for chunk in reader.chunks() for msg in chunk]
    return records, reader.next_offset


def _position(consumer: Consumer, rng: PartitionRange) -> int:
    offset: int = consumer.position([TopicPartition(rng.topic, rng.partition)])[0].offset
    return offset


def partition_readers(
    config: Mapping[str, Any],
    topic: str,
    group_id: str = "enrich-reader",
    starts: Mapping[int, int] | None = None,
    newest: int | None = None,
    limit: int | None = None,
) -> Generator[tuple[int, RangeReader], None, None]:
    """Each partition of ``topic`` with a reader of its retained range up to the high
    watermark (read_committed, by assign, nothing committed), one at a time: iterate
    ``reader.chunks()``, then ``reader.next_offset`` is the end read. Memory holds one chunk,
    not a partition. The range starts at the low watermark, or at ``starts[partition]`` (a
    start past the high watermark gives an empty range whose ``start > end``), or ``newest``
    offsets before the end; ``limit`` caps the count read. A topic that does not exist is a
    StackError."""
    marks = watermarks(config, topic)
    consumer = consumer_for(config, group_id)
    try:
        for partition, (low, high) in sorted(marks.items()):
            start = max(low, (starts or {}).get(partition, low))
            if newest is not None:
                start = max(start, high - newest)
            rng = PartitionRange(topic, partition, start, high)
            yield partition, RangeReader(consumer, rng, limit)
    finally:
        consumer.close()


@dataclass
class Latest:
    """What a compacted topic holds once compacted: the latest value of each key (None: a
    tombstone), and how many messages had no key (which compaction would refuse)."""

    values: dict[bytes, bytes | None]
    keyless: int = 0


def read_latest(
    config: Mapping[str, Any], topic: str, group_id: str, missing_ok: bool = False
) -> Latest:
    """The latest value of each key of ``topic`` (a compacted state topic), every partition
    read at once (by assign, nothing committed) up to its last stable offset when the read
    starts: a transaction another task still has open there is not waited for (its records
    are not state yet), and the read ends as soon as each partition's position reaches its
    end, not after a poll timeout. A key's earlier values are dropped as they are read, so
    memory follows the number of keys, and a caller decodes only the values that count.
    A topic that does not exist is a StackError, or empty with ``missing_ok``."""
    consumer = consumer_for(config, group_id)
    latest = Latest({})
    try:
        # read_committed: the high watermark this consumer is told is the last stable offset
        marks = watermarks(config, topic, missing_ok, consumer)
        ends = {p: high for p, (low, high) in marks.items() if high > low}
        if not ends:
            return latest
        consumer.assign([TopicPartition(topic, p, marks[p][0]) for p in ends])
        values = latest.values
        idle_since: float | None = None
        while ends:
            batch = consumer.consume(num_messages=CONSUME_CHUNK, timeout=END_POLL_S)
            for m in batch:
                if not _delivered(m, topic):
                    continue
                if (m.offset() or 0) >= ends.get(m.partition() or 0, -1):
                    continue  # committed after the read began: the next read's
                key = m.key()
                if key is None:
                    latest.keyless += 1
                else:
                    values[key] = m.value()
            if len(batch) == CONSUME_CHUNK:
                idle_since = None
                continue
            # the rest of a partition may be commit markers, which are never delivered:
            # its position says when it is done
            done = [
                tp
                for tp in consumer.position([TopicPartition(topic, p) for p in ends])
                if tp.offset >= ends[tp.partition]
            ]
            if done:
                consumer.pause(done)  # what comes after is the next read's
                for tp in done:
                    del ends[tp.partition]
            if batch:
                idle_since = None
            elif ends:
                now = time.monotonic()
                idle_since = now if idle_since is None else idle_since
                if now - idle_since >= IDLE_S:
                    raise StackError(
                        f"reading {topic}: no message for {IDLE_S:.0f}s with partitions "
                        f"{sorted(ends)} not read to their ends (a broker stalled?)"
                    )
        return latest
    finally:
        consumer.close()


def read_partitions(
    config: Mapping[str, Any],
    topic: str,
    group_id: str = "enrich-reader",
    newest: int | None = None,
    limit: int | None = None,
) -> Iterator[tuple[int, list[Message], int]]:
    """Every committed message of ``topic``, one partition at a time (read_committed, by
    assign, nothing committed): ``(partition, messages, end offset read)``. ``newest`` reads
    only the last that many offsets of each partition; ``limit`` caps the count from the start."""
    for partition, reader in partition_readers(config, topic, group_id, newest=newest, limit=limit):
        got = [msg for chunk in reader.chunks() for msg in chunk]
        yield partition, got, reader.next_offset


def read_topic(
    config: Mapping[str, Any],
    topic: str,
    group_id: str = "enrich-reader",
    limit: int | None = None,
) -> tuple[list[Message], dict[int, int]]:
    """Every committed message of ``topic`` (see ``read_partitions``), and the end offset per
    partition it read up to. ``limit`` caps the count per partition."""
    messages: list[Message] = []
    ends: dict[int, int] = {}
    for partition, got, end in read_partitions(config, topic, group_id, limit=limit):
        messages.extend(got)
        ends[partition] = end
    return messages, ends


def raw_batch(messages: Sequence[Message], topic: str, partition: int) -> RawBatch:
    """The engine's input for messages read from one partition of ``topic``, as columns
    (the keys are read only where the engine asks for one: a dead letter keeps its key).
    Offsets that run without a gap (no control records or compacted ones between) are made
    from the first and last (half the cost of the columns: 239 -> 123 ns a message)."""
    n = len(messages)
    first = messages[0].offset() if n else None
    last = messages[-1].offset() if n else None
    if first is not None and last is not None and last - first == n - 1:
        offsets = list(range(first, first + n))  # offsets only grow: these are all of them
    else:
        offsets = [msg.offset() or 0 for msg in messages]
    return RawBatch(
        topic,
        partition,
        list(map(Message.value, messages)),
        offsets,
        [ts if ts_type else None for ts_type, ts in map(Message.timestamp, messages)],
        _Keys(messages),
    )


class _Keys(Sequence[bytes | None]):
    """The keys of messages, each read when asked for."""

    def __init__(self, messages: Sequence[Message]) -> None:
        self._messages = messages

    def __len__(self) -> int:
        return len(self._messages)

    @overload
    def __getitem__(self, i: int) -> bytes | None: ...
    @overload
    def __getitem__(self, i: slice) -> list[bytes | None]: ...
    def __getitem__(self, i: int | slice) -> bytes | list[bytes | None] | None:
        if isinstance(i, slice):
            return [m.key() for m in self._messages[i]]
        key: bytes | None = self._messages[i].key()
        return key


def raw_records(messages: Sequence[Message], topic: str, partition: int) -> list[RawRecord]:
    """Engine inputs for messages read from one partition of ``topic``, one object each."""
    return raw_batch(messages, topic, partition).records()
