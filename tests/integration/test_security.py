"""A secured broker: SASL/SCRAM-SHA-512 and ACLs (a second local Kafka started by
``scripts/kafka.sh`` with ``KAFKA_SECURITY=sasl``). The pipeline connects with credentials
from the Airflow connection only; ACLs are enforced; a wrong password fails clearly; the
secret never shows in task logs, XCom, MLflow params or output records."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from airflow.utils.state import DagRunState
from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    AdminClient,
    NewTopic,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)
from mlflow.tracking import MlflowClient

from enrich.errors import StackError
from enrich.io import kafka, reading, topics
from enrich.samples import generate
from tests.integration.pipeline_env import (
    Pipeline,
    env_vars,
    isolated_pipeline,
    local_broker,
)

ROOT = Path(__file__).resolve().parents[2]
USER = "enricher"


def sasl(port: int, user: str, password: str) -> dict[str, Any]:
    return {
        "bootstrap.servers": f"127.0.0.1:{port}",
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": user,
        "sasl.password": password,
    }


def connection(config: dict[str, Any]) -> str:
    return json.dumps({"conn_type": "kafka", "extra": config})


class SecureBroker:
    def __init__(self, port: int, admin_password: str, user_password: str) -> None:
        self.port = port
        self.admin = sasl(port, "admin", admin_password)
        self.user = sasl(port, USER, user_password)
        self.user_password = user_password


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory, stack_env: None) -> Iterator[SecureBroker]:
    admin_password = secrets.token_hex(12)
    with local_broker(
        tmp_path_factory.mktemp("sasl-kafka"),
        KAFKA_SECURITY="sasl",
        KAFKA_ADMIN_PASSWORD=admin_password,
    ) as env:
        b = SecureBroker(int(env["KAFKA_PORT"]), admin_password, "pw-" + secrets.token_hex(12))
        admin = AdminClient(b.admin)
        upsert = UserScramCredentialUpsertion(
            USER, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192), b.user_password.encode()
        )
        for future in admin.alter_user_scram_credentials([upsert]).values():
            future.result()
        yield b


@pytest.fixture(scope="module")
def pipe(
    tmp_path_factory: pytest.TempPathFactory, broker: SecureBroker
) -> Iterator[tuple[Pipeline, SecureBroker]]:
    with isolated_pipeline(tmp_path_factory.mktemp("secure")) as p:
        names = p.stack.topics
        topics.ensure_topics(broker.admin, topics.project_topics(p.stack))
        allow = AclPermissionType.ALLOW
        lit, pre = ResourcePatternType.LITERAL, ResourcePatternType.PREFIXED
        principal = f"User:{USER}"

        def acl(kind: ResourceType, name: str, pattern: ResourcePatternType, op: AclOperation):
            return AclBinding(kind, name, pattern, principal, "*", op, allow)

        bindings = [
            acl(ResourceType.TOPIC, names.raw, lit, AclOperation.READ),  # read, never write
            acl(ResourceType.TOPIC, names.raw, lit, AclOperation.DESCRIBE),
            *(
                acl(ResourceType.TOPIC, t, lit, op)
                for t in (names.enriched, names.labels, names.review, names.dlq, names.templates)
                for op in (AclOperation.WRITE, AclOperation.DESCRIBE, AclOperation.READ)
            ),
            acl(ResourceType.GROUP, p.group, lit, AclOperation.READ),
            acl(ResourceType.GROUP, "log-enricher", pre, AclOperation.READ),
            acl(ResourceType.TRANSACTIONAL_ID, "log-enricher.", pre, AclOperation.WRITE),
            acl(ResourceType.TRANSACTIONAL_ID, "log-enricher.", pre, AclOperation.DESCRIBE),
        ]
        admin = AdminClient(broker.admin)  # kept alive until the futures resolve
        for future in admin.create_acls(bindings).values():
            future.result()
        kafka.produce(broker.admin, names.raw, [v for _s, v in generate(2000, seed=77)])
        yield p, broker


def run_with(
    p: Pipeline, conn: str, dag_id: str, capsys: pytest.CaptureFixture[str], **conf: Any
) -> tuple[Any, str]:
    with env_vars(AIRFLOW_CONN_KAFKA_DEFAULT=conn):
        capsys.readouterr()
        run = p.run_dag(dag_id, run_conf=conf)
        captured = capsys.readouterr()
        return run, captured.out + captured.err


def test_pipeline_runs_on_a_secured_broker_and_never_leaks_the_secret(
    pipe: tuple[Pipeline, SecureBroker], capsys: pytest.CaptureFixture[str]
) -> None:
    p, broker = pipe
    conn = connection(broker.user)
    secret = broker.user_password

    run, out = run_with(p, conn, "log_enrichment", capsys)
    assert run.state == DagRunState.SUCCESS
    enriched = reading.read_topic(broker.admin, p.stack.topics.enriched)[0]
    assert len(enriched) + len(reading.read_topic(broker.admin, p.stack.topics.dlq)[0]) == 2000

    training, out2 = run_with(p, conn, "model_training", capsys, min_new_labels=0)
    assert training.state == DagRunState.SUCCESS

    assert secret not in out + out2, "task logs"
    for r in (run, training):
        for ti in r.get_task_instances():
            assert secret not in json.dumps(ti.xcom_pull(task_ids=ti.task_id), default=str)
    experiment = MlflowClient().get_experiment_by_name(p.stack.experiment)
    assert experiment is not None
    mlflow_runs = MlflowClient().search_runs([experiment.experiment_id])
    assert mlflow_runs
    for mr in mlflow_runs:
        assert secret not in json.dumps([mr.data.params, mr.data.tags])
    for topic in p.stack.topics.all():
        for m in reading.read_topic(broker.admin, topic)[0]:
            assert secret.encode() not in (m.value() or b"")


def test_acls_are_enforced(pipe: tuple[Pipeline, SecureBroker]) -> None:
    p, broker = pipe
    producer = kafka.idempotent_producer(broker.user)
    kafka.produce_one(producer, p.stack.topics.raw, b"sneaky", None)
    with pytest.raises(StackError, match=r"(?i)authorization failed"):
        kafka.flush_or_fail(producer, p.stack.topics.raw)
    other = AdminClient(broker.user)
    assert "__consumer_offsets" not in other.list_topics(timeout=10).topics
    futures = other.create_topics([NewTopic("not-allowed", 1, 1)])
    with pytest.raises(KafkaException, match=r"(?i)authoriz"):
        futures["not-allowed"].result()


def test_wrong_password_fails_clearly_without_printing_it(
    pipe: tuple[Pipeline, SecureBroker], capsys: pytest.CaptureFixture[str]
) -> None:
    p, broker = pipe
    wrong = "wrong-" + secrets.token_hex(8)
    run, out = run_with(
        p, connection({**broker.user, "sasl.password": wrong}), "log_enrichment", capsys
    )
    assert run.state == DagRunState.FAILED
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["preflight"] == "failed"
    assert "refused the connection's credentials" in out
    assert "fix sasl.username / sasl.password" in out
    assert wrong not in out
