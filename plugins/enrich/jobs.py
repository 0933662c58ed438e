"""The DAGs' task bodies: settings from Params and the environment, I/O through the edges.

Each function is what one Airflow task does, written without Airflow so it runs the same in
``dag.test()``, on a Celery worker or in a test. Everything a run needs is validated in
``preflight`` before anything is consumed.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from enrich import kafka_io, pipeline, registry
from enrich.batch import EnrichSettings
from enrich.errors import ConfigError
from enrich.labels import Taxonomy
from enrich.rules import DEFAULT_RULES_FILE, RulesCache
from enrich.settings import PROJECT_DIR, StackSettings, Topics

log = logging.getLogger(__name__)

_rules_cache: RulesCache | None = None
_champions: registry.ChampionCache | None = None


def rules_file() -> Path:
    return Path(os.environ.get("ENRICH_RULES_FILE") or DEFAULT_RULES_FILE)


def taxonomy() -> Taxonomy:
    return Taxonomy.load(os.environ.get("ENRICH_TAXONOMY_FILE") or None)


def rules() -> Any:
    """The rules, recompiled only when the file changed since this process last read it."""
    global _rules_cache
    if _rules_cache is None or _rules_cache.path != rules_file():
        _rules_cache = RulesCache(rules_file(), taxonomy())
    return _rules_cache.get()


def settings_from(params: dict[str, Any]) -> EnrichSettings:
    return EnrichSettings(
        threshold=float(params.get("threshold", 0.75)),
        policy=str(params.get("policy", "model_first")),
        review_k=int(params.get("review_k", 10)),
        strategy=str(params.get("strategy", "diverse")),
        max_value_bytes=int(params.get("max_value_bytes", 1_048_576)),
        taxonomy=taxonomy(),
    )


def champion(stack: StackSettings, alias: str = "champion") -> Any:
    """The model behind ``alias``, cached per version (in memory and in a local folder)."""
    global _champions
    if _champions is None:
        _champions = registry.ChampionCache(model_cache_dir())
    return _champions.get(stack.registered_model, alias)


def preflight(params: dict[str, Any]) -> list[int]:
    """Check everything before consuming; return the input topic's partitions.

    Fails (with what to fix) on: invalid settings or Params, a bad rules or taxonomy file, an
    unreachable broker, a model alias that points at a version which cannot be loaded. Creates
    missing topics.
    """
    stack = StackSettings.from_env()
    settings_from(params)
    loaded = rules()
    config = kafka_io.client_config(stack.kafka_conn_id)
    kafka_io.ensure_topics(config, kafka_io.project_topics(stack))
    model = champion(stack)
    partitions = sorted(range(kafka_io.list_topics(config)[stack.topics.raw]))
    log.info(
        "preflight ok: %d rules from %s, model %s, %d partitions of %s",
        len(loaded),
        rules_file(),
        f"v{model.version}" if model else "none (bootstrap routing)",
        len(partitions),
        stack.topics.raw,
    )
    return partitions


def enrich_partition(partition: int, params: dict[str, Any], dag_id: str) -> dict[str, Any]:
    """One partition's micro-batch, exactly once (``pipeline.enrich_partition``)."""
    stack = StackSettings.from_env()
    config = kafka_io.client_config(stack.kafka_conn_id)
    run = pipeline.enrich_partition(
        config,
        stack.topics,
        partition,
        champion(stack),
        rules(),
        settings_from(params),
        group_id=str(params.get("consumer_group", "log-enricher")),
        transactional_id=f"log-enricher.{dag_id}.{stack.topics.raw}.{partition}",
        max_batch_size=int(params.get("max_batch_size", 50_000)),
    )
    summary = run.as_dict()
    log.info("partition %s: %s", partition, summary)
    return summary


def summarize(runs: list[dict[str, Any]], what: str = "run") -> dict[str, Any]:
    """Totals over the partitions' runs: logged as ``<what> summary: ...`` and returned."""
    keys = (
        "in",
        "out",
        "dead_letters",
        "by_model",
        "by_rules",
        "needs_review",
        "labels",
        "queries",
        "produced",
    )
    total: dict[str, Any] = {k: sum(int(r.get(k) or 0) for r in runs) for k in keys}
    weighted = [(r["mean_confidence"], r.get("out", 0)) for r in runs if r.get("mean_confidence")]
    n = sum(w for _c, w in weighted)
    total["mean_confidence"] = round(sum(c * w for c, w in weighted) / n, 4) if n else None
    total["offsets"] = {str(r["partition"]): r["offsets"] for r in runs}
    total["model_version"] = next((r.get("model_version") for r in runs if r.get("in")), None)
    log.info("%s summary: %s", what, total)
    return total


