"""One partition's micro-batch, exactly once: read → enrich_batch → one Kafka transaction.

This is the body of the ``log_enrichment`` DAG's mapped task, kept free of Airflow so it can
be run and tested on its own. Per partition:

1. the producer's ``transactional.id`` is fixed per (consumer group, topic, partition):
   ``init_transactions`` fences any zombie of an earlier attempt (or of another DAG enriching
   for the same group) and aborts its open transaction, so a retried task never duplicates
   what a killed one half-wrote;
2. the read starts at the consumer group's committed offset (a group without one starts where
   ``start_from`` says, or is refused) and stops at the high watermark seen at start, or after
   ``max_batch_size`` messages (``read_committed``, partition assigned, never a group join);
3. enriched records (produced chunk by chunk while the rest is read), training labels, review
   queries and dead letters, and the consumed offsets, are committed **in one transaction**:
   all of it becomes visible to a ``read_committed`` reader, or none of it does;
4. a task works through micro-batches until caught up: the next one is read and enriched while
   the previous one commits (in a thread; librdkafka waits without the GIL), and its
   transaction begins only once that commit is done, so a failed commit fails the task before
   anything of the next batch is written.

Running it again with no new input reads nothing, writes nothing and commits nothing.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, KafkaException, Message, Producer, TopicPartition

from enrich import defaults
from enrich.config import Topics
from enrich.core.formats import DeadLetterCodec, ReviewCodec, TemplateCodec, now_ms
from enrich.core.labels import Label
from enrich.core.parse import LogFormats
from enrich.core.rules import RuleSet
from enrich.core.templates import Miner, new_miner
from enrich.engine.routing import BatchResult, Enricher, EnrichSettings
from enrich.errors import StackError
from enrich.io.kafka import (
    TXN_TIMEOUT_S,
    consumer_for,
    produce_many,
    produce_one,
    transactional_producer,
)
from enrich.io.reading import PartitionRange, RangeReader, plan_range, raw_batch
from enrich.io.stores import read_templates, send_label
from enrich.io.topics import topic_partitions
from enrich.learn.model import Model

log = logging.getLogger(__name__)

# Messages read from the consumer at a time within a micro-batch (then enriched in parts of
# ``PART``, pipelined). Larger parts cost the engine less
# a line (one model call and one native pass a part: 4.2 us a line in parts of 10,000 against
# 3.6 in one of 50,000, measured in process) and win over producing the first part's records
# while the next is read: on the pipeline benchmark, 10,000: 126k lines/s, 25,000: 125k,
# 50,000: 140k (medians of three runs each, 600,000 lines).
ENRICH_CHUNK = 50_000


def transactional_id(owner: str, topic: str, partition: int) -> str:
    """The producer's ``transactional.id`` for one input partition, fixed per ``owner``: the
    consumer group for live enrichment (a retried task, or any other DAG enriching for the
    same group, fences the earlier writer), the backfill's interval for a backfill."""
    return f"log-enricher.{owner}.{topic}.{partition}"


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for one micro-batch.

    A batch allocates about ten objects per line, none of them in reference cycles, and each
    allocation burst makes the collector re-scan everything alive (the whole batch): measured
    on a 100,000-line batch, 40 % of the task's time. Reference counting still frees memory
    as usual; the collector runs again, on its own schedule, as soon as the batch is done.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def write_result(
    producer: Producer, topics: Topics, result: BatchResult, out_partition: int | None = None
) -> int:
    """Produce every output of one batch (inside the caller's transaction); return the count.

    Enriched records go to ``out_partition`` when given (the source partition, so the output
    keeps the input's order), else by key.
    """
    produce_many(
        producer,
        topics.enriched,
        result.enriched,
        result.enriched_keys,
        -1 if out_partition is None else out_partition,
    )
    now = now_ms()
    for label in result.labels:
        send_label(producer, topics.labels, label, now)
    for item in result.queries:
        produce_one(producer, topics.review, ReviewCodec.encode(item, now), ReviewCodec.key(item))
    for dead in result.dead_letters:
        produce_one(
            producer,
            topics.dlq,
            dead.value,
            DeadLetterCodec.key(dead),
            headers=DeadLetterCodec.headers(dead),
        )
    for rec in result.templates:  # the miner's state, committed with what it mined
        produce_one(producer, topics.templates, TemplateCodec.encode(rec), TemplateCodec.key(rec))
    return result.output_count()


