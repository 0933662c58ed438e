"""A message stamped inside a day that arrives after messages of the next day (producer
clock skew, late delivery) is re-enriched with its own day, once (issue 13, item 5), against
the real broker and Airflow."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from airflow.utils.state import DagRunState

from enrich.io import kafka
from tests.integration.pipeline_env import Pipeline

# three days ago at midnight: inside the broker's 7-day retention
DAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=3)
STAMPS = [  # in offset order: the last one is late
    DAY + timedelta(hours=12),
    DAY + timedelta(days=1, seconds=1),
    DAY + timedelta(hours=23, minutes=59, seconds=59),
]


@pytest.fixture(scope="module")
def pipe(pipe: Pipeline) -> Pipeline:
    producer = kafka.idempotent_producer(pipe.config)
    for i, ts in enumerate(STAMPS):
        producer.produce(
            pipe.stack.topics.raw,
            value=f"backup job {i} finished".encode(),
            partition=0,
            timestamp=int(ts.timestamp() * 1000),
        )
    kafka.flush_or_fail(producer, pipe.stack.topics.raw)
    return pipe


def test_a_late_message_is_reenriched_with_its_own_day_once(pipe: Pipeline) -> None:
    for day in (1, 2):  # a run at DAY + n covers [DAY + n - 1, DAY + n)
        run = pipe.run_dag(
            "log_backfill", logical_date=DAY + timedelta(days=day), run_conf={"model": "none"}
        )
        assert run.state == DagRunState.SUCCESS
    out = pipe.read(pipe.stack.topics.enriched + ".backfill")
    raw = pipe.stack.topics.raw
    assert Counter(m.key().decode() for m in out) == {f"{raw}:0:{o}": 1 for o in range(3)}
