"""Soak: a live stream with 1 % bad input for N minutes while the enrichment task is killed
at random moments; then count every input.

    make soak                       (SOAK_MINUTES=5 by default)
    python bench/soak.py --minutes 5 --rate 2000

Against the local broker and a private MLflow store, on private topics (deleted afterwards):

* a producer writes ``--rate`` lines/s over 3 partitions, 1 % of them bad (invalid UTF-8,
  tombstones, JSON arrays, non-string messages, deep nesting, over-limit values, ...);
* a worker process runs the ``log_enrichment`` task body
  (``enrich.airflow.enrichment.enrich_partition``) for
  each partition, round after round, as successive DAG runs would; it is SIGKILLed after a
  random life (mean ``--kill-every`` seconds) and restarted, like a worker lost mid-task and
  an Airflow retry. Every other kill waits, after that life, for the worker to be inside a
  Kafka transaction (between ``begin_transaction`` and the return of ``commit_transaction``
  or ``abort_transaction``, which the worker publishes in shared memory). Each kill is
  counted by where it landed: the worker is SIGSTOPped, its phase read, then SIGKILLed:
  ``transaction``, ``between`` (after a commit, before the next begin) or ``startup`` (before
  its first transaction: imports, model load, first read). At least a third must land inside
  transactions;
* a worker that exits by itself (not killed by the soak) is counted as an unexpected exit;
* at the end the worker catches up without kills, and every input offset is looked up in the
  enriched and dead-letter topics as a ``read_committed`` reader sees them.

Memory: the kernel's high-water mark of each worker's resident memory (``VmHWM``), per round:
read after each round, then reset (``/proc/self/clear_refs``), so a peak inside a round is
seen; a killed worker's is read while it is stopped. After the stream, one worker that is
never killed runs ``--memory-rounds`` rounds of 10,000 new lines; the last line gives the
peak over all workers and rounds and that worker's mean per-round peak over its first and
last quarter of rounds.

The soak **fails** (exit status 1, ``"passed": false``, the reasons in ``"failures"``) on any
loss or duplicate, any unexpected worker exit, or fewer than a third of the kills inside
transactions. The last line of output is one JSON object.
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


# where a worker is, published in shared memory for the soak to read while it is stopped
STARTUP, TRANSACTION, BETWEEN = 0, 1, 2
PHASES = {STARTUP: "startup", TRANSACTION: "transaction", BETWEEN: "between"}


def status_mb(field: str, pid: int | str = "self") -> float:
    """A memory field of ``/proc/<pid>/status`` (``VmRSS``, ``VmHWM``) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def reset_peak() -> bool:
    """Reset this process's resident high-water mark (Linux ``clear_refs`` 5); False when the
    kernel refuses (the mark then stays the process's peak so far)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class PhaseProducer:
    """A transactional producer that publishes, in ``phase``, whether a transaction is open:
    TRANSACTION from ``begin_transaction`` until ``commit_transaction`` or
    ``abort_transaction`` returns, BETWEEN after. Everything else is the producer's."""

    def __init__(self, inner: Any, phase: Any) -> None:
        self._inner, self._phase = inner, phase

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def begin_transaction(self, *args: Any) -> Any:
        self._phase.value = TRANSACTION
        return self._inner.begin_transaction(*args)

    def commit_transaction(self, *args: Any) -> Any:
        out = self._inner.commit_transaction(*args)
        self._phase.value = BETWEEN
        return out

    def abort_transaction(self, *args: Any) -> Any:
        out = self._inner.abort_transaction(*args)
        self._phase.value = BETWEEN
        return out


def worker(
    report: str,
    partitions: int,
    stop_when_idle: bool,
    phase: Any,
    batch: int = 20_000,
    one_batch: bool = False,
) -> None:
    """Successive task runs in one process; one line per round to ``report``. A task run
    works through micro-batches until its partition is caught up; ``one_batch``: one
    micro-batch a run (a time budget of 0), so a round is ``batch`` lines a partition."""
    warnings.simplefilter("ignore")
    from enrich.airflow import enrichment
    from enrich.io import transactions

    made = transactions.transactional_producer
    transactions.transactional_producer = lambda *a, **k: PhaseProducer(made(*a, **k), phase)  # type: ignore[assignment]
    params = {
        "consumer_group": os.environ["SOAK_GROUP"],
        "max_batch_size": batch,
        "start_from": "earliest",
        **({"time_budget_s": 0} if one_batch else {}),
    }
    rounds = 0
    with open(report, "a") as out:
        while True:
            took = 0
            for p in range(partitions):
                took += int(enrichment.enrich_partition(p, params, "log_enrichment")["in"] or 0)
            rounds += 1
            peak = status_mb("VmHWM")
            per_round = reset_peak()
            row = {"round": rounds, "in": took, "rss_mb": status_mb("VmRSS"), "peak_mb": peak}
            out.write(json.dumps({**row, "peak_reset": per_round}) + "\n")
            out.flush()
            if took == 0:
                if stop_when_idle:
                    return
                time.sleep(0.5)


def kill(proc: Any, phase: Any) -> tuple[str, float]:
    """SIGSTOP the worker, read where it is and its memory high-water mark, SIGKILL it."""
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        where, peak = PHASES[phase.value], status_mb("VmHWM", proc.pid)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
    return where, peak


