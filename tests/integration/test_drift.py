"""Drift alarms (issue 17, item 3) against the real broker, MLflow and Airflow: a threshold
crossed fails the run visibly, after the run's output is committed, and queues a labelling
run; with a callback configured, the callback is told instead."""

from __future__ import annotations

from typing import Any

from airflow.utils.state import DagRunState

from enrich.samples import generate
from tests.integration.pipeline_env import Pipeline, env_vars

TOLD: list[tuple[list[str], dict[str, Any]]] = []


def tell(alarms: list[str], summary: dict[str, Any]) -> None:
    """A deployment's drift callback (``ENRICH_DRIFT_CALLBACK``)."""
    TOLD.append((alarms, summary))


def queued_labelling_runs() -> list[str]:
    """The labelling runs waiting (no scheduler here), deleted so none runs later."""
    from airflow.models import DagRun
    from airflow.utils.session import create_session

    ids = [r.run_id for r in DagRun.find(dag_id="labelling", state=DagRunState.QUEUED)]
    with create_session() as session:
        session.query(DagRun).filter(DagRun.dag_id == "labelling", DagRun.run_id.in_(ids)).delete(
            synchronize_session=False
        )
    return ids


def states(run: Any) -> dict[str, Any]:
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


def test_a_drift_threshold_crossed_fails_the_run_and_queues_labelling(pipe: Pipeline) -> None:
    from enrich.io import kafka

    queued_labelling_runs()  # none left from elsewhere
    lines = [v for _s, v in generate(600, seed=21)]
    kafka.produce(pipe.config, pipe.stack.topics.raw, lines)
    run = pipe.run_dag("log_enrichment", run_conf={"max_new_templates": 5})

    assert run.state == DagRunState.FAILED  # visibly
    got = states(run)
    assert got["summarize"] == got["check_drift"] == got["drifted"] == "success"
    assert got["queue_labelling"] == "success"
    assert got["drift_alarm"] == "failed"
    assert len(queued_labelling_runs()) == 1
    # what was enriched stays committed: the alarm comes after the transactions
    assert len(pipe.read(pipe.stack.topics.enriched)) == len(lines)

    # the same figures under thresholds they do not cross: nothing happens
    kafka.produce(pipe.config, pipe.stack.topics.raw, lines[:50])
    calm = pipe.run_dag(
        "log_enrichment",
        run_conf={"max_new_templates": 100_000, "max_needs_review_share": 1.0},
    )
    assert calm.state == DagRunState.SUCCESS
    assert states(calm)["queue_labelling"] == states(calm)["drift_alarm"] == "skipped"
    assert queued_labelling_runs() == []


def test_with_a_callback_the_deployment_is_told_instead(pipe: Pipeline) -> None:
    from enrich.io import kafka

    TOLD.clear()
    kafka.produce(pipe.config, pipe.stack.topics.raw, [v for _s, v in generate(300, seed=22)])
    with env_vars(ENRICH_DRIFT_CALLBACK=f"{__name__}:tell"):
        run = pipe.run_dag("log_enrichment", run_conf={"min_mean_confidence": 0.99})
    queued_labelling_runs()
    # no model yet: no confidence to compare; the rules' coverage is, though
    assert run.state == DagRunState.SUCCESS
    assert states(run)["drift_alarm"] == "skipped"
    with env_vars(ENRICH_DRIFT_CALLBACK=f"{__name__}:tell"):
        kafka.produce(pipe.config, pipe.stack.topics.raw, [v for _s, v in generate(300, seed=23)])
        run = pipe.run_dag("log_enrichment", run_conf={"min_rule_coverage": 0.99})
    assert len(queued_labelling_runs()) == 1
    assert run.state == DagRunState.SUCCESS
    assert states(run)["drift_alarm"] == "success"
    ((alarms, summary),) = TOLD
    assert len(alarms) == 1
    assert alarms[0].startswith("rule_coverage ")
    assert "below min_rule_coverage=0.99" in alarms[0]
    assert summary["rule_coverage"] < 0.99