def model_cache_dir() -> Path:
    return Path(os.environ.get("ENRICH_MODEL_CACHE") or PROJECT_DIR / "var" / "cache" / "models")


def bootstrap_labels(params: dict[str, Any]) -> dict[str, Any]:
    """With no champion yet: label a sample of recent input with the rules, onto the labels
    topic, so the first model can be trained without waiting for enrichment runs.

    Reads the last ``bootstrap_sample`` messages of each input partition by assign + seek
    (no consumer group is joined or invented, nothing is committed). Idempotent: labels are
    keyed by fingerprint on a compacted topic.
    """
    from enrich.batch import enrich_batch

    stack = StackSettings.from_env()
    if champion(stack) is not None:
        return {"bootstrapped": False, "reason": "a champion exists"}
    config = kafka_io.client_config(stack.kafka_conn_id)
    per_partition = int(params.get("bootstrap_sample", 5_000))
    records = []
    for p, messages, _end in kafka_io.read_partitions(
        config, stack.topics.raw, "log-enricher-bootstrap", newest=per_partition
    ):
        records += pipeline.raw_records(messages, stack.topics.raw, p)
    result = enrich_batch(records, None, rules(), settings_from({**params, "review_k": 0}))
    producer = kafka_io.idempotent_producer(config)
    for label in result.labels:
        pipeline.send_label(producer, stack.topics.labels, label)
    kafka_io.flush_or_fail(producer, stack.topics.labels)
    log.info("bootstrap: %d sampled messages → %d rule labels", len(records), len(result.labels))
    return {"bootstrapped": True, "sampled": len(records), "labels": len(result.labels)}


def read_labels(
    stack: StackSettings, config: dict[str, Any]
) -> tuple[dict[str, Any], dict[int, int], int]:
    """The labels topic merged to one label per fingerprint (human over rules, latest wins),
    the end offsets read, and how many records were read. One partition's records are held at
    a time, so memory follows the number of distinct lines, not the topic's length."""
    from enrich import training

    tax = taxonomy()
    merged: dict[str, training.StoredLabel] = {}
    ends: dict[int, int] = {}
    read = bad = 0
    for p, messages, end in kafka_io.read_partitions(
        config, stack.topics.labels, "log-enricher-training"
    ):
        ends[p] = end
        read += len(messages)
        batch = []
        for m in messages:
            try:
                batch.append(training.StoredLabel.from_json(m.value() or b"", tax))
            except (ValueError, KeyError, TypeError):
                bad += 1
        merged = training.merge_labels([*merged.values(), *batch])
    if bad:
        log.warning("skipped %d unreadable or out-of-taxonomy labels", bad)
    return merged, ends, read


def train_model(params: dict[str, Any]) -> dict[str, Any]:
    """Read every label, train, evaluate against the champion, register, move an alias.

    Returns ``{"skipped": reason}`` when there is too little new: fewer than
    ``min_new_labels`` labels arrived since the last training run (only once a champion
    exists), or fewer than ``min_labels`` in two classes or more.
    """
    from enrich import training

    stack = StackSettings.from_env()
    config = kafka_io.client_config(stack.kafka_conn_id)
    current = champion(stack)
    labels, ends, read = read_labels(stack, config)
    max_labels = int(params.get("max_labels", training.DEFAULT_MAX_LABELS))
    capped = training.cap_labels(labels, max_labels)
    if len(capped) < len(labels):
        log.warning(
            "%d labelled lines, over max_labels=%d: training on every human label and the "
            "newest rule labels; %d oldest rule labels left out",
            len(labels),
            max_labels,
            len(labels) - len(capped),
        )
    dropped = len(labels) - len(capped)
    labels = capped
    new = registry.new_label_count(stack, ends)
    min_new = int(params.get("min_new_labels", 50))
    if current is not None and new < min_new:
        return {"skipped": f"{new} new labels since the last training, fewer than {min_new}"}
    train_set, eval_set = training.split(labels.values())
    classes = {x.label for x in train_set}
    min_labels = int(params.get("min_labels", 20))
    if len(train_set) < min_labels or len(classes) < 2:
        return {
            "skipped": f"{len(train_set)} training labels in {len(classes)} classes; "
            f"need {min_labels} in 2 or more"
        }
    c = float(params.get("C", training.DEFAULT_C))
    model = training.train(train_set, C=c)
    report = training.evaluate(model, eval_set)
    champion_report = training.evaluate(current.pipeline, eval_set) if current else None
    humans = sum(1 for x in labels.values() if x.source == "human")
    decision = registry.record_training(
        stack,
        model,
        report,
        (str(current.version), champion_report) if current and champion_report else None,
        params={
            "n_labels": len(labels),
            "n_label_records_read": read,
            "max_labels": max_labels,
            "n_labels_over_cap": dropped,
            "n_train": len(train_set),
            "n_eval": len(eval_set),
            "n_human_labels": humans,
            "n_rule_labels": len(labels) - humans,
            "n_classes": len(classes),
            "new_labels": new,
            "eval_split": f"fingerprint hash mod {training.EVAL_BUCKETS} == 0",
            "model": "normalize > tfidf(word 1-2) > logistic regression (balanced)",
            "C": c,
        },
        artifacts={
            "label_counts.json": training.class_counts(train_set),
            "eval_label_counts.json": training.class_counts(eval_set),
            "labels_offsets.json": {str(p): o for p, o in ends.items()},
        },
        example_texts=[x.text for x in train_set[:5]],
        labels_offsets=ends,
    )
    log.info("training: %s", decision)
    return decision


