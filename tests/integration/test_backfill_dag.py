"""log_backfill against the real broker and Airflow: a day's interval re-enriches exactly the
messages stamped inside it, explicit offsets likewise, reruns write the same records, and the
live consumer group's offsets never move."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from airflow.utils.state import DagRunState

from enrich.io import kafka, topics
from enrich.samples import generate
from tests.integration.pipeline_env import Pipeline

# four days ago at midnight: inside the broker's 7-day retention, or the data would be gone
DAY1 = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=4)
PER_DAY = {0: 90, 1: 150, 2: 120}  # messages stamped on DAY1, DAY1 + 1 day, DAY1 + 2 days


@pytest.fixture(scope="module")
def pipe(pipe: Pipeline) -> Pipeline:
    producer = kafka.idempotent_producer(pipe.config)
    values = iter(v for _s, v in generate(sum(PER_DAY.values()), seed=77))
    i = 0
    for day, n in PER_DAY.items():
        for k in range(n):
            ts = DAY1 + timedelta(days=day, seconds=k * 500 % 86_000)
            producer.produce(
                pipe.stack.topics.raw,
                value=next(values),
                key=str(i).encode(),
                timestamp=int(ts.timestamp() * 1000),
            )
            i += 1
    kafka.flush_or_fail(producer, pipe.stack.topics.raw)
    topics.ensure_topics(pipe.config, [topics.TopicSpec(backfill_topic(pipe), 3)])
    assert pipe.run_dag("log_enrichment").state == DagRunState.SUCCESS  # the live cursor
    return pipe


def backfill_topic(p: Pipeline) -> str:
    return p.stack.topics.enriched + ".backfill"


def stamped(p: Pipeline, start: datetime, end: datetime) -> set[str]:
    """Source coordinates of every input message stamped in [start, end)."""
    lo, hi = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
    return {
        f"{m.topic()}:{m.partition()}:{m.offset()}"
        for m in p.read(p.stack.topics.raw)
        if lo <= m.timestamp()[1] < hi
    }


def test_a_day_interval_reenriches_exactly_that_day(pipe: Pipeline) -> None:
    committed = pipe.committed()
    conf = {"target_topic": backfill_topic(pipe), "model": "none"}
    # a manual run at DAY1 + 2 days covers the day before: [DAY1 + 1 day, DAY1 + 2 days)
    run = pipe.run_dag("log_backfill", logical_date=DAY1 + timedelta(days=2), run_conf=conf)

    assert run.state == DagRunState.SUCCESS
    out = pipe.read(backfill_topic(pipe))
    keys = [m.key().decode() for m in out]
    assert len(keys) == len(set(keys)) == PER_DAY[1]
    assert set(keys) == stamped(pipe, DAY1 + timedelta(days=1), DAY1 + timedelta(days=2))
    assert pipe.committed() == committed  # the live group's offsets did not move

    rerun = pipe.run_dag("log_backfill", logical_date=DAY1 + timedelta(days=2), run_conf=conf)
    assert rerun.state == DagRunState.SUCCESS
    both = pipe.read(backfill_topic(pipe))
    copies: dict[bytes, set[bytes]] = {}
    for m in both:
        copies.setdefault(m.key(), set()).add(m.value())
    assert len(both) == 2 * PER_DAY[1]
    assert all(len(values) == 1 for values in copies.values())  # the same record twice


def test_explicit_offsets_reenrich_exactly_that_range(pipe: Pipeline) -> None:
    target = backfill_topic(pipe) + ".offsets"
    topics.ensure_topics(pipe.config, [topics.TopicSpec(target, 3)])
    conf = {"target_topic": target, "model": "none", "offsets": {"0": [3, 13], "2": [0, 5]}}
    run = pipe.run_dag("log_backfill", run_conf=conf)

    assert run.state == DagRunState.SUCCESS
    raw = pipe.stack.topics.raw
    keys = sorted(m.key().decode() for m in pipe.read(target))
    assert keys == sorted(
        [f"{raw}:0:{o}" for o in range(3, 13)] + [f"{raw}:2:{o}" for o in range(5)]
    )
    record = json.loads(pipe.read(target)[0].value())
    assert record["model"] is None


def test_bad_explicit_offsets_fail_before_reading(pipe: Pipeline) -> None:
    run = pipe.run_dag("log_backfill", run_conf={"offsets": {"7": [0, 5]}, "model": "none"})
    assert run.state == DagRunState.FAILED
    assert {ti.task_id: ti.state for ti in run.get_task_instances()}["plan"] == "failed"


def test_by_default_a_backfill_writes_beside_the_live_topics_and_says_so(pipe: Pipeline) -> None:
    """The default target is ``<output topic>.backfill`` with its dead letters in
    ``<target>.dlq``; each record's headers name the backfill run and the model version."""
    live = {t: pipe.high(t) for t in (pipe.stack.topics.enriched, pipe.stack.topics.dlq)}
    run = pipe.run_dag("log_backfill", run_conf={"offsets": {"1": [0, 20]}, "model": "none"})

    assert run.state == DagRunState.SUCCESS
    assert {t: pipe.high(t) for t in live} == live, "nothing written into the live topics"
    target = backfill_topic(pipe)
    assert f"{target}.dlq" in topics.list_topics(pipe.config)
    mine = [
        m
        for m in pipe.read(target)
        if dict(m.headers() or []).get("enrich-backfill") == f"log_backfill/{run.run_id}".encode()
    ]
    raw = pipe.stack.topics.raw
    assert sorted(m.key().decode() for m in mine) == sorted(f"{raw}:1:{o}" for o in range(20))
    assert all(dict(m.headers())["enrich-model-version"] == b"none" for m in mine)


