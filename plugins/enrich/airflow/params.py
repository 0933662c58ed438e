"""Each DAG's Params, typed, defined once: the DAG's ``Param``s and the task's values.

A DAG file declares ``params=EnrichmentParams.dag_params()`` (the form in the UI, validated by
Airflow when a run is triggered); a task reads ``EnrichmentParams.parse(context["params"])``
and gets typed values, with the same defaults (``enrich.defaults``). The schedules and
timeouts the DAG files read from the environment are here too, so DAG files import nothing
but this layer. Light: imports only ``airflow.sdk``, ``enrich.defaults`` and ``enrich.errors``
(DAG files parse fast).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import timedelta
from typing import Any, Self

from airflow.sdk import Param

from enrich import defaults
from enrich.errors import ConfigError

_CAST = {"integer": int, "number": float, "string": str, "object": dict}


def _param(default: Any, description: str, **schema: Any) -> Any:
    """A dataclass field whose metadata is its Param's JSON schema (``type`` is inferred
    from an ``enum`` as a string)."""
    schema.setdefault("type", "string")
    return field(default=default, metadata={"description": description, **schema})


def _max_batch_size(description: str) -> Any:
    """Messages per Kafka transaction, at most (``defaults.MAX_BATCH_SIZE_LIMIT`` keeps one
    inside the transaction timeout)."""
    return _param(
        defaults.MAX_BATCH_SIZE,
        description,
        type="integer",
        minimum=1,
        maximum=defaults.MAX_BATCH_SIZE_LIMIT,
    )


def _threshold() -> Any:
    """The routing threshold, as the enrichment and the backfill DAGs offer it."""
    return _param(
        defaults.THRESHOLD,
        "model confidence at or above which the model decides",
        type="number",
        minimum=0,
        maximum=1,
    )


def _drift(description: str, kind: str = "number", **schema: Any) -> Any:
    """A drift threshold: off (null) unless set."""
    return _param(None, description + " (empty: no alarm)", type=["null", kind], **schema)


def _policy() -> Any:
    """The routing policy, as the enrichment and the backfill DAGs offer it."""
    return _param(
        defaults.POLICY,
        "model_first: model, then rules, then review; rules_first: a matching rule decides",
        enum=list(defaults.POLICIES),
    )


class DagParams:
    """Base of the typed Params of one DAG (subclasses are frozen dataclasses)."""

    @classmethod
    def dag_params(cls) -> dict[str, Param]:
        """The DAG's ``params``: one ``Param`` per field, with its default and schema."""
        out = {}
        for f in fields(cls):  # type: ignore[arg-type]  # subclasses are dataclasses
            default = f.default_factory() if callable(f.default_factory) else f.default
            out[f.name] = Param(default, **f.metadata)
        return out

    @classmethod
    def parse(cls, params: Mapping[str, Any]) -> Self:
        """Typed values of a run's params; missing ones take the defaults. ConfigError
        names a value that does not have its field's type."""
        values = {}
        for f in fields(cls):  # type: ignore[arg-type]
            raw = params.get(f.name)
            if raw is None:
                continue
            kind = f.metadata["type"]
            cast = _CAST[next(t for t in kind if t != "null") if isinstance(kind, list) else kind]
            try:
                values[f.name] = cast(raw)
            except (TypeError, ValueError):
                raise ConfigError(
                    f"Param {f.name}={raw!r} is not of type {f.metadata['type']}"
                ) from None
        return cls(**values)


def time_budget_limit() -> int:
    """Seconds a ``log_enrichment`` task may keep enriching (``ENRICH_TIME_BUDGET_S``): the
    ``time_budget_s`` Param's default and largest value; the task and run timeouts follow."""
    raw = os.environ.get("ENRICH_TIME_BUDGET_S")
    return int(raw) if raw else defaults.TIME_BUDGET_S


def enrichment_timeouts() -> tuple[timedelta, timedelta]:
    """(a partition task's execution timeout, the run's timeout): the budget plus the batch
    under way and start-up, so a hung task or run fails and the next run can start."""
    task = timedelta(seconds=time_budget_limit() + defaults.TASK_TIMEOUT_MARGIN_S)
    return task, task + timedelta(seconds=defaults.TASK_TIMEOUT_MARGIN_S)


@dataclass(frozen=True)
class EnrichmentParams(DagParams):
    max_batch_size: int = _max_batch_size(
        "messages per Kafka transaction, at most (a task commits one micro-batch after another)"
    )
    time_budget_s: int = _param(
        time_budget_limit(),
        "seconds a partition's task keeps enriching micro-batches while input is waiting "
        "(0: one micro-batch); a run stopped by it starts the next run at once",
        type="integer",
        minimum=0,
        maximum=time_budget_limit(),
    )
    threshold: float = _threshold()
    policy: str = _policy()
    review_k: int = _param(
        defaults.REVIEW_K, "review queries per micro-batch", type="integer", minimum=0
    )
    strategy: str = _param(defaults.STRATEGY, "query strategy", enum=list(defaults.STRATEGIES))
    start_from: str = _param(
        defaults.COMMITTED,
        "where the consumer group starts on a partition it has no committed offset for: "
        "committed (refuse: the first run must choose), earliest (the retained history), "
        "latest (lines from now on); a group's committed offsets always win",
        enum=list(defaults.START_FROM),
    )
    consumer_group: str = _param(
        defaults.CONSUMER_GROUP, "consumer group whose offsets are the live cursor"
    )
    # drift alarms: a run whose figures cross one fails visibly (or calls the deployment's
    # ENRICH_DRIFT_CALLBACK) and queues a labelling run
    max_new_templates: int | None = _drift(
        "drift alarm: more new templates than this in one run", "integer", minimum=0
    )
    max_needs_review_share: float | None = _drift(
        "drift alarm: a larger share of the run's lines needing review", minimum=0, maximum=1
    )
    min_mean_confidence: float | None = _drift(
        "drift alarm: the model's mean confidence below this", minimum=0, maximum=1
    )
    min_rule_coverage: float | None = _drift(
        "drift alarm: a smaller share of the run's lines labelled by the rules",
        minimum=0,
        maximum=1,
    )
    min_people_share: float | None = _drift(
        "drift alarm: a smaller share of the run's lines in templates people labelled",
        minimum=0,
        maximum=1,
    )


