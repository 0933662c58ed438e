"""What a user gets: log_enrichment under Airflow's real scheduler, fed at fixed rates.

    make bench-dag        (or: python bench/bench_dag.py --rates 2000,5000,10000 --seconds 90)

A private stack beside the local one, deleted afterwards: its own topics on the local broker,
its own MLflow (SQLite) and its own Airflow home, started with ``airflow standalone`` (the
API server the tasks report to, the scheduler with the LocalExecutor, the DAG processor).
Steps:

1. a champion is trained in this process from the rules' labels of 30,000 sample lines (the
   project's own ``bootstrap`` and ``train`` task code) and registered in the private MLflow;
2. the in-process rate: ``enrich_partition`` over 300,000 lines, the mapped task's code
   without the scheduler, as ``make bench-pipeline`` measures it;
3. Airflow starts; ``log_enrichment`` is unpaused (schedule ``--schedule``, default every
   minute; every other setting is the default: ``max_batch_size`` 50,000,
   ``time_budget_s`` 240) and its first run triggered with ``start_from=latest``;
4. per rate (lines/s, increasing): a producer writes sample lines at that rate for
   ``--seconds``; a ``read_committed`` consumer of the output topic counts what becomes
   visible and, for one record in 20, the seconds from the input's timestamp to then. After
   the producer stops the step waits up to ``--drain`` seconds for the rest.

Reported per rate: lines produced; the rate at which lines became visible while the pipeline
was busy (from the first visible to the last); the lag (produced, not yet visible), sampled
every 2 s: its peak over the middle and the last third of the producing time (bounded: the
last at most 1.25 times the middle, plus 2 s of input), when the producer stopped and at the
end; p50/p95 latency. A rate is kept up with when its lag stayed bounded and everything was
visible after the drain; the steps stop after the first one that is not. Then the highest
rate kept up with, beside the in-process rate. The last line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def private_stack(tmp: Path, tag: str, schedule: str) -> dict[str, str]:
    """The environment of the private stack (this process's and Airflow's)."""
    port = free_port()
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    return {
        **{
            f"ENRICH_TOPIC_{t.upper()}": f"bdag{tag}.{t}"
            for t in ("raw", "enriched", "labels", "review", "dlq")
        },
        "ENRICH_REGISTERED_MODEL": f"bdag-{tag}",
        "ENRICH_MLFLOW_EXPERIMENT": f"bdag-{tag}",
        "ENRICH_MLFLOW_ARTIFACT_ROOT": str(tmp / "artifacts"),
        "ENRICH_MODEL_CACHE": str(tmp / "model-cache"),
        "MLFLOW_TRACKING_URI": uri,
        "MLFLOW_REGISTRY_URI": uri,
        "ENRICH_SCHEDULE": schedule,
        "AIRFLOW_HOME": str(tmp / "airflow"),
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
    }


def train_champion(config: dict[str, Any], raw: str) -> dict[str, Any]:
    """Bootstrap rule labels and register a first champion with the project's task code."""
    from enrich.airflow import training
    from enrich.io import kafka
    from enrich.samples import generate

    kafka.produce(config, raw, [v for _s, v in generate(30_000, seed=7)])
    training.bootstrap_labels({"bootstrap_sample": 10_000})
    result: dict[str, Any] = training.train_model({"min_new_labels": 0})
    return result


def in_process_rate(config: dict[str, Any], tag: str, lines: int) -> float:
    """``enrich_partition`` over ``lines`` sample lines, this process, the champion loaded."""
    sys.path.insert(0, str(ROOT / "bench"))
    import bench_pipeline

    from enrich.airflow.runtime import Runtime
    from enrich.config import Topics
    from enrich.io.topics import TopicSpec, ensure_topics

    kinds = ("raw", "enriched", "labels", "review", "dlq")
    names = Topics(*(f"bdag{tag}.inproc.{t}" for t in kinds))
    ensure_topics(config, [TopicSpec(t, 3) for t in names.all()])
    try:
        bench_pipeline.produce_input(config, names.raw, lines)
        model = Runtime.current().model()
        assert model is not None, "no champion"
        started = time.perf_counter()
        bench_pipeline.drain(config, names, model, 50_000, [0, 1, 2], f"bdag{tag}-inproc")
        return lines / (time.perf_counter() - started)
    finally:
        from enrich.io.topics import delete_topics

        delete_topics(config, prefix=f"bdag{tag}.inproc.")


