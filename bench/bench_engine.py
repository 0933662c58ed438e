"""Benchmark of the pure engine: enrich_batch throughput and memory, one process, one core.

    make bench-engine            (or: python bench/bench_engine.py --lines 200000)

Generates lines in the formats people run (enrich.samples), bootstraps a model from the
rules' labels the way the pipeline does, then times enrich_batch over all lines in
micro-batches, several rounds, and reports the median, for two inputs:

* **generated**: the sample generator's mix as it comes; its *distinct share* (distinct
  normalised bodies of a batch / lines: the model is asked once per distinct body a batch)
  is measured and reported;
* **every line distinct**: the same lines with one unique word added after each message body
  (letters only, which the normaliser keeps), so every line is its own model input: the
  engine's floor when nothing repeats; its distinct share is measured too.

Template mining alone is timed too: each batch's distinct normalised bodies mined by one miner
across the batches, natively and by the Python reference.

Memory is split into imports (RSS once the engine is imported), input (the generated values
and records) and processing (the high-water mark of the process, from the kernel, above
those two). The last line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import time
import warnings
from typing import Any

from enrich.core.normalize import normalize
from enrich.core.records import RawRecord, Source
from enrich.core.rules import load_rules
from enrich.core.templates import TemplateMiner, new_miner
from enrich.engine.routing import EnrichSettings, enrich_batch
from enrich.learn.model import Model, make_learner
from enrich.samples import generate

_PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20
_LETTERS = "ghjkmnpqrstvwxz"  # no vowels (no words a rule knows), no hex digits


def rss_mb() -> float:
    """The process's resident memory now."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE_MB


