"""Shared fixtures. Integration tests need the stack `make test` starts (scripts/env.sh)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

_STACK_VARS = ("AIRFLOW_HOME", "AIRFLOW_CONN_KAFKA_DEFAULT", "MLFLOW_TRACKING_URI")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark everything under tests/integration as `integration`, under tests/cluster as
    `cluster`."""
    for item in items:
        if "/integration/" in str(item.path):
            item.add_marker(pytest.mark.integration)
        elif "/cluster/" in str(item.path):
            item.add_marker(pytest.mark.cluster)


@pytest.fixture(scope="session")
def stack_env() -> None:
    missing = [v for v in _STACK_VARS if not os.environ.get(v)]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} not set: run the suite with `make test`, or `. scripts/env.sh` "
            "and `make up` first",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def kafka_config(stack_env: None) -> dict[str, Any]:
    """The confluent-kafka config of the `kafka_default` Airflow connection (the real broker)."""
    from enrich.io import connection, topics

    config = connection.client_config("kafka_default")
    topics.list_topics(config)  # fail fast with a clear message if the broker is down
    return config


@pytest.fixture
def fresh_topic(kafka_config: dict[str, Any]) -> Iterator[str]:
    """A new 3-partition topic for one test, deleted afterwards."""
    from enrich.io import topics

    name = f"test.{uuid.uuid4().hex[:12]}"
    topics.ensure_topics(kafka_config, [topics.TopicSpec(name, partitions=3)])
    yield name
    topics.delete_topics(kafka_config, [name])
