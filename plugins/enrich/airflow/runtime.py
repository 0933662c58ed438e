"""What the tasks of one process share: the stack's settings, rules, taxonomy and models.

Airflow runs each task in a process of its own (``dag.test()`` and the benchmarks run many
in one). ``Runtime.current()`` gives the runtime of the stack the environment describes,
made once per process and per stack: the rules are recompiled only when their file changes,
and a model version is loaded once (and kept on local disk, so a later process of the same
machine loads it without the registry). Another environment (other topics, another MLflow
store) is another stack, so it gets a runtime of its own; nothing needs resetting.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from enrich import defaults
from enrich.config import StackSettings, Topics
from enrich.core.labels import Label, Taxonomy
from enrich.core.parse import FormatsCache, LogFormats
from enrich.core.rules import RulesCache, RuleSet
from enrich.io import stores
from enrich.io.connection import client_config
from enrich.io.models import ChampionCache
from enrich.io.stores import PeopleLabels
from enrich.learn.model import Model


class Runtime:
    """One stack's settings and the caches its tasks share in one process."""

    def __init__(self, stack: StackSettings) -> None:
        self.stack = stack
        self._rules: RulesCache | None = None
        self._formats = FormatsCache(stack.formats_file, stack.user_formats_file)
        self._models = ChampionCache(stack.model_cache_dir)
        self._people = PeopleLabels()

    @classmethod
    def current(cls) -> Runtime:
        """The runtime of the stack the environment describes (one per process and stack)."""
        return _runtime_for(StackSettings.from_env())

    @property
    def topics(self) -> Topics:
        return self.stack.topics

    def kafka_config(self) -> dict[str, Any]:
        """The librdkafka config of the stack's Airflow connection (read each time: a
        connection edited in the UI applies to the next task)."""
        return client_config(self.stack.kafka_conn_id)

    def taxonomy(self) -> Taxonomy:
        return Taxonomy.load(self.stack.taxonomy_file)

    def rules(self) -> RuleSet:
        """The rules, recompiled only when the file changed since this process read it."""
        if self._rules is None:
            self._rules = RulesCache(self.stack.rules_file, self.taxonomy())
        return self._rules.get()

    def formats(self) -> LogFormats:
        """The log formats (the user's, then the built-in ones), reloaded when a file changes."""
        return self._formats.get()

    def people(self) -> dict[str, Label]:
        """The labels people gave, by fingerprint (the labels topic, read incrementally)."""
        return self._people.refresh(
            self.kafka_config(), self.topics.labels, self.taxonomy(), "log-enricher-people"
        )

    def queued(self) -> set[str]:
        """The fingerprints waiting in the review queue: the keys of the newest
        ``REVIEW_LOOKBACK`` review items of each partition (read each time: the labelling DAG
        and other partitions' tasks add to it)."""
        return stores.queued_fingerprints(
            self.kafka_config(), self.topics.review, defaults.REVIEW_LOOKBACK, "log-enricher-queue"
        )

    def model(self, alias: str = defaults.CHAMPION) -> Model | None:
        """The model behind ``alias`` (None: no such alias yet), loaded once per version."""
        return self._models.get(self.stack.registered_model, alias)


@lru_cache(maxsize=8)
def _runtime_for(stack: StackSettings) -> Runtime:
    return Runtime(stack)
