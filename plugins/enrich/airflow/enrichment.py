"""The ``log_enrichment`` DAG's task bodies.

Written without Airflow's context, so they run the same in ``dag.test()``, on a Celery worker
or in a test: each takes the run's params (and what the DAG passes) and returns what the task
returns (its XCom). Everything a run needs is validated in ``preflight`` before anything is
consumed.
"""

from __future__ import annotations

import importlib
import logging
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

from enrich import defaults
from enrich.airflow.params import EnrichmentParams
from enrich.airflow.runtime import Runtime
from enrich.core.labels import Taxonomy
from enrich.engine.routing import EnrichSettings
from enrich.errors import ConfigError
from enrich.io import reading, topics, transactions
from enrich.learn.model import Model

log = logging.getLogger(__name__)
# counts a run's summary adds up over its partitions
SUMMED = (
    "in",
    "out",
    "dead_letters",
    "by_people",
    "by_model",
    "by_rules",
    "needs_review",
    "labels",
    "queries",
    "already_queued",
    "produced",
    "lost_to_retention",
)
# a live run's, not a backfill's; new_templates: those the tasks' batches started (the first
# drift signal; a template two partitions' tasks both started in one run counts twice)
SUMMED_IF_PRESENT = ("batches", "lag", "new_templates")


def enrich_settings(rt: Runtime, params: EnrichmentParams) -> EnrichSettings:
    return EnrichSettings(
        threshold=params.threshold,
        policy=params.policy,
        review_k=params.review_k,
        strategy=params.strategy,
        taxonomy=rt.taxonomy(),
        threads=rt.stack.front_threads,
    )


def preflight(params: Mapping[str, Any]) -> list[int]:
    """Check everything before consuming; return the input topic's partitions.

    Fails (with what to fix) on: invalid settings or Params, a bad rules or taxonomy file, an
    unreachable broker, an output topic with fewer partitions than the input, a consumer
    group with no committed offsets and no ``start_from``, a model alias that points at a
    version which cannot be loaded or whose classes the taxonomy no longer has. Creates
    missing topics.
    """
    rt = Runtime.current()
    p = EnrichmentParams.parse(params)
    settings = enrich_settings(rt, p)
    loaded = rt.rules()
    formats = rt.formats()
    config = rt.kafka_config()
    topics.ensure_topics(config, topics.project_topics(rt.stack))
    counts = topics.list_topics(config)
    partitions = sorted(range(counts[rt.topics.raw]))
    topics.check_output_partitions(counts, rt.topics.raw, rt.topics.enriched)
    if p.start_from == defaults.COMMITTED:
        offsets = reading.committed_offsets(config, p.consumer_group, rt.topics.raw, partitions)
        missing = [q for q, offset in sorted(offsets.items()) if offset < 0]
        if missing:
            raise ConfigError(
                f"consumer group {p.consumer_group!r}: "
                + reading.no_offsets_message(rt.topics.raw, missing)
            )
    model = rt.model()
    if model is not None:
        check_classes(model, settings.taxonomy)
    log.info(
        "preflight ok: %d rules from %s, %d log formats, model %s, %d partitions of %s",
        len(loaded),
        rt.stack.rules_file,
        len(formats),
        f"v{model.version}" if model else "none (bootstrap routing)",
        len(partitions),
        rt.topics.raw,
    )
    return partitions


def check_classes(model: Model, taxonomy: Taxonomy) -> None:
    """ConfigError when the model can label a line with a value the taxonomy no longer has
    (a value renamed or removed after the model was trained)."""
    stale = taxonomy.unknown_values(model.classes)
    if stale:
        raise ConfigError(
            f"model {model.name} v{model.version} labels with {', '.join(stale)}, which the "
            "taxonomy no longer has: retrain it (trigger model_training with min_new_labels=0; "
            "relabel what carried the old values), or run rules-only until then (remove the "
            "champion alias)"
        )


def enrich_partition(partition: int, params: Mapping[str, Any], dag_id: str) -> dict[str, Any]:
    """One partition's micro-batch, exactly once (``enrich.io.transactions``)."""
    rt = Runtime.current()
    p = EnrichmentParams.parse(params)
    run = transactions.enrich_partition(
        rt.kafka_config(),
        rt.topics,
        partition,
        rt.model(),
        rt.rules(),
        enrich_settings(rt, p),
        group_id=p.consumer_group,
        transactional_id=transactions.transactional_id(p.consumer_group, rt.topics.raw, partition),
        max_batch_size=p.max_batch_size,
        formats=rt.formats(),
        start_from=p.start_from,
        people=rt.people(),
        queued=rt.queued() if p.review_k else (),
        time_budget_s=p.time_budget_s,
    )
    summary = run.as_dict()
    log.info("partition %s: %s", partition, summary)
    return summary


