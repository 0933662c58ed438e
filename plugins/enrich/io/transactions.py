"""One partition's micro-batch, exactly once: read → enrich_batch → one Kafka transaction.

This is the body of the ``log_enrichment`` DAG's mapped task, kept free of Airflow so it can
be run and tested on its own. Per partition:

1. the producer's ``transactional.id`` is fixed per (DAG, topic, partition):
   ``init_transactions`` fences any zombie of an earlier attempt and aborts its open
   transaction, so a retried task never duplicates what a killed one half-wrote;
2. the read starts at the consumer group's committed offset and stops at the high watermark
   seen at start, or after ``max_batch_size`` messages (``read_committed``, partition
   assigned, never a group join);
3. enriched records, training labels, review queries and dead letters are produced, and the
   consumed offsets are committed, **in one transaction**: all of it becomes visible to a
   ``read_committed`` reader, or none of it does.

Running it again with no new input reads nothing, writes nothing and commits nothing.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaException, Message, Producer, TopicPartition

from enrich.config import Topics
from enrich.core.formats import DeadLetterCodec, ReviewCodec, now_ms
from enrich.core.parse import LogFormats
from enrich.core.rules import RuleSet
from enrich.engine.routing import BatchResult, EnrichSettings, enrich_batch
from enrich.errors import StackError
from enrich.io.kafka import (
    TXN_TIMEOUT_S,
    consumer_for,
    produce_many,
    produce_one,
    transactional_producer,
)
from enrich.io.reading import PartitionRange, plan_range, raw_batch, read_range
from enrich.io.stores import send_label
from enrich.learn.model import Model

log = logging.getLogger(__name__)


def transactional_id(owner: str, topic: str, partition: int) -> str:
    """The producer's ``transactional.id`` for one input partition, fixed per ``owner`` (the
    DAG): a retried task fences its earlier attempt."""
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
    return (
        len(result.enriched) + len(result.labels) + len(result.queries) + len(result.dead_letters)
    )


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

    def as_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "partition": self.partition,
            "offsets": [self.start, self.end],
            "produced": self.produced,
            "committed": self.committed,
            **self.counts,
        }


@gc_paused()
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
) -> PartitionRun:
    """Enrich the next micro-batch of one input partition, exactly once (see module doc)."""
    producer = transactional_producer(config, transactional_id)
    consumer = consumer_for(config, group_id)
    try:
        rng = plan_range(consumer, topics.raw, partition, max_batch_size)
        messages, next_offset = read_range(consumer, rng)
        if next_offset <= rng.start:
            return PartitionRun(topics.raw, partition, rng.start, rng.start, {"in": 0}, 0, False)
        batch = raw_batch(messages, topics.raw, partition)
        result = enrich_batch(batch, model, rules, settings, formats)
        out_partition = same_partition(producer, topics.enriched, partition)
        producer.begin_transaction()
        try:
            produced = write_result(producer, topics, result, out_partition)
            producer.send_offsets_to_transaction(
                [TopicPartition(topics.raw, partition, next_offset)],
                consumer.consumer_group_metadata(),
                TXN_TIMEOUT_S,
            )
            producer.commit_transaction(TXN_TIMEOUT_S)
        except KafkaException as err:
            _abort(producer, err)
            raise StackError(f"transaction for {topics.raw}[{partition}] failed: {err}") from err
        return PartitionRun(
            topics.raw, partition, rng.start, next_offset, result.counts, produced, True
        )
    finally:
        consumer.close()
        producer.flush(5)


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
) -> PartitionRun:
    """Backfill: re-enrich ``rng`` (only messages with timestamps in ``[from, to)`` when the
    window is set) into ``topics.enriched`` and dead letters into ``topics.dlq``, in one
    transaction, committing no consumer offsets."""
    ts_from, ts_to = time_window
    producer = transactional_producer(config, transactional_id)
    consumer = consumer_for(config, "log-enricher-backfill")
    try:
        messages, next_offset = read_range(consumer, rng)
        if ts_from is not None and ts_to is not None:
            messages = [m for m in messages if _stamped_in(m, ts_from, ts_to)]
        records = raw_batch(messages, rng.topic, rng.partition)
        result = enrich_batch(records, model, rules, settings, formats)
        result.labels.clear()  # the live pipeline already taught these lines
        result.counts["labels"] = 0
        out_partition = same_partition(producer, topics.enriched, rng.partition)
        producer.begin_transaction()
        try:
            produced = write_result(producer, topics, result, out_partition)
            producer.commit_transaction(TXN_TIMEOUT_S)
        except KafkaException as err:
            _abort(producer, err)
            raise StackError(
                f"backfill transaction for {rng.topic}[{rng.partition}] failed: {err}"
            ) from err
        return PartitionRun(
            rng.topic, rng.partition, rng.start, next_offset, result.counts, produced, False
        )
    finally:
        consumer.close()
        producer.flush(5)


def _stamped_in(msg: Message, ts_from: int, ts_to: int) -> bool:
    ts_type, ts = msg.timestamp()
    return bool(ts_type) and ts_from <= ts < ts_to


def _abort(producer: Producer, err: KafkaException) -> None:
    kerr = err.args[0] if err.args else None
    if kerr is not None and getattr(kerr, "fatal", lambda: False)():
        return  # a fenced or fatal producer cannot abort; the next owner's init aborts for us
    try:
        producer.abort_transaction(TXN_TIMEOUT_S)
    except KafkaException:
        log.warning("abort after a failed transaction also failed; the next run fences it")
