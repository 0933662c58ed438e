"""Labels and the taxonomy they are drawn from.

A label is a (severity, event type, category) triple. It travels as a JSON object
(``{"severity": ..., "event_type": ..., "category": ...}``) and is the classifier's class as
the compact JSON array ``["ERROR","State change","Software Infrastructure"]``: values may
hold spaces, ``/``, ``&`` and ``_``, and nothing ever joins or splits them on a separator.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from enrich import defaults
from enrich.core import yamlfiles
from enrich.errors import ConfigError

FIELDS = ("severity", "event_type", "category")


@dataclass(frozen=True, slots=True, order=True)
class Label:
    severity: str
    event_type: str
    category: str

    def to_dict(self) -> dict[str, str]:
        return {"severity": self.severity, "event_type": self.event_type, "category": self.category}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Label:
        """Build from a mapping with exactly the three keys; raise ConfigError otherwise."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"a label must be a mapping of {', '.join(FIELDS)}, got {data!r}")
        missing = [f for f in FIELDS if f not in data]
        extra = sorted(set(data) - set(FIELDS))
        if missing or extra:
            raise ConfigError(
                f"label {dict(data)!r}: "
                + "; ".join(
                    ([f"missing {', '.join(missing)}"] if missing else [])
                    + ([f"unknown key(s) {', '.join(extra)}"] if extra else [])
                )
            )
        values = [data[f] for f in FIELDS]
        for f, v in zip(FIELDS, values, strict=True):
            if not isinstance(v, str):
                raise ConfigError(f"label {f} must be a string, got {v!r}")
        return cls(*values)

    @property
    def class_name(self) -> str:
        """The classifier's class for this label: a compact JSON array, reversible exactly."""
        return json.dumps([self.severity, self.event_type, self.category], separators=(",", ":"))

    @classmethod
    def from_class_name(cls, name: str) -> Label:
        severity, event_type, category = json.loads(name)
        return cls(severity, event_type, category)


@dataclass(frozen=True)
class Taxonomy:
    """The allowed values of each label field, and the fallback label."""

    severity: tuple[str, ...]
    event_type: tuple[str, ...]
    category: tuple[str, ...]
    fallback: Label

    def __post_init__(self) -> None:
        for f in FIELDS:
            values = getattr(self, f)
            if not values:
                raise ConfigError(f"taxonomy: {f} has no values")
            dupes = sorted({v for v in values if values.count(v) > 1})
            if dupes:
                raise ConfigError(f"taxonomy: {f} lists {', '.join(dupes)} more than once")
        self.validate(self.fallback, where="taxonomy fallback")

    def validate(self, label: Label, where: str = "label") -> Label:
        """Return ``label`` if every value is allowed; raise ConfigError naming the bad value."""
        for f in FIELDS:
            value = getattr(label, f)
            allowed = getattr(self, f)
            if value not in allowed:
                raise ConfigError(
                    f"{where}: {f} {value!r} is not in the taxonomy; allowed: "
                    + ", ".join(repr(a) for a in allowed)
                )
        return label

    def unknown_values(self, labels: Iterable[Label]) -> list[str]:
        """``field 'value'`` for each value of ``labels`` this taxonomy does not have."""
        return sorted(
            {
                f"{f} {getattr(label, f)!r}"
                for label in labels
                for f in FIELDS
                if getattr(label, f) not in getattr(self, f)
            }
        )

    def label(self, data: Mapping[str, Any], where: str = "label") -> Label:
        """Parse and validate a label mapping."""
        try:
            parsed = Label.from_dict(data)
        except ConfigError as err:
            raise ConfigError(f"{where}: {err}") from None
        return self.validate(parsed, where)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str = "taxonomy") -> Taxonomy:
        if not isinstance(data, Mapping):
            raise ConfigError(f"{source}: expected a mapping with {', '.join(FIELDS)}, fallback")
        lists: dict[str, tuple[str, ...]] = {}
        for f in FIELDS:
            values = data.get(f)
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise ConfigError(f"{source}: {f} must be a list of strings")
            lists[f] = tuple(values)
        if "fallback" not in data:
            raise ConfigError(f"{source}: missing fallback label")
        fallback = Label.from_dict(data["fallback"])
        return cls(lists["severity"], lists["event_type"], lists["category"], fallback)

    @classmethod
    def load(cls, path: str | Path | None = None) -> Taxonomy:
        """Load ``path`` (default ``include/taxonomy.yaml``); ConfigError says what to fix."""
        path = Path(path) if path else defaults.TAXONOMY_FILE
        try:
            data = yamlfiles.safe_load(path.read_text(encoding="utf-8"))
        except OSError as err:
            raise ConfigError(f"cannot read taxonomy file {path}: {err.strerror}") from None
        except yaml.YAMLError as err:
            raise ConfigError(f"taxonomy file {path} is not valid YAML: {err}") from None
        return cls.from_mapping(data, source=str(path))


DEFAULT_TAXONOMY = Taxonomy(
    severity=("INFO", "DEBUG", "WARNING", "ERROR", "CRITICAL"),
    event_type=(
        "Heartbeat",
        "State change",
        "Authentication and Authorization",
        "Operations on files and apps",
        "Network Communication",
        "Security and Anomalies",
        "Performance and Resources",
        "User Interactions",
        "Useless",
    ),
    category=(
        "Hardware Infrastructure",
        "Software Infrastructure",
        "Connectivity and Security",
        "Datas",
        "Application & Middleware",
        "Monitoring & Logging",
        "Automation & CI/CD",
        "Uncategorized",
    ),
    fallback=Label("INFO", "Useless", "Uncategorized"),
)
