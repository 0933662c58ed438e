"""MLflow tracking at the edge: the experiment, training runs, the registry's aliases.

The tracking URI comes from ``MLFLOW_TRACKING_URI``; artifacts of the experiment go to
``ENRICH_MLFLOW_ARTIFACT_ROOT`` unless a tracking server decides. Secrets never reach params:
callers pass counts and settings only.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from enrich import defaults
from enrich.config import StackSettings
from enrich.io.models import SKOPS_TRUSTED_TYPES, quiet_skops
from enrich.learn.training import beats

log = logging.getLogger(__name__)
# the labels-topic end offsets a training run read, as a run tag: the next run counts what
# arrived since
LABELS_OFFSETS_TAG = "labels_offsets"
LABEL_SET_TAG = "label_set_digest"


def ensure_experiment(settings: StackSettings, name: str | None = None) -> str:
    """Return the id of the project's MLflow experiment (or of the experiment ``name``),
    creating it if it does not exist.

    Idempotent. With a local (file or SQLite) tracking store the experiment's artifacts go to
    ``settings.mlflow_artifact_root``; with a tracking server, the server's default applies.
    """
    import mlflow
    from mlflow.tracking import MlflowClient

    name = name or settings.experiment
    client = MlflowClient()
    existing = client.get_experiment_by_name(name)
    if existing is not None:
        return str(existing.experiment_id)
    artifact_location = None
    if not mlflow.get_tracking_uri().startswith(("http://", "https://", "databricks")):
        root = Path(settings.mlflow_artifact_root)
        root.mkdir(parents=True, exist_ok=True)
        artifact_location = (root / name).as_uri()
    experiment_id = client.create_experiment(name, artifact_location=artifact_location)
    log.info("created MLflow experiment %s (%s)", name, experiment_id)
    return str(experiment_id)


# what each enrichment run logs to MLflow, from its summary (``enrichment.summarize``)
RUN_METRICS = (
    "in",
    "out",
    "dead_letters",
    "templates",
    "new_templates",
    "labelled_template_share",
    "needs_review_share",
    "rule_coverage",
    "mean_confidence",
    "by_people",
    "by_model",
    "by_rules",
    "needs_review",
)
DAY_TAG = "enrichment_day"


def enrichment_experiment(settings: StackSettings) -> str:
    """The experiment enrichment runs' figures go to, apart from the training runs users
    compare model versions in."""
    return f"{settings.experiment}-enrichment"


def record_enrichment(
    settings: StackSettings, summary: dict[str, Any], when_ms: int, dag_run: str
) -> str:
    """Log a run's figures (``RUN_METRICS`` present in ``summary``) as MLflow metrics at
    ``when_ms``, in one MLflow run per UTC day of the ``<experiment>-enrichment``
    experiment, so each metric is a time series (step: epoch seconds) an operator charts:
    templates seen, new templates (the first drift signal), the share of lines in templates
    people labelled, the share needing review. Returns the MLflow run id."""
    from datetime import UTC, datetime

    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    experiment_id = ensure_experiment(settings, enrichment_experiment(settings))
    day = datetime.fromtimestamp(when_ms / 1000, UTC).date().isoformat()
    found = client.search_runs([experiment_id], f"tags.{DAY_TAG} = '{day}'", max_results=1)
    if found:
        run_id = found[0].info.run_id
    else:
        run = client.create_run(experiment_id, run_name=f"enrichment {day}", tags={DAY_TAG: day})
        run_id = run.info.run_id
    step = when_ms // 1000
    metrics = [
        Metric(k, float(summary[k]), when_ms, step)
        for k in RUN_METRICS
        if isinstance(summary.get(k), (int, float)) and not isinstance(summary.get(k), bool)
    ]
    client.log_batch(run_id, metrics=metrics)
    client.set_tag(run_id, "last_dag_run", dag_run)
    client.set_terminated(run_id, "FINISHED")
    return str(run_id)


def registry_status(settings: StackSettings) -> dict[str, object]:
    """What the registry holds for the project's model: versions and aliases (read only)."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    try:
        model = client.get_registered_model(settings.registered_model)
    except MlflowException as err:
        if err.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        return {"registered_model": settings.registered_model, "versions": 0, "aliases": {}}
    versions = client.search_model_versions(f"name = '{settings.registered_model}'")
    return {
        "registered_model": settings.registered_model,
        "versions": len(versions),
        "aliases": {alias: str(version) for alias, version in model.aliases.items()},
    }


