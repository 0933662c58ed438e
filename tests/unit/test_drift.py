"""Drift alarms and the run's Airflow metrics (issue 17, item 3): pure parts."""

from __future__ import annotations

from typing import Any

import pytest

from enrich.airflow.enrichment import drift_alarms, publish_metrics, raise_drift
from enrich.airflow.params import EnrichmentParams
from enrich.errors import ConfigError

SUMMARY = {
    "out": 1000,
    "new_templates": 12,
    "needs_review_share": 0.31,
    "mean_confidence": 0.62,
    "rule_coverage": 0.2,
    "labelled_template_share": 0.05,
}


def test_no_threshold_no_alarm() -> None:
    assert drift_alarms(SUMMARY, EnrichmentParams()) == []
    assert EnrichmentParams.dag_params()["max_new_templates"].value is None


def test_each_threshold_crossed_says_what_and_which() -> None:
    params = EnrichmentParams.parse(
        {
            "max_new_templates": "10",
            "max_needs_review_share": 0.3,
            "min_mean_confidence": 0.6,  # not crossed
            "min_rule_coverage": 0.25,
            "min_people_share": 0.1,
        }
    )
    assert params.max_new_templates == 10
    assert drift_alarms(SUMMARY, params) == [
        "new_templates 12 is above max_new_templates=10",
        "needs_review_share 0.31 is above max_needs_review_share=0.3",
        "rule_coverage 0.2 is below min_rule_coverage=0.25",
        "labelled_template_share 0.05 is below min_people_share=0.1",
    ]
    # a run that saw nothing, or a figure it does not have (no model: no confidence)
    assert drift_alarms({**SUMMARY, "out": 0}, params) == []
    strict = EnrichmentParams(min_mean_confidence=0.9)
    assert drift_alarms({**SUMMARY, "mean_confidence": None}, strict) == []


def test_a_bad_threshold_is_refused() -> None:
    with pytest.raises(ConfigError, match="max_new_templates"):
        EnrichmentParams.parse({"max_new_templates": "many"})


def test_the_alarm_fails_or_tells_the_callback(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    monkeypatch.delenv("ENRICH_DRIFT_CALLBACK", raising=False)
    with pytest.raises(AirflowFailException, match="drift: new_templates 12"):
        raise_drift(["new_templates 12 is above max_new_templates=10"], SUMMARY)
    monkeypatch.setenv("ENRICH_DRIFT_CALLBACK", f"{__name__}:remember")
    REMEMBERED.clear()
    assert raise_drift(["x"], SUMMARY) == "drift: x"
    assert REMEMBERED == [(["x"], SUMMARY)]
    monkeypatch.setenv("ENRICH_DRIFT_CALLBACK", "no_colon_here")
    with pytest.raises(ConfigError, match=r"package\.module:function"):
        raise_drift(["x"], SUMMARY)


REMEMBERED: list[Any] = []


def remember(alarms: list[str], summary: dict[str, Any]) -> None:
    REMEMBERED.append((alarms, summary))


class RecordingStatsd:
    """Stands in for the ``statsd`` package's client (not installed here) under Airflow's
    own StatsD logger, which names, validates and tags the metrics."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, float]] = []

    def gauge(self, stat: str, value: float, rate: float = 1, delta: bool = False) -> None:
        self.sent.append((stat, value))


def test_the_runs_figures_are_airflow_gauges() -> None:
    from airflow.sdk._shared.observability.metrics.statsd_logger import SafeStatsdLogger
    from airflow.sdk.observability import stats

    client = RecordingStatsd()
    logger: Any = SafeStatsdLogger(client)  # RecordingStatsd stands in for statsd
    stats.initialize(factory=lambda: logger, export_legacy_names=False)
    try:
        sent = publish_metrics({**SUMMARY, "in": 1000, "templates": 40, "behind": True}, "d")
    finally:
        from airflow.sdk._shared.observability.metrics.base_stats_logger import NoStatsLogger

        stats.initialize(factory=NoStatsLogger, export_legacy_names=True)
    assert sent == len(client.sent) == 8
    got = dict(client.sent)
    assert got["log_enricher.new_templates"] == 12.0
    assert got["log_enricher.needs_review_share"] == 0.31
    assert got["log_enricher.rule_coverage"] == 0.2
    assert got["log_enricher.labelled_template_share"] == 0.05
    assert "log_enricher.behind" not in got
