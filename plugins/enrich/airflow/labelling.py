"""The ``labelling`` DAG's task bodies: pick questions from the review queue, save answers."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from enrich.airflow.params import LabellingParams
from enrich.airflow.runtime import Runtime
from enrich.core.formats import ReviewItem
from enrich.engine import review
from enrich.io import stores, topics

log = logging.getLogger(__name__)
READER_GROUP = "log-enricher-labelling"  # never joined, nothing committed


def review_queue(rt: Runtime, window: int) -> tuple[list[ReviewItem], set[str]]:
    """The review queue's items waiting for a person (one per template, as templates are
    now: the templates topic says which generalised and their line counts), and what people
    have labelled (``LabelRecord.unit``). Nothing is committed, so reading never takes an
    item away."""
    config = rt.kafka_config()
    items = stores.read_review_items(config, rt.topics.review, window, READER_GROUP)
    labelled = stores.human_labelled(config, rt.topics.labels, READER_GROUP)
    miner = stores.restore_miner(config, rt.topics.templates, READER_GROUP)
    templates = {tid: (text, count) for tid, text, count in miner.templates()}
    waiting = review.pending(items, labelled, miner.resolve, templates)
    log.info(
        "review queue: %d items read, %d templates or lines labelled by people, %d waiting",
        len(items),
        len(labelled),
        len(waiting),
    )
    return waiting, labelled


def pick_questions(params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The labelling DAG's first task: the top ``k`` questions from the review queue.

    Drops templates a person already labelled, keeps one item per template, re-scores with
    the champion and picks with ``strategy`` (weighted by the templates' lines). Returns one
    ``{"question": ...}`` per question (the mapped task's arguments).
    """
    rt = Runtime.current()
    p = LabellingParams.parse(params)
    topics.ensure_topics(rt.kafka_config(), topics.project_topics(rt.stack))
    waiting, _labelled = review_queue(rt, p.queue_window)
    questions = review.pick_questions(waiting, rt.model(), rt.taxonomy(), p.k, p.strategy)
    log.info("asking %d questions", len(questions))
    return [{"question": q.to_dict()} for q in questions]


def save_answers(
    answers: Sequence[Mapping[str, Any] | None], asked: int | None = None
) -> dict[str, Any]:
    """The labelling DAG's last task: each ``Save label`` answer → a human training label.

    Skipped and timed-out questions write nothing: the item stays in the queue and a later
    run asks again. Labels go to the compacted labels topic keyed ``human:t:<template id>``,
    so a later answer about the same template replaces an earlier one; enrichment applies it
    to every line of the template from its next run on.
    """
    rt = Runtime.current()
    tax = rt.taxonomy()
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
        stores.write_labels(rt.kafka_config(), rt.topics.labels, labels)
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
