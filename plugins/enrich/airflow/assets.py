"""The Airflow Asset that links enrichment (new labels) to training."""

from __future__ import annotations

import os
from typing import Any

from enrich.config import Topics


def labels_asset() -> Any:
    """``kafka://<first bootstrap server>/<labels topic>`` (its name is the same URI, so
    two deployments' label topics are two assets).

    Built from environment variables only (no connection is opened at DAG parse time).
    """
    from airflow.sdk import Asset

    server = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092").split(",")[0].strip()
    return Asset(uri=f"kafka://{server}/{Topics.from_env().labels}")
