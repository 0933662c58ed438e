"""Active-learning log enrichment: pure logic here, I/O at the edges (kafka_io, registry)."""

from __future__ import annotations

__version__ = "0.1.0"
