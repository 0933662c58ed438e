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
