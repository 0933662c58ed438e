"""Kafka at the edge: client configuration from the Airflow connection, topics, produce.

Connection settings (bootstrap servers, SASL/TLS) come from the Airflow connection
(default ``kafka_default``) through the Kafka provider's hook, exactly as the provider's own
operators read them, so users configure security once. Nothing here logs a config dict.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from enrich.errors import StackError
from enrich.settings import StackSettings

log = logging.getLogger(__name__)

ADMIN_TIMEOUT_S = 15.0
CONSUME_CHUNK = 10_000
# consecutive empty consume() calls (of 0.5 s) before a read below the high watermark gives
# up: only an open upstream transaction (holding the last stable offset back) or a stalled
# broker can cause that, and the read then returns what it has
IDLE_POLLS = 30
TXN_TIMEOUT_S = 120.0
# Defaults for the clients of one task, which live for seconds (a connection's extra can set
# them otherwise). librdkafka's sparse connections open a connection to a broker learned from
# the bootstrap metadata only when a request first needs it, after a backoff: measured on
# the local broker, init_transactions took 55 ms (1 start in 10: 500 ms) and a new consumer's
# first committed() 51-55 ms; connecting to every broker at start, 2 ms and 1 ms. A large
# cluster may prefer sparse connections back (`"enable.sparse.connections": true`).
TASK_CLIENT_DEFAULTS: dict[str, Any] = {"enable.sparse.connections": False}


def task_client_config(config: Mapping[str, Any], fixed: Mapping[str, Any]) -> dict[str, Any]:
    """A client config: the connection's ``config`` over ``TASK_CLIENT_DEFAULTS``, and the
    settings the code depends on (``fixed``: isolation level, transactional id, ...) over both."""
    return {**TASK_CLIENT_DEFAULTS, **config, **fixed}


def client_config(conn_id: str = "kafka_default", **overrides: Any) -> dict[str, Any]:
    """Return the confluent-kafka config of Airflow connection ``conn_id`` plus ``overrides``.

    The connection's extra is the librdkafka config dict (the provider's convention); the
    provider's hook resolves allow-listed callbacks and managed OAuth. Raises
    :class:`StackError` when the connection is missing or has no ``bootstrap.servers``.
    """
    from airflow.providers.apache.kafka.hooks.base import KafkaBaseHook

    hook = KafkaBaseHook(kafka_config_id=conn_id)
    try:
        config = hook._build_config()
    except ValueError as err:
        raise StackError(f"Airflow connection {conn_id!r} is not usable: {err}") from err
    except Exception as err:  # the SDK raises its own NotFound types across versions
        if "not defined" in str(err) or "NotFound" in type(err).__name__:
            raise StackError(
                f"Airflow connection {conn_id!r} is not defined: set AIRFLOW_CONN_"
                f"{conn_id.upper()} (scripts/env.sh does for the local broker) or add it in the UI"
            ) from err
        raise
    config.update(overrides)
    return config


@dataclass(frozen=True)
class TopicSpec:
    """A topic the project owns, with its layout."""

    name: str
    partitions: int
    replication: int = 1
    config: Mapping[str, str] = field(default_factory=dict)


def project_topics(settings: StackSettings) -> list[TopicSpec]:
    """The five topics of DESIGN.md; labels are compacted (one latest label per fingerprint)."""
    t = settings.topics
    p, r = settings.partitions, settings.replication
    return [
        TopicSpec(t.raw, p, r),
        TopicSpec(t.enriched, p, r),
        TopicSpec(t.labels, p, r, {"cleanup.policy": "compact", "min.compaction.lag.ms": "60000"}),
        TopicSpec(t.review, p, r),
        TopicSpec(t.dlq, p, r),
    ]


def list_topics(config: Mapping[str, Any], timeout: float = ADMIN_TIMEOUT_S) -> dict[str, int]:
    """Topic name → partition count. Raises :class:`StackError` if the broker cannot be reached."""
    errors: list[KafkaError] = []
    own: dict[str, Any] = {} if "error_cb" in config else {"error_cb": errors.append}
    admin = AdminClient({**config, **own})
    try:
        metadata = admin.list_topics(timeout=timeout)
    except KafkaException as err:
        servers = config.get("bootstrap.servers")
        admin.poll(0.5)  # serve the client's error callbacks: why did it fail?
        auth = [e for e in errors if e.code() == KafkaError._AUTHENTICATION]
        if auth:
            raise StackError(
                f"Kafka at {servers} refused the connection's credentials ({auth[0].str()}): "
                "fix sasl.username / sasl.password (or the mechanism) in the Airflow "
                "connection's extra"
            ) from err
        raise StackError(
            f"cannot reach Kafka at {servers} within {timeout:.0f}s ({err.args[0]}): start the "
            "local broker with `make kafka-up`, or fix the connection's bootstrap.servers"
        ) from err
    return {name: len(meta.partitions) for name, meta in metadata.topics.items()}


def ensure_topics(config: Mapping[str, Any], specs: Iterable[TopicSpec]) -> list[str]:
    """Create the topics of ``specs`` that do not exist; return the names created.

    Idempotent: existing topics are left as they are (a topic created concurrently by
    someone else counts as existing).
    """
    existing = list_topics(config)
    missing = [s for s in specs if s.name not in existing]
    if not missing:
        return []
    admin = AdminClient(dict(config))
    futures = admin.create_topics(
        [NewTopic(s.name, s.partitions, s.replication, config=dict(s.config)) for s in missing],
        operation_timeout=ADMIN_TIMEOUT_S,
    )
    created = []
    for name, future in futures.items():
        try:
            future.result()
            created.append(name)
        except KafkaException as err:
            if err.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise StackError(f"cannot create topic {name!r}: {err.args[0].str()}") from err
    log.info("created topics: %s", ", ".join(sorted(created)))
    return sorted(created)


def topic_config(config: Mapping[str, Any], topic: str) -> dict[str, str]:
    """The broker's effective configuration of ``topic``."""
    admin = AdminClient(dict(config))
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    result = admin.describe_configs([resource])[resource].result(timeout=ADMIN_TIMEOUT_S)
    return {name: entry.value for name, entry in result.items()}


