"""Benchmark through the real broker: passthrough vs this project's enrichment task vs the
Kafka provider's ConsumeFromTopicOperator (batch and per-message functions).

    make bench-pipeline          (or: python bench/bench_pipeline.py --lines 1000000)

One run, the same input for the three paths (private topics, deleted afterwards):

(a) passthrough: consume + produce, no processing: the ceiling of this broker and client;
(b) enrichment: ``transactions.enrich_partition``, exactly the DAG task's code with the DAG's
    defaults (read_committed, enrich_batch, one transaction per micro-batch of at most
    ``max_batch_size`` with the offsets, micro-batches until caught up or ``time_budget_s``
    is spent, a new producer and consumer per call), in this process: each partition's task
    after the other, as one worker slot runs the mapped tasks; (b') each partition in its
    own process, as three worker slots run them (on this 2-core machine);
(c) provider, batch: the Kafka provider's ``ConsumeFromTopicOperator`` with
    ``apply_function_batch``: each consumed batch (``max_batch_size`` = ``--provider-batch``)
    enriched with one ``enrich_batch`` call and produced by one idempotent producer, flushed
    before the operator commits the batch's offsets (at least once: the provider has no
    transactions); all lines. The fair baseline: the same enrichment, the provider's best path.
(c') provider, per message: ``apply_function`` enriching one message and producing it, as
    the provider's simplest example reads (not flushed before the operator's commit: the
    operator has no hook there); over the first ``--provider-lines`` messages (it is too slow
    to push all of them through).

The model is trained in-process from the rules' labels (MLflow is not on the timed path).
The last line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import time
import uuid
import warnings
from typing import Any

from confluent_kafka import Message, TopicPartition

from enrich import defaults
from enrich.config import Topics
from enrich.core.records import RawRecord, Source
from enrich.core.rules import load_rules
from enrich.engine.routing import EnrichSettings, enrich_batch
from enrich.io import kafka, transactions
from enrich.io.topics import TopicSpec, delete_topics, ensure_topics
from enrich.learn.model import Model, make_learner
from enrich.samples import generate


def produce_input(config: dict[str, Any], topic: str, n: int) -> float:
    started = time.perf_counter()
    kafka.produce(
        config, topic, (v for _s, v in generate(n, seed=99)), (str(i).encode() for i in range(n))
    )
    return time.perf_counter() - started


def passthrough(config: dict[str, Any], source: str, target: str, n: int) -> float:
    consumer = kafka.consumer_for(config, "bench-passthrough")
    consumer.assign([TopicPartition(source, p, 0) for p in range(3)])
    producer = kafka.idempotent_producer(config)
    started = time.perf_counter()
    seen = 0
    while seen < n:  # produce_many, as the enrichment task does: the fastest way to produce
        chunk = consumer.consume(num_messages=min(10_000, n - seen), timeout=1.0)
        got = [m for m in chunk if m.error() is None]
        kafka.produce_many(producer, target, [m.value() for m in got], [m.key() for m in got])
        seen += len(got)
    kafka.flush_or_fail(producer, target)
    elapsed = time.perf_counter() - started
    consumer.close()
    return elapsed


def drain(
    config: dict[str, Any],
    topics: Topics,
    model: Model,
    batch: int,
    partitions: list[int],
    group: str,
) -> None:
    """What a run of the DAG does with one worker slot: each partition's task in turn (one
    ``enrich_partition`` call each, as the mapped tasks do), working through micro-batches
    until caught up; a task stopped by its time budget goes again, as the next run would."""
    rules, settings = load_rules(), EnrichSettings()
    active = list(partitions)
    while active:  # one pass unless a task stops on its time budget
        active = [
            p
            for p in active
            if transactions.enrich_partition(
                config,
                topics,
                p,
                model,
                rules,
                settings,
                group,
                f"bench-{group}-{p}",
                batch,
                start_from="earliest",
                time_budget_s=defaults.TIME_BUDGET_S,
            ).counts.get("behind")
        ]


def enrichment(
    config: dict[str, Any], topics: Topics, model: Model, batch: int, parallel: bool, rep: int = 0
) -> float:
    """All partitions in this process, or each in its own process as Airflow runs mapped
    tasks with three worker slots (each run with its own consumer group: each reads all)."""
    group = f"bench-enrich-{'parallel' if parallel else 'serial'}-{rep}"
    started = time.perf_counter()
    if parallel:
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(3) as pool:
            pool.starmap(drain, [(config, topics, model, batch, [p], group) for p in range(3)])
    else:
        drain(config, topics, model, batch, [0, 1, 2], group)
    return time.perf_counter() - started


def _provider_connection(config: dict[str, Any]) -> str:
    """A Kafka connection for the provider's hook (environment variable), new group each."""
    os.environ["AIRFLOW_CONN_KAFKA_BENCH"] = json.dumps(
        {
            "conn_type": "kafka",
            "extra": {
                **{k: v for k, v in config.items() if isinstance(v, str)},
                "group.id": f"bench-provider-{uuid.uuid4().hex[:6]}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": "false",
            },
        }
    )
    return "kafka_bench"