def summarize(runs: Sequence[Mapping[str, Any]], what: str = "run") -> dict[str, Any]:
    """Totals over the partitions' runs: logged as ``<what> summary: ...`` and returned."""
    total: dict[str, Any] = {k: sum(int(r.get(k) or 0) for r in runs) for k in SUMMED}
    for k in SUMMED_IF_PRESENT:
        if any(k in r for r in runs):
            total[k] = sum(int(r.get(k) or 0) for r in runs)
    if any("templates" in r for r in runs):  # the templates the best-informed task knew
        total["templates"] = max(int(r.get("templates") or 0) for r in runs)
    if any("behind" in r for r in runs):
        total["behind"] = any(r.get("behind") for r in runs)
    weighted = [(r["mean_confidence"], r.get("out", 0)) for r in runs if r.get("mean_confidence")]
    n = sum(w for _c, w in weighted)
    total["mean_confidence"] = round(sum(c * w for c, w in weighted) / n, 4) if n else None
    out = total["out"]
    # the share of the run's lines in templates people labelled (their answers' reach) and
    # of those that need a person
    total["labelled_template_share"] = round(total["by_people"] / out, 4) if out else None
    total["needs_review_share"] = round(total["needs_review"] / out, 4) if out else None
    total["rule_coverage"] = round(total["by_rules"] / out, 4) if out else None
    total["offsets"] = {str(r["partition"]): r["offsets"] for r in runs}
    total["model_version"] = next((r.get("model_version") for r in runs if r.get("in")), None)
    log.info("%s summary: %s", what, total)
    return total


def record_run(total: Mapping[str, Any], dag_run: str) -> str | None:
    """Log a run's summary figures to MLflow (``tracking.record_enrichment``). Monitoring
    never fails the run: with MLflow unreachable, a warning says so and the summary stays
    the task's output. Returns the MLflow run id, or None."""
    from enrich.io import tracking

    rt = Runtime.current()
    try:
        return tracking.record_enrichment(rt.stack, dict(total), int(time.time() * 1000), dag_run)
    except Exception as err:  # any tracking failure: warn, keep enriching
        log.warning("run figures not logged to MLflow: %s", err)
        return None


# drift alarms: (the run summary's figure, the Param that bounds it, "max" or "min")
DRIFT = (
    ("new_templates", "max_new_templates", "max"),
    ("needs_review_share", "max_needs_review_share", "max"),
    ("mean_confidence", "min_mean_confidence", "min"),
    ("rule_coverage", "min_rule_coverage", "min"),
    ("labelled_template_share", "min_people_share", "min"),
)
DRIFT_CALLBACK_ENV = "ENRICH_DRIFT_CALLBACK"


def drift_alarms(total: Mapping[str, Any], params: EnrichmentParams) -> list[str]:
    """The drift thresholds (Params) a run's summary crosses, each said as what to look at;
    [] when none is set or crossed, or the run saw no lines."""
    if not total.get("out"):
        return []
    alarms = []
    for figure, param, bound in DRIFT:
        limit, value = getattr(params, param), total.get(figure)
        if limit is None or value is None:
            continue
        if (bound == "max" and value > limit) or (bound == "min" and value < limit):
            word = "above" if bound == "max" else "below"
            alarms.append(f"{figure} {value} is {word} {param}={limit}")
    return alarms


def publish_metrics(total: Mapping[str, Any], dag_id: str) -> int:
    """The run's figures as Airflow metrics (StatsD or OpenTelemetry, as the deployment's
    ``[metrics]`` configures; nothing without one): gauges ``log_enricher.<figure>``, tagged
    with the DAG id, so existing dashboards chart them next to Airflow's own. Returns how
    many were set."""
    from airflow.sdk.observability.stats import Stats

    from enrich.io.tracking import RUN_METRICS

    sent = 0
    for name in RUN_METRICS:
        value = total.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            Stats.gauge(f"log_enricher.{name}", float(value), tags={"dag_id": dag_id})
            sent += 1
    return sent


def raise_drift(alarms: Sequence[str], total: Mapping[str, Any]) -> str:
    """Act on a run's drift alarms: call the deployment's callback
    (``ENRICH_DRIFT_CALLBACK=package.module:function``, called with the alarms and the run's
    summary) and return what it was told, or, without one, fail the task with the alarms."""
    from airflow.sdk.exceptions import AirflowFailException

    message = "drift: " + "; ".join(alarms)
    target = os.environ.get(DRIFT_CALLBACK_ENV, "").strip()
    if not target:
        raise AirflowFailException(
            message + " (a labelling run is queued for the new templates; raise the Params "
            "or set ENRICH_DRIFT_CALLBACK to be told instead of failing)"
        )
    module, sep, name = target.partition(":")
    if not sep:
        raise ConfigError(f"{DRIFT_CALLBACK_ENV}={target!r}: expected package.module:function")
    callback = getattr(importlib.import_module(module), name)
    callback(list(alarms), dict(total))
    log.warning("%s (told %s)", message, target)
    return message
