"""Query strategies: which unlabelled lines a person should label first.

Plain functions of one shape, ``strategy(learner, X, n_instances, random_state, weights=None)
-> (indices, scores)``, usable directly or as a modAL ``query_strategy``. ``learner`` is
anything with ``predict_proba`` (a fitted pipeline, a modAL learner); an unfitted learner is
a cold start (uncertainty 1 for every item). ``X`` is one item per template in the pipeline
(its first line), and ``weights`` each item's traffic (the template's lines; None: 1 each):
``diverse`` weighs by it, the others rank items as they are. ``STRATEGIES`` has one function
per name of ``enrich.defaults.STRATEGIES``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from modAL.batch import uncertainty_batch_sampling
from modAL.uncertainty import classifier_entropy, classifier_margin, classifier_uncertainty
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline

from enrich.errors import ConfigError
from enrich.learn.features import LogNormalizer, Texts, as_array, text_vectorizer

Strategy = Callable[..., tuple[np.ndarray, np.ndarray]]
Weights = np.ndarray | None


def _top(scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    n = min(n, len(scores))
    order = np.argsort(-scores, kind="stable")[:n]
    return order, scores[order]


def uncertainty(
    learner: Any, X: Texts, n_instances: int, random_state: int = 0, weights: Weights = None
) -> tuple[np.ndarray, np.ndarray]:
    """Least confident first: 1 - max probability (modAL's measure)."""
    return _top(classifier_uncertainty(learner, as_array(X)), n_instances)


def margin(
    learner: Any, X: Texts, n_instances: int, random_state: int = 0, weights: Weights = None
) -> tuple[np.ndarray, np.ndarray]:
    """Smallest gap between the two most likely classes first."""
    return _top(-classifier_margin(learner, as_array(X)), n_instances)


def entropy(
    learner: Any, X: Texts, n_instances: int, random_state: int = 0, weights: Weights = None
) -> tuple[np.ndarray, np.ndarray]:
    """Highest entropy of the predicted distribution first."""
    return _top(classifier_entropy(learner, as_array(X)), n_instances)


def random_sampling(
    learner: Any, X: Texts, n_instances: int, random_state: int = 0, weights: Weights = None
) -> tuple[np.ndarray, np.ndarray]:
    """Uniformly at random (the baseline every strategy must beat)."""
    rng = np.random.default_rng(random_state)
    n = min(n_instances, len(X))
    idx = rng.choice(len(X), size=n, replace=False)
    return idx, np.zeros(n)


def ranked_batch(
    learner: Any, X: Texts, n_instances: int, random_state: int = 0, weights: Weights = None
) -> tuple[np.ndarray, np.ndarray]:
    """modAL's ranked batch mode (Cardoso et al.): uncertainty balanced with dissimilarity."""
    if len(X) == 0:
        return np.empty(0, dtype=np.intp), np.empty(0)
    if not hasattr(learner, "on_transformed"):  # a fitted pipeline (the champion), not modAL's
        learner = _FittedPipeline(learner)
    try:
        idx, scores = uncertainty_batch_sampling(
            learner, as_array(X), n_instances=min(n_instances, len(X)), metric="cosine"
        )
    except NotFittedError:  # cold start: no features to rank on yet
        return diverse(learner, X, n_instances, random_state)
    return np.asarray(idx), np.asarray(scores)


class _FittedPipeline:
    """A fitted pipeline as modAL's ranked batch sampling asks a learner to be: its
    probabilities, its features (the pipeline's steps before the classifier), and no training
    set (the ranking starts from the pool's most representative line, modAL's cold start)."""

    on_transformed = True
    X_training = None

    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline

    def predict_proba(self, X: Any) -> Any:
        return self.pipeline.predict_proba(X)

    def transform_without_estimating(self, X: Any) -> Any:
        return self.pipeline[:-1].transform(X)


def diverse(
    learner: Any, X: Texts, n_instances: int, random_state: int = 0, weights: Weights = None
) -> tuple[np.ndarray, np.ndarray]:
    """Uncertain, unlike each other and common: the default strategy.

    Greedy farthest-first selection weighted by uncertainty and traffic: the first pick
    maximises ``uncertainty * traffic``, each next one ``uncertainty * traffic * cosine
    distance to the nearest item already picked``, where ``traffic`` is the item's share of
    the pool's lines (``weights``) to the power ``TRAFFIC_POWER``. With no model (every item
    equally uncertain) that covers the largest templates first, unlike each other; as the
    model learns, its doubts take over. Distances use a TF-IDF fitted on the pool itself
    (the model's own vocabulary does not know the words of the lines it is unsure about), so
    one confusing template is asked once, not ``n_instances`` times; exact duplicates are
    never asked twice, and fewer than ``n_instances`` come back when the pool has fewer
    distinct items.
    """
    pool = as_array(X)
    if min(n_instances, len(pool)) == 0:
        return np.empty(0, dtype=np.intp), np.empty(0)
    uncertain = np.asarray(classifier_uncertainty(learner, pool), dtype=np.float64)
    value = uncertain * _traffic(weights, len(pool))
    features = _pool_features(pool)
    first = int(np.argmax(value))
    picked = [first]
    nearest = _cosine_distance(features, first)
    for _ in range(min(n_instances, len(pool)) - 1):
        gain = value * nearest
        gain[picked] = -1.0
        j = int(np.argmax(gain))
        if gain[j] <= 1e-12:
            break  # everything left duplicates something already picked
        picked.append(j)
        nearest = np.minimum(nearest, _cosine_distance(features, j))
    idx = np.asarray(picked, dtype=np.intp)
    return idx, value[idx]


TRAFFIC_POWER = 0.5  # how much a template's lines count against the model's doubt


def _traffic(weights: Weights, n: int) -> np.ndarray:
    """Each item's traffic weight in (0, 1]: its share of the largest item's lines, to the
    power ``TRAFFIC_POWER`` (1 each without weights)."""
    if weights is None:
        return np.ones(n)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (n,) or not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise ValueError(f"weights must be {n} positive numbers")
    return (w / w.max()) ** TRAFFIC_POWER


def _pool_features(X: np.ndarray) -> Any:
    """L2-normalised TF-IDF rows of ``X``, with a vocabulary fitted on ``X``."""
    tfidf = Pipeline([("normalize", LogNormalizer()), ("tfidf", text_vectorizer())])
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
