"""What a worker calls itself. Airflow records each task instance's ``hostname`` (the Runs
view, the REST API) from ``[core] hostname_callable``; several Celery workers on one host all
report that host's name. ``hostname_callable = enrich.airflow.workers.hostname`` reports the
worker's name from ``ENRICH_WORKER_NAME`` (``scripts/cluster.sh`` sets ``worker1@host``, ...),
or the host's fully qualified name as Airflow's default does."""

from __future__ import annotations

import os
import socket


def hostname() -> str:
    return os.environ.get("ENRICH_WORKER_NAME") or socket.getfqdn()
