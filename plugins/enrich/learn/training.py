"""Training data and evaluation: pure functions the training DAG and the tests share.

Labels come from the compacted labels topic as :class:`LabelRecord`; ``merge_labels`` keeps
one per unit (``LabelRecord.unit``: a template a person labelled, a template's lines of one
rule label, or a line); a human label outranks a rule label, and a later label of the same
source replaces an earlier one. ``by_template`` then follows templates that generalised and
lets a person's answer about a template replace the rules' labels of its lines. The
train/evaluation split is a function of the template (else the fingerprint) alone, so every
model version is evaluated on comparable data and no template is on both sides.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, classification_report, confusion_matrix, f1_score
from sklearn.pipeline import Pipeline

from enrich import defaults
from enrich.core.formats import HUMAN, RULES, SOURCE_RANK, LabelRecord
from enrich.learn.model import make_learner


def merge_labels(
    labels: Iterable[LabelRecord], into: dict[str, LabelRecord] | None = None
) -> dict[str, LabelRecord]:
    """One label per unit (``LabelRecord.unit``): human over rules, then the latest
    ``labelled_at`` (a tie: the later one). ``into``: labels merged so far, updated in place
    and returned."""
    best: dict[str, LabelRecord] = {} if into is None else into
    for item in labels:
        unit = item.unit
        current = best.get(unit)
        if current is None or (SOURCE_RANK[item.source], item.labelled_at or 0) >= (
            SOURCE_RANK[current.source],
            current.labelled_at or 0,
        ):
            best[unit] = item
    return best


def by_template(
    merged: dict[str, LabelRecord], resolve: Callable[[str], str] | None = None
) -> dict[str, LabelRecord]:
    """The labels training learns from: each label's template as it is now (``resolve``: an
    id that generalised gives the template it became, so its labels follow), merged again,
    and without the rule labels of a template a person labelled (their answer labels every
    line of it)."""
    out: dict[str, LabelRecord] = {}
    for x in merged.values():
        if resolve is not None and x.template_id is not None:
            tid = resolve(x.template_id)
            if tid != x.template_id:
                x = replace(x, template_id=tid)
        merge_labels([x], into=out)
    people = {x.template_id for x in out.values() if x.source == HUMAN and x.template_id}
    if not people:
        return out
    return {u: x for u, x in out.items() if x.source == HUMAN or x.template_id not in people}


def changed_labels(before: dict[str, LabelRecord], after: dict[str, LabelRecord]) -> int:
    """How many units have a label in ``after`` that ``before`` did not have (a new
    line, another label, or a person's label over a rule's): the new information a training
    would learn from. Re-sent copies of known labels count for nothing."""
    return sum(
        1
        for fp, item in after.items()
        if (old := before.get(fp)) is None or (old.label, old.source) != (item.label, item.source)
    )


def label_set_digest(labels: Iterable[LabelRecord], **settings: Any) -> str:
    """A digest of what a training learns from: each unit's label, source and text, and the
    training ``settings``. Equal digests train the same model."""
    import hashlib
    import json

    h = hashlib.sha256(json.dumps(sorted(settings.items()), default=str).encode())
    for x in sorted(labels, key=lambda x: x.unit):
        h.update(json.dumps([x.unit, x.label.class_name, x.source, x.fingerprint]).encode())
    return h.hexdigest()


def cap_labels(
    labels: dict[str, LabelRecord], limit: int = defaults.MAX_LABELS
) -> dict[str, LabelRecord]:
    """At most ``limit`` labels (one per unit already): every human label first, then
    the most recently labelled rule labels. Eviction rule: the oldest rule labels go first; human
    labels go only if they alone exceed the cap (then the oldest of them). Ties break by
    unit, so the result does not depend on read order."""
    if len(labels) <= limit:
        return labels
    ranked = sorted(
        labels.values(),
        key=lambda x: (SOURCE_RANK[x.source], x.labelled_at or 0, x.unit),
        reverse=True,
    )
    return {x.unit: x for x in ranked[:limit]}


def is_eval(key: str) -> bool:
    """Deterministic hold-out: the hash (a template id or a fingerprint) decides, nothing
    else."""
    return int(key[:8], 16) % defaults.EVAL_BUCKETS == 0


def split(labels: Iterable[LabelRecord]) -> tuple[list[LabelRecord], list[LabelRecord]]:
    """Training and held-out labels; every label of one template on the same side."""
    ordered = sorted(labels, key=lambda x: x.unit)  # input order never matters
    train = [x for x in ordered if not is_eval(x.template_id or x.fingerprint)]
    held_out = [x for x in ordered if is_eval(x.template_id or x.fingerprint)]
    return train, held_out


def yardstick(
    held_out: Sequence[LabelRecord], min_people: int = defaults.MIN_PEOPLE_EVAL
) -> tuple[str, list[LabelRecord]]:
    """What a candidate and the champion are compared on: the held-out people's labels once
    there are ``min_people`` of them (the model matters where no rule decides, and only
    people say what is right there), else the held-out rule labels. ``(name, labels)``."""
    people = [x for x in held_out if x.source == HUMAN]
    if len(people) >= min_people:
        return HUMAN, people
    return RULES, [x for x in held_out if x.source == RULES]


def class_counts(labels: Sequence[LabelRecord]) -> dict[str, int]:
    return dict(sorted(Counter(x.label.class_name for x in labels).items()))


def train(
    labels: Sequence[LabelRecord], random_state: int = defaults.RANDOM_STATE, C: float = defaults.C
) -> Pipeline:
    """Fit a new model pipeline on ``labels`` (needs two classes or more)."""
    learner = make_learner(
        [x.text for x in labels], [x.label for x in labels], random_state=random_state, C=C
    )
    pipeline: Pipeline = learner.estimator
    return pipeline


def evaluate(pipeline: Any, labels: Sequence[LabelRecord]) -> dict[str, Any]:
    """Accuracy, macro-F1, a per-class report and a confusion matrix on ``labels``."""
    if not labels:
        return {"accuracy": None, "macro_f1": None, "n": 0}
    y_true = [x.label.class_name for x in labels]
    y_pred = list(pipeline.predict(np.asarray([x.text for x in labels], dtype=object)))
    classes = sorted(set(y_true) | set(y_pred))
    return {
        "n": len(labels),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        "report": classification_report(y_true, y_pred, output_dict=True, zero_division=0),
        "classes": classes,
        "confusion": confusion_matrix(y_true, y_pred, labels=classes).tolist(),
    }


def beats(candidate: dict[str, Any], champion: dict[str, Any] | None) -> bool:
    """Does the candidate take the champion's place? Macro-F1 first, then accuracy.

    Tie rule: an exact tie on both keeps the champion (a new version must be better to move
    the alias). No champion, or a champion that could not be scored, loses.
    """
    if champion is None or champion.get("macro_f1") is None:
        return True
    if candidate.get("macro_f1") is None:
        return False
    ours = (round(candidate["macro_f1"], 6), round(candidate["accuracy"], 6))
    theirs = (round(champion["macro_f1"], 6), round(champion["accuracy"], 6))
    return ours > theirs
