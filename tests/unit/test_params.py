"""Each DAG's Params are defined once: the DAG's form and the task's typed values agree."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import pytest

from enrich import defaults
from enrich.airflow.params import (
    BackfillParams,
    DagParams,
    EnrichmentParams,
    LabellingParams,
    TrainingParams,
)
from enrich.errors import ConfigError

ALL = [EnrichmentParams, TrainingParams, BackfillParams, LabellingParams]


@pytest.mark.parametrize("cls", ALL)
def test_the_dag_form_offers_the_typed_defaults(cls: type[DagParams]) -> None:
    form = cls.dag_params()
    typed = cls.parse({})
    assert set(form) == {f.name for f in fields(typed)}  # type: ignore[arg-type]
    for name, param in form.items():
        assert param.value == getattr(typed, name), name
        assert param.description, f"{cls.__name__}.{name} has no description"


def test_defaults_come_from_the_defaults_module() -> None:
    p = EnrichmentParams.parse({})
    assert (p.threshold, p.policy, p.strategy) == (
        defaults.THRESHOLD,
        defaults.POLICY,
        defaults.STRATEGY,
    )
    assert EnrichmentParams.dag_params()["strategy"].schema["enum"] == list(defaults.STRATEGIES)
    assert LabellingParams.dag_params()["k"].schema["maximum"] == defaults.QUESTIONS_K_MAX


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"max_batch_size": "300", "threshold": 1}, (300, 1.0)),  # strings and ints cast
        ({"max_batch_size": None}, (defaults.MAX_BATCH_SIZE, defaults.THRESHOLD)),  # None: default
    ],
)
def test_a_run_s_params_are_typed(raw: dict[str, Any], expected: tuple[int, float]) -> None:
    p = EnrichmentParams.parse(raw)
    assert (p.max_batch_size, p.threshold) == expected
    assert isinstance(p.threshold, float)


def test_a_value_of_the_wrong_type_says_which_param() -> None:
    with pytest.raises(ConfigError, match="max_batch_size='lots' is not of type integer"):
        EnrichmentParams.parse({"max_batch_size": "lots"})
