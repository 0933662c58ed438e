"""Simulated active learning on a labelled data set: how fast does each strategy learn?

The label column plays the person who answers queries. Each round the strategy picks
``batch_size`` rows from the unlabelled pool, they are taught to the learner (modAL
``teach``), and the model is scored twice: on the rows it was **never taught** (neither the
random starting set nor any queried row: the honest score, since a model is right about
rows it was given) and on all rows, each as accuracy and macro-F1. That gives a learning
curve of :class:`CurvePoint`. Deterministic for a seed; ``simulate_seeds`` runs several seeds
and ``spread`` gives each budget's mean and standard deviation over them.

With ``groups`` (each row's mined template id) the strategies other than ``random`` choose
among templates as the pipeline's review queue does: each round's pool is one row per
template no label reached yet (its first unlabelled row), weighted by the template's
unlabelled rows; a template asked about leaves the pool (a person's answer labels it).
``random`` stays the baseline a strategy must beat: rows drawn uniformly.
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from modAL.models import ActiveLearner
from sklearn.metrics import accuracy_score, f1_score

from enrich import defaults
from enrich.core.normalize import normalize
from enrich.errors import ConfigError
from enrich.learn.model import make_learner, teach
from enrich.learn.strategies import get_strategy

SCORES = ("accuracy_unqueried", "macro_f1_unqueried", "accuracy", "macro_f1")


@dataclass(frozen=True)
class CurvePoint:
    """The model after ``labels`` labels: scored on the rows never taught (``*_unqueried``)
    and on all rows."""

    labels: int
    accuracy_unqueried: float
    macro_f1_unqueried: float
    accuracy: float
    macro_f1: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class Simulation:
    batch_size: int = defaults.SIMULATION_BATCH_SIZE
    max_labels: int = defaults.SIMULATION_MAX_LABELS
    seed: int = defaults.RANDOM_STATE

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ConfigError(f"--batch-size must be at least 1, got {self.batch_size}")
        if self.max_labels < 2:
            raise ConfigError(f"--max-labels must be at least 2, got {self.max_labels}")


def _seed_set(y: np.ndarray, size: int, rng: np.random.Generator) -> list[int]:
    """A random starting set of ``size`` rows that holds at least two classes."""
    order = rng.permutation(len(y))
    picked = list(order[:size])
    if len(set(y[picked])) < 2:
        other = next((i for i in order[size:] if y[i] != y[picked[0]]), None)
        if other is None:
            raise ConfigError("the label column has a single class: nothing to learn")
        picked[-1] = other
    return [int(i) for i in picked]


def simulate(
    texts: Sequence[str],
    labels: Sequence[str],
    strategy: str,
    sim: Simulation,
    progress: Callable[[int, int], None] | None = None,
    groups: Sequence[str] | None = None,
) -> list[CurvePoint]:
    """Run one strategy; return its learning curve (first point: the random seed set)."""
    x, y = _rows(texts, labels)
    return _run(x, y, strategy, sim, progress, _groups(groups, len(x)))


def _groups(groups: Sequence[str] | None, n: int) -> np.ndarray | None:
    if groups is None:
        return None
    if len(groups) != n:
        raise ConfigError(f"{len(groups)} template ids for {n} rows")
    return np.unique(np.asarray(groups, dtype=object), return_inverse=True)[1]


def _rows(texts: Sequence[str], labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The normalised texts and the labels as arrays (normalised once for every run)."""
    x = np.asarray([normalize(t) for t in texts], dtype=object)
    y = np.asarray(labels, dtype=object)
    if len(x) != len(y) or len(x) < 3:
        raise ConfigError("need at least 3 labelled rows")
    return x, y


def _run(
    x: np.ndarray,
    y: np.ndarray,
    strategy: str,
    sim: Simulation,
    progress: Callable[[int, int], None] | None,
    groups: np.ndarray | None = None,
) -> list[CurvePoint]:
    if sim.max_labels >= len(x):
        raise ConfigError(
            f"--max-labels {sim.max_labels} leaves no row never queried among {len(x)}: "
            "give more rows or a smaller budget"
        )
    rng = np.random.default_rng(sim.seed)
    start = _seed_set(y, min(sim.batch_size, len(y) - 1), rng)
    learner = make_learner(x[start], y[start], strategy, random_state=sim.seed)
    query = get_strategy(strategy)
    untaught = np.setdiff1d(np.arange(len(x)), start)
    by_template = groups is not None and strategy != "random"
    pool = untaught  # what may be asked
    if by_template:
        assert groups is not None
        pool = untaught[~np.isin(groups[untaught], groups[start])]
    labelled = len(start)
    curve = [_score(learner, x, y, untaught, labelled)]
    step = 0
    while labelled < sim.max_labels and len(pool):
        k = min(sim.batch_size, sim.max_labels - labelled, len(pool))
        if by_template:
            assert groups is not None
            _, first, lines = np.unique(groups[pool], return_index=True, return_counts=True)
            items = pool[first]
            picked, _scores = query(learner, x[items], k, sim.seed + step, weights=lines)
            chosen = items[np.asarray(picked, dtype=np.intp)]
            pool = pool[~np.isin(groups[pool], groups[chosen])]
        else:
            picked, _scores = query(learner, x[pool], k, sim.seed + step)
            chosen = pool[np.asarray(picked, dtype=np.intp)]
            pool = np.setdiff1d(pool, chosen)
        if not len(chosen):
            break
        teach(learner, x[chosen], y[chosen])
        untaught = np.setdiff1d(untaught, chosen)
        labelled += len(chosen)
        step += 1
        curve.append(_score(learner, x, y, untaught, labelled))
        if progress:
            progress(labelled, sim.max_labels)
    return curve


