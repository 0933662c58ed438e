"""The ``enrich`` command: set up the stack, load sample logs, check rules, label files
offline, list their templates and simulate active learning."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

from enrich import defaults
from enrich.errors import EnrichError


def _cmd_setup(args: argparse.Namespace) -> int:
    from enrich.config import StackSettings
    from enrich.io import connection, topics, tracking

    settings = StackSettings.from_env()
    config = connection.client_config(settings.kafka_conn_id)
    created = topics.ensure_topics(config, topics.project_topics(settings), apply_config=True)
    experiment_id = tracking.ensure_experiment(settings)
    print(
        json.dumps(
            {
                "topics_created": created,
                "topics": list(settings.topics.all()),
                "mlflow_experiment": settings.experiment,
                "mlflow_experiment_id": experiment_id,
            }
        )
    )
    return 0


def _cmd_sample(args: argparse.Namespace) -> int:
    from enrich import samples

    pairs = samples.generate(args.count, seed=args.seed, json_share=args.json_share)
    if args.csv:
        import csv

        from enrich.core.records import LogRecord, decode

        writer = csv.writer(sys.stdout)
        writer.writerow(["text", "severity", "event_type", "category", "family", "template"])
        for sample, value in pairs:
            record = decode(value)
            text = record.text if isinstance(record, LogRecord) else value.decode()
            writer.writerow(
                [
                    text,
                    sample.severity,
                    sample.event_type,
                    sample.category,
                    sample.family,
                    sample.template,
                ]
            )
        return 0
    if args.topic is None:
        out = sys.stdout.buffer
        for _sample, value in pairs:
            out.write(value + b"\n")
        return 0
    from enrich.config import StackSettings
    from enrich.io import connection, kafka

    settings = StackSettings.from_env()
    topic = args.topic or settings.topics.raw
    config = connection.client_config(settings.kafka_conn_id)
    sent = kafka.produce(config, topic, (value for _s, value in pairs))
    print(json.dumps({"topic": topic, "produced": sent, "seed": args.seed}))
    return 0


def _cmd_rules_check(args: argparse.Namespace) -> int:
    from enrich.core.labels import Taxonomy
    from enrich.core.rules import load_rules

    taxonomy = Taxonomy.load(args.taxonomy)
    path = args.file or defaults.RULES_FILE
    rules = load_rules(path, taxonomy)
    by_severity = Counter(r.label.severity for r in rules.rules)
    fields = sorted({r.field for r in rules.rules if r.field})
    examples = sum(len(r.examples) + len(r.counter_examples) for r in rules.rules)
    print(f"{path}: {len(rules)} rules OK ({examples} examples checked)")
    print("  by severity: " + ", ".join(f"{k} {v}" for k, v in sorted(by_severity.items())))
    splitting = [rules.rules[i].name for i in rules.splitting]
    print(f"  splitting their template ({len(splitting)}): " + (", ".join(splitting) or "none"))
    if fields:
        print("  fields matched besides the text: " + ", ".join(fields))
    return 0


def _cmd_rules_report(args: argparse.Namespace) -> int:
    from enrich.core.labels import FIELDS, Taxonomy
    from enrich.core.parse import load_formats
    from enrich.core.rules import load_rules
    from enrich.engine import rule_report
    from enrich.errors import ConfigError

    taxonomy = Taxonomy.load(args.taxonomy)
    rules = load_rules(args.rules or defaults.RULES_FILE, taxonomy)
    formats = load_formats(user=args.formats)
    if args.labels_from_topic:
        if args.input:
            raise ConfigError("give an INPUT file or --labels-from-topic, not both")
        lines = _labels_topic_lines(taxonomy)
    elif not args.input:
        raise ConfigError("give an INPUT file (or - for stdin), or --labels-from-topic")
    elif args.text_column:
        lines = _csv_lines(args.input, args.text_column, args.label_column, taxonomy)
    else:
        lines = [
            rule_report.ReportLine(v.decode("utf-8", "surrogateescape"))
            for v in _read_values(args.input)
        ]
    report = rule_report.rule_report(
        lines,
        rules,
        formats,
        args.max_disagreement,
        args.min_compared,
        rule_report.WITHOUT_SEVERITY if args.labels_from_topic else FIELDS,
    )
    if args.json or not sys.stdout.isatty():
        print(json.dumps(report))
    else:
        print(rule_report.render(report))
    return 1 if report["flagged"] else 0


def _csv_lines(path: str, text_column: str, label_column: str | None, taxonomy: Any) -> list[Any]:
    """A CSV's lines, each with its label (``label_column``: severity,event_type,category)
    as a person's where the row has one."""
    import pandas as pd

    from enrich.core.labels import FIELDS
    from enrich.engine.rule_report import ReportLine
    from enrich.errors import ConfigError

    frame = pd.read_csv(sys.stdin if path == "-" else path, dtype=str, keep_default_na=False)
    columns = [c.strip() for c in label_column.split(",")] if label_column else []
    if columns and len(columns) != len(FIELDS):
        raise ConfigError("--label-column takes severity,event_type,category (three columns)")
    missing = [c for c in [text_column, *columns] if c not in frame.columns]
    if missing:
        raise ConfigError(
            f"{path}: no column(s) {', '.join(missing)}; columns are {', '.join(frame.columns)}"
        )
    out = []
    for row in frame.itertuples(index=False):
        values = row._asdict()
        label = None
        if columns and all(values[c] for c in columns):
            label = taxonomy.label(dict(zip(FIELDS, (values[c] for c in columns), strict=True)))
        out.append(ReportLine(values[text_column], label))
    return out


