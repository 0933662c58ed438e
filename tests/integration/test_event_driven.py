"""Event-driven enrichment end to end (issue 17, item 1): under Airflow's own scheduler and
triggerer (``airflow standalone`` on a private stack), no asset-triggered ``log_enrichment``
run starts while no input waits, and one starts by itself within seconds of input arriving
and enriches it. The cron is set to once a year here (Airflow still makes one run for its
latest past point when the DAG is unpaused: that one is ``scheduled__``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition

from enrich import defaults
from enrich.io import kafka, reading
from tests.integration.pipeline_env import env_vars

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from bench_dag import Airflow, private_stack


@pytest.fixture
def standalone(tmp_path: Path, stack_env: None) -> Iterator[tuple[Airflow, Any, dict[str, Any]]]:
    from enrich.config import StackSettings
    from enrich.io import connection, topics

    tag = uuid.uuid4().hex[:8]
    stack_vars = private_stack(tmp_path, tag, "0 0 1 1 *")  # the cron: once a year
    with env_vars(**stack_vars, ENRICH_EVENT_DRIVEN="1", ENRICH_WATCH_INTERVAL_S="1"):
        env = dict(os.environ)
        stack = StackSettings.from_env()
        config = connection.client_config(stack.kafka_conn_id)
        topics.ensure_topics(config, topics.project_topics(stack))
        airflow = Airflow(env, tmp_path / "airflow.log")
        try:
            subprocess.run(["airflow", "db", "migrate"], env=env, capture_output=True, check=True)
            airflow.start()
            yield airflow, stack, config
        finally:
            airflow.stop()
            topics.delete_topics(config, prefix=stack.topics.raw.rsplit(".", 1)[0] + ".")


def runs(airflow: Airflow) -> list[dict[str, Any]]:
    out = airflow.airflow("dags", "list-runs", "log_enrichment", "-o", "json")
    # the JSON array is the last line (log lines, warnings, may come first)
    last = [line for line in out.splitlines() if line.startswith("[")]
    found: list[dict[str, Any]] = json.loads(last[-1]) if last else []
    return found


def asset_triggered(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in found if r["run_id"].startswith("asset_triggered__")]


def test_a_run_starts_when_input_arrives_and_not_before(
    standalone: tuple[Airflow, Any, dict[str, Any]],
) -> None:
    airflow, stack, config = standalone
    # the group is already at the start of the (empty) topic, as a deployment that runs is
    consumer = Consumer({**config, "group.id": defaults.CONSUMER_GROUP})
    consumer.commit(
        offsets=[TopicPartition(stack.topics.raw, p, 0) for p in range(stack.partitions)],
        asynchronous=False,
    )
    consumer.close()
    airflow.until_ok("dags", "unpause", "log_enrichment")  # once the DAG is parsed
    quiet_until = time.monotonic() + 20  # the triggerer runs the watcher; nothing waits
    while time.monotonic() < quiet_until or any(
        r["state"] not in ("success", "failed") for r in runs(airflow)
    ):
        assert time.monotonic() < quiet_until + 120, "the unpause's scheduled run never ended"
        time.sleep(2)
    assert asset_triggered(runs(airflow)) == [], "no input, no asset-triggered run"

    lines = [f"event driven line {i}".encode() for i in range(5)]
    kafka.produce(config, stack.topics.raw, lines)
    started = time.monotonic()
    deadline = started + 120
    enriched: list[Any] = []
    while time.monotonic() < deadline:
        enriched = reading.read_topic(config, stack.topics.enriched)[0]
        if len(enriched) >= len(lines):
            break
        time.sleep(1)
    waited = time.monotonic() - started
    assert len(enriched) == len(lines), f"not enriched within {waited:.0f}s"
    assert waited < 90
    assert len(asset_triggered(runs(airflow))) >= 1, "the input's run was asset-triggered"
