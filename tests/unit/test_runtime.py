"""One runtime per process and stack: the same environment shares it, another gets its own."""

from __future__ import annotations

import pytest

from enrich.airflow.runtime import Runtime


def test_the_same_stack_shares_one_runtime_and_another_stack_gets_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ENRICH_TOPIC_RAW", "rt-a.raw")
    a = Runtime.current()
    assert Runtime.current() is a
    assert a.topics.raw == "rt-a.raw"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////tmp/another-registry.db")
    b = Runtime.current()
    assert b is not a, "another MLflow store is another stack: no model of one serves the other"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", a.stack.tracking_uri)
    assert Runtime.current() is a


def test_the_rules_are_compiled_once_per_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENRICH_TOPIC_RAW", "rt-rules.raw")
    rt = Runtime.current()
    assert rt.rules() is rt.rules()
    assert len(rt.rules()) > 0
