"""The review queue and people's answers: pure functions the ``labelling`` DAG runs.

The queue is the review topic: ``enrich_batch`` puts there, per batch, the templates whose
lines neither the model nor a rule could label, picked by the query strategy. A labelling
run reads it, follows templates that generalised since (``resolve``), drops every template a
person has already labelled, re-scores what is left with the current champion (the model may
have learned since the item was queued), and asks about the top ``k`` picked by the
strategy: one question per template, showing its line count, a few of its distinct lines
and the model's guess, weighted towards the templates with the most lines.

Nothing is taken off the queue by asking: an item leaves it only when a person's label for
its template is on the labels topic. A skipped, timed-out or refused question is simply
asked again by a later run.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

import numpy as np

from enrich import defaults
from enrich.core.formats import HUMAN, LabelRecord, ReviewItem, unit_template, with_template
from enrich.core.labels import FIELDS, Label, Taxonomy
from enrich.core.normalize import normalize_many
from enrich.core.rules import split_off
from enrich.learn.model import Model, unfitted_learner
from enrich.learn.strategies import get_strategy

SAVE = "Save label"
SKIP = "Skip"
OPTIONS = [SAVE, SKIP]
# Fields of a JSON log record worth showing next to the message, in this order.
CONTEXT_FIELDS = (
    "host",
    "hostname",
    "service",
    "app",
    "container",
    "container_name",
    "pod",
    "namespace",
    "source",
    "level",
    "logger",
    "timestamp",
    "@timestamp",
    # what the parser found in a line's header (enrich.core.parse)
    "format",
    "host.name",
    "service.name",
    "systemd.unit",
    "log.logger",
    "log.level",
    "process.pid",
)
MAX_SHOWN_CHARS = 4_000  # a question shows at most this much of a (very long) line
EXAMPLES = 3  # distinct lines a question shows of its template
MAX_EXAMPLE_CHARS = 500


def _current(unit: str, resolve: Callable[[str], str] | None) -> str:
    tid = unit_template(unit)
    return unit if resolve is None or tid is None else with_template(unit, resolve(tid))


def pending(
    items: Iterable[ReviewItem],
    labelled: set[str],
    resolve: Callable[[str], str] | None = None,
    templates: Mapping[str, tuple[str, int]] | None = None,
) -> list[ReviewItem]:
    """One item per template (per fingerprint for items queued before templates were
    mined), without those a person already labelled: the latest queued, with the lines and
    distinct examples of every item of its template. ``resolve``: a template id's current id
    (a template that generalised since); ``templates``: the current templates' text and
    line count (the templates topic), which a question shows when known."""
    done = {_current(u, resolve) for u in labelled}
    merged: dict[str, ReviewItem] = {}
    for item in items:
        if item.template_id is not None and resolve is not None:
            tid = resolve(item.template_id)
            if tid != item.template_id:
                item = replace(item, template_id=tid)
        unit = item.unit
        if unit in done or item.fingerprint in done:
            continue
        seen = merged.get(unit)
        if seen is None:
            merged[unit] = item
            continue
        newer, older = (
            (item, seen) if (item.queued_at or 0) >= (seen.queued_at or 0) else (seen, item)
        )
        examples = list(dict.fromkeys([*newer.examples, *older.examples]))[:EXAMPLES]
        merged[unit] = replace(newer, count=newer.count + older.count, examples=tuple(examples))
    out = []
    for _unit, item in sorted(merged.items()):
        known = (templates or {}).get(item.template_id or "")
        if known is not None:
            item = replace(item, template=known[0], count=max(item.count, known[1]))
        out.append(item)
    return out


@dataclass(frozen=True)
class Question:
    """What one form asks: a template (one line of it, its context, its line count and a
    few distinct lines), and the model's current guess."""

    fingerprint: str
    text: str
    fields: dict[str, Any]
    guess: dict[str, str]
    confidence: float | None
    score: float
    origin: str
    template_id: str | None = None
    template: str | None = None
    count: int = 1
    examples: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def pick_questions(
    items: Sequence[ReviewItem],
    model: Model | None,
    taxonomy: Taxonomy,
    k: int,
    strategy: str = defaults.STRATEGY,
    random_state: int = defaults.RANDOM_STATE,
) -> list[Question]:
    """The ``k`` items the model most needs, re-scored with ``model`` (None: no model yet),
    each weighted by its template's lines."""
    if k <= 0 or not items:
        return []
    query = get_strategy(strategy)
    weights = np.asarray([max(1, x.count) for x in items], dtype=np.float64)
    pool = np.asarray(normalize_many([x.text for x in items]), dtype=object)
    if model is not None:
        best, conf = model.predict_normalized(list(pool))
        guesses = [model.classes[int(i)] for i in best]
        confidences: list[float | None] = [round(float(c), 4) for c in conf]
        scorer = model.pipeline
    else:
        guesses = [taxonomy.fallback] * len(items)
        confidences = [None] * len(items)
        scorer = unfitted_learner()
    picked, scores = query(scorer, pool, min(k, len(items)), random_state, weights=weights)
    questions = []
    for j, score in zip(picked, scores, strict=True):
        i = int(j)
        item = items[i]
        questions.append(
            Question(
                item.fingerprint,
                item.text,
                context_fields(item.fields),
                guesses[i].to_dict(),
                confidences[i],
                round(float(score), 6) if math.isfinite(float(score)) else 0.0,
                item.origin,
                item.template_id,
                item.template,
                item.count,
                tuple(x for x in item.examples if x != item.text)[: EXAMPLES - 1],
            )
        )
    return questions