def record_training(
    settings: StackSettings,
    pipeline: Any,
    report: dict[str, Any],
    champion: tuple[str, dict[str, Any]] | None,
    params: dict[str, Any],
    artifacts: dict[str, Any],
    example_texts: list[str],
    labels_offsets: dict[int, int] | None = None,
    label_set_digest: str | None = None,
    extra_metrics: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Log one training run, register its model, and move an alias.

    The new version becomes ``champion`` only if it beats the current champion on the same
    held-out labels (``report``; ``training.yardstick`` chooses them; ``training.beats``:
    macro-F1, then accuracy; a tie keeps the champion); ``extra_metrics`` are logged as they are,
    otherwise ``challenger``. The decision and both scores are the run's tags and metrics.
    Returns that decision. Secrets never reach params: callers pass counts and settings only.
    """
    import mlflow
    import pandas as pd
    from mlflow.models import infer_signature
    from mlflow.tracking import MlflowClient

    experiment_id = ensure_experiment(settings)
    champion_version, champion_report = champion if champion else (None, None)
    promote = beats(report, champion_report)
    decision = "promoted to champion" if promote else "kept as challenger"
    example = pd.DataFrame({"text": example_texts[:5]})
    with mlflow.start_run(experiment_id=experiment_id, run_name="train") as run:
        mlflow.log_params(params)
        mlflow.log_metrics(
            {"accuracy": report["accuracy"], "macro_f1": report["macro_f1"]} if report["n"] else {}
        )
        if extra_metrics:
            mlflow.log_metrics(extra_metrics)
        if champion_report and champion_report.get("n"):
            mlflow.log_metrics(
                {
                    "champion_accuracy": champion_report["accuracy"],
                    "champion_macro_f1": champion_report["macro_f1"],
                }
            )
        for name, content in artifacts.items():
            mlflow.log_dict(content, name)
        if report["n"]:
            mlflow.log_dict(report["report"], "classification_report.json")
            mlflow.log_figure(_confusion_figure(report), "confusion_matrix.png")
        with quiet_skops():
            info = mlflow.sklearn.log_model(
                pipeline,
                name="model",
                signature=infer_signature(example, pipeline.predict(example)),
                input_example=example,
                skops_trusted_types=SKOPS_TRUSTED_TYPES,
                registered_model_name=settings.registered_model,
            )
        version = str(info.registered_model_version)
        client = MlflowClient()
        alias = defaults.CHAMPION if promote else defaults.CHALLENGER
        client.set_registered_model_alias(settings.registered_model, alias, version)
        mlflow.set_tags(
            {
                "decision": decision,
                "alias": alias,
                "model_version": version,
                "champion_before": champion_version or "none",
                LABELS_OFFSETS_TAG: json.dumps(
                    {str(p): o for p, o in (labels_offsets or {}).items()}
                ),
                LABEL_SET_TAG: label_set_digest or "",
            }
        )
    return {
        "run_id": run.info.run_id,
        "version": version,
        "alias": alias,
        "decision": decision,
        "candidate": {"accuracy": report.get("accuracy"), "macro_f1": report.get("macro_f1")},
        "champion": {
            "version": champion_version,
            "accuracy": (champion_report or {}).get("accuracy"),
            "macro_f1": (champion_report or {}).get("macro_f1"),
        },
    }


def last_training(settings: StackSettings) -> tuple[dict[int, int] | None, str | None]:
    """The labels-topic end offsets and the label-set digest the last training run recorded
    (None for either when there is no such run)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    experiment = client.get_experiment_by_name(settings.experiment)
    if experiment is None:
        return None, None
    runs = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.{LABELS_OFFSETS_TAG} != ''",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    if not runs:
        return None, None
    tags = runs[0].data.tags
    offsets = {int(p): int(o) for p, o in json.loads(tags[LABELS_OFFSETS_TAG]).items()}
    return offsets, tags.get(LABEL_SET_TAG)


def _confusion_figure(report: dict[str, Any]) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    classes = [", ".join(json.loads(c)) for c in report["classes"]]
    matrix = report["confusion"]
    size = max(6.0, 0.45 * len(classes) + 3)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=90, fontsize=6)
    ax.set_yticks(range(len(classes)), classes, fontsize=6)
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            if value:
                ax.text(j, i, str(value), ha="center", va="center", fontsize=6)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.tight_layout()
    return fig
