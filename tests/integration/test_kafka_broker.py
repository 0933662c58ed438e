"""The local broker is a real Apache Kafka in KRaft mode, and round-trips messages exactly."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any, cast

import pytest
from confluent_kafka import Consumer, TopicPartition

from enrich.config import StackSettings
from enrich.io import kafka, reading, topics


def _read_all(config: dict[str, Any], topic: str) -> list[tuple[bytes | None, bytes | None]]:
    """Read every message of ``topic`` by assign (no group join), up to the high watermarks."""
    marks = topics.watermarks(config, topic)
    consumer = Consumer({**config, "group.id": "test-reader", "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, p, low) for p, (low, _high) in marks.items()])
    remaining = {p: high - low for p, (low, high) in marks.items()}
    out: list[tuple[bytes | None, bytes | None]] = []
    try:
        idle = 0
        while any(remaining.values()) and idle < 20:
            batch = consumer.consume(num_messages=1000, timeout=0.5)
            idle = 0 if batch else idle + 1
            for msg in batch:
                assert msg.error() is None, msg.error()
                out.append((msg.key(), msg.value()))
                remaining[msg.partition() or 0] -= 1
    finally:
        consumer.close()
    return out


def test_broker_process_is_apache_kafka_started_by_project_script() -> None:
    pid_file = Path(os.environ["KAFKA_DATA_DIR"]) / "broker.pid"
    pid = pid_file.read_text().strip()
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    assert cmdline[0].endswith(b"java")
    assert b"kafka.Kafka" in cmdline
    # KRaft combined mode, as configured by the repo's server.properties
    config_path = Path(cmdline[cmdline.index(b"kafka.Kafka") + 1].decode())
    assert "process.roles=broker,controller" in config_path.read_text()


def test_produce_n_consume_exactly_n(kafka_config: dict[str, Any], fresh_topic: str) -> None:
    n = 5_000
    values = [f"line {i}".encode() for i in range(n)]
    keys = [str(i).encode() for i in range(n)]
    assert kafka.produce(kafka_config, fresh_topic, values, keys) == n

    got = _read_all(kafka_config, fresh_topic)

    assert len(got) == n
    assert sorted(v for _k, v in got if v is not None) == sorted(values)
    assert all(v == f"line {int(k)}".encode() for k, v in got if k is not None and v is not None)


def test_project_topics_exist_and_labels_topic_is_compacted(kafka_config: dict[str, Any]) -> None:
    settings = StackSettings.from_env()
    found = topics.list_topics(kafka_config)
    for name in settings.topics.all():
        assert found.get(name) == settings.partitions, name
    assert topics.topic_config(kafka_config, settings.topics.labels)["cleanup.policy"] == "compact"
    templates = topics.topic_config(kafka_config, settings.topics.templates)
    assert (templates["cleanup.policy"], templates["segment.ms"]) == ("compact", "600000")
    assert topics.topic_config(kafka_config, settings.topics.raw)["cleanup.policy"] == "delete"


def test_ensure_topics_is_idempotent(kafka_config: dict[str, Any], fresh_topic: str) -> None:
    assert topics.ensure_topics(kafka_config, [topics.TopicSpec(fresh_topic, 3)]) == []


def test_unreachable_broker_says_what_to_fix() -> None:
    import pytest

    from enrich.errors import StackError

    with pytest.raises(StackError, match=r"cannot reach Kafka at 127\.0\.0\.1:1 .*make kafka-up"):
        topics.list_topics({"bootstrap.servers": "127.0.0.1:1"}, timeout=2)


def test_watermarks_of_a_topic_that_does_not_exist(kafka_config: dict[str, Any]) -> None:
    import pytest

    from enrich.errors import StackError
    from enrich.io.stores import read_templates

    name = f"never{uuid.uuid4().hex[:8]}.templates"
    with pytest.raises(StackError, match=r"does not exist: run `enrich setup`"):
        topics.watermarks(kafka_config, name)
    assert topics.watermarks(kafka_config, name, missing_ok=True) == {}
    assert read_templates(kafka_config, name, "test-reader") == []  # no state yet
    assert name not in topics.list_topics(kafka_config)  # asking did not create it


def test_watermarks_of_an_unreachable_broker_say_what_to_fix() -> None:
    import pytest

    from enrich.errors import StackError

    with pytest.raises(StackError, match=r"cannot reach Kafka at 127\.0\.0\.1:1"):
        topics.watermarks({"bootstrap.servers": "127.0.0.1:1"}, "logs.raw")


def test_delete_topics_by_prefix_waits_until_they_are_gone(kafka_config: dict[str, Any]) -> None:
    prefix = f"gone{uuid.uuid4().hex[:8]}."
    kept = f"{prefix[:-1]}x.kept"  # shares the prefix's first letters, not the prefix
    names = [f"{prefix}raw", f"{prefix}raw.backfill", kept]
    topics.ensure_topics(kafka_config, [topics.TopicSpec(n, 1) for n in names])
    try:
        deleted = topics.delete_topics(kafka_config, prefix=prefix)
        assert sorted(deleted) == sorted(names[:2])
        left = set(topics.list_topics(kafka_config))
        assert not left & set(names[:2])
        assert kept in left
        assert topics.delete_topics(kafka_config, [f"{prefix}never"]) == []  # gone: no error
    finally:
        topics.delete_topics(kafka_config, [kept])


class CountingConsumer:
    """A consumer that remembers how many messages each poll returned."""

    def __init__(self, inner: Consumer) -> None:
        self.inner, self.polls = inner, list[int]()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def consume(self, *args: Any, **kwargs: Any) -> list[Any]:
        got: list[Any] = self.inner.consume(*args, **kwargs)
        self.polls.append(len(got))
        return got


def test_a_transactional_topic_is_read_without_polling_for_its_commit_markers(
    kafka_config: dict[str, Any], fresh_topic: str
) -> None:
    """Each transaction ends in a commit marker that is never delivered: once the last
    message is in, the reader sees that the client's position has passed the markers and
    stops, instead of polling for them until a timeout (which every read of a transactional
    topic paid: the review queue and people's labels are read in every task run)."""
    producer = kafka.transactional_producer(kafka_config, f"markers-{fresh_topic}")
    for t in range(3):
        producer.begin_transaction()
        for p in range(3):
            for i in range(50):
                producer.produce(fresh_topic, f"line {i} of transaction {t}".encode(), partition=p)
        producer.commit_transaction(30)
    counting = CountingConsumer(kafka.consumer_for(kafka_config, f"g-{fresh_topic}"))
    consumer = cast(Consumer, counting)
    try:
        for p, (low, high) in sorted(topics.watermarks(kafka_config, fresh_topic).items()):
            assert high - low == 153  # 150 lines and 3 commit markers
            counting.polls.clear()
            got, end = reading.read_range(
                consumer, reading.PartitionRange(fresh_topic, p, low, high)
            )
            assert len(got) == 150
            assert end == high
            assert counting.polls[-1] > 0, f"polled for the markers: {counting.polls}"
    finally:
        counting.inner.close()


def test_setup_sets_the_projects_config_on_a_topic_made_without_it(
    kafka_config: dict[str, Any], fresh_topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A compacted topic made by an earlier version (no ``segment.ms``): other callers warn
    and leave it; ``apply_config`` (``enrich setup``) sets the spec's values."""
    spec = topics.TopicSpec(fresh_topic, 3, 1, {"segment.ms": "600000"})
    before = topics.topic_config(kafka_config, fresh_topic)["segment.ms"]  # the broker's
    assert before != "600000"
    assert topics.config_drift(kafka_config, [spec]) == {
        fresh_topic: {"segment.ms": (before, "600000")}
    }
    with caplog.at_level("WARNING"):
        assert topics.ensure_topics(kafka_config, [spec]) == []
    assert f"segment.ms is {before}, the project's 600000" in caplog.text
    assert topics.topic_config(kafka_config, fresh_topic)["segment.ms"] == before
    topics.ensure_topics(kafka_config, [spec], apply_config=True)
    assert topics.topic_config(kafka_config, fresh_topic)["segment.ms"] == "600000"
    assert topics.config_drift(kafka_config, [spec]) == {}
