"""Kafka at the edge: client configuration from the Airflow connection, topics, produce.

Connection settings (bootstrap servers, SASL/TLS) come from the Airflow connection
(default ``kafka_default``) through the Kafka provider's hook, exactly as the provider's own
operators read them, so users configure security once. Nothing here logs a config dict.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from enrich.errors import StackError
from enrich.settings import StackSettings

log = logging.getLogger(__name__)

ADMIN_TIMEOUT_S = 15.0


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
    admin = AdminClient(dict(config))
    try:
        metadata = admin.list_topics(timeout=timeout)
    except KafkaException as err:
        servers = config.get("bootstrap.servers")
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


def produce(
    config: Mapping[str, Any],
    topic: str,
    values: Iterable[bytes | str | None],
    keys: Iterable[bytes | str | None] | None = None,
) -> int:
    """Produce ``values`` to ``topic`` (idempotent producer), flush, and return the count.

    Raises :class:`StackError` if any delivery failed: a failed write never passes silently.
    """
    producer = Producer(
        {**config, "enable.idempotence": True, "linger.ms": 20, "compression.type": "lz4"}
    )
    failures: list[str] = []

    def on_delivery(err: KafkaError | None, _msg: Message) -> None:
        if err is not None:
            failures.append(err.str())

    key_iter = iter(keys) if keys is not None else None
    count = 0
    for value in values:
        key = next(key_iter) if key_iter is not None else None
        while True:
            try:
                producer.produce(topic, value=value, key=key, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.1)  # local queue full: let deliveries drain, then retry
        count += 1
        if count % 10_000 == 0:
            producer.poll(0)
    remaining = producer.flush(60)
    if remaining or failures:
        detail = failures[0] if failures else f"{remaining} messages not delivered in 60s"
        raise StackError(
            f"producing to {topic!r} failed for {len(failures) or remaining}: {detail}"
        )
    return count


def watermarks(config: Mapping[str, Any], topic: str) -> dict[int, tuple[int, int]]:
    """Partition → (low, high) watermark offsets of ``topic``."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({**config, "group.id": "enrich-watermarks", "enable.auto.commit": False})
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
