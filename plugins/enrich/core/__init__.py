"""The pure core: records, labels, normalisation, rules and every topic's record format.

No Kafka, MLflow or Airflow, and no model: imports only ``enrich.defaults`` and
``enrich.errors`` besides itself (enforced by the import contract in ``pyproject.toml``).
"""