def _labels_topic_lines(taxonomy: Any) -> list[Any]:
    """The labels topic's lines (one per template and label: what training learns from),
    each with the person's label where it is one."""
    from enrich.config import StackSettings
    from enrich.engine.rule_report import label_lines
    from enrich.io import connection, stores

    settings = StackSettings.from_env()
    config = connection.client_config(settings.kafka_conn_id)
    got = stores.read_labels(config, settings.topics.labels, taxonomy, "log-enricher-rule-report")
    return label_lines(got.labels.values())


def _read_values(path: str) -> Iterator[bytes]:
    stream = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115
    try:
        for line in stream:
            yield line.rstrip(b"\r\n")
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


def _cmd_formats_check(args: argparse.Namespace) -> int:
    from collections import Counter

    from enrich.core.parse import load_formats

    formats = load_formats(user=args.file)
    where = f"{args.file} + built-in" if args.file else str(defaults.FORMATS_FILE)
    print(f"{where}: {len(formats)} log formats OK, {len(formats.levels)} level words")
    by_severity = Counter(level.severity for level in formats.levels.values())
    print("  level words by severity: " + ", ".join(f"{k} {v}" for k, v in by_severity.items()))
    return 0


def _pipeline(args: argparse.Namespace, **settings: Any) -> tuple[Any, Any, Any, Any]:
    """What the offline commands enrich with, from their common options: the rules, the log
    formats, the settings (``settings`` added; no review queries) and the model (or None)."""
    from enrich.core.labels import Taxonomy
    from enrich.core.parse import load_formats
    from enrich.core.rules import load_rules
    from enrich.engine.routing import EnrichSettings

    taxonomy = Taxonomy.load(args.taxonomy)
    rules = load_rules(args.rules, taxonomy)
    formats = load_formats(user=args.formats)
    model = None
    if args.model:
        from enrich.io.models import load_model

        model = load_model(args.model)
    return rules, formats, EnrichSettings(review_k=0, taxonomy=taxonomy, **settings), model


