-- One PostgreSQL server, two databases: Airflow's metadata and MLflow's tracking/registry.
CREATE USER mlflow WITH PASSWORD 'mlflow';
CREATE DATABASE mlflow OWNER mlflow;
