"""The project's exceptions, in one place."""

from __future__ import annotations


class EnrichError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(EnrichError, ValueError):
    """A setting, the taxonomy or the rules file is invalid; the message says what to fix."""


class StackError(EnrichError, RuntimeError):
    """Kafka, MLflow or Airflow is unreachable or not set up; the message says what to start."""