def same_partition(producer: Producer, topic: str, partition: int) -> int | None:
    """``partition`` if ``topic`` has it (output order follows input order), else None.

    Asks through the producer's own connection, for this one topic.
    """
    try:
        meta = producer.list_topics(topic, timeout=TXN_TIMEOUT_S).topics.get(topic)
    except KafkaException as err:
        raise StackError(f"cannot read the metadata of topic {topic}: {err}") from err
    if meta is None or meta.error is not None:
        return None
    return partition if partition in meta.partitions else None


@dataclass(frozen=True)
class PartitionRun:
    """What one partition's run did: the task's log line and XCom."""

    topic: str
    partition: int
    start: int
    end: int
    counts: dict[str, Any]
    produced: int
    committed: bool

    def then(self, later: PartitionRun) -> PartitionRun:
        """This run followed by ``later`` (the next micro-batch of the same partition): the
        offsets from this start to that end, counts added as ``_add_counts`` adds a backfill's
        transactions, the lost offsets' first and last."""
        counts: dict[str, Any] = dict(self.counts)
        _add_counts(counts, later.counts)
        first, last = self.counts.get("lost_offsets"), later.counts.get("lost_offsets")
        if first and last:  # a span over both
            counts["lost_offsets"] = [first[0], last[1]]
        return PartitionRun(
            self.topic,
            self.partition,
            self.start,
            later.end if later.committed else self.end,
            counts,
            self.produced + later.produced,
            self.committed or later.committed,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "partition": self.partition,
            "offsets": [self.start, self.end],
            "produced": self.produced,
            "committed": self.committed,
            **self.counts,
        }


def enrich_partition(
    config: Mapping[str, Any],
    topics: Topics,
    partition: int,
    model: Model | None,
    rules: RuleSet,
    settings: EnrichSettings,
    group_id: str,
    transactional_id: str,
    max_batch_size: int,
    formats: LogFormats | None = None,
    start_from: str = defaults.COMMITTED,
    people: Mapping[str, Label] | None = None,
    queued: Collection[str] = (),
    time_budget_s: float = 0.0,
) -> PartitionRun:
    """Enrich one input partition, exactly once (see module doc): micro-batches of at most
    ``max_batch_size`` messages, one transaction each, until the partition is caught up (a
    batch ended at the high watermark it saw) or ``time_budget_s`` is spent (0: one batch).
    One producer and one consumer serve all the batches.

    ``start_from``: where the group starts on a partition it has no committed offset for
    (``enrich.io.reading.plan_range``). Offsets retention deleted before the group read them
    are counted (``lost_to_retention``) and logged as a warning. ``people`` and ``queued``:
    people's labels and the templates waiting in the review queue (``Enricher``).
    The result's counts add ``batches``, ``behind`` (stopped by the budget with a full batch
    still waiting) and ``lag`` (messages after the last committed offset, at the end)."""
    # the consumer first, and its metadata of the input topic before its first watermark
    # query: a new client's first query can race its switch from the bootstrap connection to
    # the broker's own, and fail (unknown partition) or be retried ~0.7 s later (seen on one
    # task start in two)
    consumer = consumer_for(config, group_id)
    miner = _Restoring(config, topics.templates)  # the task's templates, batch to batch
    try:
        producer = transactional_producer(config, transactional_id)
        topic_partitions(consumer, topics.raw, config=config)
    except BaseException:
        consumer.close()
        raise
    started = time.monotonic()
    queued = set(queued)
    pending: _Pending | None = None  # the previous batch's commit, still running
    try:
        run: PartitionRun | None = None
        position: int | None = None
        while True:
            batch, result, commit = _one_batch(
                producer,
                consumer,
                topics,
                partition,
                max_batch_size,
                start_from,
                position,
                group_id,
                Enricher(model, rules, settings, formats, people, queued, miner),
                pending,
            )
            run = batch if run is None else run.then(batch)
            if commit is None:  # nothing new: nothing to commit
                break
            position = batch.end
            queued.update(ReviewCodec.key(q) for q in result.queries)  # not asked twice
            full = batch.end - batch.start >= max_batch_size
            out_of_time = time.monotonic() - started >= time_budget_s
            if not full or out_of_time:
                commit()
                run.counts["behind"] = full and out_of_time
                break
            # the next batch is read and enriched while this one commits; its records are
            # produced once this commit is done (its transaction begins after it)
            pending = _Pending(commit)
        if pending is not None:
            pending.wait()
            pending = None
        _, high = consumer.get_watermark_offsets(
            TopicPartition(topics.raw, partition), timeout=15.0, cached=False
        )
        run.counts["lag"] = max(0, high - run.end)
        return run
    finally:
        if pending is not None:  # failing on the way: the commit's own outcome is secondary
            pending.join()
        consumer.close()
        _flush_after(producer)


