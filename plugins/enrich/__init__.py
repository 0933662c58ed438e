"""Active-learning log enrichment on Kafka, Airflow and MLflow.

Layers, each importing only those below it (checked by ``make lint``, import-linter)::

    enrich.airflow   DAG task bodies, typed Params, runtime, HITL operator, assets
    enrich.cli       the ``enrich`` command
    enrich.io        Kafka and MLflow at the edge
    enrich.config    where the stack's state lives, from the environment
    enrich.engine    routing a batch, output records, review questions   (pure)
    enrich.learn     model, query strategies, training, simulation        (pure)
    enrich.core      records, labels, normalisation, rules, topic formats (pure)
    enrich.defaults, enrich.errors

``enrich.samples`` (the sample-log generator) stands apart: nothing of the engine uses it.
"""

from __future__ import annotations

__version__ = "0.2.0"
