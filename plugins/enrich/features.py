"""Where models registered before the layered layout find their normaliser.

A saved model names the classes it is built of; versions registered before 0.2 name
``enrich.features.LogNormalizer``, which now lives in ``enrich.learn.features``.
"""

from __future__ import annotations

from enrich.learn.features import LogNormalizer

__all__ = ["LogNormalizer"]
