"""MLflow at the edge: the experiment, and (later) logging, registering and loading models.

The tracking and registry URIs come from ``MLFLOW_TRACKING_URI`` / ``MLFLOW_REGISTRY_URI``
(``scripts/env.sh`` points them at a SQLite file under ``var/mlflow``); artifacts of the
experiment go to ``ENRICH_MLFLOW_ARTIFACT_ROOT`` unless the tracking server decides.
"""

from __future__ import annotations

import logging
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


def save_model(pipeline: Any, path: str | Path) -> None:
    """Save the pipeline as an MLflow sklearn model folder (skops format, no pickle)."""
    import mlflow.sklearn

    mlflow.sklearn.save_model(pipeline, str(path), skops_trusted_types=SKOPS_TRUSTED_TYPES)


def load_model(uri: str | Path) -> Model:
    """Load a model from an MLflow URI (``models:/name@alias``, ``models:/name/3``, ``runs:/``)
    or a local MLflow model folder; raise StackError saying what is wrong."""
    import mlflow.sklearn
    from mlflow.exceptions import MlflowException

    uri = str(uri)
    name, version = _model_identity(uri)
    try:
        pipeline = mlflow.sklearn.load_model(uri)
    except (MlflowException, OSError) as err:
        raise StackError(f"cannot load model {uri!r}: {err}") from err
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
