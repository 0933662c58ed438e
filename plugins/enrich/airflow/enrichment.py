"""The ``log_enrichment`` DAG's task bodies.

Written without Airflow's context, so they run the same in ``dag.test()``, on a Celery worker
or in a test: each takes the run's params (and what the DAG passes) and returns what the task
returns (its XCom). Everything a run needs is validated in ``preflight`` before anything is
consumed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from enrich.airflow.params import EnrichmentParams
from enrich.airflow.runtime import Runtime
from enrich.engine.routing import EnrichSettings
from enrich.io import topics, transactions

log = logging.getLogger(__name__)
# counts a run's summary adds up over its partitions
SUMMED = (
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


def enrich_settings(rt: Runtime, params: EnrichmentParams) -> EnrichSettings:
    return EnrichSettings(
        threshold=params.threshold,
        policy=params.policy,
        review_k=params.review_k,
        strategy=params.strategy,
        taxonomy=rt.taxonomy(),
    )


def preflight(params: Mapping[str, Any]) -> list[int]:
    """Check everything before consuming; return the input topic's partitions.

    Fails (with what to fix) on: invalid settings or Params, a bad rules or taxonomy file, an
    unreachable broker, a model alias that points at a version which cannot be loaded. Creates
    missing topics.
    """
    rt = Runtime.current()
    enrich_settings(rt, EnrichmentParams.parse(params))
    loaded = rt.rules()
    formats = rt.formats()
    config = rt.kafka_config()
    topics.ensure_topics(config, topics.project_topics(rt.stack))
    model = rt.model()
    partitions = sorted(range(topics.list_topics(config)[rt.topics.raw]))
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
        transactional_id=transactions.transactional_id(dag_id, rt.topics.raw, partition),
        max_batch_size=p.max_batch_size,
        formats=rt.formats(),
    )
    summary = run.as_dict()
    log.info("partition %s: %s", partition, summary)
    return summary


def summarize(runs: Sequence[Mapping[str, Any]], what: str = "run") -> dict[str, Any]:
    """Totals over the partitions' runs: logged as ``<what> summary: ...`` and returned."""
    total: dict[str, Any] = {k: sum(int(r.get(k) or 0) for r in runs) for k in SUMMED}
    weighted = [(r["mean_confidence"], r.get("out", 0)) for r in runs if r.get("mean_confidence")]
    n = sum(w for _c, w in weighted)
    total["mean_confidence"] = round(sum(c * w for c, w in weighted) / n, 4) if n else None
    total["offsets"] = {str(r["partition"]): r["offsets"] for r in runs}
    total["model_version"] = next((r.get("model_version") for r in runs if r.get("in")), None)
    log.info("%s summary: %s", what, total)
    return total