def _flush_after(producer: Producer) -> None:
    """A task's last flush: everything of its committed transactions is delivered by then,
    so a producer left fatal by a failed transaction (its abort can fail too, when the
    broker has not yet seen the transaction's partitions) is logged here, not raised over
    the error that failed the task; the next run's producer fences it."""
    try:
        producer.flush(5)
    except KafkaException as err:
        log.warning("the producer's last flush failed (%s); the next run fences it", err)


class _Restoring:
    """A template miner started from the shared state (the templates topic), which is read
    in a thread while the task's first micro-batch is planned, read and parsed (~0.1 s): the
    miner's first use waits for it. A failed read fails that use."""

    def __init__(self, config: Mapping[str, Any], topic: str) -> None:
        self._miner = new_miner()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="templates-state")
        self._state: Future[list[dict[str, Any]]] | None = self._pool.submit(
            read_templates, config, topic, TEMPLATES_READER
        )
        self._pool.shutdown(wait=False)

    def _ready(self) -> Miner:
        if self._state is not None:
            state, self._state = self._state, None
            self._miner.restore(state.result())
        return self._miner

    @property
    def created(self) -> int:
        return self._ready().created

    def __len__(self) -> int:
        return len(self._ready())

    def add_many(
        self, texts: Sequence[str], counts: Sequence[int] | None = None
    ) -> tuple[list[str], list[str]]:
        return self._ready().add_many(texts, counts)

    def resolve(self, tid: str) -> str:
        return self._ready().resolve(tid)

    def template(self, tid: str) -> str | None:
        return self._ready().template(tid)

    def templates(self) -> list[tuple[str, str, int]]:
        return self._ready().templates()

    def snapshot(self) -> list[dict[str, Any]]:
        return self._ready().snapshot()

    def changes(self) -> list[dict[str, Any]]:
        return self._ready().changes()

    def restore(self, records: Iterable[Any]) -> None:
        self._ready().restore(records)


class _Pending:
    """A micro-batch's commit running in a thread (librdkafka's blocking calls release the
    GIL), while the next batch is read and enriched. ``wait`` returns once it is done, or
    raises what it raised."""

    def __init__(self, commit: Callable[[], None]) -> None:
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(commit,), daemon=True)
        self._thread.start()

    def _run(self, commit: Callable[[], None]) -> None:
        try:
            commit()
        except BaseException as err:  # raised again by wait()
            self._error = err

    def join(self) -> None:
        self._thread.join()

    def wait(self) -> None:
        self._thread.join()
        if self._error is not None:
            raise self._error


