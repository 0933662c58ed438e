"""Event-driven enrichment (issue 17, item 1) against the real broker and Airflow: the
watcher's trigger fires after input arrives and not before, fires again only for newer input,
and never joins, consumes for or commits for the enrichment's group; the DAG is scheduled by
the watched input Asset or its cron, whichever comes first."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from airflow.utils.state import DagRunState
from confluent_kafka.admin import AdminClient

from enrich.airflow.triggers import EnrichmentLagTrigger
from enrich.config import Topics
from enrich.io import kafka
from enrich.io.lag import NO_OFFSET, group_lag
from tests.integration.pipeline_env import DAGS, Pipeline


def watch(
    trigger: EnrichmentLagTrigger,
    seconds: float,
    then: Callable[[], None] | None = None,
    after: float = 0.0,
) -> list[dict[str, Any]]:
    """Run the trigger as the triggerer does for ``seconds`` (calling ``then`` ``after``
    seconds in); what it fired."""

    async def main() -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []

        async def collect() -> None:
            async for event in trigger.run():
                got.append(event.payload)

        task = asyncio.ensure_future(collect())
        if then is not None:
            await asyncio.sleep(after)
            then()
        await asyncio.sleep(seconds - after)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return got

    return asyncio.run(main())


def test_the_watcher_fires_after_input_arrives_and_commits_nothing(pipe: Pipeline) -> None:
    raw, group = pipe.stack.topics.raw, pipe.group

    def trigger() -> EnrichmentLagTrigger:
        return EnrichmentLagTrigger("kafka_default", raw, group, poll_interval=0.2)

    assert watch(trigger(), 2.0) == []  # nothing waiting: no event, no run

    def produce(n: int) -> Callable[[], None]:
        def send() -> None:
            kafka.produce(pipe.config, raw, [b"disk sda1 is full"] * n)

        return send

    # input arrives while it watches: one event, at the next poll
    (event,) = watch(trigger(), 2.5, then=produce(7), after=1.0)
    assert (event["waiting"], event["group"], event["topic"]) == (7, group, raw)

    # a watcher starting (the triggerer restarted) announces what waits, once; then only
    # newer input fires again
    events = watch(trigger(), 3.0, then=produce(3), after=1.5)
    assert [e["waiting"] for e in events] == [7, 10]

    # it read metadata only: the group has no offsets, no members
    lag = group_lag(pipe.config, raw, group)
    assert set(lag.committed.values()) == {NO_OFFSET}
    assert lag.waiting == 10
    admin = AdminClient(pipe.config)  # kept alive until its future resolves
    described = admin.describe_consumer_groups([group])[group].result(timeout=30)
    assert described.members == []

    # the enrichment commits (in its transactions); then nothing waits and nothing fires
    assert pipe.run_dag("log_enrichment").state == DagRunState.SUCCESS
    assert group_lag(pipe.config, raw, group).waiting == 0
    assert watch(trigger(), 1.5) == []


def test_the_dag_is_scheduled_by_the_watched_input_or_its_cron() -> None:
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(DAGS / "log_enrichment.py")).get_dag("log_enrichment")
    assert dag is not None
    assert dag.max_active_runs == 1
    timetable = dag.timetable
    assert type(timetable).__name__ == "AssetOrTimeSchedule"
    assert timetable.timetable.expression == "*/5 * * * *"  # the cron stays, a fallback
    asset = timetable.asset_condition
    assert asset.uri.endswith("/" + Topics.from_env().raw)
    (watcher,) = asset.watchers
    classpath, kwargs = watcher.trigger.serialize()
    assert classpath == "enrich.airflow.triggers.EnrichmentLagTrigger"
    assert kwargs["group"] == "log-enricher"