class CheckedProducer(Producer):
    """An idempotent producer that remembers failed deliveries, so ``flush_or_fail`` raises
    instead of a refused or lost write passing silently (a delivery callback given to
    ``produce`` itself replaces this one for that message)."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        failures: list[str] = []

        # a closure over the list, not a bound method: the producer holding a callback that
        # holds the producer would be a reference cycle, and the client (its threads and
        # connections) would outlive its last use until the cyclic collector ran
        def record(err: KafkaError | None, _msg: Message) -> None:
            if err is not None:
                failures.append(err.str())

        self.failures = failures
        super().__init__({**config, "on_delivery": record})


def idempotent_producer(config: Mapping[str, Any]) -> Producer:
    return CheckedProducer(
        task_client_config(
            config,
            {
                "enable.idempotence": True,
                "linger.ms": 20,
                "compression.type": "lz4",
                "message.max.bytes": 10 << 20,
            },
        )
    )


def flush_or_fail(producer: Producer, topic: str, failures: list[str] | None = None) -> None:
    """Flush; raise StackError if anything was not delivered."""
    remaining = producer.flush(60)
    failures = [*(failures or []), *getattr(producer, "failures", [])]
    if remaining or failures:
        detail = failures[0] if failures else f"{remaining} messages not delivered in 60s"
        raise StackError(
            f"producing to {topic!r} failed for {len(failures) or remaining}: {detail}"
        )


def produce(
    config: Mapping[str, Any],
    topic: str,
    values: Iterable[bytes | str | None],
    keys: Iterable[bytes | str | None] | None = None,
) -> int:
    """Produce ``values`` to ``topic`` (idempotent producer), flush, and return the count.

    Raises :class:`StackError` if any delivery failed: a failed write never passes silently.
    """
    producer = idempotent_producer(config)
    key_iter = iter(keys) if keys is not None else None
    count = 0
    for value in values:
        key = next(key_iter) if key_iter is not None else None
        produce_one(producer, topic, value, key)
        count += 1
        if count % 10_000 == 0:
            producer.poll(0)
    flush_or_fail(producer, topic)
    return count


def watermarks(config: Mapping[str, Any], topic: str) -> dict[int, tuple[int, int]]:
    """Partition → (low, high) watermark offsets of ``topic``."""
    consumer = Consumer(
        task_client_config(config, {"group.id": "enrich-watermarks", "enable.auto.commit": False})
    )
    try:
        partitions = list_topics(config).get(topic)
        if partitions is None:
            raise StackError(f"topic {topic!r} does not exist: run `enrich setup`")
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=ADMIN_TIMEOUT_S)
            for p in range(partitions)
        }
    finally:
        consumer.close()


@dataclass(frozen=True)
class PartitionRange:
    topic: str
    partition: int
    start: int  # first offset to read
    end: int  # one past the last offset to read


def consumer_for(config: Mapping[str, Any], group_id: str) -> Consumer:
    """A consumer that only ever uses ``assign``: it reads committed data, commits nothing."""
    return Consumer(
        task_client_config(
            config,
            {
                "group.id": group_id,
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "isolation.level": "read_committed",
                "auto.offset.reset": "earliest",
                "fetch.max.bytes": 64 << 20,
                "max.partition.fetch.bytes": 16 << 20,
            },
        )
    )


def transactional_producer(config: Mapping[str, Any], transactional_id: str) -> Producer:
    """A transactional producer; ``init_transactions`` fences earlier owners of the id."""
    producer = Producer(
        task_client_config(
            config,
            {
                "transactional.id": transactional_id,
                "transaction.timeout.ms": int(TXN_TIMEOUT_S * 1000),
                "linger.ms": 50,
                "batch.size": 1_000_000,
                "compression.type": "lz4",
                "queue.buffering.max.messages": 500_000,
                "message.max.bytes": 10 << 20,
            },
        )
    )
    producer.init_transactions(TXN_TIMEOUT_S)
    return producer


def plan_range(
    consumer: Consumer, topic: str, partition: int, max_messages: int, timeout: float = 15.0
) -> PartitionRange:
    """[committed offset, min(high watermark, committed + max)) for the consumer's group."""
    tp = TopicPartition(topic, partition)
    low, high = consumer.get_watermark_offsets(tp, timeout=timeout, cached=False)
    committed = consumer.committed([tp], timeout=timeout)[0].offset
    start = committed if committed >= 0 else low
    start = max(start, low)  # retention may have deleted what the group never read
    return PartitionRange(topic, partition, start, min(high, start + max_messages))


