"""log_enrichment keeps up (issue 18, item 1), against the real broker and Airflow: a task
works through micro-batches, one transaction each, until its partition is caught up; a run
stopped by its time budget with input still waiting triggers the next run at once."""

from __future__ import annotations

from collections import Counter
from typing import Any

from airflow.utils.state import DagRunState

from enrich.io import kafka
from enrich.samples import generate
from tests.integration.pipeline_env import Pipeline


def produce(pipe: Pipeline, n: int, seed: int) -> dict[int, int]:
    values = [v for _s, v in generate(n, seed=seed)]
    kafka.produce(pipe.config, pipe.stack.topics.raw, values, [str(i).encode() for i in range(n)])
    return pipe.high(pipe.stack.topics.raw)


def summary(run: Any) -> dict[str, Any]:
    (ti,) = [ti for ti in run.get_task_instances() if ti.task_id == "summarize"]
    out: dict[str, Any] = ti.xcom_pull(task_ids="summarize")
    return out


def test_a_task_works_through_micro_batches_until_caught_up(pipe: Pipeline) -> None:
    high = produce(pipe, 3_000, seed=3)
    assert all(n > 500 for n in high.values()), high

    run = pipe.run_dag("log_enrichment", run_conf={"max_batch_size": 200})

    assert run.state == DagRunState.SUCCESS
    total = summary(run)
    # each partition took ceil(n / 200) transactions, one after another, in one task
    assert total["batches"] == sum(-(-n // 200) for n in high.values())
    assert total["lag"] == 0
    assert total["behind"] is False
    got = Counter(m.key().decode() for m in pipe.read(pipe.stack.topics.enriched))
    got.update(m.key().decode() for m in pipe.read(pipe.stack.topics.dlq))
    raw = pipe.stack.topics.raw
    assert got == {f"{raw}:{p}:{o}": 1 for p, n in high.items() for o in range(n)}
    assert pipe.committed() == high
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["catch_up"] == "skipped"  # caught up: the schedule brings the next run


def test_a_run_out_of_time_with_input_waiting_starts_the_next_at_once(pipe: Pipeline) -> None:
    from airflow.models import DagRun
    from airflow.utils.session import create_session

    before = {p: max(o, 0) for p, o in pipe.committed().items()}  # none yet: -1001
    high = produce(pipe, 1_500, seed=4)

    run = pipe.run_dag("log_enrichment", run_conf={"max_batch_size": 100, "time_budget_s": 0})

    assert run.state == DagRunState.SUCCESS
    total = summary(run)
    assert total["batches"] == 3  # one micro-batch each: the budget was spent at once
    assert total["behind"] is True
    waiting = sum(high.values()) - sum(before.values()) - 300
    assert total["lag"] == waiting
    assert pipe.committed() == {p: before[p] + 100 for p in before}
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["catch_up"] == "success"
    queued = [
        r.run_id
        for r in DagRun.find(dag_id="log_enrichment", state=DagRunState.QUEUED)
        if r.conf == run.conf
    ]
    # the run itself never starts here (no scheduler): delete it, or a scheduler started
    # later on this metadata database would run it against the live topics
    with create_session() as session:
        session.query(DagRun).filter(
            DagRun.dag_id == "log_enrichment", DagRun.run_id.in_(queued)
        ).delete(synchronize_session=False)
    assert len(queued) == 1, "the next run was triggered, with this run's conf"
