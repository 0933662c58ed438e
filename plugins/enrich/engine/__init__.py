"""The batch engine: routing a batch between model, rules and review, writing the output
records, and picking review questions. Pure; builds on ``enrich.core`` and ``enrich.learn``."""
