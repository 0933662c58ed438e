"""The model's features: raw log texts → normalised texts → word 1-2-gram TF-IDF.

``LogNormalizer`` is the pipeline's first step, so a saved model always normalises its input
the way it was trained; ``text_vectorizer`` is the TF-IDF the model and the diversity-aware
query strategy share.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer

from enrich.core.normalize import normalize_many

# texts as a list or a 1-d numpy object array (what scikit-learn and modAL pass around)
Texts = Sequence[str] | np.ndarray
# Masks (<IP>), words, and single punctuation marks that carry structure ([ ] : = ").
TOKEN_PATTERN = r"<\w+>|[^\W\d_]+|[\[\]:=\"/@]"


class LogNormalizer(TransformerMixin, BaseEstimator):
    """scikit-learn step: raw log texts → normalised texts (stateless).

    Lives inside the model pipeline so the model always sees the features it was trained on.
    """

    def fit(self, X: Sequence[str], y: Any = None) -> LogNormalizer:
        self.n_features_in_ = 1
        return self

    def transform(self, X: Sequence[str] | np.ndarray) -> np.ndarray:
        return np.asarray(normalize_many(_as_texts(X)), dtype=object)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.requires_fit = False
        return tags


def text_vectorizer() -> TfidfVectorizer:
    """Word 1-2-gram TF-IDF over masks, words and structural punctuation."""
    return TfidfVectorizer(
        token_pattern=TOKEN_PATTERN,
        ngram_range=(1, 2),
        sublinear_tf=True,
        lowercase=True,
        dtype=np.float32,
    )


def as_array(X: Texts) -> np.ndarray:
    """``X`` as a 1-d numpy object array (as it is when it already is one)."""
    return X if isinstance(X, np.ndarray) else np.asarray(list(X), dtype=object)


def _as_texts(X: Any) -> list[str]:
    if isinstance(X, np.ndarray):
        X = X.ravel()
    elif hasattr(X, "iloc"):  # pandas Series / single-column DataFrame
        X = np.asarray(X).ravel()
    return [str(x) for x in X]
