"""The task clients' configuration (pure: no broker)."""

from __future__ import annotations

import gc
import weakref

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