def simulate_seeds(
    texts: Sequence[str],
    labels: Sequence[str],
    strategy: str,
    sim: Simulation,
    seeds: Sequence[int],
    progress: Callable[[int, int], None] | None = None,
    groups: Sequence[str] | None = None,
) -> dict[int, list[CurvePoint]]:
    """``simulate`` once per seed (the seed picks the starting set and breaks ties; it takes
    the place of ``sim.seed``), the texts normalised once for all of them."""
    if not seeds:
        raise ConfigError("need at least one seed")
    x, y = _rows(texts, labels)
    g = _groups(groups, len(x))
    curves: dict[int, list[CurvePoint]] = {}
    for i, seed in enumerate(seeds):
        step = (
            None
            if progress is None
            else lambda done, total, i=i: progress(i * total + done, len(seeds) * total)
        )
        curves[seed] = _run(
            x, y, strategy, Simulation(sim.batch_size, sim.max_labels, seed), step, g
        )
    return curves


def spread(curves: dict[int, list[CurvePoint]]) -> list[dict[str, float]]:
    """Per label budget: each score's mean and (population) standard deviation over seeds."""
    by_seed = list(curves.values())
    out = []
    for points in zip(*by_seed, strict=True):
        row: dict[str, float] = {"labels": points[0].labels}
        for name in SCORES:
            values = [getattr(p, name) for p in points]
            row[f"{name}_mean"] = round(statistics.fmean(values), 4)
            row[f"{name}_sd"] = round(statistics.pstdev(values), 4)
        out.append(row)
    return out


def _score(
    learner: ActiveLearner, x: np.ndarray, y: np.ndarray, unqueried: np.ndarray, labelled: int
) -> CurvePoint:
    predicted = learner.predict(x)
    held_y, held_p = y[unqueried], predicted[unqueried]
    return CurvePoint(
        labels=labelled,
        accuracy_unqueried=round(float(accuracy_score(held_y, held_p)), 4),
        macro_f1_unqueried=round(
            float(f1_score(held_y, held_p, average="macro", zero_division=0)), 4
        ),
        accuracy=round(float(accuracy_score(y, predicted)), 4),
        macro_f1=round(float(f1_score(y, predicted, average="macro", zero_division=0)), 4),
    )


def terminal_progress(name: str) -> Callable[[int, int], None] | None:
    """A progress line on stderr when it is a terminal; None (quiet) when piped."""
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        end = "\n" if done >= total else ""
        print(f"\r{name}: {done}/{total} labels", end=end, file=sys.stderr, flush=True)

    return show


def plot(means: dict[str, list[dict[str, float]]], path: str, title: str) -> None:
    """Accuracy and macro-F1 on rows never queried against labels used: one line per strategy
    (the mean over seeds) in a band of one standard deviation, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_acc, ax_f1) = plt.subplots(1, 2, figsize=(11, 4.2), sharex=True)
    for name, rows in means.items():
        n = [r["labels"] for r in rows]
        for ax, metric in ((ax_acc, "accuracy_unqueried"), (ax_f1, "macro_f1_unqueried")):
            mean = np.asarray([r[f"{metric}_mean"] for r in rows])
            sd = np.asarray([r[f"{metric}_sd"] for r in rows])
            (line,) = ax.plot(n, mean, marker=".", label=name)
            ax.fill_between(n, mean - sd, mean + sd, color=line.get_color(), alpha=0.15)
    for ax, metric in ((ax_acc, "accuracy"), (ax_f1, "macro-F1")):
        ax.set_xlabel("labels answered")
        ax.set_ylabel(f"{metric} on rows never queried")
        ax.grid(alpha=0.3)
    ax_acc.legend(loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