def test_a_failed_backfill_resumes_after_its_last_committed_transaction(
    pipe: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Transactions of at most max_batch_size messages; a retry does not write the finished
    ones again."""
    from dataclasses import replace

    from enrich.core.rules import load_rules
    from enrich.engine.routing import Enricher, EnrichSettings
    from enrich.io import transactions
    from enrich.io.reading import PartitionRange

    target = backfill_topic(pipe) + ".resume"
    topics.ensure_topics(pipe.config, [topics.TopicSpec(t, 3) for t in (target, target + ".dlq")])
    raw = pipe.stack.topics.raw
    assert pipe.high(raw)[2] >= 35
    outputs = replace(pipe.stack.topics, enriched=target, dlq=target + ".dlq")
    rules, settings = load_rules(), EnrichSettings(review_k=0)

    def backfill() -> transactions.PartitionRun:
        return transactions.reenrich_range(
            pipe.config,
            outputs,
            PartitionRange(raw, 2, 0, 35),
            (None, None),
            None,
            rules,
            settings,
            f"test-resume-{pipe.group}",
            max_batch_size=10,
            progress_group=f"{pipe.group}-resume",
        )

    read = Enricher.read  # each part is read (in a thread) before it is added

    def dies_at_offset_20(self: Enricher, records: Any) -> Any:
        if records.offsets[0] >= 20:
            raise RuntimeError("the worker died")
        return read(self, records)

    monkeypatch.setattr(Enricher, "read", dies_at_offset_20)
    with pytest.raises(RuntimeError, match="the worker died"):
        backfill()
    written = sorted(m.key().decode() for m in pipe.read(target))
    assert written == sorted(f"{raw}:2:{o}" for o in range(20))  # two transactions of 10

    monkeypatch.undo()
    run = backfill()

    assert run.counts["in"] == 15  # only what was left
    keys = Counter(m.key().decode() for m in pipe.read(target))
    assert keys == {f"{raw}:2:{o}": 1 for o in range(35)}


def test_backfill_runs_of_several_days_at_once_do_not_fence_each_other(pipe: Pipeline) -> None:
    """``airflow backfill create`` over four days runs the days' tasks at once: each range
    has its own transactional id, so every task commits and each message is re-enriched by
    its own day only. All ranges run concurrently here, in transactions of 20 messages, so
    that producers of one partition are alive together."""
    import threading

    from enrich.airflow import backfill

    target = backfill_topic(pipe) + ".concurrent"
    conf = {"target_topic": target, "model": "none", "max_batch_size": 20}
    days = [(DAY1 + timedelta(days=d), DAY1 + timedelta(days=d + 1)) for d in range(4)]
    work = [
        (f"day{d}", part)
        for d, (start, end) in enumerate(days)
        for part in backfill.plan(conf, start, end)
    ]
    assert len({p["partition"] for _run, p in work}) == 3
    errors: list[BaseException] = []
    gate = threading.Barrier(len(work))

    def run(run_id: str, part: dict[str, Any]) -> None:
        try:
            gate.wait()
            backfill.reenrich(part, conf, "log_backfill", run_id)
        except BaseException as err:  # reported below, with the others
            errors.append(err)

    threads = [threading.Thread(target=run, args=w) for w in work]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)

    assert not errors, errors
    out = pipe.read(target)
    for d, (start, end) in enumerate(days):
        mine = [
            m.key().decode()
            for m in out
            if dict(m.headers() or [])["enrich-backfill"] == f"log_backfill/day{d}".encode()
        ]
        assert sorted(mine) == sorted(stamped(pipe, start, end)), f"day {d}"
    assert len(out) == sum(PER_DAY.values())  # each message once, by its own day