@dataclass(frozen=True)
class TrainingParams(DagParams):
    min_new_labels: int = _param(
        defaults.MIN_NEW_LABELS,
        "skip unless this many labels arrived since the last training",
        type="integer",
        minimum=0,
    )
    min_labels: int = _param(
        defaults.MIN_LABELS, "fewest training labels for a model", type="integer", minimum=2
    )
    C: float = _param(
        defaults.C,
        "logistic regression: inverse regularisation strength",
        type="number",
        exclusiveMinimum=0,
    )
    max_labels: int = _param(
        defaults.MAX_LABELS,
        "train on at most this many labelled lines: every human label, then the newest rule labels",
        type="integer",
        minimum=2,
    )
    bootstrap_sample: int = _param(
        defaults.BOOTSTRAP_SAMPLE,
        "recent messages per partition to label with rules when no champion exists",
        type="integer",
        minimum=0,
    )


@dataclass(frozen=True)
class BackfillParams(DagParams):
    offsets: dict[str, Any] = field(
        default_factory=dict,
        metadata={
            "type": "object",
            "description": 'explicit ranges instead of dates: {"0": [from, to], ...}',
        },
    )
    model: str = _param(defaults.BACKFILL_MODEL, "alias, version number, or none (rules only)")
    target_topic: str = _param(
        "",
        "empty: <output topic>.backfill (dead letters in <target>.dlq); the live output topic "
        "only if named here (second copies, told apart by their enrich-backfill header)",
    )
    max_batch_size: int = _max_batch_size(
        "messages per transaction, at most; a retried task resumes after the last one"
    )
    lateness_s: int = _param(
        defaults.BACKFILL_LATENESS_S,
        "seconds after the interval's end a message stamped inside it may still arrive: the "
        "range is read this much further and filtered by timestamp",
        type="integer",
        minimum=0,
    )
    threshold: float = _threshold()
    policy: str = _policy()


@dataclass(frozen=True)
class LabellingParams(DagParams):
    k: int = _param(
        defaults.QUESTIONS_K,
        "questions per run",
        type="integer",
        minimum=1,
        maximum=defaults.QUESTIONS_K_MAX,
    )
    strategy: str = _param(
        defaults.STRATEGY,
        "which queued lines to ask about first",
        enum=list(defaults.STRATEGIES),
    )
    queue_window: int = _param(
        defaults.QUEUE_WINDOW, "newest review items read per partition", type="integer", minimum=1
    )


# ---- schedules and timeouts: environment over defaults ---------------------------------


def enrichment_schedule() -> Any:
    """``log_enrichment``'s schedule: its cron (``ENRICH_SCHEDULE``), or, event-driven (the
    default; ``ENRICH_EVENT_DRIVEN=0`` turns it off), the input Asset watched by the
    enrichment group's lag (``ENRICH_WATCH_INTERVAL_S`` between polls) or the cron,
    whichever comes first."""
    cron = os.environ.get("ENRICH_SCHEDULE") or defaults.ENRICH_SCHEDULE
    if os.environ.get("ENRICH_EVENT_DRIVEN", "1").strip().lower() in ("0", "false", "no", ""):
        return cron
    from airflow.sdk import CronTriggerTimetable
    from airflow.sdk.definitions.timetables.assets import AssetOrTimeSchedule

    from enrich.airflow.triggers import input_asset

    interval = float(os.environ.get("ENRICH_WATCH_INTERVAL_S") or defaults.WATCH_INTERVAL_S)
    return AssetOrTimeSchedule(
        timetable=CronTriggerTimetable(cron, timezone="UTC"),
        assets=input_asset(event_driven=True, poll_interval=interval),
    )


def labelling_schedule() -> str:
    return os.environ.get("ENRICH_LABELLING_SCHEDULE") or defaults.LABELLING_SCHEDULE


def answer_timeout() -> timedelta:
    raw = os.environ.get("ENRICH_ANSWER_TIMEOUT_HOURS")
    return timedelta(hours=float(raw) if raw else defaults.ANSWER_TIMEOUT_HOURS)


def training_retry_delay() -> timedelta:
    raw = os.environ.get("ENRICH_RETRY_DELAY_SECONDS")
    return timedelta(seconds=float(raw) if raw else defaults.RETRY_DELAY_SECONDS)
