"""log_enrichment on the cluster: mapped partition tasks on both Celery workers, exactly once,
and while a broker or a worker dies."""

from __future__ import annotations

import threading
import time
from typing import Any

from enrich.config import Topics
from enrich.io import kafka
from enrich.samples import generate
from tests.cluster.conftest import ClusterAPI, Ledger, cluster_sh

LINES = 60_000


def produce(config: dict[str, Any], topic: str, n: int, seed: int) -> None:
    values = [v for _s, v in generate(n, seed=seed)]
    kafka.produce(config, topic, values, [str(i).encode() for i in range(n)])


def test_partitions_run_on_both_workers_exactly_once(
    api: ClusterAPI, kafka_config: dict[str, Any], stack_topics: Topics, caught_up: None
) -> None:
    ledger = Ledger(kafka_config, stack_topics)
    produce(kafka_config, stack_topics.raw, LINES, seed=161)

    run = api.run("log_enrichment")

    assert run["state"] == "success"
    tis = api.task_instances("log_enrichment", run["dag_run_id"])
    mapped = [ti for ti in tis if ti["task_id"] == "enrich_partition"]
    assert len(mapped) == 3
    assert {ti["hostname"].split("@")[0] for ti in mapped} == {"worker1", "worker2"}
    assert ledger.check() == {"inputs": LINES, "lost": 0, "duplicated": 0, "unexpected": 0}
