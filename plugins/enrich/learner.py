"""The model: one scikit-learn pipeline (normaliser → TF-IDF → classifier) in a modAL learner.

The pipeline is the single artifact that is trained, saved and loaded, so the vectoriser and
the classifier can never drift apart. The classes are :attr:`Label.class_name` strings.

Query strategies are plain functions of one shape,
``strategy(learner, X, n_instances, random_state) -> (indices, scores)``, usable directly or
as a modAL ``query_strategy``; an unfitted learner is a cold start (uncertainty 1 for all).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from modAL.batch import uncertainty_batch_sampling
from modAL.models import ActiveLearner
from modAL.uncertainty import classifier_entropy, classifier_margin, classifier_uncertainty
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from enrich.errors import ConfigError
from enrich.features import LogNormalizer
from enrich.labels import Label

DEFAULT_STRATEGY = "diverse"
DEFAULT_C = 20.0
# texts as a list or a 1-d numpy object array (what scikit-learn and modAL pass around)
Texts = Sequence[str] | np.ndarray
# Masks (<IP>), words, and single punctuation marks that carry structure ([ ] : = ").
TOKEN_PATTERN = r"<\w+>|[^\W\d_]+|[\[\]:=\"/@]"


def build_pipeline(random_state: int = 0, C: float = DEFAULT_C) -> Pipeline:
    """An unfitted pipeline: normalise → word 1-2-gram TF-IDF → multinomial logistic regression."""
    return Pipeline(
        [
            ("normalize", LogNormalizer()),
            (
                "tfidf",
                TfidfVectorizer(
                    token_pattern=TOKEN_PATTERN,
                    ngram_range=(1, 2),
                    sublinear_tf=True,
                    lowercase=True,
                    dtype=np.float32,
                ),
            ),
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
    strategy: str = DEFAULT_STRATEGY,
    random_state: int = 0,
    C: float = DEFAULT_C,
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
        learner.teach(_array(texts), np.asarray(labels, dtype=object))


@contextmanager
def _quiet_fit() -> Iterator[None]:
    """Silence two known, harmless warnings of small active-learning fits."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="'force_all_finite'", category=FutureWarning)
        warnings.filterwarnings(
            "ignore", message="The number of unique classes", category=UserWarning
        )
        yield


@dataclass
class Model:
    """A fitted pipeline and where it came from (registered model name and version)."""

    pipeline: Pipeline
    name: str | None = None
    version: str | None = None

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

    def predict(self, texts: Sequence[str]) -> tuple[list[Label], np.ndarray]:
        """Label and confidence per raw text, in one batch call."""
        proba = self.pipeline.predict_proba(np.asarray(texts, dtype=object))
        best = proba.argmax(axis=1)
        classes = self.classes
        return [classes[i] for i in best], proba[np.arange(len(best)), best]


# ---- query strategies ------------------------------------------------------------------

Strategy = Callable[[Any, Texts, int, int], tuple[np.ndarray, np.ndarray]]


def _top(scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    n = min(n, len(scores))
    order = np.argsort(-scores, kind="stable")[:n]
    return order, scores[order]


def uncertainty(
    learner: Any, X: Texts, n_instances: int, random_state: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Least confident first: 1 - max probability (modAL's measure)."""
    return _top(classifier_uncertainty(learner, _array(X)), n_instances)


def margin(
    learner: Any, X: Texts, n_instances: int, random_state: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Smallest gap between the two most likely classes first."""
    return _top(-classifier_margin(learner, _array(X)), n_instances)


def entropy(
    learner: Any, X: Texts, n_instances: int, random_state: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Highest entropy of the predicted distribution first."""
    return _top(classifier_entropy(learner, _array(X)), n_instances)


def random_sampling(
    learner: Any, X: Texts, n_instances: int, random_state: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Uniformly at random (the baseline every strategy must beat)."""
    rng = np.random.default_rng(random_state)
    n = min(n_instances, len(X))
    idx = rng.choice(len(X), size=n, replace=False)
    return idx, np.zeros(n)


def ranked_batch(
    learner: Any, X: Texts, n_instances: int, random_state: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """modAL's ranked batch mode (Cardoso et al.): uncertainty balanced with dissimilarity."""
    if len(X) == 0:
        return np.empty(0, dtype=np.intp), np.empty(0)
    try:
        idx, scores = uncertainty_batch_sampling(
            learner, _array(X), n_instances=min(n_instances, len(X)), metric="cosine"
        )
    except NotFittedError:  # cold start: no features to rank on yet
        return diverse(learner, X, n_instances, random_state)
    return np.asarray(idx), np.asarray(scores)


def diverse(
    learner: Any, X: Texts, n_instances: int, random_state: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Uncertain *and* unlike each other: the default strategy.

    Greedy farthest-first selection weighted by uncertainty: the first pick is the most
    uncertain item; each next pick maximises ``uncertainty * cosine distance to the nearest
    item already picked``. Distances use a TF-IDF fitted on the pool itself (the model's own
    vocabulary does not know the words of the lines it is unsure about), so one confusing
    template is asked once, not ``n_instances`` times; exact duplicates are never asked twice,
    and fewer than ``n_instances`` come back when the pool has fewer distinct items.
    """
    pool = _array(X)
    if min(n_instances, len(pool)) == 0:
        return np.empty(0, dtype=np.intp), np.empty(0)
    uncertain = np.asarray(classifier_uncertainty(learner, pool), dtype=np.float64)
    features = _pool_features(pool)
    first = int(np.argmax(uncertain))
    picked = [first]
    nearest = _cosine_distance(features, first)
    for _ in range(min(n_instances, len(pool)) - 1):
        gain = uncertain * nearest
        gain[picked] = -1.0
        j = int(np.argmax(gain))
        if gain[j] <= 1e-9:
            break  # everything left duplicates something already picked
        picked.append(j)
        nearest = np.minimum(nearest, _cosine_distance(features, j))
    idx = np.asarray(picked, dtype=np.intp)
    return idx, uncertain[idx]


def _pool_features(X: np.ndarray) -> Any:
    """L2-normalised TF-IDF rows of ``X``, with a vocabulary fitted on ``X``."""
    tfidf = build_pipeline()[:-1]
    try:
        return tfidf.fit_transform(X)
    except ValueError:  # empty vocabulary: every line is empty or only punctuation
        from scipy import sparse

        return sparse.csr_matrix((len(X), 1), dtype=np.float32)


def _cosine_distance(features: Any, row: int) -> np.ndarray:
    sims = np.asarray((features @ features[row].T).todense()).ravel()
    return np.clip(1.0 - sims, 0.0, 1.0)


STRATEGIES: dict[str, Strategy] = {
    "diverse": diverse,
    "ranked_batch": ranked_batch,
    "uncertainty": uncertainty,
    "margin": margin,
    "entropy": entropy,
    "random": random_sampling,
}


def get_strategy(name: str) -> Strategy:
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ConfigError(
            f"unknown query strategy {name!r}; choose one of {', '.join(STRATEGIES)}"
        ) from None


def _array(X: Texts) -> np.ndarray:
    return X if isinstance(X, np.ndarray) else np.asarray(list(X), dtype=object)


def unfitted_learner(strategy: str = DEFAULT_STRATEGY) -> ActiveLearner:
    """A learner with no model yet: strategies treat every item as equally uncertain."""
    return ActiveLearner(
        estimator=build_pipeline(), query_strategy=get_strategy(strategy), on_transformed=True
    )
