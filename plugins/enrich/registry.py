"""MLflow at the edge: the experiment, and (later) logging, registering and loading models.

The tracking and registry URIs come from ``MLFLOW_TRACKING_URI`` / ``MLFLOW_REGISTRY_URI``
(``scripts/env.sh`` points them at a SQLite file under ``var/mlflow``); artifacts of the
experiment go to ``ENRICH_MLFLOW_ARTIFACT_ROOT`` unless the tracking server decides.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from enrich.errors import StackError
from enrich.learner import Model
from enrich.settings import StackSettings

log = logging.getLogger(__name__)


def ensure_experiment(settings: StackSettings) -> str:
    """Return the id of the project's MLflow experiment, creating it if it does not exist.

    Idempotent. With a local (file or SQLite) tracking store the experiment's artifacts go to
    ``settings.mlflow_artifact_root``; with a tracking server, the server's default applies.
    """
    import mlflow
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    existing = client.get_experiment_by_name(settings.experiment)
    if existing is not None:
        return str(existing.experiment_id)
    artifact_location = None
    if not mlflow.get_tracking_uri().startswith(("http://", "https://", "databricks")):
        root = Path(settings.mlflow_artifact_root)
        root.mkdir(parents=True, exist_ok=True)
        artifact_location = (root / settings.experiment).as_uri()
    experiment_id = client.create_experiment(
        settings.experiment, artifact_location=artifact_location
    )
    log.info("created MLflow experiment %s (%s)", settings.experiment, experiment_id)
    return str(experiment_id)


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


# The model pipeline's own classes that skops may rebuild when a model is loaded; everything
# else in the artifact must be a type skops already trusts (scikit-learn, numpy, scipy).
SKOPS_TRUSTED_TYPES = ["enrich.features.LogNormalizer"]


@contextmanager
def quiet_skops() -> Iterator[None]:
    """skops walks every imported module while it checks types; in an Airflow worker that
    trips hundreds of Airflow's deprecated-import shims (FutureWarning). They say nothing
    about the model, so they are silenced here, and only they."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The `airflow\\.", category=FutureWarning)
        yield


def save_model(pipeline: Any, path: str | Path) -> None:
    """Save the pipeline as an MLflow sklearn model folder (skops format, no pickle)."""
    import mlflow.sklearn

    with quiet_skops():
        mlflow.sklearn.save_model(pipeline, str(path), skops_trusted_types=SKOPS_TRUSTED_TYPES)


def load_model(uri: str | Path) -> Model:
    """Load a model from an MLflow URI (``models:/name@alias``, ``models:/name/3``, ``runs:/``)
    or a local MLflow model folder; raise StackError saying what is wrong."""
    import mlflow.sklearn
    from mlflow.exceptions import MlflowException

    uri = str(uri)
    name, version = _model_identity(uri)
    try:
        with quiet_skops():
            pipeline = mlflow.sklearn.load_model(uri)
    except (MlflowException, OSError) as err:
        raise StackError(f"cannot load model {uri!r}: {err}") from err
    except Exception as err:  # a corrupted file fails inside the deserialiser, any which way
        raise StackError(
            f"cannot load model {uri!r}: its files are corrupted ({type(err).__name__}: {err})"
        ) from err
    if not hasattr(pipeline, "predict_proba") or "normalize" not in getattr(
        pipeline, "named_steps", {}
    ):
        raise StackError(f"{uri!r} is not a log-enricher model pipeline")
    return Model(pipeline, name, version)


def _model_identity(uri: str) -> tuple[str | None, str | None]:
    """(registered name, version) of a ``models:/`` URI, resolving an alias; else (None, None)."""
    if not uri.startswith("models:/"):
        return None, None
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    ref = uri[len("models:/") :]
    client = MlflowClient()
    try:
        if "@" in ref:
            name, alias = ref.split("@", 1)
            return name, str(client.get_model_version_by_alias(name, alias).version)
        name, _, version = ref.partition("/")
        return name, version or None
    except MlflowException as err:
        raise StackError(f"cannot resolve model {uri!r}: {err.message}") from err


def _alias_missing(err: Exception) -> bool:
    code = getattr(err, "error_code", "")
    return code == "RESOURCE_DOES_NOT_EXIST" or (
        code == "INVALID_PARAMETER_VALUE" and "alias" in str(err) and "not found" in str(err)
    )


