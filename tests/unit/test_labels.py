"""Labels round-trip exactly (values hold spaces, '/', '&' and '_'); the taxonomy says no."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from enrich.core.labels import DEFAULT_TAXONOMY, Label, Taxonomy
from enrich.errors import ConfigError
from enrich.learn.model import Model, make_learner

AWKWARD = Taxonomy(
    severity=("INFO", "ERROR_HIGH"),
    event_type=("State change", "Ops_on files/apps"),
    category=("Application & Middleware", "CI/CD_pipelines"),
    fallback=Label("INFO", "State change", "Application & Middleware"),
)


def test_default_taxonomy_file_matches_design() -> None:
    assert Taxonomy.load() == DEFAULT_TAXONOMY
    assert DEFAULT_TAXONOMY.fallback == Label("INFO", "Useless", "Uncategorized")


def test_label_round_trips_through_json_and_class_name() -> None:
    label = Label("ERROR_HIGH", "Ops_on files/apps", "CI/CD_pipelines")
    assert Label.from_dict(json.loads(json.dumps(label.to_dict()))) == label
    assert Label.from_class_name(label.class_name) == label
    assert AWKWARD.validate(label) is label


def test_classifier_classes_with_underscores_come_back_whole() -> None:
    a = Label("ERROR_HIGH", "Ops_on files/apps", "CI/CD_pipelines")
    b = Label("INFO", "State change", "Application & Middleware")
    learner = make_learner(["disk broke badly", "service started ok"] * 3, [a, b] * 3)
    labels, confidence = Model(learner.estimator).predict(["disk broke badly"])
    assert labels == [a]
    assert confidence[0] > 0.5


@pytest.mark.parametrize(
    ("data", "message"),
    [
        # a value outside the taxonomy is named, with the allowed values
        (
            {"severity": "FATAL", "event_type": "State change", "category": "Datas"},
            "severity 'FATAL' is not in the taxonomy",
        ),
        (
            {"severity": "INFO", "event_type": "Reboot", "category": "Datas"},
            "event_type 'Reboot' is not in the taxonomy",
        ),
        (
            {"severity": "INFO", "event_type": "Heartbeat", "category": "Cloud"},
            "category 'Cloud' is not in the taxonomy",
        ),
        # missing and unknown keys
        ({"severity": "INFO", "event_type": "Heartbeat"}, "missing category"),
        (
            {"severity": "INFO", "event_type": "Heartbeat", "category": "Datas", "x": 1},
            "unknown key",
        ),
        # wrong types
        ({"severity": 3, "event_type": "Heartbeat", "category": "Datas"}, "must be a string"),
        ("INFO/Heartbeat/Datas", "must be a mapping"),
    ],
)
def test_taxonomy_rejects_bad_labels_with_a_message_naming_them(data: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        DEFAULT_TAXONOMY.label(data, where="rule 'x'")  # type: ignore[arg-type]


def test_taxonomy_file_errors_say_what_to_fix(tmp_path: Path) -> None:
    bad = tmp_path / "taxonomy.yaml"
    bad.write_text("severity: [INFO]\nevent_type: [A]\ncategory: [B]\n")
    with pytest.raises(ConfigError, match="missing fallback"):
        Taxonomy.load(bad)
    bad.write_text(
        "severity: [INFO, INFO]\nevent_type: [A]\ncategory: [B]\n"
        "fallback: {severity: INFO, event_type: A, category: B}\n"
    )
    with pytest.raises(ConfigError, match="lists INFO more than once"):
        Taxonomy.load(bad)
    with pytest.raises(ConfigError, match="cannot read taxonomy file"):
        Taxonomy.load(tmp_path / "missing.yaml")


def test_fallback_must_be_in_taxonomy() -> None:
    with pytest.raises(ConfigError, match="taxonomy fallback"):
        Taxonomy(("INFO",), ("A",), ("B",), Label("DEBUG", "A", "B"))


def test_predict_returns_numpy_confidence_per_text() -> None:
    a, b = Label("INFO", "Heartbeat", "Datas"), Label("ERROR", "Heartbeat", "Datas")
    learner = make_learner(["ok fine", "bad error"] * 2, [a, b] * 2)
    labels, confidence = Model(learner.estimator).predict(["ok fine", "bad error", "other"])
    assert labels[:2] == [a, b]
    assert isinstance(confidence, np.ndarray)
    assert confidence.shape == (3,)
