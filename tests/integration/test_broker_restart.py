"""The broker stopped in the middle of an enrichment run and started again (a dedicated local
broker from ``scripts/kafka.sh``, so the shared one is never disturbed): the run is paused
while its transaction is open (its records written, the group's offset not yet moved) and
the broker stopped under it; after the run or its retry, a read_committed reader sees every
input exactly once and the group's offset is at the high watermark."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

from enrich.airflow import enrichment
from enrich.io import kafka, reading
from enrich.samples import generate
from tests.integration.pipeline_env import Pipeline, env_vars, isolated_pipeline, local_broker

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = str(ROOT / "scripts" / "kafka.sh")
BATCH = 60_000


@pytest.fixture(scope="module")
def broker_env(
    tmp_path_factory: pytest.TempPathFactory, stack_env: None
) -> Iterator[dict[str, str]]:
    with local_broker(tmp_path_factory.mktemp("restart-kafka")) as env:
        conn = {
            "conn_type": "kafka",
            "extra": {"bootstrap.servers": f"127.0.0.1:{env['KAFKA_PORT']}"},
        }
        with env_vars(AIRFLOW_CONN_KAFKA_DEFAULT=json.dumps(conn)):
            yield env


@pytest.fixture(scope="module")
def pipe(
    tmp_path_factory: pytest.TempPathFactory, broker_env: dict[str, str]
) -> Iterator[Pipeline]:
    with isolated_pipeline(tmp_path_factory.mktemp("restart")) as p:
        yield p


def test_broker_stopped_mid_run_and_restarted(pipe: Pipeline, broker_env: dict[str, str]) -> None:
    producer = kafka.idempotent_producer(pipe.config)
    for _sample, value in generate(BATCH, seed=5):
        kafka.produce_one(producer, pipe.stack.topics.raw, value, partition=0)
    kafka.flush_or_fail(producer, pipe.stack.topics.raw)
    raw_end = pipe.high(pipe.stack.topics.raw)[0]

    params = {"consumer_group": pipe.group, "max_batch_size": BATCH, "start_from": "earliest"}
    code = (
        "from enrich.airflow import enrichment; "
        f"enrichment.enrich_partition(0, {params!r}, 'log_enrichment')"
    )
    watcher = Consumer({**pipe.config, "group.id": "w", "isolation.level": "read_uncommitted"})
    child = subprocess.Popen(
        [sys.executable, "-c", code],
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    stopped_mid_run = False
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and child.poll() is None:
            high = watcher.get_watermark_offsets(
                TopicPartition(pipe.stack.topics.enriched, 0), timeout=5, cached=False
            )[1]
            if high >= 20_000:
                break
            time.sleep(0.005)
        watcher.close()
        # pause the child, then make sure its transaction is still open: the group has no
        # offset at the end yet (a live child proves nothing: its commit may have landed)
        os.kill(child.pid, signal.SIGSTOP)
        try:
            alive = child.poll() is None
            committed = pipe.committed(stable=False)[0]
            stopped_mid_run = alive and committed < raw_end
            subprocess.run(
                [SCRIPT, "stop"], env=broker_env, check=True, capture_output=True, timeout=120
            )
        finally:
            os.kill(child.pid, signal.SIGCONT)
        time.sleep(2)  # the broker stays down a moment: the child's writes fail meanwhile
        subprocess.run(
            [SCRIPT, "start"], env=broker_env, check=True, capture_output=True, timeout=120
        )
        try:
            child.wait(180)  # it commits after the restart, or fails and leaves it to a retry
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
    assert stopped_mid_run, (
        f"the broker went down while the run was writing (child alive: {alive}, group offset "
        f"{committed} of {raw_end})"
    )

    # what Airflow's retry does: run the task again until the partition is caught up
    for _ in range(5):
        run = enrichment.enrich_partition(0, params, "log_enrichment")
        if not run["in"]:
            break

    consumer = Consumer(
        {
            **pipe.config,
            "group.id": "check",
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
        }
    )
    enriched, _end = reading.read_range(
        consumer,
        reading.PartitionRange(
            pipe.stack.topics.enriched, 0, 0, pipe.high(pipe.stack.topics.enriched)[0]
        ),
    )
    consumer.close()
    dead = pipe.read(pipe.stack.topics.dlq)
    offsets = Counter(json.loads(m.value() or b"{}")["source"]["offset"] for m in enriched)
    assert max(offsets.values()) == 1, "no duplicates for a read_committed reader"
    assert len(offsets) + len(dead) == BATCH, "nothing lost"
    assert pipe.committed()[0] == raw_end
