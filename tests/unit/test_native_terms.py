"""The native term counter (``enrich_native.Terms``) behind ``TfidfFeatures``: the model sees
exactly the TF-IDF matrix scikit-learn's vectoriser makes, to the bit."""

from __future__ import annotations

import pickle
import random

import numpy as np
import pytest
import scipy.sparse as sp

from enrich.core.normalize import normalize_many
from enrich.core.records import RawRecord
from enrich.core.rules import load_rules
from enrich.engine.routing import enrich_batch
from enrich.learn.features import TfidfFeatures, text_vectorizer
from enrich.learn.model import Model, make_learner
from enrich.samples import generate
from tests.native_build import native_module

native_module()

CRAFTED = [
    "",
    "   ",
    "User=<IP> [x] <abc <_> <> a1b path:/x@y \"q\" 'z'",
    "<NUM><NUM> <HTTP_5XX>ok <a-b> <<ip>> <ip",
    "ERROR Failed to CONNECT to db: Connection REFUSED",
    "déjà vu: naïve café failed",  # non-ASCII: scikit-learn counts it
    "ошибка подключения к базе",
    "日本語のログ error",
    "tab\tseparated\nlines and\r\nbreaks",
    "__init__ foo_bar 42abc abc42 x",
    "a b a b a b",
]


def corpus(seed: int) -> list[str]:
    bodies = [v.decode("utf-8", "replace") for _s, v in generate(3_000, seed=seed) if v]
    rng = random.Random(seed)
    words = ["fail", "ok", "<ip>", "=", "[", "]", "é", "Ünïcode", "/", "@", ":", '"', "x1"]
    extra = [" ".join(rng.choice(words) for _ in range(rng.randint(0, 12))) for _ in range(300)]
    return normalize_many(bodies) + extra + CRAFTED


def same_matrix(a: sp.csr_matrix, b: sp.csr_matrix) -> None:
    a, b = sp.csr_matrix(a), sp.csr_matrix(b)
    a.sort_indices()
    b.sort_indices()
    assert a.shape == b.shape
    assert a.dtype == b.dtype
    assert np.array_equal(a.indptr, b.indptr)
    assert np.array_equal(a.indices, b.indices)
    assert np.array_equal(a.data, b.data)  # bit for bit, not approximately


def test_the_native_counts_give_scikit_learns_matrix() -> None:
    vec = text_vectorizer().fit(corpus(1))
    features = TfidfFeatures(vec)
    assert features.native
    texts = corpus(2)  # other lines: terms outside the vocabulary too
    assert any(not t.isascii() for t in texts)
    same_matrix(features.transform(texts), vec.transform(texts))
    same_matrix(features.transform(texts[:1]), vec.transform(texts[:1]))
    same_matrix(features.transform(["é only"]), vec.transform(["é only"]))


def test_a_vectoriser_configured_otherwise_is_left_to_scikit_learn() -> None:
    texts = corpus(3)
    for changed in (
        text_vectorizer().set_params(binary=True),
        text_vectorizer().set_params(token_pattern=r"\S+"),
        text_vectorizer().set_params(lowercase=False),
    ):
        vec = changed.fit(texts)
        features = TfidfFeatures(vec)
        assert not features.native
        same_matrix(features.transform(texts), vec.transform(texts))


def test_the_model_predicts_what_its_pipeline_predicts() -> None:
    boot = enrich_batch([RawRecord(v) for _s, v in generate(3_000, seed=5)], None, load_rules())
    learner = make_learner([x.text for x in boot.labels], [x.label for x in boot.labels])
    model = Model(learner.estimator, "m", "1")
    texts = corpus(4)
    got = model.predict_proba_normalized(texts)
    assert model._features is not None
    assert model._features.native
    want = model.pipeline[1:].predict_proba(np.asarray(texts, dtype=object))
    assert np.array_equal(got, want)
    copy = pickle.loads(pickle.dumps(model))  # as multiprocessing sends it to a worker
    assert np.array_equal(copy.predict_proba_normalized(texts), want)


def test_kept_predictions_are_what_the_classifier_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    """A text asked about again is not predicted again, and gets the very same row; texts are
    kept up to PREDICTIONS_KEPT (the oldest go first); a pickled model keeps none."""
    from enrich.learn import model as model_module

    boot = enrich_batch([RawRecord(v) for _s, v in generate(3_000, seed=5)], None, load_rules())
    learner = make_learner([x.text for x in boot.labels], [x.label for x in boot.labels])
    model = Model(learner.estimator, "m", "1")
    texts = list(dict.fromkeys(corpus(4)))  # each once
    want = model.pipeline[1:].predict_proba(np.asarray(texts, dtype=object))
    asked: list[int] = []
    predict = model._predict_proba

    def counted(texts: list[str]) -> np.ndarray:
        asked.append(len(texts))
        return predict(texts)

    monkeypatch.setattr(model, "_predict_proba", counted)
    half = len(texts) // 2
    first = model.predict_proba_normalized(texts[:half])
    first[:] = -1.0  # a caller changing what it got changes nothing kept
    again = model.predict_proba_normalized([texts[1], *texts, texts[0]])
    assert asked == [half, len(texts) - half]  # the first half was not asked about again
    assert np.array_equal(again, np.vstack([want[1], want, want[0]]))
    assert np.array_equal(model.predict_proba_normalized(texts), want)
    assert len(asked) == 2
    monkeypatch.delattr(model, "_predict_proba")  # the class's again
    assert pickle.loads(pickle.dumps(model))._kept == {}
    monkeypatch.setattr(model_module, "PREDICTIONS_KEPT", 3)
    model.predict_proba_normalized(["a b c", "d e f"])
    assert list(model._kept)[-2:] == ["a b c", "d e f"]
    assert len(model._kept) == 3