def context_fields(fields: Mapping[str, Any] | None) -> dict[str, Any]:
    """The source fields a person needs to judge a line (host, container, ...), if present."""
    if not fields:
        return {}
    return {
        name: fields[name]
        for name in CONTEXT_FIELDS
        if name in fields and isinstance(fields[name], (str, int, float))
    }


def subject(question: Mapping[str, Any]) -> str:
    conf = question.get("confidence")
    guess = question["guess"]
    how = f"{conf:.0%} sure" if isinstance(conf, (int, float)) else "no model yet"
    if question.get("template_id"):
        count = int(question.get("count") or 1)
        what = f"this template ({count:,} line{'s' if count != 1 else ''})"
    else:
        what = "this log line"
    return f"Label {what}: the model guesses {guess['severity']} ({how})"


def body(question: Mapping[str, Any]) -> str:
    """Markdown shown above the form. The line is data, never markup or a template."""
    text, marker = split_off(question["text"])
    shown = text if len(text) <= MAX_SHOWN_CHARS else text[:MAX_SHOWN_CHARS] + " …"
    fence = "`" * max(3, _longest_backtick_run(shown) + 1)
    lines = [f"{fence}text", shown, fence, ""]
    template = question.get("template")
    if question.get("template_id") and isinstance(template, str):
        count = int(question.get("count") or 1)
        others = [split_off(str(e))[0] for e in question.get("examples") or ()]
        others = [
            e if len(e) <= MAX_EXAMPLE_CHARS else e[:MAX_EXAMPLE_CHARS] + " …" for e in others
        ]
        quoted = [template, *others]
        fence = "`" * max(3, max(_longest_backtick_run(q) for q in quoted) + 1)
        lines += [
            f"This line is one of **{count:,}** line{'s' if count != 1 else ''} of the template "
            f"below (`<*>` stands for what varies): **your answer labels every line of it**, "
            "now and from the next enrichment run on.",
            "",
            f"{fence}text",
            template,
            fence,
            "",
        ]
        if others:
            lines += ["Other lines of it:", "", f"{fence}text", *others, fence, ""]
    if marker is not None:
        lines += [
            f"A rule (`{marker.lower()}`) tells lines like this one apart from others of their "
            "template: your answer applies to the lines that rule matches.",
            "",
        ]
    fields = question.get("fields") or {}
    if fields:
        lines += ["| field | value |", "|---|---|"]
        lines += [f"| {_cell(k)} | {_cell(v)} |" for k, v in fields.items()]
        lines.append("")
    guess = question["guess"]
    conf = question.get("confidence")
    lines.append(
        "**Model's guess:** "
        + " / ".join(_cell(guess[a]) for a in FIELDS)
        + (f" (confidence {conf:.2f})" if isinstance(conf, (int, float)) else " (no model yet)")
    )
    lines.append("")
    what = "template" if question.get("template_id") else "line"
    lines.append(
        f"Correct the three fields below and press **{SAVE}**, or **{SKIP}** to leave the "
        f"{what} in the queue for later. Source: `" + _cell(question.get("origin") or "?") + "`"
    )
    return "\n".join(lines)


def form_params(question: Mapping[str, Any], taxonomy: Taxonomy) -> dict[str, dict[str, Any]]:
    """The form: one choice per axis, from the taxonomy, pre-set to the model's guess."""
    guess = question["guess"]
    return {
        axis: {
            "default": guess[axis] if guess.get(axis) in getattr(taxonomy, axis) else None,
            "enum": list(getattr(taxonomy, axis)),
            "type": "string",
            "title": axis.replace("_", " ").capitalize(),
        }
        for axis in FIELDS
    }


def answer_label(params_input: Mapping[str, Any], taxonomy: Taxonomy) -> Label:
    """The label a person chose; ``ValueError`` naming the field and the allowed values."""
    problems = []
    for axis in FIELDS:
        value = params_input.get(axis)
        allowed = getattr(taxonomy, axis)
        if value not in allowed:
            problems.append(
                f"{axis} {value!r} is not in the taxonomy (one of: {', '.join(allowed)})"
            )
    if problems:
        raise ValueError("answer refused: " + "; ".join(problems))
    return Label(*(str(params_input[a]) for a in FIELDS))


def human_label(
    question: Mapping[str, Any], label: Label, by: str | None, answered_at: datetime | None
) -> LabelRecord:
    """The training label a person's answer becomes (``source: human``): the label of the
    question's template (of its line, for a question without one)."""
    tid = question.get("template_id")
    template = question.get("template")
    return LabelRecord(
        question["fingerprint"],
        question["text"],
        label,
        HUMAN,
        by=by,
        labelled_at=int(answered_at.timestamp() * 1000) if answered_at else None,
        template_id=tid if isinstance(tid, str) and tid else None,
        template=template if isinstance(template, str) else None,
    )


def _longest_backtick_run(text: str) -> int:
    longest = run = 0
    for c in text:
        run = run + 1 if c == "`" else 0
        longest = max(longest, run)
    return longest


def _cell(value: Any) -> str:
    """One table cell or inline value: no pipes, newlines or markup-significant characters."""
    out = str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
    for c in "*_[]<>`#":
        out = out.replace(c, "\\" + c)
    return out
