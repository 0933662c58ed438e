"""Where log_enrichment starts and stops reading, and who fences whom (issue 13, items 1-4, 7,
14), against the real broker, MLflow and Airflow.

* an upstream transactional producer committing every 100 ms never stalls a run;
* input deleted by retention before it was read is counted, logged and summarised;
* a new consumer group must say where it starts; ``latest`` starts at the end;
* transactional ids follow the consumer group (live) and the range (backfill), not the DAG;
* an output topic with fewer partitions than the input, and a champion whose classes the
  taxonomy lost, stop the run in preflight.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from airflow.utils.state import DagRunState
from confluent_kafka import Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from enrich.airflow import backfill, enrichment
from enrich.io import kafka, topics, transactions
from enrich.samples import generate
from tests.integration.pipeline_env import Pipeline, env_vars


def summary(run: Any) -> dict[str, Any]:
    (ti,) = [ti for ti in run.get_task_instances() if ti.task_id == "summarize"]
    result: dict[str, Any] = ti.xcom_pull(task_ids="summarize")
    return result


def keys_of(pipe: Pipeline, topic: str) -> Counter[str]:
    return Counter(m.key().decode() for m in pipe.read(topic))


def produce_to(pipe: Pipeline, partition: int, values: list[bytes]) -> None:
    producer = Producer({**pipe.config, "linger.ms": 5})
    for v in values:
        producer.produce(pipe.stack.topics.raw, v, partition=partition)
    assert producer.flush(30) == 0


def test_an_upstream_transactional_producer_never_stalls_a_run(pipe: Pipeline) -> None:
    """Each upstream transaction ends in a commit marker that is never delivered; with commits
    every 100 ms, the offset before the high watermark is nearly always such a marker."""
    raw = pipe.stack.topics.raw
    stop = threading.Event()
    sent: list[int] = []

    def upstream() -> None:
        producer = Producer({**pipe.config, "transactional.id": f"upstream-{pipe.group}"})
        producer.init_transactions(30)
        lines = [v for _s, v in generate(2_000, seed=41)]
        i = 0
        while not stop.is_set():
            producer.begin_transaction()
            for _ in range(20):
                producer.produce(raw, lines[i % len(lines)], partition=i % 3)
                i += 1
            producer.commit_transaction(30)
            sent.append(i)
            time.sleep(0.1)

    thread = threading.Thread(target=upstream, daemon=True)
    thread.start()
    try:
        while len(sent) < 10:
            time.sleep(0.1)
        started = time.monotonic()
        run = pipe.run_dag("log_enrichment")  # used to loop for as long as upstream commits
        took = time.monotonic() - started
        assert run.state == DagRunState.SUCCESS
        assert summary(run)["in"] > 0
    finally:
        stop.set()
        thread.join(30)
    assert took < 120, f"a run while upstream commits took {took:.0f}s"
    run = pipe.run_dag("log_enrichment")  # what arrived after the first run's plan
    assert run.state == DagRunState.SUCCESS
    got = keys_of(pipe, pipe.stack.topics.enriched) + keys_of(pipe, pipe.stack.topics.dlq)
    assert sum(got.values()) == sent[-1], "every committed upstream message, once"
    assert max(got.values()) == 1
    high = pipe.high(raw)
    assert pipe.committed() == high  # past the trailing commit markers


def test_input_deleted_by_retention_before_it_was_read_is_counted(
    pipe: Pipeline, caplog: pytest.LogCaptureFixture
) -> None:
    raw = pipe.stack.topics.raw
    produce_to(pipe, 0, [f"warm-up line {i}".encode() for i in range(10)])
    run = pipe.run_dag("log_enrichment")  # whatever is there first: committed offsets
    assert run.state == DagRunState.SUCCESS
    start = pipe.committed()[0]
    assert start >= 10
    produce_to(pipe, 0, [f"line {i} of a burst".encode() for i in range(300)])
    # retention deletes the first 120 before the next run reads them
    admin = AdminClient(pipe.config)  # kept alive until its request is answered
    for done in admin.delete_records([TopicPartition(raw, 0, start + 120)]).values():
        done.result(timeout=60)
    with caplog.at_level("WARNING", logger="enrich.io.transactions"):
        run = pipe.run_dag("log_enrichment")
    out = caplog.text
    assert run.state == DagRunState.SUCCESS
    total = summary(run)
    assert total["lost_to_retention"] == 120
    assert total["in"] == 180
    assert f"offsets {start} to {start + 119} were deleted by retention" in out
    assert "120 input messages lost" in out
    assert pipe.committed()[0] == start + 300


def test_a_new_consumer_group_must_say_where_it_starts(
    pipe: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    raw, enriched = pipe.stack.topics.raw, pipe.stack.topics.enriched
    kafka.produce(pipe.config, raw, [v for _s, v in generate(90, seed=42)])
    before = pipe.high(enriched)
    group = f"{pipe.group}-renamed"
    capsys.readouterr()
    run = pipe.run_dag(
        "log_enrichment", run_conf={"consumer_group": group, "start_from": "committed"}
    )
    out = capsys.readouterr().out
    assert run.state == DagRunState.FAILED
    assert "has no committed offset on" in out
    assert "start_from=earliest" in out
    assert pipe.high(enriched) == before, "a new group never silently re-sends history"

    run = pipe.run_dag("log_enrichment", run_conf={"consumer_group": group, "start_from": "latest"})
    assert run.state == DagRunState.SUCCESS
    assert summary(run)["in"] == 0
    assert pipe.high(enriched) == before
    kafka.produce(pipe.config, raw, [v for _s, v in generate(30, seed=43)])
    run = pipe.run_dag(
        "log_enrichment", run_conf={"consumer_group": group, "start_from": "committed"}
    )
    assert run.state == DagRunState.SUCCESS
    assert summary(run)["in"] == 30  # only what came after it started


def test_transactional_ids_follow_the_group_and_the_backfill_range(
    pipe: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []

    def capture(*args: Any, **kwargs: Any) -> transactions.PartitionRun:
        seen.append(kwargs["transactional_id"])
        return transactions.PartitionRun("t", 0, 0, 0, {"in": 0}, 0, False)

    monkeypatch.setattr(transactions, "enrich_partition", capture)
    monkeypatch.setattr(transactions, "reenrich_range", capture)
    params = {"consumer_group": "g1", "start_from": "earliest"}
    enrichment.enrich_partition(0, params, "log_enrichment")
    enrichment.enrich_partition(0, params, "log_enrichment_copy")  # a copied DAG: same group
    enrichment.enrich_partition(0, {**params, "consumer_group": "g2"}, "log_enrichment")
    assert seen[0] == seen[1] != seen[2]

    seen.clear()
    day1 = {"partition": 0, "start": 0, "end": 10, "ts_from": None, "ts_to": None}
    day2 = {**day1, "start": 10, "end": 20}
    for part in (day1, day2, day1):
        backfill.reenrich(part, {"model": "none"}, "log_backfill")
    assert seen[0] != seen[1]  # two intervals at once never fence each other
    assert seen[0] == seen[2]  # a retry of one fences its earlier attempt


def test_an_output_topic_with_fewer_partitions_is_refused(
    pipe: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    narrow = f"{pipe.stack.topics.enriched}.narrow"
    topics.ensure_topics(pipe.config, [topics.TopicSpec(narrow, 1)])
    try:
        kafka.produce(pipe.config, pipe.stack.topics.raw, [v for _s, v in generate(50, seed=31)])
        committed = pipe.committed()
        waiting = pipe.high(pipe.stack.topics.raw)
        assert any(waiting[p] > max(committed[p], 0) for p in waiting)  # input to enrich
        with env_vars(ENRICH_TOPIC_ENRICHED=narrow):
            capsys.readouterr()
            run = pipe.run_dag("log_enrichment")
            out = capsys.readouterr().out
        assert run.state == DagRunState.FAILED
        assert f"output topic {narrow!r} has 1 partition(s), fewer than the 3" in out
        assert f"--alter --topic {narrow} --partitions 3" in out
        assert pipe.committed() == committed
        assert sum(pipe.high(narrow).values()) == 0
    finally:
        topics.delete_topics(pipe.config, [narrow])


def test_a_champion_labelling_outside_the_taxonomy_stops_the_run(
    pipe: Pipeline, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    kafka.produce(pipe.config, pipe.stack.topics.raw, [v for _s, v in generate(3000, seed=44)])
    assert pipe.run_dag("log_enrichment").state == DagRunState.SUCCESS
    assert pipe.run_dag("model_training", run_conf={"min_new_labels": 0}).state == (
        DagRunState.SUCCESS
    )
    taxonomy = Path(__file__).resolve().parents[2] / "include" / "taxonomy.yaml"
    renamed = tmp_path / "taxonomy.yaml"
    renamed.write_text(taxonomy.read_text().replace("Heartbeat", "Liveness"))
    rules = tmp_path / "rules.yaml"  # rules already moved to the new value
    rules.write_text(
        "rules:\n  - name: alive\n    regex: 'alive'\n"
        "    label: {severity: INFO, event_type: Liveness, category: Monitoring & Logging}\n"
    )
    kafka.produce(pipe.config, pipe.stack.topics.raw, [b"one more line"])
    committed = pipe.committed()
    with env_vars(ENRICH_TAXONOMY_FILE=str(renamed), ENRICH_RULES_FILE=str(rules)):
        capsys.readouterr()
        run = pipe.run_dag("log_enrichment")
        out = capsys.readouterr().out
    assert run.state == DagRunState.FAILED
    assert "event_type 'Heartbeat'" in out
    assert "which the taxonomy no longer has: retrain it" in out
    assert pipe.committed() == committed
