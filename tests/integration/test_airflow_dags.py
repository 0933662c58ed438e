"""Airflow 3: every DAG file imports cleanly, and a DAG runs to success with dag.test()."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="session")
def dagbag(stack_env: None) -> DagBag:
    return DagBag(dag_folder=str(DAGS_DIR))


def test_airflow_uses_project_folders(stack_env: None) -> None:
    from airflow.configuration import conf

    assert Path(conf.get("core", "dags_folder")) == DAGS_DIR
    assert conf.get("database", "sql_alchemy_conn").startswith("sqlite:///")
    assert Path(os.environ["AIRFLOW_HOME"]).is_relative_to(DAGS_DIR.parent)


def test_every_dag_file_imports_without_errors(dagbag: DagBag) -> None:
    assert dagbag.import_errors == {}
    files = {Path(d.fileloc).name for d in dagbag.dags.values()}
    assert files == {p.name for p in DAGS_DIR.glob("*.py")}


def test_dags_have_fixed_start_date_tags_and_docs(dagbag: DagBag) -> None:
    for dag_id, dag in dagbag.dags.items():
        assert dag.start_date is not None, dag_id
        assert "log-enrichment" in dag.tags, dag_id
        assert dag.doc_md, dag_id


def test_stack_health_dag_runs_to_success(dagbag: DagBag) -> None:
    from airflow.utils.state import DagRunState

    dag = dagbag.get_dag("stack_health")
    run = dag.test()
    assert run.state == DagRunState.SUCCESS
