"""Bad configuration stops log_enrichment in preflight, saying what to fix, before anything is
consumed or committed (real broker, real Airflow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from airflow.utils.state import DagRunState

from enrich.io import kafka
from enrich.samples import generate
from tests.integration.pipeline_env import Pipeline, env_vars, free_port


@pytest.fixture(scope="module")
def pipe(pipe: Pipeline) -> Pipeline:
    kafka.produce(pipe.config, pipe.stack.topics.raw, [v for _s, v in generate(300, seed=21)])
    return pipe


def fails_in_preflight(pipe: Pipeline, capsys: pytest.CaptureFixture[str], **env: str) -> str:
    """Run the DAG under ``env``; assert preflight failed, nothing ran after it, nothing was
    committed or written; return the run's output (dag.test logs tasks to stdout)."""
    outputs = [pipe.stack.topics.enriched, pipe.stack.topics.dlq, pipe.stack.topics.labels]
    before = {t: pipe.high(t) for t in outputs}
    with env_vars(**env):
        capsys.readouterr()
        run = pipe.run_dag("log_enrichment")
        out = capsys.readouterr().out
    assert run.state == DagRunState.FAILED
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["preflight"] == "failed"
    assert states.get("enrich_partition") in (None, "upstream_failed")
    assert all(v < 0 for v in pipe.committed().values()), "nothing consumed or committed"
    assert {t: pipe.high(t) for t in outputs} == before
    return out


def test_wrong_bootstrap_address(pipe: Pipeline, capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()  # nothing listens here
    conn = json.dumps({"conn_type": "kafka", "extra": {"bootstrap.servers": f"127.0.0.1:{port}"}})
    out = fails_in_preflight(pipe, capsys, AIRFLOW_CONN_KAFKA_DEFAULT=conn)
    assert f"cannot reach Kafka at 127.0.0.1:{port}" in out
    assert "fix the connection's bootstrap.servers" in out


def test_rule_with_a_value_outside_the_taxonomy(
    pipe: Pipeline, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n  - name: disk_full\n    regex: 'disk full'\n"
        "    label: {severity: FATAL, event_type: Heartbeat, category: Datas}\n"
    )
    out = fails_in_preflight(pipe, capsys, ENRICH_RULES_FILE=str(rules))
    assert "disk_full" in out
    assert "severity 'FATAL' is not in the taxonomy" in out


def test_unreadable_taxonomy_file(
    pipe: Pipeline, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    taxonomy = tmp_path / "taxonomy.yaml"
    taxonomy.write_text("severity: [INFO\n")
    out = fails_in_preflight(pipe, capsys, ENRICH_TAXONOMY_FILE=str(taxonomy))
    assert f"taxonomy file {taxonomy} is not valid YAML" in out


def test_a_thread_count_that_is_no_number(
    pipe: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    out = fails_in_preflight(pipe, capsys, ENRICH_FRONT_THREADS="many")
    assert "ENRICH_FRONT_THREADS='many' is not a whole number" in out


def test_missing_connection(pipe: Pipeline, capsys: pytest.CaptureFixture[str]) -> None:
    out = fails_in_preflight(pipe, capsys, ENRICH_KAFKA_CONN_ID="kafka_nowhere")
    assert "Airflow connection 'kafka_nowhere' is not defined" in out


def test_out_of_range_params_are_refused_before_the_run_starts(pipe: Pipeline) -> None:
    from airflow.sdk.definitions.param import ParamValidationError

    with pytest.raises(ParamValidationError, match="threshold"):
        pipe.run_dag("log_enrichment", run_conf={"threshold": 2})
    assert all(v < 0 for v in pipe.committed().values())


def test_a_formats_file_that_does_not_load(
    pipe: Pipeline, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    formats = tmp_path / "formats.yaml"
    formats.write_text(
        "formats:\n  - name: our-app\n    regex: '^(?P<level>\\w+) (?P<body>.*)\\1$'\n"
    )
    out = fails_in_preflight(pipe, capsys, ENRICH_FORMATS_FILE=str(formats))
    assert "format 'our-app': bad regex" in out
    assert "RE2 syntax" in out
