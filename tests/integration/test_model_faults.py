"""Model faults against the real MLflow registry, broker and Airflow: a corrupted new
champion, and MLflow unreachable during enrichment and during training.

The previous good model keeps serving (also in a new task process, from the local model
cache); with no good model anywhere the run fails in preflight, having consumed nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from airflow.utils.state import DagRunState
from mlflow.tracking import MlflowClient

from enrich import defaults
from enrich.airflow.runtime import Runtime
from enrich.errors import StackError
from enrich.io import kafka, models
from enrich.samples import generate
from tests.integration.pipeline_env import Pipeline, env_vars, free_port


@pytest.fixture(scope="module")
def pipe(pipe: Pipeline) -> Pipeline:
    kafka.produce(pipe.config, pipe.stack.topics.raw, [v for _s, v in generate(3000, seed=12)])
    run = pipe.run_dag("model_training")
    assert run.state == DagRunState.SUCCESS  # champion v1
    model = Runtime(pipe.stack).model()  # a new runtime: what a new task process has
    assert model is not None
    assert model.version == "1"  # served once: remembered on disk
    return pipe


def model_versions(pipe: Pipeline) -> set[str]:
    return {
        json.loads(m.value())["model"]["version"]
        for m in pipe.read(pipe.stack.topics.enriched)
        if json.loads(m.value())["labelled_by"] == "model"
    }


def test_a_corrupted_new_champion_does_not_replace_the_good_one(pipe: Pipeline) -> None:
    client = MlflowClient()
    name = pipe.stack.registered_model
    v1 = client.get_model_version(name, "1")
    v2 = client.create_model_version(name, str(v1.source), run_id=v1.run_id)
    client.set_registered_model_alias(name, defaults.CHAMPION, v2.version)
    # corrupt v2's files as the cache would download them
    folder = Path(os.environ["ENRICH_MODEL_CACHE"]) / name / models.version_folder(v2)
    folder.mkdir(parents=True)
    (folder / "MLmodel").write_text("flavors: {python_function: {loader_module: nope}}\n")

    model = Runtime(pipe.stack).model()  # a new task process: nothing in memory
    assert model is not None
    assert model.version == "1", "the version served last keeps serving"

    kafka.produce(pipe.config, pipe.stack.topics.raw, [v for _s, v in generate(500, seed=13)])
    run = pipe.run_dag("log_enrichment")  # this process never loaded a model of this stack
    assert run.state == DagRunState.SUCCESS
    assert model_versions(pipe) == {"1"}

    # a machine that never served a good model cannot fall back: preflight fails, says why,
    # and nothing is consumed
    empty_cache = Path(os.environ["ENRICH_MODEL_CACHE"]).parent / "empty-cache"
    empty_cache.mkdir()
    cache = models.ChampionCache(empty_cache / "sub")
    broken = empty_cache / "sub" / name / models.version_folder(v2)
    broken.mkdir(parents=True)
    (broken / "MLmodel").write_text("flavors: {}\n")
    with pytest.raises(StackError, match="cannot load model") as err:
        cache.get(name)
    assert "no earlier model" in str(err.value)

    client.set_registered_model_alias(name, defaults.CHAMPION, "1")  # repaired for the next test


@contextmanager
def mlflow_down() -> Iterator[None]:
    """MLflow's tracking server is unreachable (nothing listens on its port)."""
    import mlflow

    down = f"http://127.0.0.1:{free_port()}"
    with env_vars(
        MLFLOW_TRACKING_URI=down,
        MLFLOW_REGISTRY_URI=down,
        MLFLOW_HTTP_REQUEST_MAX_RETRIES="0",
        ENRICH_RETRY_DELAY_SECONDS="1",  # the training task's retry fails fast too
    ):
        mlflow.set_tracking_uri(down)
        mlflow.set_registry_uri(down)
        yield
    mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
    mlflow.set_registry_uri(os.environ["MLFLOW_REGISTRY_URI"])


def test_mlflow_unreachable_enrichment_keeps_serving_and_training_fails_clearly(
    pipe: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    client = MlflowClient()
    name = pipe.stack.registered_model
    champion = client.get_model_version_by_alias(name, defaults.CHAMPION).version
    versions = len(client.search_model_versions(f"name = '{name}'"))
    with mlflow_down():
        run_both_while_mlflow_is_down(pipe, capsys)
    # MLflow is back: nothing was registered and the alias has not moved
    assert client.get_model_version_by_alias(name, defaults.CHAMPION).version == champion
    assert len(client.search_model_versions(f"name = '{name}'")) == versions


def run_both_while_mlflow_is_down(pipe: Pipeline, capsys: pytest.CaptureFixture[str]) -> None:
    before = len(pipe.read(pipe.stack.topics.enriched))
    kafka.produce(pipe.config, pipe.stack.topics.raw, [v for _s, v in generate(500, seed=14)])
    # another MLflow URI is another stack to Runtime.current(): the run starts with a new
    # runtime, as a new task process would, and falls back on the disk cache
    run = pipe.run_dag("log_enrichment")
    assert run.state == DagRunState.SUCCESS, "the cached champion keeps enriching"
    enriched = len(pipe.read(pipe.stack.topics.enriched))
    assert enriched >= before + 500  # (and what earlier tests left, when run alone)
    assert enriched + len(pipe.read(pipe.stack.topics.dlq)) == sum(
        pipe.high(pipe.stack.topics.raw).values()
    ), "every input enriched or dead-lettered"
    assert model_versions(pipe) == {"1"}

    capsys.readouterr()
    run = pipe.run_dag("model_training", run_conf={"min_new_labels": 0})
    out = capsys.readouterr().out
    assert run.state == DagRunState.FAILED
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    # bootstrap finds the cached champion; train is the task that needs the registry
    assert states == {"bootstrap": "success", "train": "failed"}
    assert "MlflowException" in out, out[-3000:]
    assert "Max retries exceeded" in out, out[-3000:]