class Airflow:
    """``airflow standalone`` in its own process group (its LocalExecutor workers outlive a
    SIGTERM to the standalone process: the whole group is stopped)."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.proc: subprocess.Popen[bytes] | None = None

    def airflow(self, *args: str) -> str:
        done = subprocess.run(
            ["airflow", *args], env=self.env, capture_output=True, text=True, check=True
        )
        return done.stdout

    def until_ok(self, *args: str, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.airflow(*args)
                return
            except subprocess.CalledProcessError as err:
                if time.monotonic() > deadline:
                    raise SystemExit(f"airflow {' '.join(args)}: {err.stderr[-500:]}") from None
                time.sleep(3)

    def start(self, timeout: float = 240.0) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                ["airflow", "standalone"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        url = self.env["AIRFLOW__API__BASE_URL"] + "/api/v2/monitor/health"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"airflow standalone exited; see {self.log}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    health = json.loads(response.read())
                if health.get("scheduler", {}).get("status") == "healthy":
                    return
            except OSError:
                pass
            time.sleep(2)
        raise SystemExit(f"Airflow did not become healthy in {timeout:.0f}s; see {self.log}")

    def stop(self) -> None:
        if self.proc is None:
            return
        for sig, wait in ((signal.SIGINT, 30), (signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(wait)
                time.sleep(1)  # workers of the group
            except subprocess.TimeoutExpired:
                continue
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)


def wait_for_offsets(config: dict[str, Any], stack: Any, timeout: float = 300.0) -> None:
    """Until the first run has committed the group's starting offsets."""
    from confluent_kafka import Consumer, TopicPartition

    from enrich import defaults

    consumer = Consumer({**config, "group.id": defaults.CONSUMER_GROUP})
    parts = [TopicPartition(stack.topics.raw, p) for p in range(stack.partitions)]
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if all(tp.offset >= 0 for tp in consumer.committed(parts, timeout=10)):
                return
            time.sleep(3)
    finally:
        consumer.close()
    raise SystemExit(f"the first log_enrichment run did not commit in {timeout:.0f}s")


class Visible(threading.Thread):
    """Counts the output records a ``read_committed`` consumer sees; one in ``every`` gives
    a latency sample (now - the input's timestamp)."""

    def __init__(self, config: dict[str, Any], topic: str, every: int = 20) -> None:
        super().__init__(daemon=True)
        from confluent_kafka import Consumer, TopicPartition

        from enrich.io import topics

        self.consumer = Consumer(
            {
                **config,
                "group.id": f"bench-dag-{uuid.uuid4().hex[:6]}",
                "isolation.level": "read_committed",
                "enable.auto.commit": False,
            }
        )
        marks = topics.watermarks(config, topic)
        self.consumer.assign([TopicPartition(topic, p, high) for p, (_low, high) in marks.items()])
        self.every, self.count = every, 0
        self.latencies: list[float] = []
        self.first_at = self.last_at = 0.0
        self._done = threading.Event()

    def run(self) -> None:
        import msgspec

        decode = msgspec.json.Decoder().decode
        n = 0
        while not self._done.is_set():
            for m in self.consumer.consume(num_messages=10_000, timeout=0.5):
                if m.error() is not None:
                    continue
                n += 1
                self.count += 1
                self.last_at = time.time()
                if n == 1:
                    self.first_at = self.last_at
                if n % self.every == 0:
                    ts = decode(m.value() or b"{}").get("source", {}).get("timestamp")
                    if ts:
                        self.latencies.append(self.last_at - ts / 1000)
        self.consumer.close()

    def stop(self) -> None:
        self._done.set()
        self.join(10)


