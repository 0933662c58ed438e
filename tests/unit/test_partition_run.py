"""A partition task's micro-batches add up to one summary (``PartitionRun.then``); a
client call that ignores its timeout does not hold the task forever."""

from __future__ import annotations

import threading

import pytest

from enrich.io import transactions
from enrich.io.transactions import PartitionRun


def run(start: int, end: int, **counts: object) -> PartitionRun:
    return PartitionRun("logs.raw", 1, start, end, dict(counts), end - start, end > start)


def test_micro_batches_add_up() -> None:
    a = run(0, 100, **{"in": 100, "out": 100, "mean_confidence": 0.5, "model_version": "3"})
    b = run(100, 400, **{"in": 300, "out": 300, "mean_confidence": 0.9, "model_version": "3"})
    total = a.then(b)
    assert (total.start, total.end, total.produced, total.committed) == (0, 400, 400, True)
    assert total.counts["in"] == 400
    assert total.counts["mean_confidence"] == 0.8  # weighted by the lines
    assert total.counts["model_version"] == "3"


def test_an_empty_last_batch_keeps_the_end_and_lost_offsets_span_both() -> None:
    a = run(0, 50, **{"in": 50, "lost_to_retention": 5, "lost_offsets": [0, 5]})
    b = run(50, 80, **{"in": 30, "lost_to_retention": 2, "lost_offsets": [60, 62]})
    empty = PartitionRun("logs.raw", 1, 80, 80, {"in": 0}, 0, False)
    total = a.then(b).then(empty)
    assert (total.start, total.end) == (0, 80)
    assert total.counts["lost_to_retention"] == 7
    assert total.counts["lost_offsets"] == [0, 62]


def test_a_client_call_that_never_returns_is_given_up_on() -> None:
    """librdkafka's send_offsets_to_transaction can ignore its timeout when the group
    coordinator died: the commit gives up on it instead of waiting forever."""
    release = threading.Event()
    try:
        assert transactions._returns_within(0.05, release.wait) is False
    finally:
        release.set()
    assert transactions._returns_within(5, lambda: None) is True
    with pytest.raises(KeyError):
        transactions._returns_within(5, {}.__getitem__, "missing")


def test_a_runs_summary_of_templates() -> None:
    """``templates``: what the best-informed partition's task knew at its end (they share one
    state); ``new_templates``: summed over the tasks."""
    from enrich.airflow.enrichment import summarize

    runs = [
        {"partition": p, "offsets": [0, 10], "in": 10, "templates": t, "new_templates": n}
        for p, t, n in ((0, 40, 3), (1, 42, 5), (2, 39, 0))
    ]
    total = summarize(runs)
    assert total["templates"] == 42
    assert total["new_templates"] == 8
    assert "templates" not in summarize([{"partition": 0, "offsets": [0, 0]}])


def test_a_tasks_batches_keep_the_last_template_count_and_add_new_ones() -> None:
    a = run(0, 10, **{"in": 10, "templates": 5, "new_templates": 5})
    b = run(10, 20, **{"in": 10, "templates": 7, "new_templates": 2})
    assert a.then(b).counts["templates"] == 7
    assert a.then(b).counts["new_templates"] == 7
