"""YAML for the project's files (rules, formats, taxonomy): libyaml's C loader when PyYAML
was built with it (about 10x faster: the rule pack's YAML parses in 6 ms instead of 66 ms, in
every task process), else PyYAML's own. Both build the same plain data; errors are
``yaml.YAMLError`` with the line and column."""

from __future__ import annotations

from typing import Any

import yaml

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load(text: str) -> Any:
    """``yaml.safe_load(text)``, by the fastest safe loader available."""
    return yaml.load(text, Loader=_LOADER)  # a safe loader, C or Python
