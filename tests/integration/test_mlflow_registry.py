"""MLflow tracking + registry on a SQLite store: log, register, alias, load back by alias."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pytest
from mlflow.tracking import MlflowClient
from sklearn.linear_model import LogisticRegression

from enrich import defaults
from enrich.config import StackSettings
from enrich.io import models, tracking


@pytest.fixture
def tmp_mlflow(tmp_path: Path, stack_env: None) -> Iterator[StackSettings]:
    """A private SQLite tracking/registry store, so tests never touch the user's registry."""
    previous = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    yield StackSettings(
        experiment="test-exp",
        registered_model="test-model",
        mlflow_artifact_root=tmp_path / "artifacts",
    )
    mlflow.set_tracking_uri(previous[0])
    mlflow.set_registry_uri(previous[1])


def test_log_register_alias_and_load_by_alias(tmp_mlflow: StackSettings) -> None:
    x = np.array([[0.0], [1.0], [2.0], [3.0]])
    y = np.array([0, 0, 1, 1])
    model = LogisticRegression().fit(x, y)
    experiment_id = tracking.ensure_experiment(tmp_mlflow)
    assert tracking.ensure_experiment(tmp_mlflow) == experiment_id  # idempotent

    with mlflow.start_run(experiment_id=experiment_id), models.quiet_skops():
        info = mlflow.sklearn.log_model(model, name="model", input_example=x[:1])
    version = mlflow.register_model(info.model_uri, tmp_mlflow.registered_model)
    client = MlflowClient()
    client.set_registered_model_alias(
        tmp_mlflow.registered_model, defaults.CHAMPION, version.version
    )

    with models.quiet_skops():
        loaded = mlflow.sklearn.load_model(f"models:/{tmp_mlflow.registered_model}@champion")

    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))
    artifact_dir = Path(tmp_mlflow.mlflow_artifact_root)
    assert any(artifact_dir.rglob("MLmodel")), "artifacts must land under the configured root"
    status = tracking.registry_status(tmp_mlflow)
    assert status == {
        "registered_model": "test-model",
        "versions": 1,
        "aliases": {defaults.CHAMPION: "1"},
    }


def test_registry_status_without_model(tmp_mlflow: StackSettings) -> None:
    assert tracking.registry_status(tmp_mlflow)["versions"] == 0


def test_a_model_registered_again_is_not_served_from_the_old_versions_files(
    tmp_mlflow: StackSettings, tmp_path: Path
) -> None:
    """Version 1 of a deleted and re-created registered model is another model: the local
    cache (which outlives task processes) must not serve the old version 1's files."""
    from enrich.core.labels import Label
    from enrich.learn.model import make_learner

    error = Label("ERROR", "State change", "Software Infrastructure")
    beat = Label("INFO", "Heartbeat", "Monitoring & Logging")
    login = Label("INFO", "Authentication and Authorization", "Connectivity and Security")
    experiment_id = tracking.ensure_experiment(tmp_mlflow)
    client = MlflowClient()
    name = tmp_mlflow.registered_model

    def register(labels: tuple[Label, Label]) -> None:
        texts = ["disk failed on sda", "heartbeat ok from node"]
        pipeline = make_learner(texts, list(labels)).estimator
        with mlflow.start_run(experiment_id=experiment_id), models.quiet_skops():
            info = mlflow.sklearn.log_model(
                pipeline, name="model", skops_trusted_types=models.SKOPS_TRUSTED_TYPES
            )
        version = mlflow.register_model(info.model_uri, name)
        client.set_registered_model_alias(name, defaults.CHAMPION, version.version)

    register((error, beat))
    cache = models.ChampionCache(tmp_path / "cache")
    served = cache.get(name)
    assert served is not None
    assert (served.version, set(served.classes)) == ("1", {error, beat})

    client.delete_registered_model(name)
    register((error, login))  # version 1 again, another model

    for fresh in (cache, models.ChampionCache(tmp_path / "cache")):  # same process, a new one
        served = fresh.get(name)
        assert served is not None
        assert (served.version, set(served.classes)) == ("1", {error, login})
