"""The task clients' configuration and explicit offset ranges (pure: no broker)."""

from __future__ import annotations

import gc
import weakref
from typing import Any

import pytest

from enrich.errors import ConfigError
from enrich.io import reading
from enrich.io.kafka import (
    TASK_CLIENT_DEFAULTS,
    CheckedProducer,
    idempotent_producer,
    task_client_config,
)


def test_task_clients_connect_to_every_broker_unless_the_connection_says_otherwise() -> None:
    conn = {"bootstrap.servers": "b:9092", "security.protocol": "SASL_SSL"}
    assert TASK_CLIENT_DEFAULTS == {"enable.sparse.connections": False}
    config = task_client_config(conn, {"group.id": "g"})
    assert config == {**conn, "enable.sparse.connections": False, "group.id": "g"}

    sparse = task_client_config({**conn, "enable.sparse.connections": True}, {"group.id": "g"})
    assert sparse["enable.sparse.connections"] is True


def test_the_settings_the_code_depends_on_win_over_the_connection() -> None:
    conn = {"bootstrap.servers": "b:9092", "isolation.level": "read_uncommitted"}
    config = task_client_config(conn, {"isolation.level": "read_committed"})
    assert config["isolation.level"] == "read_committed"
    assert conn["isolation.level"] == "read_uncommitted"  # the caller's dict is not changed


def test_a_dropped_producer_is_freed_at_once() -> None:
    """No reference cycle through its delivery callback: the client (threads, sockets) goes
    with its last reference, not whenever the cyclic collector next runs."""
    gc.disable()
    try:
        producer = idempotent_producer({"bootstrap.servers": "127.0.0.1:1", "log_level": 0})
        assert isinstance(producer, CheckedProducer)
        assert producer.failures == []
        ref = weakref.ref(producer)
        del producer
        assert ref() is None
    finally:
        gc.enable()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"7": [0, 5]}, r"offsets\['7'\] = \[0, 5\]: need \[from, to\) of a partition of t"),
        ({"0": [9, 5]}, r"offsets\['0'\]"),  # from after to
        ({"1": [1, 2, 3]}, r"offsets\['1'\]"),  # not a pair
        ({"2": 5}, r"offsets\['2'\] = 5"),  # not a range at all
    ],
)
def test_explicit_ranges_name_the_entry_to_fix(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        reading.explicit_ranges(spec, "t", [0, 1, 2])


def test_explicit_ranges_are_sorted_by_partition() -> None:
    ranges = reading.explicit_ranges({"2": [5, 9], "0": [0, 0]}, "t", [0, 1, 2])
    assert ranges == [reading.PartitionRange("t", 0, 0, 0), reading.PartitionRange("t", 2, 5, 9)]


def test_topics_of_three_replicas_or_more_need_two_in_sync() -> None:
    from enrich.io.topics import TopicSpec, creation_config

    assert creation_config(TopicSpec("t", 3, 1, {"cleanup.policy": "compact"})) == {
        "cleanup.policy": "compact"
    }
    assert creation_config(TopicSpec("t", 3, 3)) == {"min.insync.replicas": "2"}
    assert creation_config(TopicSpec("t", 3, 3, {"min.insync.replicas": "3"})) == {
        "min.insync.replicas": "3"
    }


def test_raw_batch_columns_with_and_without_a_gap_in_the_offsets() -> None:
    """Offsets that run without a gap are made from the first and last; a gap (a commit
    marker, a compacted record between) makes them read one by one. A timestamp of type
    NOT_AVAILABLE is None."""
    from confluent_kafka import TIMESTAMP_CREATE_TIME, Message

    from enrich.io.reading import raw_batch

    def msgs(offsets: list[int]) -> list[Message]:
        return [
            Message(
                topic="t",
                partition=2,
                offset=o,
                key=b"k%d" % o,
                value=b"v%d" % o,
                timestamp=(TIMESTAMP_CREATE_TIME, 1000 + o) if o % 2 else (0, 0),
            )
            for o in offsets
        ]

    for offsets in ([5, 6, 7, 8], [5, 7, 8, 9], [3], []):
        batch = raw_batch(msgs(offsets), "t", 2)
        assert batch.offsets == offsets
        assert batch.values == [b"v%d" % o for o in offsets]
        assert batch.timestamps == [1000 + o if o % 2 else None for o in offsets]
        assert list(batch.keys) == [b"k%d" % o for o in offsets]
