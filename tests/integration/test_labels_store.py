"""Reading the labels topic against the real broker (issue 13, item 18): a partition full of
repeats (the uncompacted tail) is merged a chunk at a time, so what is held follows the
number of distinct lines, not the partition's length; the result is the whole merge."""

from __future__ import annotations

from typing import Any

import pytest

from enrich.core.formats import RULES, LabelRecord
from enrich.core.labels import DEFAULT_TAXONOMY, Label
from enrich.io import reading, stores

LABELS = [
    Label("INFO", "State change", "Software Infrastructure"),
    Label("ERROR", "State change", "Software Infrastructure"),
]


def test_a_long_labels_partition_is_merged_a_chunk_at_a_time(
    kafka_config: dict[str, Any], fresh_topic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    distinct, repeats = 20, 30  # 600 records of 20 lines; the last write of each line wins
    records = [
        LabelRecord(f"{i:032x}", f"line {i}", LABELS[r % 2], RULES, "r", labelled_at=1000 + r)
        for r in range(repeats)
        for i in range(distinct)
    ]
    stores.write_labels(kafka_config, fresh_topic, records)
    monkeypatch.setattr(reading, "CONSUME_CHUNK", 50)
    merged_sizes: list[int] = []
    merge = stores.merge_labels

    def watched(labels: Any, into: Any = None) -> Any:
        labels = list(labels)
        merged_sizes.append(len(labels))
        return merge(labels, into=into)

    monkeypatch.setattr(stores, "merge_labels", watched)

    got = stores.read_labels(kafka_config, fresh_topic, DEFAULT_TAXONOMY, "test-labels-reader")

    assert got.read == distinct * repeats
    assert len(got.labels) == distinct
    assert {x.label for x in got.labels.values()} == {LABELS[(repeats - 1) % 2]}
    assert max(merged_sizes) <= 50, "never more than a chunk of records held at once"
    assert sum(merged_sizes) >= distinct * repeats
