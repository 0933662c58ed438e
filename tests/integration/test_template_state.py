"""Templates are mined on the stream and their state lives on the broker (the compacted
templates topic, written in each micro-batch's transaction): a later run, another
partition's task and a restart go on from it, so a line gets the same template everywhere."""

from __future__ import annotations

import json
from typing import Any

from enrich.airflow import enrichment
from enrich.core.formats import TemplateCodec
from enrich.core.templates import TemplateMiner, template_id
from enrich.io import kafka
from enrich.io.reading import read_latest
from enrich.io.stores import read_templates
from enrich.io.topics import TopicSpec, ensure_topics
from tests.integration.pipeline_env import Pipeline

LINE = (
    "Nov  3 10:00:0{i} web-0{i} sshd[81{i}]: Accepted publickey for {user} from 10.0.0.{i} "
    "port 5{i}122 ssh2"
)
SPECIFIC = "Accepted publickey for {} from <IP> port <NUM> ssh<NUM>"
GENERAL = SPECIFIC.format("<*>")


def _run(pipe: Pipeline, partition: int) -> dict[str, Any]:
    params = {"consumer_group": pipe.group, "start_from": "earliest", "time_budget_s": 60}
    return enrichment.enrich_partition(partition, params, "log_enrichment")


def _produce(pipe: Pipeline, partition: int, users: list[str]) -> None:
    producer = kafka.idempotent_producer(pipe.config)
    for i, user in enumerate(users):
        value = LINE.format(i=i, user=user)
        kafka.produce_one(producer, pipe.stack.topics.raw, value, partition=partition)
    kafka.flush_or_fail(producer, pipe.stack.topics.raw)


def _templates(pipe: Pipeline, partition: int) -> list[tuple[str, str]]:
    out = []
    for m in pipe.read(pipe.stack.topics.enriched):
        if m.partition() == partition:
            rec = json.loads(m.value())
            out.append((rec["message"].split(" for ")[1].split()[0], rec["template"]))
    return out


def test_template_state_on_the_broker_carries_across_runs_and_partitions(pipe: Pipeline) -> None:
    topic = pipe.stack.topics.templates
    _produce(pipe, 0, ["alice", "alice"])
    first = _run(pipe, 0)
    assert first["new_templates"] == 1
    assert _templates(pipe, 0) == [("alice", SPECIFIC.format("alice"))] * 2
    state = read_templates(pipe.config, topic, "test-reader")
    assert [(r["id"], r["template"], r["count"]) for r in state] == [
        (template_id(SPECIFIC.format("alice")), SPECIFIC.format("alice"), 2)
    ]

    # a later run (a new process would do the same: the state comes from the topic)
    _produce(pipe, 0, ["bob"])
    later = _run(pipe, 0)
    assert later["new_templates"] == 0  # bob's line generalised alice's template
    assert _templates(pipe, 0)[-1] == ("bob", GENERAL)
    state = read_templates(pipe.config, topic, "test-reader")
    by_id = {r["id"]: r for r in state}
    assert by_id[template_id(SPECIFIC.format("alice"))] == {
        "id": template_id(SPECIFIC.format("alice")),
        "replaced_by": template_id(GENERAL),
    }
    assert by_id[template_id(GENERAL)]["count"] == 3

    # another partition's task: alice's line gets the general template at once
    _produce(pipe, 1, ["alice", "carol"])
    other = _run(pipe, 1)
    assert other["new_templates"] == 0
    assert _templates(pipe, 1) == [("alice", GENERAL), ("carol", GENERAL)]

    # the state read back gives a miner that agrees; the topic's keys are template ids
    miner = TemplateMiner()
    miner.restore(read_templates(pipe.config, topic, "test-reader"))
    assert miner.resolve(template_id(SPECIFIC.format("alice"))) == template_id(GENERAL)
    keys = {m.key() for m in pipe.read(topic)}
    assert TemplateCodec.key({"id": template_id(GENERAL)}) in keys


def test_the_state_read_takes_each_keys_latest_committed_value(pipe: Pipeline) -> None:
    """``read_latest`` (the templates state's read): the latest committed value of each key
    over all partitions, a tombstone as None, keyless records counted; records of a
    transaction another task still has open are not state yet and not waited for (the read
    ends at the last stable offset), nor are an aborted transaction's."""
    topic = f"{pipe.stack.topics.templates}-latest"
    ensure_topics(pipe.config, [TopicSpec(topic, 2)])
    done = kafka.transactional_producer(pipe.config, f"{topic}-done")
    done.begin_transaction()
    for i in range(300):
        done.produce(topic, value=b"v%d" % i, key=b"k%d" % (i % 7), partition=i % 7 % 2)
    done.produce(topic, value=None, key=b"gone", partition=0)
    done.produce(topic, value=b"no key", partition=1)
    done.commit_transaction()
    done.begin_transaction()
    done.produce(topic, value=b"aborted", key=b"k1", partition=1)
    done.flush()
    done.abort_transaction()
    held = kafka.transactional_producer(pipe.config, f"{topic}-held")
    held.begin_transaction()
    held.produce(topic, value=b"open", key=b"k2", partition=0)
    held.flush()
    try:
        got = read_latest(pipe.config, topic, "test-reader")
        want = {b"k%d" % k: b"v%d" % max(i for i in range(300) if i % 7 == k) for k in range(7)}
        assert got.values == {**want, b"gone": None}
        assert got.keyless == 1
        held.commit_transaction()
        assert read_latest(pipe.config, topic, "test-reader").values[b"k2"] == b"open"
    finally:
        held.flush(5)
    assert read_latest(pipe.config, f"{topic}-missing", "r", missing_ok=True).values == {}
