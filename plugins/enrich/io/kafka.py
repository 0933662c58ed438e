"""Kafka clients at the edge: producers and consumers built from a connection's config.

The config comes from the Airflow connection (``enrich.io.connection``); each task builds its
short-lived clients from it with the settings the code depends on (``task_client_config``).
Nothing here logs a config dict, and nothing imports Airflow (a task process that only
enriches does not pay for importing it).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from confluent_kafka import Consumer, KafkaError, Message, Producer

from enrich.errors import StackError

log = logging.getLogger(__name__)

ADMIN_TIMEOUT_S = 15.0
TXN_TIMEOUT_S = 120.0
# Defaults for the clients of one task, which live for seconds (a connection's extra can set
# them otherwise). librdkafka's sparse connections open a connection to a broker learned from
# the bootstrap metadata only when a request first needs it, after a backoff of 50-500 ms;
# connecting to every broker at start avoids that wait in each new client. A large cluster
# may prefer sparse connections back (`"enable.sparse.connections": true`).
TASK_CLIENT_DEFAULTS: dict[str, Any] = {"enable.sparse.connections": False}


def task_client_config(config: Mapping[str, Any], fixed: Mapping[str, Any]) -> dict[str, Any]:
    """A client config: the connection's ``config`` over ``TASK_CLIENT_DEFAULTS``, and the
    settings the code depends on (``fixed``: isolation level, transactional id, ...) over both."""
    return {**TASK_CLIENT_DEFAULTS, **config, **fixed}


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
                # the broker holds a fetch with nothing new for at most this long: a reader
                # that moves on to the next partition waits for the held fetch first (the
                # default 500 ms made every partition's read of a small topic take 0.5 s)
                "fetch.wait.max.ms": 10,
                # a partition whose prefetch queue is full is fetched again after this long;
                # the default 1,000 ms held up the first read of every micro-batch after the
                # first (each reassigns the partition) by ~1 s: a task working through
                # batches of 50,000 spent ~2/3 of its time waiting
                "fetch.queue.backoff.ms": 10,
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


def produce_many(
    producer: Producer,
    topic: str,
    values: Sequence[bytes | None],
    keys: Sequence[str | bytes | None],
    partition: int = -1,
    headers: list[tuple[str, bytes]] | None = None,
) -> None:
    """``produce_one`` for many values (``partition`` -1: by key; the same ``headers`` on
    each), with positional arguments: the keyword parsing of ``produce`` costs more than
    queueing the message."""
    produce = producer.produce
    if headers:
        for value, key in zip(values, keys, strict=True):
            produce_one(producer, topic, value, key, partition=partition, headers=headers)
        return
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