def wait_for(phase: Any, wanted: int, proc: Any, feeder: threading.Thread, limit: float) -> None:
    """Until the worker's phase is ``wanted`` (or it died, the stream ended, ``limit`` s)."""
    deadline = time.monotonic() + limit
    while (
        phase.value != wanted
        and proc.is_alive()
        and feeder.is_alive()
        and time.monotonic() < deadline
    ):
        time.sleep(0.0005)


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
        kills: Counter[str] = Counter()
        killed_peaks: list[float] = []
        unexpected: list[int | None] = []
        rng = random.Random(1)
        started = time.monotonic()
        while feeder.is_alive():
            report = str(tmp / f"worker-{len(reports)}.jsonl")
            reports.append(report)
            phase = ctx.Value("i", STARTUP, lock=False)
            proc = ctx.Process(target=worker, args=(report, partitions, False, phase))
            proc.start()
            life = rng.expovariate(1 / args.kill_every)
            aim_inside = len(reports) % 2 == 0  # every other kill waits for a transaction
            deadline = time.monotonic() + life
            while time.monotonic() < deadline and feeder.is_alive() and proc.is_alive():
                time.sleep(0.05)
            if aim_inside:
                wait_for(phase, TRANSACTION, proc, feeder, limit=30.0)
            if not proc.is_alive():
                unexpected.append(proc.exitcode)  # it died by itself: counted, fails the soak
            elif feeder.is_alive():
                where, peak = kill(proc, phase)
                kills[where] += 1
                killed_peaks.append(peak)
            else:
                proc.terminate()  # the stream ended: the last stop is not a kill
            proc.join()
        feeder.join()
        stream_s = time.monotonic() - started
        report = str(tmp / "worker-final.jsonl")
        reports.append(report)
        final = ctx.Process(
            target=worker, args=(report, partitions, True, ctx.Value("i", 0, lock=False))
        )
        final.start()
        final.join()
        if final.exitcode != 0:
            unexpected.append(final.exitcode)

        # memory: one worker, never killed, many rounds of new lines (RSS after each)
        fresh = (v for _s, v in generate(args.memory_rounds * 10_000, seed=99))
        kafka.produce(config, stack.topics.raw, fresh)
        memory_report = str(tmp / "worker-memory.jsonl")
        reports.append(memory_report)
        steady = ctx.Process(
            target=worker,
            args=(
                memory_report,
                partitions,
                True,
                ctx.Value("i", 0, lock=False),
                10_000 // partitions,
                True,
            ),
        )
        steady.start()
        steady.join()
        if steady.exitcode != 0:
            unexpected.append(steady.exitcode)

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
        memory = [json.loads(x)["peak_mb"] for x in Path(memory_report).read_text().splitlines()]
        memory = memory[:-1]  # its last round found nothing new
        quarter = max(1, len(memory) // 4)
        n_kills = sum(kills.values())
        inside = kills["transaction"] / n_kills if n_kills else 0.0
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
            "kills": n_kills,
            "kills_by_place": {k: kills[k] for k in PHASES.values()},
            "kills_inside_transactions_share": round(inside, 3),
            "unexpected_exits": len(unexpected),
            "unexpected_exit_codes": unexpected,
            "worker_processes": len(reports),
            "peak_rss_mb": round(
                max([r["peak_mb"] for rs in rounds for r in rs] + killed_peaks), 1
            ),
            "peak_reset_per_round": all(r["peak_reset"] for rs in rounds for r in rs),
            "memory_rounds": len(memory),
            "memory_peak_mb_first_quarter": round(sum(memory[:quarter]) / quarter, 1),
            "memory_peak_mb_last_quarter": round(sum(memory[-quarter:]) / quarter, 1),
            "memory_peak_mb_every_10th_round": [round(x, 1) for x in memory[::10]],
        }
        failures = []
        if result["losses"] or result["duplicates"]:
            failures.append(f"{result['losses']} lost, {result['duplicates']} duplicated")
        if unexpected:
            failures.append(f"{len(unexpected)} worker(s) exited by themselves: {unexpected}")
        if inside < 1 / 3:
            failures.append(
                f"only {kills['transaction']} of {n_kills} kills landed inside a transaction"
            )
        result["passed"], result["failures"] = not failures, failures
        r = result
        print(
            f"soak: {r['inputs']:,} inputs ({done[0]:,} streamed in {r['minutes']} min at "
            f"{args.rate}/s with 1% bad; then bootstrap and memory-phase lines); {n_kills} kills "
            f"({kills['transaction']} inside a transaction, {kills['between']} between, "
            f"{kills['startup']} at start-up), {len(unexpected)} unexpected exits; outputs "
            f"{r['outputs']:,}, dead letters {dead:,}, duplicates {r['duplicates']}, losses "
            f"{r['losses']}; peak RSS (kernel high-water) {r['peak_rss_mb']} MB; one worker "
            f"over {r['memory_rounds']} rounds: per-round peak {r['memory_peak_mb_first_quarter']}"
            f" MB (first quarter) -> {r['memory_peak_mb_last_quarter']} MB (last quarter)"
        )
        print(json.dumps(result))
        if failures:
            print("soak FAILED: " + "; ".join(failures))
            raise SystemExit(1)
    finally:
        topics.delete_topics(config, prefix=stack.topics.raw.rsplit(".", 1)[0] + ".")


if __name__ == "__main__":
    main()
