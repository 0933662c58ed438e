"""The model's features: raw log texts → normalised texts → word 1-2-gram TF-IDF.

``LogNormalizer`` is the pipeline's first step, so a saved model always normalises its input
the way it was trained; ``text_vectorizer`` is the TF-IDF the model and the diversity-aware
query strategy share.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

from enrich.core.normalize import normalize_many

try:  # the native term counter (native/); scikit-learn's own otherwise
    from enrich_native import Terms as _NativeTerms
except ImportError:
    _NativeTerms = None

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


class TfidfFeatures:
    """``vectorizer.transform(texts)`` of a fitted ``text_vectorizer()``, the same matrix to
    the bit, faster: the native term counter counts the ASCII texts' terms (the Python
    tokenising and counting are most of scikit-learn's time), scikit-learn counts the others
    and weights them all (its TF-IDF transformer). A vectoriser configured otherwise than
    ``text_vectorizer()`` is left to scikit-learn whole."""

    def __init__(self, vectorizer: TfidfVectorizer) -> None:
        self.vectorizer = vectorizer
        self._terms = (
            _NativeTerms(vectorizer.vocabulary_, vectorizer.ngram_range)
            if _NativeTerms is not None and _native_counts_match(vectorizer)
            else None
        )

    @property
    def native(self) -> bool:
        return self._terms is not None

    def transform(self, texts: Texts) -> sp.csr_matrix:
        vec = self.vectorizer
        if self._terms is None:
            return vec.transform(texts)
        texts = list(texts)
        indptr, indices, counts, left = self._terms.count(texts)
        shape = (len(texts), len(vec.vocabulary_))
        X = sp.csr_matrix(
            (
                np.frombuffer(counts, dtype=np.int32),
                np.frombuffer(indices, dtype=np.int32),
                np.frombuffer(indptr, dtype=np.int32),
            ),
            shape=shape,
            dtype=vec.dtype,
        )
        if left:  # non-ASCII texts: scikit-learn's counts, in their rows
            counted = CountVectorizer.transform(vec, [texts[i] for i in left]).tocoo()
            rows = np.asarray(left, dtype=np.int32)[counted.row]
            X = X + sp.csr_matrix((counted.data, (rows, counted.col)), shape=shape, dtype=vec.dtype)
        X.sort_indices()
        return vec._tfidf.transform(X, copy=False)


def _native_counts_match(vec: TfidfVectorizer) -> bool:
    """Whether the native counter counts what ``vec`` counts (``text_vectorizer()``'s
    analysis: lowercased words of ``TOKEN_PATTERN``, word n-grams, no stop words)."""
    return (
        isinstance(vec, TfidfVectorizer)
        and hasattr(vec, "vocabulary_")
        and hasattr(vec, "_tfidf")
        and vec.analyzer == "word"
        and vec.input == "content"
        and vec.token_pattern == TOKEN_PATTERN
        and vec.lowercase
        and vec.preprocessor is None
        and vec.tokenizer is None
        and vec.stop_words is None
        and vec.strip_accents is None
        and not vec.binary
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
