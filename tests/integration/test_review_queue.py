"""The review queue holds each template once (issue 13, item 11), against the real broker and
Airflow: a log_enrichment run does not queue again what an earlier run queued and nobody has
answered yet; its questions go to templates not yet asked about."""

from __future__ import annotations

import json

from airflow.utils.state import DagRunState

from enrich.io import kafka
from tests.integration.pipeline_env import Pipeline


def lines(first: int, n: int) -> list[bytes]:
    """``n`` lines of distinct templates no rule knows (a first word of letters apiece: the
    template miner routes lines by their first words)."""
    return [
        f"{''.join(chr(97 + int(d)) for d in str(i))}flux capacitor misaligned".encode()
        for i in range(first, first + n)
    ]


def queued(pipe: Pipeline) -> list[str]:
    return [m.key().decode() for m in pipe.read(pipe.stack.topics.review)]


def test_a_second_run_does_not_queue_again_what_is_waiting(pipe: Pipeline) -> None:
    raw = pipe.stack.topics.raw
    k = 3
    kafka.produce(pipe.config, raw, lines(100, 8))
    first = pipe.run_dag("log_enrichment", run_conf={"review_k": k})
    assert first.state == DagRunState.SUCCESS
    after_first = queued(pipe)
    assert len(after_first) == len(set(after_first)) >= k

    # the same templates again, and a few new ones
    kafka.produce(pipe.config, raw, lines(100, 8) + lines(500, 2))
    second = pipe.run_dag("log_enrichment", run_conf={"review_k": k})
    assert second.state == DagRunState.SUCCESS
    after_second = queued(pipe)
    assert len(after_second) == len(set(after_second)), "a template was queued twice"
    assert set(after_first) < set(after_second), "the templates not yet asked about are queued"
    enriched = [json.loads(m.value()) for m in pipe.read(pipe.stack.topics.enriched)]
    # lines of a queued template still say they need review, they are just not asked twice
    assert sum(1 for r in enriched if r["needs_review"]) == 8 + 8 + 2
