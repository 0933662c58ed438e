"""A classifier with chosen confidences, to test routing at exact thresholds.

It is a real scikit-learn estimator inside a real pipeline (normaliser first), so the code
under test calls it exactly as it calls the trained model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.pipeline import Pipeline

from enrich.core.labels import Label
from enrich.learn.features import LogNormalizer
from enrich.learn.model import Model


class FixedConfidence(ClassifierMixin, BaseEstimator):
    """Predicts ``labels[0]`` with the confidence given for the first keyword in the text."""

    def __init__(
        self, labels: tuple[Label, ...] = (), confidence: tuple[tuple[str, float], ...] = ()
    ):
        self.labels = labels
        self.confidence = confidence

    def fit(self, X: Any = None, y: Any = None) -> FixedConfidence:
        self.classes_ = np.asarray([label.class_name for label in self.labels], dtype=object)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        out = np.zeros((len(X), len(self.labels)))
        for i, text in enumerate(X):
            p = next((c for key, c in self.confidence if key in text), 0.5)
            out[i, 0] = p
            out[i, 1:] = (1 - p) / (len(self.labels) - 1)
        return out


def fixed_model(labels: tuple[Label, ...], confidence: dict[str, float]) -> Model:
    clf = FixedConfidence(labels, tuple(confidence.items())).fit()
    return Model(Pipeline([("normalize", LogNormalizer()), ("clf", clf)]), "test-model", "7")