def _cmd_label(args: argparse.Namespace) -> int:
    from itertools import islice

    from enrich.core.records import RawRecord, Source
    from enrich.core.templates import new_miner
    from enrich.engine.routing import enrich_batch

    rules, formats, settings, model = _pipeline(
        args, threshold=args.threshold, policy=args.policy, max_value_bytes=args.max_value_bytes
    )
    topic = "stdin" if args.input == "-" else f"file:{args.input}"
    values = _read_values(args.input)
    out, err = sys.stdout, sys.stderr
    offset = 0
    totals: Counter[str] = Counter()
    miner = new_miner()  # templates grow from batch to batch, as in a task
    while chunk := list(islice(values, args.batch_size)):
        records = [RawRecord(v, Source(topic, 0, offset + i)) for i, v in enumerate(chunk)]
        offset += len(chunk)
        result = enrich_batch(records, model, rules, settings, formats, miner=miner)
        for value in result.enriched:
            out.write(value.decode() + "\n")
        for dead in result.dead_letters:
            err.write(
                json.dumps(
                    {
                        "reason": dead.reason,
                        "detail": dead.detail,
                        "line": dead.source.offset + 1,
                        "value": None
                        if dead.value is None
                        else dead.value.decode("utf-8", "replace")[:1000],
                    }
                )
                + "\n"
            )
        totals.update({k: v for k, v in result.counts.items() if isinstance(v, int)})
    out.flush()
    if args.summary:
        print(json.dumps(dict(totals)), file=err)
    return 0


def _cmd_templates(args: argparse.Namespace) -> int:
    from itertools import islice

    from enrich.core.records import RawRecord
    from enrich.core.templates import new_miner, template_table
    from enrich.engine.routing import enrich_batch

    rules, formats, settings, model = _pipeline(args)
    miner = new_miner()
    values = _read_values(args.input)
    records: list[dict[str, Any]] = []
    while chunk := list(islice(values, args.batch_size)):
        result = enrich_batch(
            [RawRecord(v) for v in chunk], model, rules, settings, formats, miner=miner
        )
        records += [
            {k: r.get(k) for k in _TEMPLATE_KEYS} | {"line": _line_of(r)} for r in result.records()
        ]
    rows = template_table(records, miner)
    total = len(records) or 1
    rows = rows[: args.limit or None]
    if args.json or not sys.stdout.isatty():
        for row in rows:
            sys.stdout.write(json.dumps(row) + "\n")
        return 0
    print(f"{'lines':>7}  {'share':>6}  {'label (by)':40s}  template / example")
    for row in rows:
        top = row["labels"][0]
        label = f"{top['severity']} {top['event_type']} / {top['category']} ({top['labelled_by']})"
        more = f" +{len(row['labels']) - 1}" if len(row["labels"]) > 1 else ""
        share = row["count"] / total
        print(f"{row['count']:>7}  {share:>6.1%}  {(label + more)[:40]:40s}  {row['template']}")
        print(f"{'':>7}  {'':>6}  {'':40s}  e.g. {row['example'][:160]}")
    return 0


_TEMPLATE_KEYS = ("template_id", "severity", "event_type", "category", "labelled_by")