def peak_rss_mb() -> float:
    """The process's high-water mark of resident memory, kept by the kernel."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def word(i: int) -> str:
    """A unique all-letter token for ``i``: ``wg``, ``wh``, ... (the normaliser masks
    digits and hex, so a letters-only token keeps lines apart)."""
    out = ""
    while True:
        i, r = divmod(i, len(_LETTERS))
        out = _LETTERS[r] + out
        if not i:
            return "w" + out


def made_distinct(value: bytes, body: str, i: int) -> bytes:
    """``value`` with a unique word right after its message body ``body`` (the generator's
    truth), wherever the format puts the body: in a JSON record's field (nested or not), or
    in the line. A value whose body cannot be found is returned as it is (the measured
    distinct share shows how many)."""
    tail = f"{body} {word(i)}"
    if value.startswith(b"{"):
        obj = json.loads(value)
        return json.dumps(_with_tail(obj, body, tail)).encode() if body else value
    text = value.decode()
    return text.replace(body, tail, 1).encode() if body and body in text else value


def _with_tail(obj: Any, body: str, tail: str) -> Any:
    """``obj`` with the first string holding ``body`` given ``tail`` in its place."""
    if isinstance(obj, str):
        return obj.replace(body, tail, 1) if body in obj else obj
    if isinstance(obj, dict):
        out = dict(obj)
        for k, v in obj.items():
            new = _with_tail(v, body, tail)
            if new != v:
                out[k] = new
                return out
        return out
    return obj


def run(records: list[RawRecord], model: Model | None, batch: int) -> tuple[float, dict[str, int]]:
    rules = load_rules()
    settings = EnrichSettings()
    totals: dict[str, int] = {}
    miner = new_miner()  # one a round, as a task keeps one across its micro-batches
    started = time.perf_counter()
    for i in range(0, len(records), batch):
        counts = enrich_batch(records[i : i + batch], model, rules, settings, miner=miner).counts
        for k in ("out", "by_model", "by_rules", "needs_review", "distinct_bodies"):
            totals[k] = totals.get(k, 0) + counts[k]
    return len(records) / (time.perf_counter() - started), totals


def mining(lines: int, batch: int, rounds: int) -> dict[str, Any]:
    """The template miner alone, as the engine calls it: each batch's distinct normalised
    bodies with their line counts, one miner across the batches (a round), native and the
    Python reference; medians over rounds, in distinct bodies and in lines a second."""
    samples = [s for s, _v in generate(lines, seed=2026)]
    parts: list[tuple[list[str], list[int]]] = []
    for i in range(0, len(samples), batch):
        at: dict[str, int] = {}
        counts: list[int] = []
        for s in samples[i : i + batch]:
            k = at.setdefault(normalize(s.text), len(at))
            if k == len(counts):
                counts.append(0)
            counts[k] += 1
        parts.append((list(at), counts))
    n_distinct = sum(len(d) for d, _c in parts)
    out: dict[str, Any] = {"lines": lines, "distinct_bodies": n_distinct}
    for name, make in (("native", new_miner), ("reference", TemplateMiner)):
        times = []
        for _ in range(rounds):
            miner = make()
            started = time.perf_counter()
            for distinct, counts in parts:
                miner.add_many(distinct, counts)
            times.append(time.perf_counter() - started)
        t = statistics.median(times)
        out[f"{name}_distinct_per_s"] = round(n_distinct / t)
        out[f"{name}_lines_per_s"] = round(lines / t)
        out["templates"] = len(miner)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=20_000, help="records per enrich_batch")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    load_rules()  # the rules and the native modules loaded: part of "imports"
    rss_imports = rss_mb()

    samples = list(generate(args.lines + 20_000, seed=2026))
    records = [RawRecord(v, Source("logs.raw", 0, i)) for i, (_s, v) in enumerate(samples)]
    boot, data = records[:20_000], records[20_000:]
    distinct = [
        RawRecord(made_distinct(v, s.text, i), Source("logs.raw", 0, i))
        for i, (s, v) in enumerate(samples[20_000:])
    ]
    del samples
    rss_input = rss_mb() - rss_imports

    bootstrap = enrich_batch(boot, None, load_rules())
    started = time.perf_counter()
    learner = make_learner([x.text for x in bootstrap.labels], [x.label for x in bootstrap.labels])
    train_s = time.perf_counter() - started
    model = Model(learner.estimator, "bench", "1")

    rows = []
    for input_name, lines in (("generated", data), ("every line distinct", distinct)):
        for name, m in (("model + rules", model), ("rules only", None)):
            rates: list[float] = []
            totals: dict[str, int] = {}
            for _ in range(args.rounds):
                rate, totals = run(lines, m, args.batch)
                rates.append(rate)
            share = totals["distinct_bodies"] / totals["out"]
            rows.append((input_name, name, statistics.median(rates), rates, share, totals))

    print(
        f"enrich_batch on {len(data):,} lines, batches of {args.batch:,}, {args.rounds} rounds, "
        f"1 core; model trained on {len(bootstrap.labels)} rule labels in {train_s:.2f}s"
    )
    print(
        f"{'input':20s} {'path':14s} {'distinct':>8s} {'median msg/s':>13s} {'min':>9s} "
        f"{'max':>9s}  routing"
    )
    for input_name, name, med, rates, share, totals in rows:
        print(
            f"{input_name:20s} {name:14s} {share:8.1%} {med:13,.0f} {min(rates):9,.0f} "
            f"{max(rates):9,.0f}  model {totals['by_model']:,} / rules {totals['by_rules']:,} / "
            f"review {totals['needs_review']:,}"
        )
    peak = peak_rss_mb()
    processing = peak - rss_imports - rss_input
    print(
        f"memory: peak RSS {peak:,.0f} MB = imports {rss_imports:,.0f} + input "
        f"{rss_input:,.0f} (both inputs, {2 * len(data):,} records) + processing "
        f"{processing:,.0f} MB"
    )
    result: dict[str, Any] = {
        "lines": len(data),
        "batch": args.batch,
        "rounds": args.rounds,
        "train_labels": len(bootstrap.labels),
        "train_s": round(train_s, 2),
        "peak_rss_mb": round(peak),
        "imports_rss_mb": round(rss_imports),
        "input_rss_mb": round(rss_input),
        "processing_rss_mb": round(processing),
    }
    for input_name, name, med, _rates, share, _totals in rows:
        key = ("distinct_" if input_name != "generated" else "") + (
            "model_rules" if name == "model + rules" else "rules_only"
        )
        result[f"{key}_msgs_per_s"] = round(med)
        result[f"{key}_distinct_share"] = round(share, 4)
    mined = mining(len(data), args.batch, args.rounds)
    print(
        f"template mining alone, {mined['lines']:,} generated lines in batches of {args.batch:,} "
        f"({mined['distinct_bodies']:,} distinct bodies mined, {mined['templates']:,} templates): "
        f"native {mined['native_distinct_per_s']:,} bodies/s = {mined['native_lines_per_s']:,} "
        f"lines/s; Python reference {mined['reference_distinct_per_s']:,} bodies/s = "
        f"{mined['reference_lines_per_s']:,} lines/s"
    )
    result.update({f"mining_{k}": v for k, v in mined.items()})
    print(json.dumps(result))


if __name__ == "__main__":
    main()