class ChampionCache:
    """Loads ``models:/<name>@<alias>`` once per version and keeps it for later runs.

    ``get`` asks the registry which version the alias points at (a cheap call) and loads that
    version only when it changed. No registered model or no alias yet → ``None`` (the
    pipeline routes by rules and review). If the registry is unreachable, or the new version
    cannot be loaded, the version served last keeps serving, with a warning: the one in memory,
    or else the one this machine's ``cache_dir`` recorded as served for the alias (task
    processes come and go; the folder outlives them). With neither, it raises
    :class:`StackError`.
    """

    def __init__(self, cache_dir: Path | None = None) -> None:
        self.cache_dir = cache_dir
        self._models: dict[tuple[str, str], Model] = {}
        self._current: dict[tuple[str, str], Model] = {}

    def get(self, name: str, alias: str = "champion") -> Model | None:
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient

        key = (name, alias)
        try:
            version = str(MlflowClient().get_model_version_by_alias(name, alias).version)
        except MlflowException as err:
            if _alias_missing(err):
                return None
            return self._fallback(key, f"cannot ask the registry for {name}@{alias}: {err}")
        model = self._models.get((name, version))
        if model is None:
            try:
                model = self._load(name, version)
            except StackError as err:
                return self._fallback(key, str(err))
            self._models = {(name, version): model}  # keep one version in memory
        self._current[key] = model
        self._remember(key, version)
        return model

    def _served_file(self, key: tuple[str, str]) -> Path | None:
        return Path(self.cache_dir) / key[0] / f"@{key[1]}" if self.cache_dir else None

    def _remember(self, key: tuple[str, str], version: str) -> None:
        marker = self._served_file(key)
        if (
            marker is not None
            and (marker.parent / version / "MLmodel").exists()
            and (not marker.exists() or marker.read_text() != version)
        ):
            tmp = marker.with_suffix(".tmp")
            tmp.write_text(version)
            tmp.replace(marker)

    def _load(self, name: str, version: str) -> Model:
        """Load a version, through a local folder per version when ``cache_dir`` is set
        (task processes come and go; the folder outlives them)."""
        uri = f"models:/{name}/{version}"
        if self.cache_dir is None:
            return load_model(uri)
        import shutil
        import tempfile

        import mlflow.artifacts
        from mlflow.exceptions import MlflowException

        local = Path(self.cache_dir) / name / version
        if not (local / "MLmodel").exists():
            local.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(dir=local.parent, prefix=f".{version}-"))
            try:
                mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(staging))
                staging.rename(local)  # atomic: a half-downloaded model is never used
            except (MlflowException, OSError) as err:
                shutil.rmtree(staging, ignore_errors=True)
                if not (local / "MLmodel").exists():
                    raise StackError(f"cannot download model {uri!r}: {err}") from err
        model = load_model(local)
        return Model(model.pipeline, name, version)

    def _fallback(self, key: tuple[str, str], problem: str) -> Model:
        previous = self._current.get(key)
        if previous is None:
            previous = self._served_before(key)
        if previous is None:
            raise StackError(f"{problem}; no earlier model is loaded to fall back on")
        log.warning("%s; keeping version %s", problem, previous.version)
        self._current[key] = previous
        return previous

    def _served_before(self, key: tuple[str, str]) -> Model | None:
        """The version this machine served last for the alias, from the local cache."""
        marker = self._served_file(key)
        if marker is None or not marker.exists():
            return None
        version = marker.read_text().strip()
        try:
            model = load_model(marker.parent / version)
        except StackError as err:
            log.warning("the locally cached version %s cannot be loaded either: %s", version, err)
            return None
        return Model(model.pipeline, key[0], version)


def record_training(
    settings: StackSettings,
    pipeline: Any,
    report: dict[str, Any],
    champion: tuple[str, dict[str, Any]] | None,
    params: dict[str, Any],
    artifacts: dict[str, Any],
    example_texts: list[str],
    labels_offsets: dict[int, int] | None = None,
) -> dict[str, Any]:
    """Log one training run, register its model, and move an alias.

    The new version becomes ``champion`` only if it beats the current champion on the same
    evaluation split (``training.beats``: macro-F1, then accuracy; a tie keeps the champion),
    otherwise ``challenger``. The decision and both scores are the run's tags and metrics.
    Returns that decision. Secrets never reach params: callers pass counts and settings only.
    """
    import mlflow
    import pandas as pd
    from mlflow.models import infer_signature
    from mlflow.tracking import MlflowClient

    from enrich.training import beats

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
        alias = "champion" if promote else "challenger"
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


LABELS_OFFSETS_TAG = "labels_offsets"


def new_label_count(settings: StackSettings, ends: dict[int, int]) -> int:
    """Labels-topic messages since the end offsets the last training run recorded (all of
    them when there was no earlier run)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    experiment = client.get_experiment_by_name(settings.experiment)
    previous: dict[str, int] = {}
    if experiment is not None:
        runs = client.search_runs(
            [experiment.experiment_id],
            filter_string=f"tags.{LABELS_OFFSETS_TAG} != ''",
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
        if runs:
            previous = json.loads(runs[0].data.tags[LABELS_OFFSETS_TAG])
    return sum(max(0, end - int(previous.get(str(p), 0))) for p, end in ends.items())


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
