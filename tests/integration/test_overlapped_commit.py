"""A task's micro-batch commits while the next batch is read and enriched
(``transactions._Pending``): a commit that fails there fails the task before anything of the
next batch is written, and the retry makes every input visible exactly once."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from enrich.airflow import enrichment
from enrich.errors import StackError
from enrich.io import kafka, transactions
from enrich.samples import generate
from tests.integration.pipeline_env import Pipeline

BATCH = 500


def produce_to_partition(pipe: Pipeline, n: int) -> None:
    producer = kafka.idempotent_producer(pipe.config)
    for _sample, value in generate(n, seed=31):
        kafka.produce_one(producer, pipe.stack.topics.raw, value, partition=0)
    kafka.flush_or_fail(producer, pipe.stack.topics.raw)


def test_a_commit_failing_behind_the_next_batch_fails_the_task_then_the_retry_is_exactly_once(
    pipe: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    produce_to_partition(pipe, 4 * BATCH)
    raw_end = pipe.high(pipe.stack.topics.raw)[0]
    params = {
        "consumer_group": pipe.group,
        "max_batch_size": BATCH,
        "start_from": "earliest",
        "time_budget_s": 600,
    }
    commit = transactions._Transaction.commit
    calls: list[int] = []
    threads: list[bool] = []

    def failing_second(self: Any, *args: Any, **kwargs: Any) -> None:
        calls.append(1)
        threads.append(
            transactions.threading.current_thread() is not transactions.threading.main_thread()
        )
        if len(calls) == 2:
            raise StackError("the coordinator went away (injected)")
        commit(self, *args, **kwargs)

    monkeypatch.setattr(transactions._Transaction, "commit", failing_second)
    with pytest.raises(StackError, match="injected"):
        enrichment.enrich_partition(0, params, "log_enrichment")
    assert threads[:2] == [True, True]  # both commits ran behind the next batch
    # the first batch is committed; the failed one was aborted, the third never written
    assert pipe.committed()[0] == BATCH
    keys = [
        m.key().decode()
        for m in pipe.read(pipe.stack.topics.enriched) + pipe.read(pipe.stack.topics.dlq)
    ]
    assert sorted(int(k.split(":")[2]) for k in keys if k.split(":")[1] == "0") == list(
        range(BATCH)
    )

    monkeypatch.setattr(transactions._Transaction, "commit", commit)
    retry = enrichment.enrich_partition(0, params, "log_enrichment")
    assert retry["committed"] is True
    assert pipe.committed()[0] == raw_end
    outputs = pipe.read(pipe.stack.topics.enriched) + pipe.read(pipe.stack.topics.dlq)
    seen = Counter(m.key().decode() for m in outputs if m.key().decode().split(":")[1] == "0")
    assert set(seen) == {f"{pipe.stack.topics.raw}:0:{o}" for o in range(raw_end)}
    assert max(seen.values()) == 1
