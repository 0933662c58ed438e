"""A consumer group's lag on a topic, through admin and metadata requests only.

``group_lag`` asks the broker for the group's committed offsets (``OffsetFetch``, what
``kafka-consumer-groups --describe`` shows) and the partitions' last stable offsets
(``ListOffsets`` with ``read_committed``: what a transactional reader can see). It never joins
the group, consumes or commits: watching the lag changes nothing for the enrichment's
exactly-once offsets, which only its transactions commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from confluent_kafka import ConsumerGroupTopicPartitions, IsolationLevel, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from enrich.errors import StackError

NO_OFFSET = -1001  # librdkafka's OFFSET_INVALID: the group has committed nothing there


@dataclass(frozen=True)
class Lag:
    """Per partition the group's committed offset (``NO_OFFSET``: none) and the end a
    ``read_committed`` reader sees; ``waiting``: messages after the committed offsets (all
    of a partition the group never committed on)."""

    committed: dict[int, int]
    ends: dict[int, int]

    @property
    def waiting(self) -> int:
        return sum(
            max(0, end - max(self.committed.get(p, NO_OFFSET), 0)) for p, end in self.ends.items()
        )

    def behind(self) -> dict[int, int]:
        """The ends of the partitions with messages after the group's offset."""
        return {
            p: end for p, end in self.ends.items() if end > max(self.committed.get(p, NO_OFFSET), 0)
        }


def group_lag(config: Mapping[str, Any], topic: str, group: str, timeout: float = 10.0) -> Lag:
    """The group's lag on ``topic`` (admin requests only: see the module doc). Raises
    StackError when the topic does not exist or the broker does not answer in time."""
    admin = AdminClient({**config, "client.id": "log-enricher-lag"})
    metadata = admin.list_topics(topic, timeout=timeout).topics.get(topic)
    if metadata is None or metadata.error is not None or not metadata.partitions:
        raise StackError(f"topic {topic!r} is not there to watch")
    tps = [TopicPartition(topic, p) for p in sorted(metadata.partitions)]
    request = [ConsumerGroupTopicPartitions(group, tps)]
    done = admin.list_consumer_group_offsets(request, request_timeout=timeout)[group].result()
    committed = {tp.partition: tp.offset for tp in done.topic_partitions}
    futures = admin.list_offsets(
        {tp: OffsetSpec.latest() for tp in tps},
        isolation_level=IsolationLevel.READ_COMMITTED,
        request_timeout=timeout,
    )
    ends = {tp.partition: f.result().offset for tp, f in futures.items()}
    return Lag(committed, ends)


def news(lag: Lag, signalled: Mapping[int, int]) -> bool:
    """Is there input the group has not read that arrived since the last signal
    (``signalled``: each partition's end when it was last signalled)? Input already
    signalled and still waiting (a run is on it) is not signalled again."""
    return any(end > signalled.get(p, -1) for p, end in lag.behind().items())
