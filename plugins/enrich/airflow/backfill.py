"""The ``log_backfill`` DAG's task bodies: plan offset ranges, re-enrich them."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from enrich import defaults
from enrich.airflow.params import BackfillParams
from enrich.airflow.runtime import Runtime
from enrich.engine.routing import EnrichSettings
from enrich.errors import ConfigError
from enrich.io import models, reading, topics, transactions
from enrich.learn.model import Model

log = logging.getLogger(__name__)
# headers of every record a backfill writes: which run wrote it, with which model version
BACKFILL_HEADER, MODEL_HEADER = "enrich-backfill", "enrich-model-version"


def enrich_settings(rt: Runtime, params: BackfillParams) -> EnrichSettings:
    """A backfill asks no review questions: the live pipeline already queued those lines."""
    return EnrichSettings(
        threshold=params.threshold,
        policy=params.policy,
        review_k=0,
        taxonomy=rt.taxonomy(),
        threads=rt.stack.front_threads,
    )


def plan(
    params: Mapping[str, Any], start: datetime | None, end: datetime | None
) -> list[dict[str, Any]]:
    """Per input partition, the offsets to re-enrich.

    With explicit ``offsets`` those; otherwise the run's data interval ``[start, end)``
    mapped with ``offsets_for_times``. Validates the model choice and settings first, so a
    bad Param fails before anything is read.
    """
    rt = Runtime.current()
    p = BackfillParams.parse(params)
    enrich_settings(rt, p)
    rt.rules()
    rt.formats()
    model(rt, p)
    config = rt.kafka_config()
    topic = rt.topics.raw
    target, dlq = targets(rt, p)
    counts = topics.list_topics(config)
    if topic in counts:  # the target and its dead letters, as partitioned as the input
        topics.ensure_topics(
            config,
            [topics.TopicSpec(t, counts[topic], rt.stack.replication) for t in (target, dlq)],
        )
        counts = topics.list_topics(config)
    topics.check_output_partitions(counts, topic, target)
    marks = topics.watermarks(config, topic)
    if p.offsets:
        return [
            {
                "partition": r.partition,
                "start": r.start,
                "end": r.end,
                "ts_from": None,
                "ts_to": None,
            }
            for r in reading.explicit_ranges(p.offsets, topic, sorted(marks))
        ]
    if start is None or end is None:
        raise ConfigError("a backfill needs a data interval or explicit offsets")
    ts_from, ts_to = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
    # the first offset stamped at or after the start: nothing before it is stamped inside;
    # the end: read ``lateness_s`` further, for messages stamped inside that arrived late
    # (after messages of the next interval); the timestamp filter keeps each in its interval
    starts = topics.offsets_for_time(config, topic, ts_from)
    ends = topics.offsets_for_time(config, topic, ts_to + p.lateness_s * 1000)
    return [
        {"partition": q, "start": starts[q], "end": ends[q], "ts_from": ts_from, "ts_to": ts_to}
        for q in sorted(marks)
    ]


def model(rt: Runtime, params: BackfillParams) -> Model | None:
    """``model`` Param: an alias (``champion``, ``challenger``), a version number, or ``none``."""
    choice = (params.model or defaults.BACKFILL_MODEL).strip()
    if choice.lower() == "none":
        return None
    if choice.isdigit():
        return models.load_model(f"models:/{rt.stack.registered_model}/{choice}")
    found = rt.model(choice)
    if found is None:
        raise ConfigError(f"model alias {choice!r} is not set on {rt.stack.registered_model!r}")
    return found


def targets(rt: Runtime, params: BackfillParams) -> tuple[str, str]:
    """The backfill's output topic and dead-letter topic: ``target_topic`` (default
    ``<output topic>.backfill``) and ``<target>.dlq`` beside it; the live ones only when
    ``target_topic`` names the live output topic (an explicit choice: the records are then
    second copies there, told apart by their headers)."""
    target = params.target_topic or f"{rt.topics.enriched}{defaults.BACKFILL_SUFFIX}"
    if target == rt.topics.enriched:
        return target, rt.topics.dlq
    return target, f"{target}.dlq"


def reenrich(
    part: Mapping[str, Any], params: Mapping[str, Any], dag_id: str, run_id: str = ""
) -> dict[str, Any]:
    """Re-enrich one partition's range into the target topic, in one transaction.

    Commits no consumer offsets (the live cursor is untouched). Output keys are the source
    coordinates, so re-running a range with one model version writes the same records; each
    record's headers name the backfill run and the model version.
    """
    rt = Runtime.current()
    p = BackfillParams.parse(params)
    raw = rt.topics.raw
    target, dlq = targets(rt, p)
    chosen = model(rt, p)
    headers = [
        (BACKFILL_HEADER, f"{dag_id}/{run_id}".encode()),
        (MODEL_HEADER, (chosen.version if chosen and chosen.version else "none").encode()),
    ]
    run = transactions.reenrich_range(
        rt.kafka_config(),
        replace(rt.topics, enriched=target, dlq=dlq),
        reading.PartitionRange(raw, part["partition"], part["start"], part["end"]),
        (part.get("ts_from"), part.get("ts_to")),
        chosen,
        rt.rules(),
        enrich_settings(rt, p),
        # one per range: concurrent backfill runs (``airflow backfill create`` runs several
        # intervals at once) never fence each other; a retry of the same range fences its
        # earlier attempt
        transactional_id=transactions.transactional_id(
            f"{dag_id}.{part['start']}-{part['end']}", raw, part["partition"]
        ),
        formats=rt.formats(),
        people=rt.people(),
        headers=headers,
        max_batch_size=p.max_batch_size,
        # a retry of this task resumes where its last transaction ended; another run
        # (a rerun of the interval) starts again
        progress_group=f"log-enricher-backfill.{dag_id}.{run_id}.{part['start']}-{part['end']}",
    )
    summary = run.as_dict()
    log.info("backfill partition %s: %s", part["partition"], summary)
    return summary
