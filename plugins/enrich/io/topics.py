"""Kafka topics at the edge: the project's topics, their layout, offsets by position or time."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
)

from enrich.config import StackSettings
from enrich.errors import ConfigError, StackError
from enrich.io.kafka import ADMIN_TIMEOUT_S, consumer_for, task_client_config

log = logging.getLogger(__name__)


# the compacted topics' segments roll after this long (10 minutes), so compaction keeps up
COMPACTED_SEGMENT_MS = 600_000


@dataclass(frozen=True)
class TopicSpec:
    """A topic the project owns, with its layout."""

    name: str
    partitions: int
    replication: int = 1
    config: Mapping[str, str] = field(default_factory=dict)


def project_topics(settings: StackSettings) -> list[TopicSpec]:
    """The six topics (docs/architecture.md); labels and templates are compacted (one label
    per key, one state per template id). Compaction never touches a partition's active
    segment, which the broker rolls after a week by default: their segments roll after
    ``COMPACTED_SEGMENT_MS``, so what a task start reads stays near one record a key."""
    t = settings.topics
    p, r = settings.partitions, settings.replication
    compact = {
        "cleanup.policy": "compact",
        "min.compaction.lag.ms": "60000",
        "segment.ms": str(COMPACTED_SEGMENT_MS),
    }
    return [
        TopicSpec(t.raw, p, r),
        TopicSpec(t.enriched, p, r),
        TopicSpec(t.labels, p, r, compact),
        TopicSpec(t.review, p, r),
        TopicSpec(t.dlq, p, r),
        TopicSpec(t.templates, p, r, compact),
    ]


def creation_config(spec: TopicSpec) -> dict[str, str]:
    """The config a topic is created with: its spec's, and with three replicas or more
    ``min.insync.replicas`` 2 unless the spec says otherwise: a write (``acks=all``, as the
    project's idempotent and transactional producers send) then needs two in sync, so one
    broker may fail without losing or refusing a write, whatever the brokers' default is."""
    isr = {"min.insync.replicas": "2"} if spec.replication >= 3 else {}
    return {**isr, **spec.config}


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


def delete_topics(
    config: Mapping[str, Any], names: Iterable[str] = (), prefix: str | None = None
) -> list[str]:
    """Delete the topics ``names`` and every topic whose name starts with ``prefix``, and wait
    until the broker has accepted each deletion (an unawaited ``AdminClient.delete_topics``
    may never be sent). For tests and benchmarks; topics already gone are not an error.
    Returns the names deleted."""
    wanted = set(names)
    if prefix:
        wanted |= {t for t in list_topics(config) if t.startswith(prefix)}
    if not wanted:
        return []
    admin = AdminClient(dict(config))  # kept alive until the futures resolve
    futures = admin.delete_topics(sorted(wanted), operation_timeout=ADMIN_TIMEOUT_S)
    deleted = []
    for name, future in futures.items():
        try:
            future.result(timeout=ADMIN_TIMEOUT_S)
            deleted.append(name)
        except KafkaException as err:
            if err.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                raise
    return deleted


def check_output_partitions(counts: Mapping[str, int], source: str, target: str) -> None:
    """ConfigError unless ``target`` has at least as many partitions as ``source``: each
    input partition's records go to the output partition of the same number, which keeps
    their order (with fewer, the rest would be spread by key and lose it)."""
    have, need = counts.get(target), counts.get(source)
    if have is not None and need is not None and have < need:
        raise ConfigError(
            f"output topic {target!r} has {have} partition(s), fewer than the {need} of "
            f"input topic {source!r}: records of partitions {have} to {need - 1} would lose "
            f"their order. Add partitions: kafka-topics.sh --bootstrap-server <broker> "
            f"--alter --topic {target} --partitions {need}"
        )


def ensure_topics(
    config: Mapping[str, Any], specs: Iterable[TopicSpec], apply_config: bool = False
) -> list[str]:
    """Create the topics of ``specs`` that do not exist; return the names created.

    Idempotent: a topic created concurrently by someone else counts as existing. An existing
    topic whose configuration differs from its spec's (``config_drift``: a topic made by an
    earlier version) is left as it is with a warning that says what differs, or, with
    ``apply_config`` (``enrich setup``), is set to the spec's values.
    """
    specs = list(specs)
    existing = list_topics(config)
    missing = [s for s in specs if s.name not in existing]
    drift = config_drift(config, [s for s in specs if s.name in existing])
    for name, keys in sorted(drift.items()):
        if apply_config:
            alter_topic_config(config, name, {k: want for k, (_now, want) in keys.items()})
            done = ", ".join(f"{k} set to {want} (was {now})" for k, (now, want) in keys.items())
            log.info("topic %s: %s", name, done)
        else:
            what = ", ".join(
                f"{k} is {now}, the project's {want}" for k, (now, want) in keys.items()
            )
            log.warning("topic %s: %s; `enrich setup` sets it", name, what)
    if not missing:
        return []
    admin = AdminClient(dict(config))
    futures = admin.create_topics(
        [NewTopic(s.name, s.partitions, s.replication, config=creation_config(s)) for s in missing],
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


def config_drift(
    config: Mapping[str, Any], specs: Iterable[TopicSpec]
) -> dict[str, dict[str, tuple[str | None, str]]]:
    """Topic → {key: (its value, the spec's)} for each key of the specs' creation config
    (``creation_config``) whose value on the broker differs; topics that match are left
    out, and so are those whose config this client may not read (logged)."""
    wanted = {s.name: creation_config(s) for s in specs}
    wanted = {name: keys for name, keys in wanted.items() if keys}
    if not wanted:
        return {}
    admin = AdminClient(dict(config))
    resources = [ConfigResource(ConfigResource.Type.TOPIC, name) for name in wanted]
    drift: dict[str, dict[str, tuple[str | None, str]]] = {}
    for resource, future in admin.describe_configs(resources).items():
        try:
            entries = future.result(timeout=ADMIN_TIMEOUT_S)
        except KafkaException as err:  # not allowed to describe it (ACLs): nothing to compare
            log.info("cannot read topic %s's config (%s): not compared", resource.name, err)
            continue
        now = {name: entry.value for name, entry in entries.items()}
        keys = {k: (now.get(k), v) for k, v in wanted[resource.name].items() if now.get(k) != v}
        if keys:
            drift[resource.name] = keys
    return drift


def alter_topic_config(config: Mapping[str, Any], topic: str, values: Mapping[str, str]) -> None:
    """Set ``values`` in ``topic``'s configuration (its other keys are left as they are)."""
    resource = ConfigResource(
        ConfigResource.Type.TOPIC,
        topic,
        incremental_configs=[
            ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET)
            for k, v in values.items()
        ],
    )
    admin = AdminClient(dict(config))
    try:
        admin.incremental_alter_configs([resource])[resource].result(timeout=ADMIN_TIMEOUT_S)
    except KafkaException as err:
        raise StackError(f"cannot set topic {topic!r}'s config: {err}") from err


def topic_config(config: Mapping[str, Any], topic: str) -> dict[str, str]:
    """The broker's effective configuration of ``topic``."""
    admin = AdminClient(dict(config))
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    result = admin.describe_configs([resource])[resource].result(timeout=ADMIN_TIMEOUT_S)
    return {name: entry.value for name, entry in result.items()}


def watermarks(
    config: Mapping[str, Any],
    topic: str,
    missing_ok: bool = False,
    consumer: Consumer | None = None,
) -> dict[int, tuple[int, int]]:
    """Partition → (low, high) watermark offsets of ``topic``; a topic that does not exist
    is a StackError, or no partitions with ``missing_ok``.

    One client asks it all: the topic's partitions come from the consumer's own metadata,
    not from an admin client's list of every topic (~50 ms more, a task start); where that
    fails, ``list_topics`` says why (unreachable, credentials refused). ``consumer``: ask
    with this one (left open) instead of a new one; a read_committed consumer is told the
    last stable offset as the high watermark."""
    own = consumer is None
    if consumer is None:
        consumer = Consumer(
            task_client_config(
                config, {"group.id": "enrich-watermarks", "enable.auto.commit": False}
            )
        )
    try:
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=ADMIN_TIMEOUT_S)
            for p in topic_partitions(consumer, topic, missing_ok, config)
        }
    finally:
        if own:
            consumer.close()


def topic_partitions(
    consumer: Consumer,
    topic: str,
    missing_ok: bool = False,
    config: Mapping[str, Any] | None = None,
) -> list[int]:
    """The partitions of ``topic`` from ``consumer``'s own metadata (loading it, so the
    client's first query of the topic finds the partitions' leaders at once); a topic that
    does not exist is a StackError, or none with ``missing_ok``. Where the metadata request
    fails, ``list_topics(config)`` says why (unreachable, credentials refused)."""
    try:
        meta = consumer.list_topics(topic, timeout=ADMIN_TIMEOUT_S).topics.get(topic)
    except KafkaException:
        if config is not None:
            list_topics(config, timeout=5.0)  # raises the StackError that says why
        raise
    missing = meta is None or (
        meta.error is not None and meta.error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART
    )
    if missing and missing_ok:
        return []
    if missing:
        raise StackError(f"topic {topic!r} does not exist: run `enrich setup`")
    if meta.error is not None:
        raise StackError(f"topic {topic!r}: {meta.error.str()}")
    return sorted(meta.partitions)


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
