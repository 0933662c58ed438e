"""Query strategies and the active-learning simulation."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from enrich.core.labels import Label
from enrich.core.records import LogRecord, decode
from enrich.errors import ConfigError
from enrich.learn.model import make_learner, teach, unfitted_learner
from enrich.learn.simulation import SCORES, Simulation, simulate, simulate_seeds, spread
from enrich.learn.strategies import STRATEGIES, get_strategy
from enrich.samples import generate


def labelled_samples(n: int, seed: int) -> tuple[list[str], list[str]]:
    texts, labels = [], []
    for sample, value in generate(n, seed=seed):
        record = decode(value)
        assert isinstance(record, LogRecord)
        texts.append(record.text)
        labels.append(Label(sample.severity, sample.event_type, sample.category).class_name)
    return texts, labels


@pytest.fixture(scope="module")
def fitted() -> tuple[object, np.ndarray]:
    texts, labels = labelled_samples(600, seed=3)
    learner = make_learner(texts[:60], labels[:60])
    return learner, np.asarray(texts[60:], dtype=object)


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_each_strategy_returns_k_distinct_pool_indices_with_scores(
    name: str, fitted: tuple[object, np.ndarray]
) -> None:
    learner, pool = fitted
    idx, scores = STRATEGIES[name](learner, pool, 10, 0)
    assert len(idx) == 10
    assert len(set(idx.tolist())) == 10
    assert all(0 <= i < len(pool) for i in idx)
    assert len(scores) == 10


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_each_strategy_handles_a_cold_start_and_an_empty_pool(name: str) -> None:
    pool = np.asarray(["disk full on a", "disk full on b", "user logged in", "cache warm"], object)
    idx, _ = STRATEGIES[name](unfitted_learner(), pool, 2, 0)
    assert len(idx) == 2
    empty, _ = STRATEGIES[name](unfitted_learner(), np.asarray([], dtype=object), 2, 0)
    assert len(empty) == 0


def test_diverse_never_asks_an_exact_duplicate_twice() -> None:
    pool = np.asarray(["same line"] * 5 + ["another line"], dtype=object)
    idx, _ = get_strategy("diverse")(unfitted_learner(), pool, 4, 0)
    assert sorted(pool[idx].tolist()) == ["another line", "same line"]


def test_unknown_strategy_names_the_choices() -> None:
    with pytest.raises(ConfigError, match="choose one of diverse"):
        get_strategy("smart")


def test_training_needs_two_classes() -> None:
    one = Label("INFO", "Heartbeat", "Datas")
    with pytest.raises(ConfigError, match="at least 2 classes"):
        make_learner(["a", "b"], [one, one])


def test_teach_grows_the_training_set_without_warnings() -> None:
    texts, labels = labelled_samples(40, seed=1)
    learner = make_learner(texts[:20], labels[:20])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        teach(learner, texts[20:], labels[20:])
    assert len(learner.X_training) == 40


def test_default_strategy_ends_at_least_as_good_as_random() -> None:
    """On generated logs the default beats random at a 150-label budget (one fixed seed)."""
    texts, labels = labelled_samples(1500, seed=21)
    sim = Simulation(batch_size=10, max_labels=150, seed=0)
    default = simulate(texts, labels, "diverse", sim)
    baseline = simulate(texts, labels, "random", sim)
    assert [p.labels for p in default] == [p.labels for p in baseline] == list(range(10, 151, 10))
    assert default[-1].accuracy_unqueried >= baseline[-1].accuracy_unqueried
    assert default[-1].macro_f1_unqueried >= baseline[-1].macro_f1_unqueried


def test_scores_on_rows_never_queried_leave_out_every_taught_row() -> None:
    """Labels that are noise: each row a word of its own, its class a coin toss. The model
    can only learn the rows it is taught by heart, so on rows never queried it is at chance,
    while the all-rows score counts the taught rows it knows."""
    rng = np.random.default_rng(3)
    letters = "ghjkmnpqrstvwxz"
    texts = [f"event {letters[i // 15]}{letters[i % 15]}q" for i in range(200)]
    labels = [str(c) for c in rng.choice(["left", "right"], size=200)]
    curve = simulate(texts, labels, "random", Simulation(batch_size=20, max_labels=100, seed=1))
    last = curve[-1]
    assert last.labels == 100
    assert last.accuracy_unqueried < 0.62  # chance, on the 100 rows never taught
    taught = (last.accuracy * 200 - last.accuracy_unqueried * 100) / 100
    assert taught > 0.9  # the taught rows, known by heart, lift the all-rows score
    with pytest.raises(ConfigError, match="leaves no row never queried"):
        simulate(texts[:30], labels[:30], "random", Simulation(10, 30, 0))


def test_several_seeds_give_a_mean_and_a_spread() -> None:
    texts, labels = labelled_samples(300, seed=2)
    sim = Simulation(batch_size=5, max_labels=15)
    curves = simulate_seeds(texts, labels, "random", sim, [0, 1, 2])
    assert sorted(curves) == [0, 1, 2]
    assert curves[0] == simulate(texts, labels, "random", Simulation(5, 15, 0))
    assert curves[0] != curves[1]  # another seed, another starting set
    rows = spread(curves)
    assert [r["labels"] for r in rows] == [5, 10, 15]
    for i, row in enumerate(rows):
        values = [curves[s][i].accuracy_unqueried for s in (0, 1, 2)]
        assert row["accuracy_unqueried_mean"] == pytest.approx(sum(values) / 3, abs=1e-4)
        assert row["accuracy_unqueried_sd"] == pytest.approx(float(np.std(values)), abs=1e-4)
        assert set(row) == {"labels"} | {f"{m}_{x}" for m in SCORES for x in ("mean", "sd")}


def test_simulation_is_deterministic() -> None:
    texts, labels = labelled_samples(300, seed=2)
    sim = Simulation(batch_size=5, max_labels=25, seed=4)
    assert simulate(texts, labels, "diverse", sim) == simulate(texts, labels, "diverse", sim)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"batch_size": 0}, "--batch-size"), ({"max_labels": 1}, "--max-labels")],
)
def test_simulation_settings_are_checked(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Simulation(**kwargs)


def test_the_dags_offer_exactly_the_strategies_there_are() -> None:
    from enrich.defaults import STRATEGIES as QUERY_STRATEGIES

    assert tuple(STRATEGIES) == QUERY_STRATEGIES
