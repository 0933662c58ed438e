"""The ``model_training`` DAG's task bodies: bootstrap labels, train, register, promote."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from enrich import defaults
from enrich.airflow.params import TrainingParams
from enrich.airflow.runtime import Runtime
from enrich.core.formats import HUMAN, RULES
from enrich.engine import rule_report
from enrich.engine.routing import EnrichSettings, enrich_batch
from enrich.io import reading, stores, tracking
from enrich.learn import training

log = logging.getLogger(__name__)
MODEL_DESCRIPTION = "normalize > tfidf(word 1-2) > logistic regression (balanced)"


def bootstrap_labels(params: Mapping[str, Any]) -> dict[str, Any]:
    """With no champion yet: label a sample of recent input with the rules, onto the labels
    topic, so the first model can be trained without waiting for enrichment runs.

    Reads the last ``bootstrap_sample`` messages of each input partition by assign + seek
    (no consumer group is joined or invented, nothing is committed). Idempotent: labels are
    keyed by fingerprint on a compacted topic.
    """
    rt = Runtime.current()
    p = TrainingParams.parse(params)
    if rt.model() is not None:
        return {"bootstrapped": False, "reason": "a champion exists"}
    config = rt.kafka_config()
    records = []
    for part, messages, _end in reading.read_partitions(
        config, rt.topics.raw, "log-enricher-bootstrap", newest=p.bootstrap_sample
    ):
        records += reading.raw_records(messages, rt.topics.raw, part)
    settings = EnrichSettings(review_k=0, taxonomy=rt.taxonomy())
    result = enrich_batch(records, None, rt.rules(), settings, rt.formats())
    stores.write_labels(config, rt.topics.labels, result.labels)
    log.info("bootstrap: %d sampled messages → %d rule labels", len(records), len(result.labels))
    return {"bootstrapped": True, "sampled": len(records), "labels": len(result.labels)}


def train_model(params: Mapping[str, Any]) -> dict[str, Any]:
    """Read every label, train, evaluate against the champion, register, move an alias.

    Returns ``{"skipped": reason}`` when there is too little new (only once a champion
    exists): fewer than ``min_new_labels`` lines got a new label since the last training run
    (copies of labels it already had count for nothing), or the labels and settings are
    exactly those of the last training (it would register the same model again); or when
    there are fewer than ``min_labels`` in two classes or more.
    """
    rt = Runtime.current()
    p = TrainingParams.parse(params)
    current = rt.model()
    previous_offsets, previous_digest = tracking.last_training(rt.stack)
    got = stores.read_labels(
        rt.kafka_config(),
        rt.topics.labels,
        rt.taxonomy(),
        "log-enricher-training",
        since=previous_offsets,
    )
    miner = stores.restore_miner(rt.kafka_config(), rt.topics.templates, "log-enricher-training")
    labels = training.by_template(got.labels, miner.resolve)
    ends, read = got.ends, got.read
    capped = training.cap_labels(labels, p.max_labels)
    dropped = len(labels) - len(capped)
    if dropped:
        log.warning(
            "%d labelled lines, over max_labels=%d: training on every human label and the "
            "newest rule labels; %d oldest rule labels left out",
            len(labels),
            p.max_labels,
            dropped,
        )
    labels = capped
    new = got.changed
    if current is not None and new < p.min_new_labels:
        return {
            "skipped": f"{new} new or changed labels since the last training, fewer than "
            f"{p.min_new_labels}"
        }
    digest = training.label_set_digest(
        labels.values(), C=p.C, max_labels=p.max_labels, model=MODEL_DESCRIPTION
    )
    if current is not None and digest == previous_digest:
        return {
            "skipped": "the labels and settings are those of the last training: it would "
            "register the same model again"
        }
    train_set, eval_set = training.split(labels.values())
    classes = {x.label for x in train_set}
    if len(train_set) < p.min_labels or len(classes) < 2:
        return {
            "skipped": f"{len(train_set)} training labels in {len(classes)} classes; "
            f"need {p.min_labels} in 2 or more"
        }
    model = training.train(train_set, C=p.C)
    # imitation of the rules and agreement with people, apart; the champion is chosen on
    # people's labels once the slice holds enough of them
    decided_on, yardstick = training.yardstick(eval_set)
    report = training.evaluate(model, yardstick)
    champion_report = training.evaluate(current.pipeline, yardstick) if current else None
    by_source = {
        source: training.evaluate(model, [x for x in eval_set if x.source == source])
        for source in (RULES, HUMAN)
    }
    extra_metrics = {
        f"{name}_{metric}": r[metric]
        for name, r in (("rules", by_source[RULES]), ("people", by_source[HUMAN]))
        if r["n"]
        for metric in ("accuracy", "macro_f1")
    }
    humans = sum(1 for x in labels.values() if x.source == HUMAN)
    rules_report = rule_report.rule_report(
        rule_report.label_lines(got.labels.values()),
        rt.rules(),
        rt.formats(),
        compare=rule_report.WITHOUT_SEVERITY,  # a stored label's severity may be its line's
    )
    if rules_report["flagged"]:
        log.warning(
            "rules contradicting people's labels (fix them in the rules file): %s",
            ", ".join(rules_report["flagged"]),
        )
    decision = tracking.record_training(
        rt.stack,
        model,
        report,
        (str(current.version), champion_report) if current and champion_report else None,
        params={
            "n_labels": len(labels),
            "n_label_records_read": read,
            "max_labels": p.max_labels,
            "n_labels_over_cap": dropped,
            "n_train": len(train_set),
            "n_eval": len(eval_set),
            "n_eval_people": by_source[HUMAN]["n"],
            "decided_on": "people" if decided_on == HUMAN else "rules",
            "n_human_labels": humans,
            "n_rule_labels": len(labels) - humans,
            "n_classes": len(classes),
            "new_labels": new,
            "eval_split": f"template id (else fingerprint) hash mod {defaults.EVAL_BUCKETS} == 0",
            "model": MODEL_DESCRIPTION,
            "C": p.C,
        },
        artifacts={
            "label_counts.json": training.class_counts(train_set),
            "eval_label_counts.json": training.class_counts(eval_set),
            "labels_offsets.json": {str(part): o for part, o in ends.items()},
            "rule_report.json": rules_report,
        },
        example_texts=[x.text for x in train_set[:5]],
        labels_offsets=ends,
        label_set_digest=digest,
        extra_metrics={
            **extra_metrics,
            "rules_coverage": rules_report["coverage"],
            "rules_flagged": len(rules_report["flagged"]),
            "rules_never_fire": len(rules_report["never_fire"]),
        },
    )
    decision["rules_contradicting_people"] = rules_report["flagged"]
    decision["rules_never_fire"] = len(rules_report["never_fire"])
    log.info("training: %s", decision)
    return decision
