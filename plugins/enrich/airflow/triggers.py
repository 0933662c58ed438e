"""Event-driven enrichment: the trigger an ``AssetWatcher`` runs in Airflow's triggerer.

``EnrichmentLagTrigger`` watches the enrichment consumer group's lag on the input topic
(``enrich.io.lag``: committed offsets against the ends a ``read_committed`` reader sees,
through admin requests only) every ``poll_interval`` seconds, and fires an event when input
arrived that the group has not read and that no earlier event announced. The event updates
the input Asset, which starts a ``log_enrichment`` run within seconds (at most one at a time:
``max_active_runs=1``; events while a run is on collapse into the next one). The watcher never
consumes and never commits: offsets move only inside the enrichment's transactions.

The Kafka provider's own message-queue trigger is not used for this: it consumes (and
commits) by itself, so its events drift from the offsets the enrichment commits.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

log = logging.getLogger(__name__)


class EnrichmentLagTrigger(BaseEventTrigger):
    """Fire when ``group`` has new unread input on ``topic`` (see the module doc)."""

    def __init__(
        self, kafka_config_id: str, topic: str, group: str, poll_interval: float = 2.0
    ) -> None:
        super().__init__()
        self.kafka_config_id = kafka_config_id
        self.topic = topic
        self.group = group
        self.poll_interval = poll_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "kafka_config_id": self.kafka_config_id,
                "topic": self.topic,
                "group": self.group,
                "poll_interval": self.poll_interval,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from asgiref.sync import sync_to_async

        from enrich.io.connection import client_config
        from enrich.io.lag import group_lag, news

        config = await sync_to_async(client_config)(self.kafka_config_id)
        signalled: dict[int, int] = {}
        while True:
            try:
                lag = await sync_to_async(group_lag)(config, self.topic, self.group)
            except Exception as err:  # a broker away for a while: keep watching
                log.warning("lag of %s on %s not read: %s", self.group, self.topic, err)
            else:
                if news(lag, signalled):
                    signalled = dict(lag.ends)
                    yield TriggerEvent(
                        {
                            "topic": self.topic,
                            "group": self.group,
                            "waiting": lag.waiting,
                            "ends": {str(p): e for p, e in lag.ends.items()},
                        }
                    )
            await asyncio.sleep(self.poll_interval)


def input_asset(event_driven: bool, poll_interval: float) -> Any:
    """The input topic as an Asset (``kafka://<first bootstrap server>/<raw topic>``), watched
    by an ``EnrichmentLagTrigger`` for the default consumer group when ``event_driven``."""
    import os

    from airflow.sdk import Asset, AssetWatcher

    from enrich import defaults
    from enrich.config import Topics

    server = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092").split(",")[0].strip()
    raw = Topics.from_env().raw
    watchers = []
    if event_driven:
        trigger = EnrichmentLagTrigger(
            os.environ.get("ENRICH_KAFKA_CONN_ID") or defaults.KAFKA_CONN_ID,
            raw,
            defaults.CONSUMER_GROUP,
            poll_interval,
        )
        watchers.append(AssetWatcher(name="enrichment_lag", trigger=trigger))
    return Asset(uri=f"kafka://{server}/{raw}", watchers=watchers)