@gc_paused()  # per micro-batch: the collector runs between them
def _one_batch(
    producer: Producer,
    consumer: Consumer,
    topics: Topics,
    partition: int,
    max_batch_size: int,
    start_from: str,
    position: int | None,
    group_id: str,
    enricher: Enricher,
    after: _Pending | None = None,
) -> tuple[PartitionRun, BatchResult, Callable[[], None] | None]:
    """One micro-batch in one transaction, up to its commit: the batch, its result and the
    call that commits it (None: nothing new, nothing to commit). ``after``: the previous
    batch's commit, which this transaction waits for before it begins."""
    plan = plan_range(
        consumer, topics.raw, partition, max_batch_size, start_from, position=position
    )
    rng = plan.range
    if plan.lost_count:
        log.warning(
            "%s[%d]: offsets %d to %d were deleted by retention before consumer group %r "
            "read them: %d input messages lost",
            topics.raw,
            partition,
            plan.lost[0],
            plan.lost[1] - 1,
            group_id,
            plan.lost_count,
        )
    # the next batch reads on where this one stops; a micro-batch of the default size is
    # read in one chunk (see ENRICH_CHUNK), enriched in parts of PART
    reader = RangeReader(consumer, rng, keep_assigned=True, chunk=ENRICH_CHUNK)
    what = f"transaction for {topics.raw}[{partition}]"
    txn = _Transaction(producer, topics, partition, what, after=after)
    with txn:
        result = txn.enrich(reader.chunks(), enricher)
        end = reader.next_offset
        # nothing new: commit nothing, unless the group must now remember where it started
        if end <= rng.start and not plan.fresh and not plan.lost_count:
            txn.abandon()
            empty = PartitionRun(topics.raw, partition, rng.start, rng.start, {"in": 0}, 0, False)
            return empty, result, None
        txn.wait_for_previous()  # before anything more is produced or committed
        offsets = [TopicPartition(topics.raw, partition, end)]
        metadata = consumer.consumer_group_metadata()
    counts = {**result.counts, "lost_to_retention": plan.lost_count, "batches": 1}
    if plan.lost_count:
        counts["lost_offsets"] = list(plan.lost)

    def commit() -> None:
        with txn:
            txn.commit(result, offsets, metadata)

    produced = txn.produced + result.output_count()
    run = PartitionRun(topics.raw, partition, rng.start, end, counts, produced, True)
    return run, result, commit


@gc_paused()
def reenrich_range(
    config: Mapping[str, Any],
    topics: Topics,
    rng: PartitionRange,
    time_window: tuple[int | None, int | None],
    model: Model | None,
    rules: RuleSet,
    settings: EnrichSettings,
    transactional_id: str,
    formats: LogFormats | None = None,
    people: Mapping[str, Label] | None = None,
    headers: list[tuple[str, bytes]] | None = None,
    max_batch_size: int = defaults.MAX_BATCH_SIZE,
    progress_group: str | None = None,
) -> PartitionRun:
    """Backfill: re-enrich ``rng`` (only messages with timestamps in ``[from, to)`` when the
    window is set) into ``topics.enriched`` and dead letters into ``topics.dlq``, in
    transactions of at most ``max_batch_size`` messages.

    Each transaction also commits how far it got for ``progress_group`` (a consumer group of
    this backfill run alone, never the live one; default: one per ``transactional_id``), so a
    retry resumes after the last committed transaction instead of writing finished parts
    again. Memory holds one chunk of messages at a time."""
    ts_from, ts_to = time_window
    producer = transactional_producer(config, transactional_id)
    consumer = consumer_for(config, progress_group or f"{transactional_id}.progress")
    miner = _Restoring(config, topics.templates)  # the range's templates, batch to batch
    tp = TopicPartition(rng.topic, rng.partition)
    try:
        done = consumer.committed([tp], timeout=TXN_TIMEOUT_S)[0].offset
        start = max(rng.start, done) if done >= 0 else rng.start
        if start > rng.start:
            log.info("%s[%d]: resuming the backfill at offset %d", rng.topic, rng.partition, start)
        totals: dict[str, Any] = {}
        produced = 0
        while start < rng.end:
            part = PartitionRange(
                rng.topic, rng.partition, start, min(rng.end, start + max_batch_size)
            )
            reader = RangeReader(consumer, part)
            chunks: Iterable[list[Message]] = reader.chunks()
            if ts_from is not None and ts_to is not None:
                chunks = ([m for m in c if _stamped_in(m, ts_from, ts_to)] for c in chunks)
            what = f"backfill transaction for {rng.topic}[{rng.partition}]"
            txn = _Transaction(producer, topics, rng.partition, what, headers)
            with txn:
                enricher = Enricher(model, rules, settings, formats, people, miner=miner)
                result = txn.enrich(chunks, enricher)
                result.labels.clear()  # the live pipeline already taught these lines
                result.counts["labels"] = 0
                if reader.next_offset <= start:
                    txn.abandon()  # nothing more could be read (an open upstream transaction)
                    break
                done_at = [TopicPartition(rng.topic, rng.partition, reader.next_offset)]
                txn.commit(result, done_at, consumer.consumer_group_metadata())
            produced += txn.produced
            _add_counts(totals, result.counts)
            start = reader.next_offset
        return PartitionRun(
            rng.topic, rng.partition, rng.start, start, totals or {"in": 0}, produced, False
        )
    finally:
        consumer.close()
        _flush_after(producer)


