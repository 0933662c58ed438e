"""Bad input through the real broker and the real log_enrichment DAG: every kind is either
enriched or dead-lettered with a reason; the batch goes on; inputs = outputs + dead letters."""

from __future__ import annotations

import json

from airflow.utils.state import DagRunState

from enrich.core import records
from enrich.io import kafka
from enrich.samples import generate
from tests.integration.pipeline_env import Pipeline

# name → (value, expected dead-letter reason, or None: enriched)
KINDS: dict[str, tuple[bytes | None, str | None]] = {
    "invalid_utf8": (b"login ok \xc3\x28 user", records.INVALID_UTF8),
    "nul_bytes": (b"worker\x00crashed\x00 code 7", None),
    "empty": (b"", None),
    "null_tombstone": (None, records.TOMBSTONE),
    "json_array": (b'[{"message": "x"}]', records.JSON_NOT_OBJECT),
    "json_number": (b"42", None),  # a bare number is a (short) plain line
    "json_string": (b'"just a string"', records.JSON_NOT_OBJECT),
    "message_number": (b'{"message": 42, "host": "a"}', records.TEXT_NOT_STRING),
    "message_object": (b'{"message": {"nested": true}}', records.TEXT_NOT_STRING),
    "nested_10000": (b'{"a":' * 10_000 + b"1" + b"}" * 10_000, records.JSON_TOO_DEEP),
    "value_5mb": (b"E" * (5 << 20), records.TOO_LARGE),  # over the 1 MiB default limit
    "line_200kb": (b"GET /" + b"a" * 200_000 + b" HTTP/1.1 500", None),
    "control_rtl": ("disk \x07full \u202eevil\u202c \x1b[31mred\x1b[0m".encode(), None),
    # shapes that make backtracking engines explode; the rules run on RE2 (linear time)
    "redos_spaces": (b"error" + b" " * 100_000 + b"!", None),
    "redos_nested": (b"(" * 50_000 + b"a" * 50_000 + b")" * 49_999, None),
    "redos_alternation": (b"a" * 100_000 + b"X", None),
}


def test_every_kind_of_bad_input_is_enriched_or_dead_lettered_with_a_reason(
    pipe: Pipeline,
) -> None:
    good = [v for _s, v in generate(300, seed=8)]
    names = list(KINDS)
    values = [*good[:150], *(KINDS[n][0] for n in names), *good[150:]]
    keys = [f"good-{i}" for i in range(150)] + names + [f"good-{i}" for i in range(150, 300)]
    # every bad value to partition 1, in the middle of good lines: the batch must go on
    producer = kafka.idempotent_producer({**pipe.config, "message.max.bytes": 10 << 20})
    for value, key in zip(values, keys, strict=True):
        kafka.produce_one(producer, pipe.stack.topics.raw, value, key, partition=1)
    kafka.flush_or_fail(producer, pipe.stack.topics.raw)

    run = pipe.run_dag("log_enrichment", run_conf={"max_batch_size": 10_000})
    assert run.state == DagRunState.SUCCESS

    inputs = {m.offset(): m.key().decode() for m in pipe.read(pipe.stack.topics.raw)}
    enriched = pipe.read(pipe.stack.topics.enriched)
    dead = pipe.read(pipe.stack.topics.dlq)
    seen: dict[int, str | None] = {}
    for m in enriched:
        src = json.loads(m.value())["source"]
        assert src["offset"] not in seen, "duplicate"
        seen[src["offset"]] = None
    for m in dead:
        headers = dict(m.headers() or [])
        offset = int(headers["source"].decode().rsplit(":", 1)[1])
        assert offset not in seen, "duplicate"
        seen[offset] = headers["reason"].decode()
        assert headers["detail"], "a human-readable reason"
    assert set(seen) == set(inputs), "inputs = outputs + dead letters, nothing lost"
    assert len(enriched) + len(dead) == len(values)
    by_key = {inputs[o]: reason for o, reason in seen.items()}
    for name in names:
        assert by_key[name] == KINDS[name][1], name
    assert all(by_key[k] is None for k in keys if k.startswith("good-"))
    # dead letters keep the original bytes (the 5 MB value too) and the source key
    big = next(m for m in dead if dict(m.headers() or [])["source_key"] == b"value_5mb")
    assert len(big.value()) == 5 << 20
    text = {json.loads(m.value())["source"]["offset"]: json.loads(m.value()) for m in enriched}
    offset_of = {k: o for o, k in inputs.items()}
    assert text[offset_of["nul_bytes"]]["message"] == "worker\x00crashed\x00 code 7"
    assert "\u202e" in text[offset_of["control_rtl"]]["message"]
    assert len(text[offset_of["line_200kb"]]["message"]) > 200_000