class Producer(threading.Thread):
    """Sample lines at ``rate`` a second for ``seconds``, in ticks of 0.1 s (``sent``)."""

    def __init__(self, config: dict[str, Any], topic: str, rate: int, seconds: float) -> None:
        super().__init__(daemon=True)
        self.config, self.topic, self.rate, self.seconds = config, topic, rate, seconds
        self.sent = 0

    def run(self) -> None:
        from enrich.io import kafka
        from enrich.samples import generate

        pool = [v for _s, v in generate(50_000, seed=self.rate)]
        producer = kafka.idempotent_producer(self.config)
        rate, per_tick, start = self.rate, max(1, self.rate // 10), time.monotonic()
        while (now := time.monotonic()) - start < self.seconds:
            due = int((now - start) * rate) + per_tick
            while self.sent < due:
                producer.produce(self.topic, pool[self.sent % len(pool)])
                self.sent += 1
                if self.sent % 1000 == 0:
                    producer.poll(0)
            time.sleep(max(0.0, start + self.sent / rate - time.monotonic()))
        kafka.flush_or_fail(producer, self.topic)


def step(
    config: dict[str, Any], topics: Any, rate: int, seconds: float, drain: float
) -> dict[str, Any]:
    """One rate: produce for ``seconds`` while sampling the lag (produced, not yet visible)
    every 2 s, then wait up to ``drain`` for the rest. The lag is bounded when its peak over
    the last third of the producing time is at most 1.25 times its peak over the middle third
    (plus two seconds of input): it does not grow from one schedule tick to the next."""
    watcher = Visible(config, topics.enriched)
    watcher.start()
    producer = Producer(config, topics.raw, rate, seconds)
    started = time.time()
    producer.start()
    lags: list[tuple[float, int]] = []
    while producer.is_alive():
        lags.append((time.time() - started, producer.sent - watcher.count))
        time.sleep(2)
    produced = producer.sent
    produce_s = time.time() - started
    lag_stopped = produced - watcher.count
    deadline = time.monotonic() + drain
    while watcher.count < produced and time.monotonic() < deadline:
        time.sleep(1)
    watcher.stop()
    visible_all = watcher.count >= produced
    middle = [lag for t, lag in lags if seconds / 3 <= t < 2 * seconds / 3]
    last = [lag for t, lag in lags if t >= 2 * seconds / 3]
    bounded = bool(middle and last) and max(last) <= 1.25 * max(middle) + 2 * rate
    lat = sorted(watcher.latencies)

    def pct(q: float) -> float | None:
        return round(lat[min(len(lat) - 1, int(q * len(lat)))], 1) if lat else None

    busy = watcher.last_at - watcher.first_at
    return {
        "rate": rate,
        "produced": produced,
        "produce_s": round(produce_s, 1),
        "visible": watcher.count,
        "visible_per_s_while_busy": round(watcher.count / busy) if busy > 0 else None,
        "peak_lag_middle_third": max(middle) if middle else None,
        "peak_lag_last_third": max(last) if last else None,
        "lag_when_producer_stopped": lag_stopped,
        "lag_at_end": max(0, produced - watcher.count),
        "p50_latency_s": pct(0.5),
        "p95_latency_s": pct(0.95),
        "lag_bounded": bounded,
        "all_visible_after_drain": visible_all,
        "kept_up": bounded and visible_all,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="5000,10000,20000,40000,60000")
    parser.add_argument("--seconds", type=float, default=180.0, help="producing time per rate")
    parser.add_argument("--drain", type=float, default=150.0, help="wait for the rest, at most")
    parser.add_argument("--schedule", default="* * * * *", help="ENRICH_SCHEDULE of the bench")
    parser.add_argument("--in-process-lines", type=int, default=300_000)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    tag = uuid.uuid4().hex[:8]
    var = Path(os.environ.get("ENRICH_VAR_DIR", ROOT / "var"))
    var.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-dag-", dir=var) as tmp_name:
        tmp = Path(tmp_name)
        os.environ.update(private_stack(tmp, tag, args.schedule))
        env = dict(os.environ)
        from enrich.config import StackSettings
        from enrich.io import connection, topics

        stack = StackSettings.from_env()
        config = connection.client_config(stack.kafka_conn_id)
        topics.ensure_topics(config, topics.project_topics(stack))
        airflow = Airflow(env, tmp / "airflow.log")
        results: list[dict[str, Any]] = []
        try:
            trained = train_champion(config, stack.topics.raw)
            print(f"champion: version {trained.get('version')}", flush=True)
            in_process = in_process_rate(config, tag, args.in_process_lines)
            print(f"in-process enrich_partition: {in_process:,.0f} lines/s", flush=True)
            subprocess.run(["airflow", "db", "migrate"], env=env, capture_output=True, check=True)
            airflow.start()
            airflow.until_ok("dags", "unpause", "log_enrichment")  # once it is parsed
            airflow.airflow(
                "dags", "trigger", "log_enrichment", "--conf", '{"start_from": "latest"}'
            )
            wait_for_offsets(config, stack)
            print("log_enrichment is running on its schedule", flush=True)
            for rate in (int(r) for r in args.rates.split(",")):
                got = step(config, stack.topics, rate, args.seconds, args.drain)
                results.append(got)
                print(json.dumps(got), flush=True)
                if not got["kept_up"]:
                    break
        finally:
            airflow.stop()
            topics.delete_topics(config, prefix=stack.topics.raw.rsplit(".", 1)[0] + ".")
    kept = [r for r in results if r["kept_up"]]
    best = max(kept, key=lambda r: r["rate"]) if kept else None
    busiest = max((r["visible_per_s_while_busy"] or 0 for r in results), default=0)
    print(
        f"\nlog_enrichment under airflow standalone (LocalExecutor), schedule "
        f"{args.schedule!r}, defaults otherwise; {args.seconds:.0f} s per rate; "
        f"in-process rate {in_process:,.0f} lines/s"
    )
    print(
        f"{'rate/s':>8} {'produced':>10} {'busy/s':>8} {'lag mid':>9} {'lag last':>9} "
        f"{'lag@stop':>9} {'lag@end':>8} {'p50 s':>6} {'p95 s':>6} kept up"
    )
    for r in results:
        print(
            f"{r['rate']:>8,} {r['produced']:>10,} {r['visible_per_s_while_busy'] or 0:>8,} "
            f"{r['peak_lag_middle_third'] or 0:>9,} {r['peak_lag_last_third'] or 0:>9,} "
            f"{r['lag_when_producer_stopped']:>9,} {r['lag_at_end']:>8,} "
            f"{r['p50_latency_s'] or '-':>6} {r['p95_latency_s'] or '-':>6} {r['kept_up']}"
        )
    print(
        json.dumps(
            {
                "schedule": args.schedule,
                "seconds_per_rate": args.seconds,
                "in_process_lines_per_s": round(in_process),
                "highest_rate_kept_up": best["rate"] if best else None,
                "p50_latency_s_at_highest": best["p50_latency_s"] if best else None,
                "p95_latency_s_at_highest": best["p95_latency_s"] if best else None,
                "highest_visible_per_s_while_busy": busiest,
                "dag_vs_in_process": round(busiest / in_process, 3) if in_process else None,
                "steps": results,
            }
        )
    )


if __name__ == "__main__":
    main()
