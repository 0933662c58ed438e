"""Benchmark of the pure engine: enrich_batch throughput and peak memory, one process, one core.

    make bench-engine            (or: python bench/bench_engine.py --lines 200000)

Generates realistic lines (enrich.samples), bootstraps a model from the rules' labels the way
the pipeline does, then times enrich_batch over all lines in micro-batches, several rounds,
and reports the median. The last line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import time
import warnings

from enrich.core.records import RawRecord, Source
from enrich.core.rules import load_rules
from enrich.engine.routing import EnrichSettings, enrich_batch
from enrich.learn.model import Model, make_learner
from enrich.samples import generate


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(records: list[RawRecord], model: Model | None, batch: int) -> tuple[float, dict[str, int]]:
    rules = load_rules()
    settings = EnrichSettings()
    totals: dict[str, int] = {}
    started = time.perf_counter()
    for i in range(0, len(records), batch):
        counts = enrich_batch(records[i : i + batch], model, rules, settings).counts
        for k in ("out", "by_model", "by_rules", "needs_review", "dead_letters"):
            totals[k] = totals.get(k, 0) + counts[k]
    return len(records) / (time.perf_counter() - started), totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=20_000, help="records per enrich_batch")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core

    values = [v for _s, v in generate(args.lines + 20_000, seed=2026)]
    records = [RawRecord(v, Source("logs.raw", 0, i)) for i, v in enumerate(values)]
    boot, data = records[:20_000], records[20_000:]
    rss_data = rss_mb()

    bootstrap = enrich_batch(boot, None, load_rules())
    started = time.perf_counter()
    learner = make_learner([x.text for x in bootstrap.labels], [x.label for x in bootstrap.labels])
    train_s = time.perf_counter() - started
    model = Model(learner.estimator, "bench", "1")

    rows = []
    for name, m in (("rules only (no model yet)", None), ("model + rules", model)):
        rates: list[float] = []
        totals: dict[str, int] = {}
        for _ in range(args.rounds):
            rate, totals = run(data, m, args.batch)
            rates.append(rate)
        rows.append((name, statistics.median(rates), min(rates), max(rates), totals))

    print(
        f"enrich_batch on {len(data):,} lines, batches of {args.batch:,}, {args.rounds} rounds, "
        f"1 core; model trained on {len(bootstrap.labels)} rule labels in {train_s:.2f}s"
    )
    print(f"{'path':28s} {'median msg/s':>13s} {'min':>9s} {'max':>9s}  routing")
    for name, med, lo, hi, totals in rows:
        print(
            f"{name:28s} {med:13,.0f} {lo:9,.0f} {hi:9,.0f}  "
            f"model {totals['by_model']:,} / rules {totals['by_rules']:,} / "
            f"review {totals['needs_review']:,}"
        )
    peak = rss_mb()
    print(f"peak RSS {peak:,.0f} MB (of which the generated input ~{rss_data:,.0f} MB)")
    print(
        json.dumps(
            {
                "lines": len(data),
                "batch": args.batch,
                "rounds": args.rounds,
                "rules_only_msgs_per_s": round(rows[0][1]),
                "model_rules_msgs_per_s": round(rows[1][1]),
                "peak_rss_mb": round(peak),
                "input_rss_mb": round(rss_data),
                "train_labels": len(bootstrap.labels),
                "train_s": round(train_s, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
