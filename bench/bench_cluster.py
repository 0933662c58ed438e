"""Throughput of log_enrichment on the local cluster with one and with two Celery workers.

    make bench-cluster          (or, with the cluster up: python bench/bench_cluster.py)

The cluster (scripts/cluster.sh) runs everything on this one machine: three Kafka brokers,
PostgreSQL, Redis, the MLflow server, Airflow's scheduler, API server, DAG processor and
triggerer, and the workers (one task slot each), all on its two cores. For each worker count,
``--lines`` generated lines are produced to the input topic (spread over its partitions),
then one log_enrichment run is triggered through the REST API with the DAG's defaults and
timed from the trigger to the run's success. Each run starts when no other log_enrichment run
is active and the schedule's next tick is at least 150 s away (a scheduled run would take the
input or hold the bench's run back), with model_training and labelling paused meanwhile
(restored afterwards). Reported: the run's lines/s, and per partition task the lines it read
(its summary's ``in``), seconds from its start to its end and lines/s (what one task slot
does). The last line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from enrich.config import Topics
from enrich.io import connection, kafka
from enrich.samples import generate
from tests.cluster.conftest import ClusterAPI, Ledger, cluster_sh, login


def seconds(ti: dict[str, Any]) -> float:
    start = datetime.fromisoformat(ti["start_date"])
    end = datetime.fromisoformat(ti["end_date"])
    return (end - start).total_seconds()


def quiet(api: ClusterAPI, room_s: float = 150.0) -> None:
    """Wait until no log_enrichment run is queued or running and the schedule's next tick is
    at least ``room_s`` away: a scheduled run would otherwise take the bench's input, or hold
    the bench's run queued behind it (``max_active_runs`` 1)."""
    dag = api.get("/dags/log_enrichment")
    while True:
        active = [
            r
            for r in api.get("/dags/log_enrichment/dagRuns", limit=20, order_by="-start_date")[
                "dag_runs"
            ]
            if r["state"] in ("queued", "running")
        ]
        next_run = dag.get("next_dagrun_run_after")
        room = (
            (datetime.fromisoformat(next_run) - datetime.now(UTC)).total_seconds()
            if next_run
            else float("inf")
        )
        if not active and room >= room_s:
            return
        time.sleep(5)
        dag = api.get("/dags/log_enrichment")


def task_lines(api: ClusterAPI, run_id: str, map_index: int) -> int:
    """The lines a partition task read (its summary's ``in``, from its XCom)."""
    entry = api.get(
        f"/dags/log_enrichment/dagRuns/{run_id}/taskInstances/enrich_partition/xcomEntries/"
        "return_value",
        map_index=map_index,
        deserialize=True,
    )
    value = entry["value"]
    return int((json.loads(value) if isinstance(value, str) else value)["in"])


def one_run(
    api: ClusterAPI, config: dict[str, Any], topics: Topics, lines: int, seed: int
) -> dict[str, Any]:
    quiet(api)
    ledger = Ledger(config, topics)
    kafka.produce(config, topics.raw, (v for _s, v in generate(lines, seed=seed)))
    started = time.monotonic()
    run_id = api.trigger("log_enrichment")
    run = api.wait("log_enrichment", run_id, timeout=3600)
    elapsed = time.monotonic() - started
    if run["state"] != "success":
        raise SystemExit(f"log_enrichment run {run_id} ended {run['state']}")
    check = ledger.check()
    if check["lost"] or check["duplicated"] or check["inputs"] != lines:
        raise SystemExit(f"not exactly once: {check}")
    tasks = []
    for ti in api.task_instances("log_enrichment", run_id):
        if ti["task_id"] == "enrich_partition":
            partition = int(ti["map_index"])  # the DAG maps partitions 0..n-1 in order
            secs = seconds(ti)
            n = task_lines(api, run_id, partition)
            tasks.append(
                {
                    "partition": partition,
                    "worker": ti["hostname"].split("@")[0],
                    "lines": n,
                    "seconds": round(secs, 1),
                    "lines_per_s": round(n / secs),
                }
            )
    if sum(t["lines"] for t in tasks) != lines:
        raise SystemExit(f"another run took part of the input: {tasks}")
    return {
        "lines": lines,
        "run_seconds": round(elapsed, 1),
        "lines_per_s": round(lines / elapsed),
        "tasks": sorted(tasks, key=lambda t: t["partition"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_500_000)
    args = parser.parse_args()
    config = connection.client_config("kafka_default")
    topics = Topics.from_env()
    api = login()
    api.unpause("log_enrichment")
    if api.run("log_enrichment", {"start_from": "earliest"})["state"] != "success":
        raise SystemExit("log_enrichment does not run on the cluster")

    # the other DAGs paused while it runs (training follows every run with new labels)
    others = {d: api.get(f"/dags/{d}")["is_paused"] for d in ("model_training", "labelling")}
    results = {}
    try:
        for dag_id in others:
            api.patch(f"/dags/{dag_id}", {"is_paused": True}).raise_for_status()
        try:
            cluster_sh("worker-stop", "2")
            results[1] = one_run(api, config, topics, args.lines, seed=1)
        finally:
            cluster_sh("worker-start", "2")
        time.sleep(10)  # the second worker has joined Celery
        results[2] = one_run(api, config, topics, args.lines, seed=2)
    finally:
        for dag_id, paused in others.items():
            api.patch(f"/dags/{dag_id}", {"is_paused": paused}).raise_for_status()

    print(
        f"log_enrichment on the local cluster (3 brokers, CeleryExecutor, one task slot a "
        f"worker, 2 cores for all of it), {args.lines:,} lines a run, the DAG's defaults"
    )
    print(f"{'workers':>7s} {'run s':>7s} {'lines/s':>9s}   per partition task (worker: lines/s)")
    for workers, r in results.items():
        per = ", ".join(f"{t['worker']}: {t['lines_per_s']:,}" for t in r["tasks"])
        print(f"{workers:>7d} {r['run_seconds']:>7.1f} {r['lines_per_s']:>9,}   {per}")
    task_rates = [t["lines_per_s"] for r in results.values() for t in r["tasks"]]
    summary = {
        "lines": args.lines,
        "one_worker_lines_per_s": results[1]["lines_per_s"],
        "two_workers_lines_per_s": results[2]["lines_per_s"],
        "two_vs_one": round(results[2]["lines_per_s"] / results[1]["lines_per_s"], 2),
        "median_task_lines_per_s": round(statistics.median(task_rates)),
        "runs": results,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
