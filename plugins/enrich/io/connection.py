"""The Kafka connection: the librdkafka config of an Airflow connection, via the provider.

Connection settings (bootstrap servers, SASL/TLS, allow-listed callbacks, managed OAuth) come
from the Airflow connection (default ``kafka_default``) through the Kafka provider's hook,
exactly as the provider's own hooks build their clients, so users configure security once.
Nothing here logs a config dict.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.apache.kafka.hooks.base import KafkaBaseHook

from enrich import defaults
from enrich.errors import StackError


class KafkaConfigHook(KafkaBaseHook):
    """The connection's librdkafka config, resolved by the provider's ``KafkaBaseHook``.

    The provider's hooks subclass ``KafkaBaseHook`` and turn the resolved config into their
    client in ``_get_client``; this one's "client" is the config itself, because a task needs
    several clients (a transactional producer, a consumer) with settings of their own.
    """

    def _get_client(self, config: dict[str, Any]) -> dict[str, Any]:
        return config


def client_config(conn_id: str = defaults.KAFKA_CONN_ID, **overrides: Any) -> dict[str, Any]:
    """Return the confluent-kafka config of Airflow connection ``conn_id`` plus ``overrides``.

    The connection's extra is the librdkafka config dict (the provider's convention); the
    provider's hook resolves allow-listed callbacks and managed OAuth. Raises
    :class:`StackError` when the connection is missing or has no ``bootstrap.servers``.
    """
    try:
        config: dict[str, Any] = dict(KafkaConfigHook(kafka_config_id=conn_id).get_conn)
    except ValueError as err:
        raise StackError(f"Airflow connection {conn_id!r} is not usable: {err}") from err
    except Exception as err:  # the SDK raises its own NotFound types across versions
        if "not defined" in str(err) or "NotFound" in type(err).__name__:
            raise StackError(
                f"Airflow connection {conn_id!r} is not defined: set AIRFLOW_CONN_"
                f"{conn_id.upper()} (scripts/env.sh does for the local broker) or add it in the UI"
            ) from err
        raise
    config.update(overrides)
    return config
