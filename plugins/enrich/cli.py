"""The ``enrich`` command: set up the stack, load sample logs, and (later) label and evaluate."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from enrich.errors import EnrichError


def _cmd_setup(args: argparse.Namespace) -> int:
    from enrich import kafka_io, registry
    from enrich.settings import StackSettings

    settings = StackSettings.from_env()
    config = kafka_io.client_config(settings.kafka_conn_id)
    created = kafka_io.ensure_topics(config, kafka_io.project_topics(settings))
    experiment_id = registry.ensure_experiment(settings)
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
    if args.topic is None:
        out = sys.stdout.buffer
        for _sample, value in pairs:
            out.write(value + b"\n")
        return 0
    from enrich import kafka_io
    from enrich.settings import StackSettings

    settings = StackSettings.from_env()
    topic = args.topic or settings.topics.raw
    config = kafka_io.client_config(settings.kafka_conn_id)
    sent = kafka_io.produce(config, topic, (value for _s, value in pairs))
    print(json.dumps({"topic": topic, "produced": sent, "seed": args.seed}))
    return 0


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
    p.add_argument("--count", type=int, default=10_000, help="how many lines (default 10000)")
    p.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    p.add_argument("--json-share", type=float, default=0.3, help="share of JSON records (0.3)")
    p.add_argument("--topic", default=None, help="produce to this topic ('' = input topic)")
    p.set_defaults(func=_cmd_sample)
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