def backfill_plan(
    params: dict[str, Any], start: datetime | None, end: datetime | None
) -> list[dict[str, Any]]:
    """Per input partition, the offsets to re-enrich.

    With explicit ``offsets`` (``{"0": [from, to], ...}``, ``to`` exclusive) those; otherwise
    the run's data interval ``[start, end)`` mapped with ``offsets_for_times``. Validates the
    model choice and settings first, so a bad Param fails before anything is read.
    """
    stack = StackSettings.from_env()
    settings_from(params)
    rules()
    backfill_model(stack, params)
    config = kafka_io.client_config(stack.kafka_conn_id)
    topic = stack.topics.raw
    marks = kafka_io.watermarks(config, topic)
    explicit = params.get("offsets") or {}
    if explicit:
        plan = []
        for key, bounds in sorted(explicit.items(), key=lambda kv: int(kv[0])):
            partition = int(key)
            if partition not in marks or len(bounds) != 2 or int(bounds[0]) > int(bounds[1]):
                raise ConfigError(
                    f"offsets[{key!r}] = {bounds!r}: need [from, to) of a partition "
                    f"of {topic} (partitions: {sorted(marks)})"
                )
            plan.append(
                {
                    "partition": partition,
                    "start": int(bounds[0]),
                    "end": int(bounds[1]),
                    "ts_from": None,
                    "ts_to": None,
                }
            )
        return plan
    if start is None or end is None:
        raise ConfigError("a backfill needs a data interval or explicit offsets")
    ts_from, ts_to = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
    starts = kafka_io.offsets_for_time(config, topic, ts_from)
    ends = kafka_io.offsets_for_time(config, topic, ts_to)
    return [
        {"partition": p, "start": starts[p], "end": ends[p], "ts_from": ts_from, "ts_to": ts_to}
        for p in sorted(marks)
    ]


def backfill_model(stack: StackSettings, params: dict[str, Any]) -> Any:
    """``model`` Param: an alias (``champion``, ``challenger``), a version number, or ``none``."""
    choice = str(params.get("model") or "champion").strip()
    if choice.lower() == "none":
        return None
    if choice.isdigit():
        return registry.load_model(f"models:/{stack.registered_model}/{choice}")
    model = champion(stack, choice)
    if model is None:
        raise ConfigError(f"model alias {choice!r} is not set on {stack.registered_model!r}")
    return model


def backfill_partition(part: dict[str, Any], params: dict[str, Any], dag_id: str) -> dict[str, Any]:
    """Re-enrich one partition's range into the target topic, in one transaction.

    Commits no consumer offsets (the live cursor is untouched). Output keys are the source
    coordinates, so re-running a range with one model version writes the same records.
    """
    stack = StackSettings.from_env()
    config = kafka_io.client_config(stack.kafka_conn_id)
    target = str(params.get("target_topic") or stack.topics.enriched)
    topics = Topics(
        stack.topics.raw, target, stack.topics.labels, stack.topics.review, stack.topics.dlq
    )
    run = pipeline.reenrich_range(
        config,
        topics,
        kafka_io.PartitionRange(stack.topics.raw, part["partition"], part["start"], part["end"]),
        (part.get("ts_from"), part.get("ts_to")),
        backfill_model(stack, params),
        rules(),
        settings_from({**params, "review_k": 0}),
        transactional_id=f"log-enricher.{dag_id}.{stack.topics.raw}.{part['partition']}",
    )
    summary = run.as_dict()
    log.info("backfill partition %s: %s", part["partition"], summary)
    return summary


