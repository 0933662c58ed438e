"""The model: one scikit-learn pipeline (normaliser → TF-IDF → classifier) in a modAL learner.

The pipeline is the single artifact that is trained, saved and loaded, so the vectoriser and
the classifier can never drift apart. The classes are :attr:`Label.class_name` strings.
Query strategies (``enrich.learn.strategies``) pick what people label; the learner here
asks them through modAL.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
from modAL.models import ActiveLearner
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from enrich import defaults
from enrich.core.labels import Label
from enrich.errors import ConfigError
from enrich.learn.features import (
    LogNormalizer,
    Texts,
    TfidfFeatures,
    as_array,
    text_vectorizer,
)
from enrich.learn.strategies import get_strategy


def build_pipeline(random_state: int = defaults.RANDOM_STATE, C: float = defaults.C) -> Pipeline:
    """An unfitted pipeline: normalise → word 1-2-gram TF-IDF → multinomial logistic regression."""
    return Pipeline(
        [
            ("normalize", LogNormalizer()),
            ("tfidf", text_vectorizer()),
            (
                "clf",
                LogisticRegression(
                    C=C, class_weight="balanced", max_iter=2000, random_state=random_state
                ),
            ),
        ]
    )


def make_learner(
    texts: Texts,
    labels: Sequence[Label] | Texts,
    strategy: str = defaults.STRATEGY,
    random_state: int = defaults.RANDOM_STATE,
    C: float = defaults.C,
) -> ActiveLearner:
    """Fit a new pipeline on ``texts``/``labels`` inside a modAL ActiveLearner.

    ``C`` is the logistic regression's inverse regularisation strength.

    Labels are :class:`Label` objects or ready-made class names. ``on_transformed=True``
    makes modAL's distance-based strategies work on the TF-IDF features rather than on raw
    strings. Needs at least two distinct labels.
    """
    classes = [x.class_name if isinstance(x, Label) else str(x) for x in labels]
    if len(set(classes)) < 2:
        raise ConfigError(f"training needs labels of at least 2 classes, got {len(set(classes))}")
    with _quiet_fit():
        return ActiveLearner(
            estimator=build_pipeline(random_state, C),
            query_strategy=get_strategy(strategy),
            X_training=np.asarray(texts, dtype=object),
            y_training=np.asarray(classes, dtype=object),
            on_transformed=True,
        )


def teach(learner: ActiveLearner, texts: Texts, labels: Texts) -> None:
    """``learner.teach`` without modAL 0.4.2.1's deprecation noise under scikit-learn 1.7."""
    with _quiet_fit():
        learner.teach(as_array(texts), np.asarray(labels, dtype=object))


@contextmanager
def _quiet_fit() -> Iterator[None]:
    """Silence two known, harmless warnings of small active-learning fits."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="'force_all_finite'", category=FutureWarning)
        warnings.filterwarnings(
            "ignore", message="The number of unique classes", category=UserWarning
        )
        yield


# normalised texts whose class probabilities a Model keeps (3.6 MB a 10,000 with 30 classes,
# measured with tracemalloc: rows, texts and the dict)
PREDICTIONS_KEPT = 50_000


@dataclass
class Model:
    """A fitted pipeline and where it came from (registered model name and version).

    The pipeline is fitted once (as the registry serves it) and never refitted in place: the
    probabilities of up to ``PREDICTIONS_KEPT`` normalised texts (the latest new ones) are
    kept, so that a task's micro-batches, which repeat most of each other's texts, ask the
    classifier only about texts it has not seen."""

    pipeline: Pipeline
    name: str | None = None
    version: str | None = None
    _features: TfidfFeatures | None = field(default=None, init=False, repr=False, compare=False)
    _kept: dict[str, np.ndarray] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __getstate__(self) -> dict[str, object]:
        """Pickled without the native feature counter (rebuilt on first use) and without the
        kept probabilities."""
        return {**self.__dict__, "_features": None, "_kept": {}}

    @property
    def classes(self) -> list[Label]:
        return [Label.from_class_name(c) for c in self.pipeline.classes_]

    def predict_normalized(self, normalized: Texts) -> tuple[np.ndarray, np.ndarray]:
        """Class index and confidence per already-normalised text, in one batch call."""
        if len(normalized) == 0:
            return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.float64)
        proba = self.pipeline[1:].predict_proba(np.asarray(normalized, dtype=object))
        best = proba.argmax(axis=1)
        return best, proba[np.arange(len(best)), best]

    def predict_proba_normalized(self, normalized: Texts) -> np.ndarray:
        """Class probabilities per already-normalised text (columns: ``classes``): those
        kept from earlier calls, the classifier's for the others (each row is the same
        either way: a row's probabilities depend on its text alone)."""
        if len(normalized) == 0:
            return np.empty((0, len(self.pipeline.classes_)), dtype=np.float64)
        kept = self._kept
        new = [t for t in dict.fromkeys(normalized) if t not in kept]
        if not new:
            return np.stack([kept[t] for t in normalized])
        proba = self._predict_proba(new)
        rows = dict(zip(new, proba.copy(), strict=True))  # the caller may change `proba`
        out = (
            proba
            if len(new) == len(normalized)
            else np.stack([rows[t] if t in rows else kept[t] for t in normalized])
        )
        kept.update(rows)
        for old in list(itertools.islice(kept, max(0, len(kept) - PREDICTIONS_KEPT))):
            del kept[old]  # the oldest first
        return out

    def _predict_proba(self, normalized: Texts) -> np.ndarray:
        steps = self.pipeline.steps
        if len(steps) != 3 or not isinstance(steps[1][1], TfidfVectorizer):
            proba: np.ndarray = self.pipeline[1:].predict_proba(as_array(normalized))
            return proba
        if self._features is None or self._features.vectorizer is not steps[1][1]:
            self._features = TfidfFeatures(steps[1][1])
        return steps[2][1].predict_proba(self._features.transform(normalized))

    def predict(self, texts: Sequence[str]) -> tuple[list[Label], np.ndarray]:
        """Label and confidence per raw text, in one batch call."""
        proba = self.pipeline.predict_proba(np.asarray(texts, dtype=object))
        best = proba.argmax(axis=1)
        classes = self.classes
        return [classes[i] for i in best], proba[np.arange(len(best)), best]


def unfitted_learner(strategy: str = defaults.STRATEGY) -> ActiveLearner:
    """A learner with no model yet: strategies treat every item as equally uncertain."""
    return ActiveLearner(
        estimator=build_pipeline(), query_strategy=get_strategy(strategy), on_transformed=True
    )
