"""Soak: a live stream with 1 % bad input for N minutes while the enrichment task is killed
at random moments; then count every input.

    make soak                       (SOAK_MINUTES=5 by default)
    python bench/soak.py --minutes 5 --rate 2000

Against the local broker and a private MLflow store, on private topics (deleted afterwards):

* a producer writes ``--rate`` lines/s over 3 partitions, 1 % of them bad (invalid UTF-8,
  tombstones, JSON arrays, non-string messages, deep nesting, over-limit values, ...);
* a worker process runs the ``log_enrichment`` task body
  (``enrich.airflow.enrichment.enrich_partition``) for
  each partition, round after round, as successive DAG runs would; it is SIGKILLed at random
  moments (mean ``--kill-every`` seconds) and restarted, like a worker lost mid-task and an
  Airflow retry;
* at the end the worker catches up without kills, and every input offset is looked up in the
  enriched and dead-letter topics as a ``read_committed`` reader sees them.

Memory: each worker reports its RSS after every round. After the stream, one worker that is
never killed runs ``--memory-rounds`` rounds of 10,000 new lines; the last line gives the
peak over all workers and that worker's mean RSS over its first and last quarter of rounds.
The last line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import signal
import tempfile
import threading
import time
import uuid
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

BAD_VALUES: list[bytes | None] = [
    b"login \xc3\x28 broken utf-8",
    None,  # tombstone
    b'[{"message": "an array"}]',
    b'"a json string"',
    b'{"message": 42}',
    b'{"message": {"nested": true}}',
    b"[" * 5_000 + b"]" * 5_000,
    b"x" * 1_100_000,  # over the 1 MiB default limit
]


def rss_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def worker(report: str, partitions: int, stop_when_idle: bool, batch: int = 20_000) -> None:
    """Successive task runs in one process; one line per round to ``report``."""
    warnings.simplefilter("ignore")
    from enrich.airflow import enrichment

    params = {
        "consumer_group": os.environ["SOAK_GROUP"],
        "max_batch_size": batch,
        "start_from": "earliest",
    }
    rounds = 0
    with open(report, "a") as out:
        while True:
            took = 0
            for p in range(partitions):
                took += int(enrichment.enrich_partition(p, params, "log_enrichment")["in"] or 0)
            rounds += 1
            out.write(json.dumps({"round": rounds, "in": took, "rss_mb": rss_mb()}) + "\n")
            out.flush()
            if took == 0:
                if stop_when_idle:
                    return
                time.sleep(0.5)


def produce_stream(
    config: dict[str, Any], topic: str, rate: int, seconds: float, done: list[int]
) -> None:
    from enrich.io import kafka
    from enrich.samples import generate

    rng = random.Random(7)
    producer = kafka.idempotent_producer(config)
    lines = (v for _s, v in generate(10**9, seed=11))
    sent, started = 0, time.monotonic()
    while time.monotonic() - started < seconds:
        target = int((time.monotonic() - started) * rate)
        while sent < target:
            value = rng.choice(BAD_VALUES) if rng.random() < 0.01 else next(lines)
            kafka.produce_one(producer, topic, value, str(sent))
            sent += 1
        producer.poll(0)
        time.sleep(0.01)
    kafka.flush_or_fail(producer, topic)
    done.append(sent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=float(os.environ.get("SOAK_MINUTES", 5)))
    parser.add_argument("--rate", type=int, default=2000, help="lines per second")
    parser.add_argument("--kill-every", type=float, default=20.0, help="mean seconds between kills")
    parser.add_argument(
        "--memory-rounds",
        type=int,
        default=60,
        help="then this many 10,000-line rounds in one worker that is never killed",
    )
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    import mlflow

    from enrich.airflow import training
    from enrich.config import StackSettings
    from enrich.io import connection, kafka, reading, topics

    tag = uuid.uuid4().hex[:8]
    tmp = Path(tempfile.mkdtemp(prefix="soak-"))
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    os.environ.update(
        {
            **{
                f"ENRICH_TOPIC_{n.upper()}": f"soak{tag}.{n}"
                for n in ("raw", "enriched", "labels", "review", "dlq")
            },
            "ENRICH_REGISTERED_MODEL": f"soak-{tag}",
            "ENRICH_MLFLOW_EXPERIMENT": f"soak-{tag}",
            "ENRICH_MLFLOW_ARTIFACT_ROOT": str(tmp / "artifacts"),
            "ENRICH_MODEL_CACHE": str(tmp / "models"),
            "MLFLOW_TRACKING_URI": uri,
            "MLFLOW_REGISTRY_URI": uri,
            "SOAK_GROUP": f"soak-{tag}",
            "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        }
    )
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    stack = StackSettings.from_env()
    config = connection.client_config(stack.kafka_conn_id)
    topics.ensure_topics(config, topics.project_topics(stack))
    partitions = topics.list_topics(config)[stack.topics.raw]
    try:
        # a champion first, so the worker runs the model path too
        from enrich.samples import generate

        kafka.produce(config, stack.topics.raw, [v for _s, v in generate(5000, seed=3)])
        training.bootstrap_labels({"bootstrap_sample": 5000})
        print("soak: champion:", training.train_model({"min_new_labels": 0}).get("decision"))

        done: list[int] = []
        seconds = args.minutes * 60
        feeder = threading.Thread(
            target=produce_stream, args=(config, stack.topics.raw, args.rate, seconds, done)
        )
        feeder.start()
        ctx = multiprocessing.get_context("spawn")
        reports: list[str] = []
        kills = 0
        rng = random.Random(1)
        started = time.monotonic()
        while feeder.is_alive():
            report = str(tmp / f"worker-{len(reports)}.jsonl")
            reports.append(report)
            proc = ctx.Process(target=worker, args=(report, partitions, False))
            proc.start()
            life = rng.expovariate(1 / args.kill_every)
            deadline = time.monotonic() + life
            while time.monotonic() < deadline and feeder.is_alive():
                time.sleep(0.1)
            if proc.is_alive():
                os.kill(proc.pid or 0, signal.SIGKILL)
                kills += int(feeder.is_alive())  # the last stop is not a kill
            proc.join()
        feeder.join()
        stream_s = time.monotonic() - started
        report = str(tmp / "worker-final.jsonl")
        reports.append(report)
        final = ctx.Process(target=worker, args=(report, partitions, True))
        final.start()
        final.join()

        # memory: one worker, never killed, many rounds of new lines (RSS after each)
        fresh = (v for _s, v in generate(args.memory_rounds * 10_000, seed=99))
        kafka.produce(config, stack.topics.raw, fresh)
        memory_report = str(tmp / "worker-memory.jsonl")
        reports.append(memory_report)
        steady = ctx.Process(
            target=worker, args=(memory_report, partitions, True, 10_000 // partitions)
        )
        steady.start()
        steady.join()

        # count every input as a read_committed reader sees the outputs
        inputs = {
            (p, o)
            for p, (low, high) in topics.watermarks(config, stack.topics.raw).items()
            for o in range(low, high)
        }
        seen: Counter[tuple[int, int]] = Counter()
        for _p, messages, _end in reading.read_partitions(config, stack.topics.enriched):
            for m in messages:
                src = json.loads(m.value() or b"{}")["source"]
                seen[(src["partition"], src["offset"])] += 1
        dead = 0
        for _p, messages, _end in reading.read_partitions(config, stack.topics.dlq):
            for m in messages:
                source = dict(m.headers() or [])["source"]
                text = source.decode() if isinstance(source, bytes) else str(source)
                coords = text.rsplit(":", 2)
                seen[(int(coords[1]), int(coords[2]))] += 1
                dead += 1
        rounds = [
            [json.loads(x) for x in Path(r).read_text().splitlines()]
            for r in reports
            if Path(r).exists()
        ]
        memory = [json.loads(x)["rss_mb"] for x in Path(memory_report).read_text().splitlines()]
        memory = memory[:-1]  # its last round found nothing new
        quarter = max(1, len(memory) // 4)
        result = {
            "minutes": round(stream_s / 60, 2),
            "inputs": len(inputs),
            "stream_lines": done[0],
            "bootstrap_lines": 5000,
            "memory_phase_lines": args.memory_rounds * 10_000,
            "outputs": sum(seen.values()) - dead,
            "dead_letters": dead,
            "duplicates": sum(c - 1 for c in seen.values() if c > 1),
            "losses": len(inputs - set(seen)),
            "kills": kills,
            "worker_processes": len(reports),
            "peak_rss_mb": round(max(r["rss_mb"] for rs in rounds for r in rs), 1),
            "memory_rounds": len(memory),
            "memory_rss_mb_first_quarter": round(sum(memory[:quarter]) / quarter, 1),
            "memory_rss_mb_last_quarter": round(sum(memory[-quarter:]) / quarter, 1),
            "memory_rss_mb_every_10th_round": [round(x, 1) for x in memory[::10]],
        }
        r = result
        print(
            f"soak: {r['inputs']:,} inputs ({done[0]:,} streamed in {r['minutes']} min at "
            f"{args.rate}/s with 1% bad, {kills} kills; then bootstrap and memory-phase lines); "
            f"outputs {r['outputs']:,}, dead letters {dead:,}, duplicates "
            f"{r['duplicates']}, losses {r['losses']}; peak RSS {r['peak_rss_mb']} MB; one worker "
            f"over {r['memory_rounds']} rounds: RSS {r['memory_rss_mb_first_quarter']} MB "
            f"(first quarter) -> {r['memory_rss_mb_last_quarter']} MB (last quarter)"
        )
        print(json.dumps(result))
    finally:
        topics.delete_topics(config, prefix=stack.topics.raw.rsplit(".", 1)[0] + ".")


if __name__ == "__main__":
    main()