def human_labelled(stack: StackSettings, config: dict[str, Any]) -> set[str]:
    """Fingerprints a person has labelled: the ``human:`` keys of the labels topic."""
    prefix = pipeline.label_key("human", "").encode()
    found: set[str] = set()
    for _p, messages, _end in kafka_io.read_partitions(
        config, stack.topics.labels, "log-enricher-labelling"
    ):  # one partition's records at a time: only the keys are kept
        for m in messages:
            key = m.key()
            if key is not None and key.startswith(prefix):
                found.add(key[len(prefix) :].decode())
    return found


def review_queue(
    stack: StackSettings, config: dict[str, Any], window: int = 100_000
) -> tuple[list[Any], set[str]]:
    """The review queue's items waiting for a person (one per fingerprint), and the
    fingerprints people have labelled. Reads the last ``window`` items of each review
    partition by assign + seek; nothing is committed, so reading never takes an item away."""
    from enrich import review

    items, bad = [], 0
    for _p, messages, _end in kafka_io.read_partitions(
        config, stack.topics.review, "log-enricher-labelling", newest=window
    ):
        for m in messages:
            try:
                items.append(review.QueueItem.from_json(m.value() or b""))
            except (ValueError, KeyError, TypeError):
                bad += 1
    if bad:
        log.warning("skipped %d unreadable review items", bad)
    labelled = human_labelled(stack, config)
    waiting = review.pending(items, labelled)
    log.info(
        "review queue: %d items read, %d fingerprints labelled by people, %d waiting",
        len(items),
        len(labelled),
        len(waiting),
    )
    return waiting, labelled


def review_questions(params: dict[str, Any]) -> list[dict[str, Any]]:
    """The labelling DAG's first task: the top ``k`` questions from the review queue.

    Drops fingerprints a person already labelled, keeps one item per fingerprint, re-scores
    with the champion and picks with ``strategy``. Returns one ``{"question": ...}`` per
    question (the mapped task's arguments).
    """
    from enrich import review

    stack = StackSettings.from_env()
    config = kafka_io.client_config(stack.kafka_conn_id)
    kafka_io.ensure_topics(config, kafka_io.project_topics(stack))
    waiting, _labelled = review_queue(stack, config, int(params.get("queue_window", 100_000)))
    questions = review.pick_questions(
        waiting,
        champion(stack),
        taxonomy(),
        int(params.get("k", 10)),
        str(params.get("strategy", "diverse")),
    )
    log.info("asking %d questions", len(questions))
    return [{"question": q.to_dict()} for q in questions]


def save_answers(answers: list[dict[str, Any] | None], asked: int | None = None) -> dict[str, Any]:
    """The labelling DAG's last task: each ``Save label`` answer → a human training label.

    Skipped and timed-out questions write nothing: the item stays in the queue and a later
    run asks again. Labels go to the compacted labels topic keyed ``human:<fingerprint>``, so a
    later answer for the same line replaces an earlier one.
    """
    from enrich import review

    stack = StackSettings.from_env()
    tax = taxonomy()
    labels, skipped = [], 0
    for answer in answers:
        if not answer:
            continue
        if review.SAVE not in answer.get("chosen", []):
            skipped += 1
            continue
        label = review.answer_label(answer.get("answer") or {}, tax)
        answered_at = answer.get("answered_at")
        when = datetime.fromisoformat(answered_at) if isinstance(answered_at, str) else None
        labels.append(review.human_label(answer["question"], label, answer.get("by"), when))
    if labels:
        config = kafka_io.client_config(stack.kafka_conn_id)
        producer = kafka_io.idempotent_producer(config)
        for item in labels:
            pipeline.send_label(producer, stack.topics.labels, item)
        kafka_io.flush_or_fail(producer, stack.topics.labels)
    asked = len(answers) if asked is None else asked
    summary = {
        "asked": asked,
        "labelled": len(labels),
        "skipped": skipped,
        "unanswered_or_refused": asked - len(labels) - skipped,
        "by": sorted({x.by for x in labels if x.by}),
    }
    log.info("labelling summary: %s", summary)
    return summary