def provider(
    config: dict[str, Any], topics: Topics, model: Model, n: int, batch: int | None
) -> float:
    """The provider's operator over the first ``n`` messages: ``apply_function_batch`` with
    ``batch`` messages a call, or ``apply_function`` per message when ``batch`` is None."""
    from airflow.providers.apache.kafka.operators.consume import ConsumeFromTopicOperator

    rules, settings = load_rules(), EnrichSettings(review_k=0)
    producer = kafka.idempotent_producer(config)

    def enrich(msgs: list[Message]) -> None:
        records = [
            RawRecord(m.value(), Source(m.topic() or "", m.partition() or 0, m.offset() or 0))
            for m in msgs
            if m.error() is None
        ]
        result = enrich_batch(records, model, rules, settings)
        kafka.produce_many(producer, topics.enriched, result.enriched, result.enriched_keys)
        dead = result.dead_letters
        kafka.produce_many(producer, topics.dlq, [d.value for d in dead], [None] * len(dead))

    def enrich_many(msgs: list[Message]) -> None:
        enrich(msgs)
        kafka.flush_or_fail(producer, topics.enriched)  # delivered before the commit

    def enrich_one(msg: Message) -> None:
        enrich([msg])  # not flushed: the operator gives no hook before its commit

    operator = ConsumeFromTopicOperator(
        task_id="bench",
        topics=[topics.raw],
        apply_function=enrich_one if batch is None else None,
        apply_function_batch=enrich_many if batch is not None else None,
        max_messages=n,
        max_batch_size=batch or 1000,
        kafka_config_id=_provider_connection(config),
        poll_timeout=10,
        commit_cadence="end_of_batch",
    )
    started = time.perf_counter()
    operator.execute(context={})
    kafka.flush_or_fail(producer, topics.enriched)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument(
        "--provider-lines", type=int, default=20_000, help="lines for the per-message path"
    )
    parser.add_argument(
        "--provider-batch", type=int, default=10_000, help="max_batch_size of the batch path"
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=defaults.MAX_BATCH_SIZE,
        help="max_batch_size: messages per transaction (the DAG's default)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of (a) and (b); medians")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    tag = uuid.uuid4().hex[:8]
    names = Topics(
        f"bench{tag}.raw",
        f"bench{tag}.enriched",
        f"bench{tag}.labels",
        f"bench{tag}.review",
        f"bench{tag}.dlq",
    )
    side = [
        f"bench{tag}.passthrough",
        f"bench{tag}.provider",
        f"bench{tag}.provider-dlq",
        f"bench{tag}.provider1",
        f"bench{tag}.provider1-dlq",
    ]
    from enrich.io import connection  # Airflow's import: in this process only, not the workers

    config = connection.client_config("kafka_default")
    specs = [TopicSpec(t, 3) for t in (*names.all(), *side)]
    ensure_topics(config, specs)
    try:
        produce_s = produce_input(config, names.raw, args.lines)
        boot = enrich_batch(
            [RawRecord(v) for _s, v in generate(20_000, seed=5)], None, load_rules()
        )
        learner = make_learner([x.text for x in boot.labels], [x.label for x in boot.labels])
        model = Model(learner.estimator, "bench", "1")

        # (a) and (b) alternate, --repeat times each; their medians are compared
        passes, enrichs = [], []
        for rep in range(args.repeat):
            passes.append(passthrough(config, names.raw, side[0], args.lines))
            enrichs.append(enrichment(config, names, model, args.batch, False, rep))
        t_pass, t_enrich = statistics.median(passes), statistics.median(enrichs)
        t_parallel = enrichment(config, names, model, args.batch, parallel=True)
        batch_topics = Topics(names.raw, side[1], names.labels, names.review, side[2])
        t_provider = provider(config, batch_topics, model, args.lines, args.provider_batch)
        one_topics = Topics(names.raw, side[3], names.labels, names.review, side[4])
        t_one = provider(config, one_topics, model, args.provider_lines, None)
    finally:
        delete_topics(config, prefix=f"bench{tag}.")

    rate = {
        "passthrough": args.lines / t_pass,
        "enrichment": args.lines / t_enrich,
        "parallel": args.lines / t_parallel,
        "provider": args.lines / t_provider,
        "per_message": args.provider_lines / t_one,
    }
    print(
        f"{args.lines:,} generated lines through the local broker (produced in {produce_s:.1f}s); "
        f"one process; model trained on {len(boot.labels)} rule labels; (a) and (b): median of "
        f"{args.repeat} alternating runs, seconds {[round(x, 2) for x in passes]} and "
        f"{[round(x, 2) for x in enrichs]}"
    )
    print(f"{'path':56s} {'messages':>10s} {'seconds':>8s} {'msg/s':>10s}")
    rows = [
        ("(a) passthrough: consume + produce", args.lines, t_pass),
        (
            f"(b) enrichment task (exactly once, {args.batch:,} a transaction)",
            args.lines,
            t_enrich,
        ),
        ("(b') the same, 3 partitions in 3 processes", args.lines, t_parallel),
        (
            f"(c) provider operator, apply_function_batch ({args.provider_batch:,} a batch)",
            args.lines,
            t_provider,
        ),
        ("(c') provider operator, apply_function per message", args.provider_lines, t_one),
    ]
    for name, n, secs in rows:
        print(f"{name:56s} {n:>10,} {secs:>8.1f} {n / secs:>10,.0f}")
    print(
        json.dumps(
            {
                "lines": args.lines,
                "batch": args.batch,
                "provider_lines": args.provider_lines,
                "provider_batch": args.provider_batch,
                "repeat": args.repeat,
                "passthrough_msgs_per_s": round(rate["passthrough"]),
                "enrichment_msgs_per_s": round(rate["enrichment"]),
                "enrichment_3_processes_msgs_per_s": round(rate["parallel"]),
                "provider_batch_msgs_per_s": round(rate["provider"]),
                "provider_per_message_msgs_per_s": round(rate["per_message"]),
                "enrich_vs_passthrough": round(rate["enrichment"] / rate["passthrough"], 3),
                "enrich_3_processes_vs_passthrough": round(
                    rate["parallel"] / rate["passthrough"], 3
                ),
                "enrich_vs_provider_batch": round(rate["enrichment"] / rate["provider"], 2),
                "enrich_vs_provider_per_message": round(
                    rate["enrichment"] / rate["per_message"], 1
                ),
            }
        )
    )


if __name__ == "__main__":
    main()