def _add_counts(total: dict[str, Any], counts: Mapping[str, Any]) -> None:
    """Add one transaction's counts to a run's (numbers summed, the templates known at the
    end aside; the mean confidence weighted by the records it covers; the rest as last
    seen)."""
    n_old, n_new = int(total.get("out") or 0), int(counts.get("out") or 0)
    mean_old, mean_new = total.get("mean_confidence"), counts.get("mean_confidence")
    for key, value in counts.items():
        if key == "mean_confidence":
            continue
        if key == "templates":  # the miner's templates after the batch: the later one
            total[key] = value
            continue
        if isinstance(value, int) and not isinstance(value, bool):
            total[key] = int(total.get(key) or 0) + value
        else:
            total[key] = value
    if mean_new is None or not n_new:
        total["mean_confidence"] = mean_old
    elif mean_old is None or not n_old:
        total["mean_confidence"] = mean_new
    else:
        total["mean_confidence"] = round((mean_old * n_old + mean_new * n_new) / (n_old + n_new), 4)


class _Transaction:
    """One run's Kafka transaction, written while its batch is read: each chunk's enriched
    records are produced as soon as they are made (the client sends them while the next chunk
    is read and enriched), the batch's labels, queries and dead letters and the consumed
    offsets at the end, then one commit. Any failure on the way aborts it: nothing of the run
    becomes visible."""

    def __init__(
        self,
        producer: Producer,
        topics: Topics,
        partition: int,
        what: str,
        headers: list[tuple[str, bytes]] | None = None,
        after: _Pending | None = None,
    ) -> None:
        self.producer, self.topics, self.partition, self.what = producer, topics, partition, what
        self.headers = headers
        self._after = after  # the previous transaction's commit, still running
        self.produced = 0
        self._open = False
        self._out_partition: int | None = None

    def __enter__(self) -> _Transaction:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: Any
    ) -> None:
        if err is None or not self._open:
            return  # a transaction left open is committed (or abandoned) later
        self._open = False
        if isinstance(err, KafkaException):
            _abort(self.producer, err)
            raise StackError(f"{self.what} failed: {err}") from err
        if err is not None:
            _abort(self.producer, None)

    def wait_for_previous(self) -> None:
        """Wait for the previous transaction's commit (raising what it raised)."""
        if self._after is not None:
            after, self._after = self._after, None
            after.wait()

    def _begin(self) -> None:
        self.wait_for_previous()
        if not self._open:
            self._out_partition = same_partition(
                self.producer, self.topics.enriched, self.partition
            )
            self.producer.begin_transaction()
            self._open = True

    def enrich(self, chunks: Iterable[list[Message]], enricher: Enricher) -> BatchResult:
        """Enrich and produce each chunk (one partition's messages) in turn; the batch's
        result, with ``enriched`` left empty (it is produced)."""
        parts = (
            raw_batch(messages[at : at + PART], messages[0].topic() or "", self.partition)
            for messages in chunks
            for at in range(0, len(messages), PART)
        )
        # each part is read (parsed) while the part before is routed and produced, and the
        # first while the previous batch's commit (mostly its flush) runs: only producing
        # needs this transaction begun, i.e. that commit done
        for values, keys in enricher.add_all(parts):
            self._begin()
            produce_many(
                self.producer,
                self.topics.enriched,
                values,
                keys,
                -1 if self._out_partition is None else self._out_partition,
                self.headers,
            )
            self.produced += len(values)
        return enricher.finish()

    def abandon(self) -> None:
        """End an open transaction that wrote nothing worth keeping."""
        if self._open:
            self._open = False
            self.producer.abort_transaction(TXN_TIMEOUT_S)

    def commit(
        self,
        result: BatchResult,
        offsets: list[TopicPartition] | None = None,
        metadata: Any = None,
    ) -> None:
        """Write the batch's labels, queries and dead letters (and its ``enriched`` records,
        if any are left there), commit ``offsets`` for the consumer group of ``metadata`` (a
        consumer's ``consumer_group_metadata()``), commit."""
        self._begin()
        self.produced += write_result(self.producer, self.topics, result, self._out_partition)
        if (
            offsets
            and metadata is not None
            and not _returns_within(
                OFFSETS_TIMEOUT_S,
                self.producer.send_offsets_to_transaction,
                offsets,
                metadata,
                OFFSETS_TIMEOUT_S,
            )
        ):
            # librdkafka (2.16) can wait forever here for a group coordinator that died
            # (its issues 5456, 5511): give up; the retry's producer fences this one and
            # the broker aborts the open transaction, so nothing of it becomes visible
            self._open = False
            raise StackError(
                f"{self.what}: the consumer group's coordinator did not take the offsets "
                f"within {OFFSETS_TIMEOUT_S:.0f}s (a broker down?); the transaction is "
                "left to be aborted and the task fails, to be retried"
            )
        self.producer.commit_transaction(TXN_TIMEOUT_S)
        self._open = False


