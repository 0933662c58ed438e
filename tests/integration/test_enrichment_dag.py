"""log_enrichment against the real broker and Airflow: every input exactly once, offsets
committed with the writes, a second run a no-op."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from airflow.utils.state import DagRunState

from enrich.io import kafka
from enrich.samples import generate
from tests.integration.pipeline_env import Pipeline

BAD = [
    b"\xff\xfe not utf-8",
    b"[1, 2]",
    b'{"message": 42}',
    b"[" * 10_000 + b"]" * 10_000,
    b"x" * 1_100_000,
]


def coordinates(messages: list[Any]) -> list[str]:
    return [m.key().decode() for m in messages]


def test_ten_thousand_messages_over_three_partitions_exactly_once(pipe: Pipeline) -> None:
    values = [v for _s, v in generate(10_000, seed=31)] + BAD
    keys = [str(i).encode() for i in range(len(values))]
    kafka.produce(pipe.config, pipe.stack.topics.raw, values, keys)
    high = pipe.high(pipe.stack.topics.raw)
    assert sum(high.values()) == len(values)
    assert all(n > 1000 for n in high.values()), high  # spread over the 3 partitions

    run = pipe.run_dag("log_enrichment", run_conf={"max_batch_size": 50_000})

    assert run.state == DagRunState.SUCCESS
    enriched = pipe.read(pipe.stack.topics.enriched)
    dead = pipe.read(pipe.stack.topics.dlq)
    got = Counter(coordinates(enriched) + coordinates(dead))
    expected = {f"{pipe.stack.topics.raw}:{p}:{o}" for p, n in high.items() for o in range(n)}
    assert set(got) == expected
    assert max(got.values()) == 1  # no duplicates
    assert len(dead) == len(BAD)
    reasons = Counter(dict(m.headers())["reason"].decode() for m in dead)
    assert reasons == {
        "invalid_utf8": 1,
        "json_not_object": 1,
        "text_not_string": 1,
        "json_too_deep": 1,
        "value_too_large": 1,
    }
    record = json.loads(enriched[0].value())
    _topic, key_partition, key_offset = enriched[0].key().decode().rsplit(":", 2)
    assert record["source"]["partition"] == int(key_partition) == enriched[0].partition()
    assert record["source"]["offset"] == int(key_offset)
    assert record["source"]["timestamp"] is not None
    assert {"severity", "event_type", "category", "labelled_by", "needs_review"} <= set(record)
    assert pipe.committed() == high
    assert pipe.read(pipe.stack.topics.labels)
    assert 0 < len(pipe.read(pipe.stack.topics.review)) <= 30


def test_second_run_without_new_input_writes_and_commits_nothing(pipe: Pipeline) -> None:
    topics = pipe.stack.topics
    kafka.produce(pipe.config, topics.raw, [v for _s, v in generate(100, seed=23)])
    assert pipe.run_dag("log_enrichment").state == DagRunState.SUCCESS  # the first run
    assert pipe.committed() == pipe.high(topics.raw)
    assert sum(pipe.high(topics.enriched).values()) >= 100
    before = {t: pipe.high(t) for t in (topics.enriched, topics.labels, topics.dlq, topics.review)}
    committed = pipe.committed()

    run = pipe.run_dag("log_enrichment")

    assert run.state == DagRunState.SUCCESS
    assert {t: pipe.high(t) for t in before} == before
    assert pipe.committed() == committed


def test_bad_rules_file_fails_before_consuming(pipe: Pipeline, tmp_path: Path) -> None:
    kafka.produce(pipe.config, pipe.stack.topics.raw, [b"new line after the first runs"])
    committed = pipe.committed()
    bad = tmp_path / "rules.yaml"
    bad.write_text(
        "rules:\n  - name: oops\n    regex: '(?=x)'\n"
        "    label: {severity: INFO, event_type: Heartbeat, category: Datas}\n"
    )
    import os

    os.environ["ENRICH_RULES_FILE"] = str(bad)
    try:
        run = pipe.run_dag("log_enrichment")
    finally:
        del os.environ["ENRICH_RULES_FILE"]
    assert run.state == DagRunState.FAILED
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["preflight"] == "failed"
    assert pipe.committed() == committed