def _line_of(record: dict[str, Any]) -> str:
    """A record's line as people read it: its message text, else the record without the
    enrichment."""
    from enrich.core.formats import ENRICHMENT_KEYS

    for key in ("message", "msg", "MESSAGE", "log"):
        if isinstance(record.get(key), str):
            return str(record[key]).rstrip("\n")
    return json.dumps({k: v for k, v in record.items() if k not in ENRICHMENT_KEYS})


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from pathlib import Path

    import pandas as pd

    from enrich.core.labels import Label
    from enrich.errors import ConfigError
    from enrich.learn import simulation
    from enrich.learn.strategies import STRATEGIES

    frame = pd.read_csv(args.data, dtype=str, keep_default_na=False)
    label_columns = [c.strip() for c in args.label_column.split(",")]
    missing = [c for c in [args.text_column, *label_columns] if c not in frame.columns]
    if missing:
        raise ConfigError(
            f"{args.data}: no column(s) {', '.join(missing)}; "
            f"columns are {', '.join(frame.columns)}"
        )
    texts = frame[args.text_column].tolist()
    if len(label_columns) == 3:
        labels = [Label(*row).class_name for row in frame[label_columns].itertuples(index=False)]
    elif len(label_columns) == 1:
        labels = frame[label_columns[0]].tolist()
    else:
        raise ConfigError("--label-column takes one column, or severity,event_type,category")
    names = list(STRATEGIES) if args.strategy == "all" else [args.strategy]
    if args.seeds < 1:
        raise ConfigError(f"--seeds must be at least 1, got {args.seeds}")
    seeds = list(range(args.seed, args.seed + args.seeds))
    grouping = None
    if args.template_column and args.template_column not in frame.columns:
        raise ConfigError(
            f"{args.data}: no column {args.template_column}; columns are {', '.join(frame.columns)}"
        )
    mined = _mine(texts)  # the strategies choose among templates, as the pipeline's do
    if args.template_column:
        grouping = _grouping(mined, frame[args.template_column].tolist())
        print(json.dumps({"grouping": grouping}), file=sys.stderr)
    sim = simulation.Simulation(args.batch_size, args.max_labels, args.seed)
    curves = {
        name: simulation.simulate_seeds(
            texts, labels, name, sim, seeds, simulation.terminal_progress(name), mined
        )
        for name in names
    }
    means = {name: simulation.spread(by_seed) for name, by_seed in curves.items()}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    doc = {
        "data": str(args.data),
        "rows": len(texts),
        "batch_size": args.batch_size,
        "max_labels": args.max_labels,
        "seeds": seeds,
        "scores": "*_unqueried: on the rows never taught (neither the starting set nor "
        "queried); the others: on all rows",
        "mean": means,
        **({"grouping": grouping} if grouping is not None else {}),
        "curves": {
            name: {str(seed): [p.as_dict() for p in curve] for seed, curve in by_seed.items()}
            for name, by_seed in curves.items()
        },
    }
    (out / "curve.json").write_text(json.dumps(doc, indent=1))
    simulation.plot(
        means,
        str(out / "curve.png"),
        f"{Path(args.data).name}: {len(texts)} rows, batches of {args.batch_size}, "
        f"mean ± sd over {len(seeds)} seeds",
    )
    summary = {"strategy": args.strategy, "seeds": seeds, "mean": means}
    if grouping is not None:
        summary["grouping"] = grouping
    print(json.dumps(summary))
    return 0


def _mine(texts: Sequence[str]) -> list[str]:
    """Each text's template id, mined with the pipeline's code (parser, normaliser, miner;
    one miner over all, 10,000 lines a batch): its template as it stands once all are mined
    (a dead letter: a group of its own)."""
    from enrich.core.records import RawRecord, Source
    from enrich.core.rules import load_rules
    from enrich.core.templates import new_miner
    from enrich.engine.routing import EnrichSettings, enrich_batch

    miner, rules, settings = new_miner(), load_rules(), EnrichSettings(review_k=0)
    ids = [f"dead letter {row}" for row in range(len(texts))]
    step = defaults.LABEL_BATCH_SIZE
    for at in range(0, len(texts), step):
        part = [
            RawRecord(t.encode("utf-8", "surrogateescape"), Source("evaluate", 0, at + i))
            for i, t in enumerate(texts[at : at + step])
        ]
        for rec in enrich_batch(part, None, rules, settings, miner=miner).records():
            ids[rec["source"]["offset"]] = rec["template_id"]
    return [miner.resolve(i) for i in ids]


def _grouping(mined: Sequence[str], truth: Sequence[str]) -> dict[str, Any]:
    """The mined templates (``_mine``) scored against the true ones."""
    from enrich.core.templates import grouping_accuracy

    return {
        "grouping_accuracy": round(grouping_accuracy(mined, truth), 4),
        "templates": len(set(mined)),
        "true_templates": len(set(truth)),
        "lines": len(mined),
    }