# messages a part: a chunk read from the partition is enriched in parts of this size, each
# parsed in a thread while the one before is routed and written (a 50,000-message batch in
# two parts: in-process pipeline median 154k vs 145k lines/s in one part, 12,500: no better)
PART = 25_000

# the group id the templates topic is read with (by assign: nothing is committed); under the
# log-enricher prefix the pipeline's readers share (and its ACLs grant)
TEMPLATES_READER = "log-enricher-templates"

# the offsets of a batch reach the group coordinator in milliseconds; past this, it is gone
OFFSETS_TIMEOUT_S = 60.0


def _returns_within(timeout_s: float, call: Callable[..., Any], *args: Any) -> bool:
    """Run ``call(*args)`` in a thread: False if it has not returned after ``timeout_s``
    (and a grace second); else True, or the exception it raised, raised here. For client
    calls that may ignore their own timeout."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            call(*args)
        except BaseException as err:  # re-raised in the caller's thread
            outcome.append(err)
        else:
            outcome.append(None)

    worker = threading.Thread(target=run, name="bounded-client-call", daemon=True)
    worker.start()
    worker.join(timeout_s + 1.0)
    if not outcome:
        return False
    if outcome[0] is not None:
        raise outcome[0]
    return True


def _stamped_in(msg: Message, ts_from: int, ts_to: int) -> bool:
    ts_type, ts = msg.timestamp()
    return bool(ts_type) and ts_from <= ts < ts_to


def _abort(producer: Producer, err: KafkaException | None) -> None:
    kerr = err.args[0] if err is not None and err.args else None
    if kerr is not None and getattr(kerr, "fatal", lambda: False)():
        return  # a fenced or fatal producer cannot abort; the next owner's init aborts for us
    try:
        producer.abort_transaction(TXN_TIMEOUT_S)
    except KafkaException:
        log.warning("abort after a failed transaction also failed; the next run fences it")
