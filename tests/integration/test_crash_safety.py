"""A worker SIGKILLed in the middle of its transaction, then retried: a read_committed reader
sees every input exactly once (the retry's producer fences the dead one and aborts its
half-written transaction)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from confluent_kafka import Consumer, TopicPartition

from enrich.airflow import enrichment
from enrich.io import kafka
from enrich.samples import generate
from tests.integration.pipeline_env import Pipeline

BATCH = 60_000


def produce_to_partition(pipe: Pipeline, n: int, seed: int) -> None:
    producer = kafka.idempotent_producer(pipe.config)
    for _sample, value in generate(n, seed=seed):
        kafka.produce_one(producer, pipe.stack.topics.raw, value, partition=0)
    kafka.flush_or_fail(producer, pipe.stack.topics.raw)


def uncommitted_high(watcher: Consumer, topic: str) -> int:
    return int(watcher.get_watermark_offsets(TopicPartition(topic, 0), timeout=5, cached=False)[1])


def run_child_and_kill(pipe: Pipeline, after_messages: int) -> bool:
    """Start the partition-0 task in a child process; SIGSTOP then SIGKILL it once its open
    transaction has put ``after_messages`` records on the output topic. Return whether the
    kill landed inside the transaction (the group's offset had not moved)."""
    params = {"consumer_group": pipe.group, "max_batch_size": BATCH, "start_from": "earliest"}
    code = (
        "from enrich.airflow import enrichment; "
        f"enrichment.enrich_partition(0, {params!r}, 'log_enrichment')"
    )
    watcher = Consumer(
        {**pipe.config, "group.id": "watcher", "isolation.level": "read_uncommitted"}
    )
    base = uncommitted_high(watcher, pipe.stack.topics.enriched)
    committed_before = pipe.committed()[0]
    child = subprocess.Popen([sys.executable, "-c", code], env=dict(os.environ))
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and child.poll() is None:
            if uncommitted_high(watcher, pipe.stack.topics.enriched) - base >= after_messages:
                child.send_signal(signal.SIGSTOP)  # frozen: it cannot commit any more
                break
            time.sleep(0.002)
        # the frozen child's transaction may already carry the offsets: ask without waiting
        mid_transaction = (
            child.poll() is None and pipe.committed(stable=False)[0] == committed_before
        )
        child.kill()
        child.wait(30)
    finally:
        watcher.close()
    return mid_transaction


@pytest.mark.parametrize("kill_after", [1, 20_000, 45_000])
def test_killed_mid_transaction_then_retried_is_exactly_once(
    pipe: Pipeline, kill_after: int
) -> None:
    produce_to_partition(pipe, BATCH, seed=kill_after)
    raw_end = pipe.high(pipe.stack.topics.raw)[0]
    labels_before = pipe.high(pipe.stack.topics.labels)

    landed_inside = run_child_and_kill(pipe, kill_after)
    assert landed_inside, "the kill should land inside the open transaction"

    retry = enrichment.enrich_partition(
        0,
        {"consumer_group": pipe.group, "max_batch_size": BATCH, "start_from": "earliest"},
        "log_enrichment",
    )
    assert retry["committed"] is True
    assert pipe.committed()[0] == raw_end
    outputs = pipe.read(pipe.stack.topics.enriched) + pipe.read(pipe.stack.topics.dlq)
    seen = Counter(m.key().decode() for m in outputs if m.key().decode().split(":")[1] == "0")
    expected = {f"{pipe.stack.topics.raw}:0:{o}" for o in range(raw_end)}
    assert set(seen) == expected
    assert max(seen.values()) == 1
    # this run's training labels are visible once each: the killed attempt's copies are not
    new_labels = [
        m
        for m in pipe.read(pipe.stack.topics.labels)
        if (m.offset() or 0) >= labels_before[m.partition() or 0]
    ]
    assert new_labels
    assert max(Counter(m.key() for m in new_labels).values()) == 1
