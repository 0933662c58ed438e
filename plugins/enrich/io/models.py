"""MLflow models at the edge: save and load the model pipeline, serve an alias's version.

The registry URI comes from ``MLFLOW_REGISTRY_URI`` (``scripts/env.sh`` points it at a
SQLite file under ``var/mlflow``). Models are saved with MLflow's sklearn flavour in skops
format (no pickle); loading trusts only the pipeline's own classes besides scikit-learn's.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from enrich import defaults
from enrich.errors import StackError
from enrich.learn.model import Model

log = logging.getLogger(__name__)


# The model pipeline's own classes that skops may rebuild when a model is loaded; everything
# else in the artifact must be a type skops already trusts (scikit-learn, numpy, scipy).
SKOPS_TRUSTED_TYPES = [
    "enrich.learn.features.LogNormalizer",
    "enrich.features.LogNormalizer",  # the name in versions registered before 0.2
]


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


def version_folder(found: Any) -> str:
    """The local cache folder of a registered model version: its number and a digest of
    what makes it unique (run, source, creation time), so a version 1 of a model deleted and
    registered again is never served from the old version 1's files."""
    import hashlib

    identity = f"{found.run_id}|{found.source}|{found.creation_timestamp}"
    return f"{found.version}-{hashlib.sha256(identity.encode()).hexdigest()[:12]}"


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

    def get(self, name: str, alias: str = defaults.CHAMPION) -> Model | None:
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient

        key = (name, alias)
        try:
            found = MlflowClient().get_model_version_by_alias(name, alias)
        except MlflowException as err:
            if _alias_missing(err):
                return None
            return self._fallback(key, f"cannot ask the registry for {name}@{alias}: {err}")
        version, folder = str(found.version), version_folder(found)
        model = self._models.get((name, folder))
        if model is None:
            try:
                model = self._load(name, version, folder)
            except StackError as err:
                return self._fallback(key, str(err))
            self._models = {(name, folder): model}  # keep one version in memory
        self._current[key] = model
        self._remember(key, folder)
        return model

    def _served_file(self, key: tuple[str, str]) -> Path | None:
        return Path(self.cache_dir) / key[0] / f"@{key[1]}" if self.cache_dir else None

    def _remember(self, key: tuple[str, str], folder: str) -> None:
        marker = self._served_file(key)
        if (
            marker is not None
            and (marker.parent / folder / "MLmodel").exists()
            and (not marker.exists() or marker.read_text() != folder)
        ):
            tmp = marker.with_suffix(".tmp")
            tmp.write_text(folder)
            tmp.replace(marker)

    def _load(self, name: str, version: str, folder: str) -> Model:
        """Load a version, through a local folder per version when ``cache_dir`` is set
        (task processes come and go; the folder outlives them)."""
        uri = f"models:/{name}/{version}"
        if self.cache_dir is None:
            return load_model(uri)
        import shutil
        import tempfile

        import mlflow.artifacts
        from mlflow.exceptions import MlflowException

        local = Path(self.cache_dir) / name / folder
        if not (local / "MLmodel").exists():
            local.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(dir=local.parent, prefix=f".{folder}-"))
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
        folder = marker.read_text().strip()
        version = folder.split("-", 1)[0]
        try:
            model = load_model(marker.parent / folder)
        except StackError as err:
            log.warning("the locally cached version %s cannot be loaded either: %s", version, err)
            return None
        return Model(model.pipeline, key[0], version)
