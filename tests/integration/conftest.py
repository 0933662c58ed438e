"""Fixtures of the integration tests: the real broker, MLflow and Airflow, isolated names.

``pipe`` is one private pipeline per test module (its own topics, consumer group, MLflow store
and model cache). A module that needs input in it first overrides ``pipe``, asking for this
one::

    @pytest.fixture(scope="module")
    def pipe(pipe: Pipeline) -> Pipeline:
        kafka.produce(pipe.config, pipe.stack.topics.raw, values)
        return pipe
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.pipeline_env import Pipeline, isolated_pipeline


@pytest.fixture(scope="module")
def pipe(tmp_path_factory: pytest.TempPathFactory, stack_env: None) -> Iterator[Pipeline]:
    with isolated_pipeline(tmp_path_factory.mktemp("pipeline")) as p:
        yield p
