"""The I/O edges: Kafka (clients through the Airflow connection, topics, reading ranges,
exactly-once transactions, the labels and review stores) and MLflow (models, tracking).
Nothing here knows about DAGs or Airflow's context."""