def _offline_arguments(p: argparse.ArgumentParser) -> None:
    """The options ``label`` and ``templates`` share: the input and what it is enriched with."""
    p.add_argument("input", help="file of lines, or - for stdin")
    p.add_argument("--rules", help="rules file (default include/regex_rules.yaml)")
    p.add_argument("--taxonomy", help="taxonomy file (default include/taxonomy.yaml)")
    p.add_argument("--formats", help="your log-formats file, tried before the built-in ones")
    p.add_argument("--model", help="MLflow model URI (models:/log-enricher@champion) or folder")
    p.add_argument(
        "--batch-size",
        type=int,
        default=defaults.LABEL_BATCH_SIZE,
        help=f"lines per batch ({defaults.LABEL_BATCH_SIZE})",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="enrich", description="Active-learning log enrichment on Kafka, Airflow and MLflow."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "setup",
        help="create the Kafka topics and the MLflow experiment if missing (idempotent)",
        description="Create the project's Kafka topics (via the Airflow connection) and its "
        "MLflow experiment when they do not exist yet. Safe to run again.",
    )
    p.set_defaults(func=_cmd_setup)

    p = sub.add_parser(
        "sample",
        help="generate realistic log lines (to stdout, or to a Kafka topic)",
        description="Generate deterministic, realistic log lines (plain and JSON records). "
        "Without --topic they go to stdout one per line; with --topic they are produced to "
        "Kafka (--topic '' means the input topic).",
    )
    p.add_argument(
        "--count",
        type=int,
        default=defaults.SAMPLE_COUNT,
        help=f"how many lines (default {defaults.SAMPLE_COUNT})",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=defaults.SAMPLE_SEED,
        help=f"random seed (default {defaults.SAMPLE_SEED})",
    )
    p.add_argument(
        "--json-share",
        type=float,
        default=defaults.SAMPLE_JSON_SHARE,
        help=f"share of JSON records ({defaults.SAMPLE_JSON_SHARE})",
    )
    p.add_argument("--topic", default=None, help="produce to this topic ('' = input topic)")
    p.add_argument(
        "--csv",
        action="store_true",
        help="write a labelled CSV (text,severity,event_type,category,family) for evaluate",
    )
    p.set_defaults(func=_cmd_sample)

    rules = sub.add_parser("rules", help="work with rules files", description="Rules files.")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True, metavar="COMMAND")
    p = rules_sub.add_parser(
        "check",
        help="validate a rules file and print a summary",
        description="Load and validate a rules file exactly as the pipeline does (syntax, "
        "taxonomy, unique names, RE2 patterns, each rule's examples). Exits 2 with a message "
        "naming the rule and the problem on the first error.",
    )
    p.add_argument("file", nargs="?", help="rules file (default include/regex_rules.yaml)")
    p.add_argument("--taxonomy", help="taxonomy file (default include/taxonomy.yaml)")
    p.set_defaults(func=_cmd_rules_check)
    p = rules_sub.add_parser(
        "report",
        help="how each rule does on a file of lines or on the labels topic",
        description="For every rule: the lines it matches and decides, the rules that match "
        "the same lines (overlaps) with another label (conflicts), its agreement with "
        "people's labels where both exist, and the rules that never fire. A table on a "
        "terminal, JSON when piped or with --json. Exits 1 when a rule contradicts people on "
        "more than --max-disagreement of at least --min-compared lines.",
    )
    p.add_argument("input", nargs="?", help="file of lines or a CSV (- for stdin)")
    p.add_argument(
        "--labels-from-topic",
        action="store_true",
        help="report on the labels topic's lines (people's labels among them) instead",
    )
    p.add_argument("--text-column", help="INPUT is a CSV: the column of the lines")
    p.add_argument(
        "--label-column",
        help="with --text-column: severity,event_type,category, people's labels (rows with "
        "them empty have none)",
    )
    p.add_argument("--rules", help="rules file (default include/regex_rules.yaml)")
    p.add_argument("--taxonomy", help="taxonomy file (default include/taxonomy.yaml)")
    p.add_argument("--formats", help="your log-formats file, tried before the built-in ones")
    p.add_argument("--max-disagreement", type=float, default=0.2)
    p.add_argument("--min-compared", type=int, default=3)
    p.add_argument("--json", action="store_true", help="JSON even on a terminal")
    p.set_defaults(func=_cmd_rules_report)

    formats = sub.add_parser(
        "formats", help="work with log-format files", description="Log-format files."
    )
    formats_sub = formats.add_subparsers(dest="formats_command", required=True, metavar="COMMAND")
    p = formats_sub.add_parser(
        "check",
        help="validate the log formats (yours, then the built-in ones) and print a summary",
        description="Load and validate your log-formats file with the built-in formats exactly "
        "as the pipeline does (RE2 patterns, anchors, timestamp kinds, level vocabularies, each "
        "format's examples). Exits 2 with a message naming the format and the problem.",
    )
    p.add_argument("file", nargs="?", help="your formats file (tried before the built-in ones)")
    p.set_defaults(func=_cmd_formats_check)

    p = sub.add_parser(
        "label",
        help="enrich a file of log lines offline (JSON lines to stdout)",
        description="Enrich lines (plain text or JSON records, one per line) with exactly the "
        "pipeline's code. Enriched records go to stdout as JSON lines, dead letters to stderr "
        "as JSON lines. Exit 0 when the input was read, whatever it contained.",
    )
    _offline_arguments(p)
    p.add_argument(
        "--threshold",
        type=float,
        default=defaults.THRESHOLD,
        help=f"model confidence ({defaults.THRESHOLD})",
    )
    p.add_argument("--policy", choices=defaults.POLICIES, default=defaults.POLICY)
    p.add_argument(
        "--max-value-bytes",
        type=int,
        default=defaults.MAX_VALUE_BYTES,
        help=f"larger lines are dead letters ({defaults.MAX_VALUE_BYTES})",
    )
    p.add_argument(
        "--summary", action="store_true", help="print counts as JSON to stderr at the end"
    )
    p.set_defaults(func=_cmd_label)

    p = sub.add_parser(
        "templates",
        help="the templates of a file of log lines, with counts, an example and their labels",
        description="Enrich the lines (plain text or JSON records) with the pipeline's code and "
        "list the templates mined from their message bodies, most lines first: line count, "
        "the labels the lines got and who gave them (rules, model, line), an example line. A "
        "table on a terminal; JSON lines when piped or with --json.",
    )
    _offline_arguments(p)
    p.add_argument("--limit", type=int, default=0, help="the first N templates only (0: all)")
    p.add_argument("--json", action="store_true", help="JSON lines even on a terminal")
    p.set_defaults(func=_cmd_templates)

    p = sub.add_parser(
        "evaluate",
        help="simulate active learning on a labelled CSV; write a learning curve",
        description="The label column answers the queries: each round the strategy picks "
        "--batch-size rows, they are taught, and the model is scored on the rows never "
        "queried (and on all rows), once per seed. Writes OUT/curve.json (every seed's curve, "
        "the mean and standard deviation over seeds) and OUT/curve.png; the last line of "
        "stdout is a JSON summary (the means).",
    )
    p.add_argument("--data", required=True, help="CSV file")
    p.add_argument("--text-column", required=True)
    p.add_argument(
        "--label-column", required=True, help="one column, or three: severity,event_type,category"
    )
    p.add_argument(
        "--strategy",
        default=defaults.STRATEGY,
        choices=[*defaults.STRATEGIES, "all"],
        help=f"a strategy, or 'all' (default {defaults.STRATEGY})",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=defaults.SIMULATION_BATCH_SIZE,
        help=f"labels per round ({defaults.SIMULATION_BATCH_SIZE})",
    )
    p.add_argument(
        "--max-labels",
        type=int,
        default=defaults.SIMULATION_MAX_LABELS,
        help=f"label budget ({defaults.SIMULATION_MAX_LABELS})",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=defaults.RANDOM_STATE,
        help=f"the first seed ({defaults.RANDOM_STATE})",
    )
    p.add_argument(
        "--seeds",
        type=int,
        default=defaults.EVALUATE_SEEDS,
        help=f"runs per strategy, seeds --seed, --seed + 1, ... ({defaults.EVALUATE_SEEDS})",
    )
    p.add_argument(
        "--template-column",
        help="a column naming each row's true template: report the mined templates' grouping "
        "accuracy (the share of lines whose template groups exactly their true template's lines)",
    )
    p.add_argument(
        "--out", default=defaults.EVALUATE_OUT, help=f"output folder ({defaults.EVALUATE_OUT})"
    )
    p.set_defaults(func=_cmd_evaluate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args))
    except EnrichError as err:
        print(f"enrich: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