def read_range(
    consumer: Consumer, rng: PartitionRange, limit: int | None = None
) -> tuple[list[Message], int]:
    """Messages of ``rng`` (at most ``limit``), and the offset after the last one read.

    Stops at ``rng.end`` (past trailing transaction markers too); gives up early when the
    broker has nothing more to return (an open transaction upstream holds the last stable
    offset back), returning what it has.
    """
    if rng.end <= rng.start:
        return [], rng.start
    consumer.assign([TopicPartition(rng.topic, rng.partition, rng.start)])
    records: list[Message] = []
    next_offset = rng.start
    idle = 0
    try:
        while (
            next_offset < rng.end and idle < IDLE_POLLS and (limit is None or len(records) < limit)
        ):
            # never ask for more than the range has left: consume() waits out its timeout
            # for a chunk the partition cannot fill
            want = min(CONSUME_CHUNK, rng.end - next_offset)
            if limit is not None:
                want = min(want, limit - len(records))
            batch = consumer.consume(num_messages=max(want, 1), timeout=0.5)
            idle = 0 if batch else idle + 1
            if not batch and _position(consumer, rng) >= rng.end:
                next_offset = rng.end  # only control records (transaction markers) were left
                break
            for msg in batch:
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        continue
                    raise StackError(f"reading {rng.topic}[{rng.partition}]: {err.str()}")
                offset = msg.offset() or 0
                if offset >= rng.end or (limit is not None and len(records) >= limit):
                    break
                records.append(msg)
                next_offset = offset + 1
    finally:
        consumer.unassign()
    return records, next_offset


def _position(consumer: Consumer, rng: PartitionRange) -> int:
    offset: int = consumer.position([TopicPartition(rng.topic, rng.partition)])[0].offset
    return offset


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
    marks = watermarks(config, topic)
    consumer = consumer_for(config, group_id)
    try:
        for partition, (low, high) in sorted(marks.items()):
            start = low if newest is None else max(low, high - newest)
            got, end = read_range(consumer, PartitionRange(topic, partition, start, high), limit)
            yield partition, got, end
    finally:
        consumer.close()


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


def offsets_for_time(config: Mapping[str, Any], topic: str, timestamp_ms: int) -> dict[int, int]:
    """Partition → first offset whose timestamp is at or after ``timestamp_ms`` (the high
    watermark when there is none)."""
    marks = watermarks(config, topic)
    consumer = consumer_for(config, "enrich-offsets-for-times")
    try:
        found = consumer.offsets_for_times(
            [TopicPartition(topic, p, timestamp_ms) for p in sorted(marks)], timeout=ADMIN_TIMEOUT_S
        )
    finally:
        consumer.close()
    return {tp.partition: tp.offset if tp.offset >= 0 else marks[tp.partition][1] for tp in found}


def produce_many(
    producer: Producer,
    topic: str,
    values: Sequence[bytes | None],
    keys: Sequence[str | bytes | None],
    partition: int = -1,
) -> None:
    """``produce_one`` for many values (``partition`` -1: by key), with positional arguments:
    the keyword parsing of ``produce`` costs more than queueing the message."""
    produce = producer.produce
    for value, key in zip(values, keys, strict=True):
        try:
            produce(topic, value, key, partition)
        except BufferError:
            produce_one(producer, topic, value, key, partition=partition)


def produce_one(
    producer: Producer,
    topic: str,
    value: str | bytes | None,
    key: str | bytes | None = None,
    **options: Any,
) -> None:
    """``producer.produce`` that waits for room in the local queue instead of failing.

    ``options`` go to ``produce`` as they are (``partition``, ``headers``, ``on_delivery``,
    ``timestamp``).
    """
    while True:
        try:
            producer.produce(topic, value=value, key=key, **options)
            return
        except BufferError:
            producer.poll(0.05)  # local queue full: let deliveries drain, then retry
