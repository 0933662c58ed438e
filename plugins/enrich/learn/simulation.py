"""Simulated active learning on a labelled data set: how fast does each strategy learn?

The label column plays the person who answers queries. Each round the strategy picks
``batch_size`` rows from the unlabelled pool, they are taught to the learner (modAL
``teach``), and the model is scored on *all* rows (accuracy and macro-F1), giving a learning
curve ``[(labels, accuracy, macro_f1), ...]``. Deterministic for a seed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from modAL.models import ActiveLearner
from sklearn.metrics import accuracy_score, f1_score

from enrich import defaults
from enrich.core.normalize import normalize
from enrich.errors import ConfigError
from enrich.learn.model import make_learner, teach
from enrich.learn.strategies import get_strategy

CurvePoint = tuple[int, float, float]


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
) -> list[CurvePoint]:
    """Run one strategy; return its learning curve (first point: the random seed set)."""
    x = np.asarray([normalize(t) for t in texts], dtype=object)  # normalise once
    y = np.asarray(labels, dtype=object)
    if len(x) != len(y) or len(x) < 3:
        raise ConfigError("need at least 3 labelled rows")
    rng = np.random.default_rng(sim.seed)
    start = _seed_set(y, min(sim.batch_size, len(y) - 1), rng)
    learner = make_learner(x[start], y[start], strategy, random_state=sim.seed)
    query = get_strategy(strategy)
    pool = np.setdiff1d(np.arange(len(x)), start)
    labelled = len(start)
    curve = [_score(learner, x, y, labelled)]
    step = 0
    while labelled < sim.max_labels and len(pool):
        k = min(sim.batch_size, sim.max_labels - labelled, len(pool))
        picked, _scores = query(learner, x[pool], k, sim.seed + step)
        chosen = pool[np.asarray(picked, dtype=np.intp)]
        teach(learner, x[chosen], y[chosen])
        pool = np.setdiff1d(pool, chosen)
        labelled += len(chosen)
        step += 1
        curve.append(_score(learner, x, y, labelled))
        if progress:
            progress(labelled, sim.max_labels)
    return curve


def _score(learner: ActiveLearner, x: np.ndarray, y: np.ndarray, labelled: int) -> CurvePoint:
    predicted = learner.predict(x)
    return (
        labelled,
        round(float(accuracy_score(y, predicted)), 4),
        round(float(f1_score(y, predicted, average="macro", zero_division=0)), 4),
    )


def terminal_progress(name: str) -> Callable[[int, int], None] | None:
    """A progress line on stderr when it is a terminal; None (quiet) when piped."""
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        end = "\n" if done >= total else ""
        print(f"\r{name}: {done}/{total} labels", end=end, file=sys.stderr, flush=True)

    return show


def plot(curves: dict[str, list[CurvePoint]], path: str, title: str) -> None:
    """Accuracy and macro-F1 against labels used, one line per strategy, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_acc, ax_f1) = plt.subplots(1, 2, figsize=(11, 4.2), sharex=True)
    for name, curve in curves.items():
        n, acc, f1 = zip(*curve, strict=True)
        ax_acc.plot(n, acc, marker=".", label=name)
        ax_f1.plot(n, f1, marker=".", label=name)
    for ax, metric in ((ax_acc, "accuracy"), (ax_f1, "macro-F1")):
        ax.set_xlabel("labels answered")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
    ax_acc.legend(loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
