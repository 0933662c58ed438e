"""The pinned scikit-learn and modAL work together: teach() on sparse TF-IDF input.

modAL-python 0.4.2.1 calls check_X_y(force_all_finite=...), which scikit-learn 1.8 removed;
this test fails if an upgrade breaks ActiveLearner.teach() again.
"""

from __future__ import annotations

import numpy as np
from modAL.models import ActiveLearner
from modAL.uncertainty import uncertainty_sampling
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

TEXTS = [
    "Failed password for root from 10.0.0.1",
    "Failed password for admin from 10.0.0.2",
    "Accepted publickey for alice",
    "Accepted password for bob",
    "kernel: Out of memory: Killed process 42",
    "kernel: Out of memory: Killed process 43",
]
LABELS = np.array(["auth_fail", "auth_fail", "auth_ok", "auth_ok", "oom", "oom"])


def test_active_learner_teach_on_sparse_tfidf() -> None:
    x = TfidfVectorizer().fit_transform(TEXTS)
    assert sparse.issparse(x)
    learner = ActiveLearner(
        estimator=LogisticRegression(max_iter=200),
        query_strategy=uncertainty_sampling,
        X_training=x[[0, 2, 4]],
        y_training=LABELS[[0, 2, 4]],
    )

    learner.teach(x[[1, 3, 5]], LABELS[[1, 3, 5]])

    assert learner.X_training.shape[0] == 6
    assert list(learner.predict(x)) == list(LABELS)
    indices, _ = learner.query(x, n_instances=2)
    assert len(indices) == 2
