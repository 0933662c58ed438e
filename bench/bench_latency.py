"""How long a line waits for its labels: scheduled against event-driven ``log_enrichment``.

    make bench-latency    (or: python bench/bench_latency.py --samples 15 --every 7)

For each mode, a private stack beside the local one (its own topics on the local broker, its
own MLflow and Airflow home, deleted afterwards) under ``airflow standalone`` (scheduler,
triggerer, DAG processor, API server; LocalExecutor), the DAG's defaults otherwise and no
model (rules only: what a line waits for is the same):

* **scheduled**: ``ENRICH_EVENT_DRIVEN=0``, the cron ``--schedule`` alone (default every
  minute; the project's default is every 5 minutes, which waits five times as long);
* **event-driven**: the input Asset's watcher (the enrichment group's lag, every
  ``ENRICH_WATCH_INTERVAL_S`` = 2 s) or the same cron, whichever comes first.

After a first run has committed the group's offsets, one line is produced every ``--every``
seconds, ``--samples`` times; a ``read_committed`` consumer of the output topic notes when
each becomes visible. Printed: per mode the p50 and p95 seconds from produce to visible, and
how many lines were seen; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_dag import Airflow, private_stack, wait_for_offsets  # noqa: E402


def watch_output(
    config: dict[str, Any], topic: str, seen: dict[str, float], stop: threading.Event
) -> None:
    """Note when each line's enriched record becomes visible to a read_committed reader."""
    from confluent_kafka import Consumer

    consumer = Consumer(
        {
            **config,
            "group.id": f"bench-latency-{uuid.uuid4().hex[:8]}",
            "isolation.level": "read_committed",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    try:
        while not stop.is_set():
            for m in consumer.consume(500, timeout=0.2):
                value = m.value()
                if m.error() or value is None:
                    continue
                text = json.loads(value).get("message", "")
                if text.startswith("latency probe "):
                    seen.setdefault(text, time.time())
    finally:
        consumer.close()


def one_mode(
    mode: str, schedule: str, samples: int, every: float, drain: float, var: Path
) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory(prefix="bench-latency-", dir=var) as tmp_name:
        tmp = Path(tmp_name)
        env_before = dict(os.environ)
        os.environ.update(private_stack(tmp, tag, schedule))
        os.environ["ENRICH_EVENT_DRIVEN"] = "1" if mode == "event-driven" else "0"
        env = dict(os.environ)
        from enrich.config import StackSettings
        from enrich.io import connection, kafka, topics

        stack = StackSettings.from_env()
        config = connection.client_config(stack.kafka_conn_id)
        topics.ensure_topics(config, topics.project_topics(stack))
        airflow = Airflow(env, tmp / "airflow.log")
        seen: dict[str, float] = {}
        produced: dict[str, float] = {}
        stop = threading.Event()
        watcher = threading.Thread(
            target=watch_output, args=(config, stack.topics.enriched, seen, stop), daemon=True
        )
        try:
            subprocess.run(["airflow", "db", "migrate"], env=env, capture_output=True, check=True)
            airflow.start()
            airflow.until_ok("dags", "unpause", "log_enrichment")
            airflow.airflow(
                "dags", "trigger", "log_enrichment", "--conf", '{"start_from": "latest"}'
            )
            wait_for_offsets(config, stack)
            watcher.start()
            time.sleep(3)
            print(f"{mode}: producing {samples} lines, one every {every:g} s", flush=True)
            for i in range(samples):
                text = f"latency probe {i} {tag}"
                produced[text] = time.time()
                kafka.produce(config, stack.topics.raw, [text.encode()])
                time.sleep(every)
            deadline = time.monotonic() + drain
            while len(seen) < samples and time.monotonic() < deadline:
                time.sleep(1)
        finally:
            stop.set()
            airflow.stop()
            topics.delete_topics(config, prefix=stack.topics.raw.rsplit(".", 1)[0] + ".")
            os.environ.clear()
            os.environ.update(env_before)
    waits = sorted(seen[t] - produced[t] for t in produced if t in seen)
    # inclusive: a quantile between the observed waits, never past the largest
    q = statistics.quantiles(waits, n=20, method="inclusive") if len(waits) >= 2 else waits * 19
    return {
        "mode": mode,
        "samples": samples,
        "seen": len(waits),
        "p50_s": round(statistics.median(waits), 1) if waits else None,
        "p95_s": round(q[18], 1) if waits else None,
        "max_s": round(max(waits), 1) if waits else None,
        "waits_s": [round(w, 2) for w in waits],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schedule", default="* * * * *", help="the cron of both modes")
    parser.add_argument("--samples", type=int, default=15)
    parser.add_argument("--every", type=float, default=7.0, help="seconds between lines")
    parser.add_argument("--drain", type=float, default=150.0)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    var = Path(os.environ.get("ENRICH_VAR_DIR", ROOT / "var"))
    var.mkdir(parents=True, exist_ok=True)
    rows = [
        one_mode(mode, args.schedule, args.samples, args.every, args.drain, var)
        for mode in ("scheduled", "event-driven")
    ]
    print(
        f"\nseconds from produce to visible (read_committed), airflow standalone, "
        f"cron {args.schedule!r}, {args.samples} lines one every {args.every:g} s"
    )
    print(f"{'mode':<14} {'seen':>6} {'p50 s':>7} {'p95 s':>7} {'max s':>7}")
    for r in rows:
        print(
            f"{r['mode']:<14} {r['seen']:>3}/{r['samples']:<2} {r['p50_s'] or '-':>7} "
            f"{r['p95_s'] or '-':>7} {r['max_s'] or '-':>7}"
        )
    print(json.dumps({"schedule": args.schedule, "every_s": args.every, "modes": rows}))


if __name__ == "__main__":
    main()
