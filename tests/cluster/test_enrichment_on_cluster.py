"""log_enrichment on the cluster: mapped partition tasks on both Celery workers, exactly once,
and while a broker or a worker dies."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from threading import Event
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

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


def enriched_high(config: dict[str, Any], topic: str, partition: int) -> int:
    """The partition's end including open transactions' records (read_uncommitted)."""
    watcher = Consumer({**config, "group.id": "cluster-watcher"})
    try:
        tp = TopicPartition(topic, partition)
        return int(watcher.get_watermark_offsets(tp, timeout=10, cached=False)[1])
    finally:
        watcher.close()


def leader_of(config: dict[str, Any], topic: str, partition: int) -> int:
    metadata = AdminClient(config).list_topics(topic, timeout=10)
    return int(metadata.topics[topic].partitions[partition].leader)


def leaders_moved_off(config: dict[str, Any], names: Topics, broker: int) -> None:
    """Wait until no partition of the project's topics is led by ``broker`` (the controller
    moves leadership once the dead broker's session times out, ~9 s)."""
    deadline = time.monotonic() + 90
    while True:
        try:
            metadata = AdminClient(config).list_topics(timeout=10)
            leaders = {
                p.leader for t in names.all() for p in metadata.topics[t].partitions.values()
            }
            if broker not in leaders and -1 not in leaders:
                return
        except KafkaException:
            pass  # the metadata request itself went to the dead broker
        assert time.monotonic() < deadline, f"broker {broker} still leads partitions after 90 s"
        time.sleep(1)


def when(condition: Callable[[], bool], action: Callable[[], object], timeout: float) -> Event:
    """In a thread: ``action()`` once ``condition()`` holds (polled every 20 ms); the event
    is set when the action ran."""
    done = Event()

    def watch() -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                action()
                done.set()
                return
            time.sleep(0.02)

    threading.Thread(target=watch, daemon=True).start()
    return done


def test_leader_broker_killed_mid_transaction(
    api: ClusterAPI, kafka_config: dict[str, Any], stack_topics: Topics, caught_up: None
) -> None:
    """The broker leading the output partition a task is writing its transaction to is
    SIGKILLed: nothing lost or duplicated; then the pipeline goes on with two brokers."""
    ledger = Ledger(kafka_config, stack_topics)
    produce(kafka_config, stack_topics.raw, 6 * LINES, seed=162)
    topic = stack_topics.enriched
    start = enriched_high(kafka_config, topic, 0)
    victim = leader_of(kafka_config, topic, 0)
    try:
        killed = when(
            lambda: enriched_high(kafka_config, topic, 0) - start >= 5_000,
            lambda: cluster_sh("kafka-stop", str(victim)),
            timeout=300,
        )
        run = api.run("log_enrichment", {"max_batch_size": 20_000})
        assert killed.is_set(), "the broker was not killed while the run wrote"
        assert run["state"] == "success"
        tries = api.tries("log_enrichment", run["dag_run_id"], "enrich_partition")
        print(f"broker {victim} killed; partition tasks' tries: {len(tries)}")
        assert ledger.check() == {
            "inputs": 6 * LINES,
            "lost": 0,
            "duplicated": 0,
            "unexpected": 0,
        }
        assert leader_of(kafka_config, topic, 0) != victim

        leaders_moved_off(kafka_config, stack_topics, victim)
        two_brokers = Ledger(kafka_config, stack_topics)
        produce(kafka_config, stack_topics.raw, LINES, seed=163)
        assert api.run("log_enrichment")["state"] == "success"
        assert two_brokers.check() == {"inputs": LINES, "lost": 0, "duplicated": 0, "unexpected": 0}
    finally:
        cluster_sh("kafka-start", str(victim))


def test_quorum_leader_lost_runs_continue(
    api: ClusterAPI, kafka_config: dict[str, Any], stack_topics: Topics, caught_up: None
) -> None:
    """The active controller (the KRaft quorum's leader) dies: the other two elect a new
    leader, and runs go on exactly once."""
    leader = int(cluster_sh("quorum-leader"))
    cluster_sh("kafka-stop", str(leader))
    try:
        leaders_moved_off(kafka_config, stack_topics, leader)
        ledger = Ledger(kafka_config, stack_topics)
        produce(kafka_config, stack_topics.raw, LINES, seed=164)
        assert api.run("log_enrichment")["state"] == "success"
        assert ledger.check() == {"inputs": LINES, "lost": 0, "duplicated": 0, "unexpected": 0}
        assert int(cluster_sh("quorum-leader")) not in (leader, 0)
    finally:
        cluster_sh("kafka-start", str(leader))


def running_task(api: ClusterAPI, partition: int) -> tuple[str, dict[str, Any]] | None:
    """The running ``enrich_partition`` task of ``partition`` and its run, in whichever run
    it is (the schedule may have started one before the test's own)."""
    runs = api.get("/dags/log_enrichment/dagRuns", state="running")["dag_runs"]
    for run in runs:
        for ti in api.task_instances("log_enrichment", run["dag_run_id"]):
            if (ti["task_id"], ti["map_index"], ti["state"]) == (
                "enrich_partition",
                partition,
                "running",
            ):
                return str(run["dag_run_id"]), ti
    return None


def test_worker_killed_mid_task_is_retried_elsewhere(
    api: ClusterAPI, kafka_config: dict[str, Any], stack_topics: Topics, caught_up: None
) -> None:
    """A Celery worker's host dies (the worker and every process under it SIGKILLed) while a
    partition task writes: the scheduler sees the task's heartbeat stop, fails that try, and
    the retry runs on the other worker: nothing lost or duplicated."""
    ledger = Ledger(kafka_config, stack_topics)
    produce(kafka_config, stack_topics.raw, 6 * LINES, seed=165)
    topic = stack_topics.enriched
    start = enriched_high(kafka_config, topic, 0)
    run_id = api.trigger("log_enrichment", {"max_batch_size": 20_000})
    victim: list[tuple[str, str]] = []  # (run id, worker number)
    found: list[tuple[str, dict[str, Any]]] = []

    def writing() -> bool:
        if enriched_high(kafka_config, topic, 0) - start < 5_000:
            return False
        task = running_task(api, 0)
        if task is not None:
            found.append(task)
        return task is not None

    def kill_its_worker() -> None:
        hit_run, ti = found[-1]
        worker = ti["hostname"].split("@")[0].removeprefix("worker")
        victim.append((hit_run, worker))
        cluster_sh("worker-kill", worker)

    try:
        killed = when(writing, kill_its_worker, timeout=300)
        run = api.wait("log_enrichment", run_id)
        assert killed.is_set(), "no worker was killed while the task wrote"
        hit_run, worker = victim[0]
        assert run["state"] == "success"
        assert api.wait("log_enrichment", hit_run)["state"] == "success"
        tries = [
            t
            for t in api.tries("log_enrichment", hit_run, "enrich_partition")
            if t["map_index"] == 0
        ]
        assert [t["state"] for t in tries] == ["failed", "success"]
        hosts = [t["hostname"].split("@")[0] for t in tries]
        assert hosts[0] == f"worker{worker}" != hosts[1]
        assert ledger.check() == {
            "inputs": 6 * LINES,
            "lost": 0,
            "duplicated": 0,
            "unexpected": 0,
        }
    finally:
        for _run, worker in victim:
            cluster_sh("worker-start", worker)
