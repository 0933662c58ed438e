"""The Airflow Asset that links enrichment (new labels) to training."""

from __future__ import annotations

import os
from typing import Any

from enrich.settings import Topics

LABELS_ASSET_NAME = "log-enricher-labels"


def labels_asset() -> Any:
    """``kafka://<first bootstrap server>/<labels topic>``, named ``log-enricher-labels``.

    Built from environment variables only (no connection is opened at DAG parse time).
    """
    from airflow.sdk import Asset

    server = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092").split(",")[0].strip()
    return Asset(name=LABELS_ASSET_NAME, uri=f"kafka://{server}/{Topics.from_env().labels}")
