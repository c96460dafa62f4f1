"""Quality as a function of data: learning, strike and conscious-contribution curves.

Modelling assumption: a platform's quality depends on how much of the data it would
normally receive it actually receives. A strike of fraction ``f`` removes a random ``f``
of the incumbent's training rows; conscious data contribution (CDC) by fraction ``f``
gives a small competitor exactly those rows. Effects are normalised, as in Vincent et
al. (2019, 2021), between a naive non-learning baseline (0) and the full-data model (1):
``normalise(q, naive, full) = (q - naive) / (full - naive)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from abm.learning.learners import Learner, LogisticRegression, naive_learner_for
from abm.learning.task import Task

__all__ = ["cdc_curve", "learning_curve", "normalise", "stream_curve", "strike_curve"]


def normalise(q: float | np.ndarray, naive: float, full: float) -> float | np.ndarray:
    """Share of the gap between the naive baseline and the full-data model reached.

    Args:
        q: Quality (scalar or array).
        naive: Quality of the non-learning baseline.
        full: Quality of the model trained on all data.

    Returns:
        ``(q - naive) / (full - naive)``; NaN when the gap is zero.
    """
    gap = full - naive
    if gap == 0:
        return np.full_like(np.asarray(q, dtype=float), np.nan) if np.ndim(q) else float("nan")
    return (np.asarray(q, dtype=float) - naive) / gap if np.ndim(q) else (q - naive) / gap


def _subset(n: int, keep_fraction: float, rng: np.random.Generator) -> np.ndarray:
    """A random subset of ``round(keep_fraction * n)`` rows (at least one)."""
    m = int(round(keep_fraction * n))
    return rng.permutation(n)[: max(1, min(n, m))]


def _full_logistic(task: Task) -> Learner:
    return LogisticRegression(task.n_classes, task.n_features, mode="full")


def learning_curve(
    task: Task,
    learner_factory: Callable[[], Learner],
    fractions: Sequence[float],
    rng: np.random.Generator,
    replicates: int = 5,
) -> pd.DataFrame:
    """Test quality of a learner trained on random fractions of the training split.

    Args:
        task: The task.
        learner_factory: Zero-argument factory of fresh learners.
        fractions: Fractions of the training split to train on.
        rng: Generator (subsets and learner randomness).
        replicates: Random subsets per fraction.

    Returns:
        Columns ``fraction, replicate, n_samples, quality``.
    """
    rows = []
    for f in fractions:
        for r in range(replicates):
            idx = _subset(task.n_train, f, rng)
            model = learner_factory().fit(task.X_train[idx], task.y_train[idx], rng)
            q = model.score(task.X_test, task.y_test)
            rows.append({"fraction": f, "replicate": r, "n_samples": len(idx), "quality": q})
    return pd.DataFrame(rows)


def _baselines(task: Task, learner_factory: Callable[[], Learner], rng: np.random.Generator):
    naive = naive_learner_for(task).fit(task.X_train, task.y_train, rng)
    full = learner_factory().fit(task.X_train, task.y_train, rng)
    return naive.score(task.X_test, task.y_test), full.score(task.X_test, task.y_test)


def _normalised_curve(
    task: Task,
    kept: list[float],
    rng: np.random.Generator,
    replicates: int,
    learner_factory: Callable[[], Learner] | None,
) -> pd.DataFrame:
    """A learning curve over the kept fractions, with the naive and full-data baselines."""
    factory = learner_factory or (lambda: _full_logistic(task))
    naive, full = _baselines(task, factory, rng)
    df = learning_curve(task, factory, kept, rng, replicates)
    df["naive"] = naive
    df["full"] = full
    df["normalised"] = normalise(df["quality"].to_numpy(), naive, full)
    return df


def _lever_curve(
    name: str,
    kept: Callable[[float], float],
    summary: str,
    fractions_arg: str,
    replicates_arg: str,
    learner_arg: str,
) -> Callable[..., pd.DataFrame]:
    """A normalised curve over lever fractions ``f``: each point trains on ``kept(f)``.

    The strike and CDC curves differ only in the share of the rows a fraction leaves the
    model (and in the words of their docstrings); both are made here, with the
    docstring's summary and argument descriptions given as text.
    """

    def curve(
        task: Task,
        fractions: Sequence[float],
        rng: np.random.Generator,
        replicates: int = 5,
        learner_factory: Callable[[], Learner] | None = None,
    ) -> pd.DataFrame:
        df = _normalised_curve(task, [kept(f) for f in fractions], rng, replicates, learner_factory)
        df["fraction"] = np.repeat(np.asarray(fractions, dtype=float), replicates)
        return df

    curve.__doc__ = f"""{summary}

    Args:
        task: The task.
        fractions: {fractions_arg}
        rng: Generator.
        replicates: {replicates_arg}
        learner_factory: {learner_arg} (default: full-refit logistic regression).

    Returns:
        Columns ``fraction, replicate, n_samples, quality, naive, full, normalised``.
    """
    curve.__name__ = curve.__qualname__ = name
    return curve


strike_curve = _lever_curve(
    "strike_curve",
    kept=lambda f: 1.0 - f,
    summary="Quality of a full refit after a random fraction ``f`` of training rows strikes.",
    fractions_arg="Strike fractions ``f`` (share of training rows removed).",
    replicates_arg="Random strikes per fraction.",
    learner_arg="Learner to refit",
)

cdc_curve = _lever_curve(
    "cdc_curve",
    kept=lambda f: f,
    summary="Quality of a small competitor trained only on the contributed fraction ``f``.",
    fractions_arg="Contributing fractions ``f``.",
    replicates_arg="Random contributing sets per fraction.",
    learner_arg="Competitor's learner",
)


def stream_curve(
    sizes: Sequence[int] = (100, 300, 1_000, 3_000, 10_000, 30_000, 100_000),
    *,
    seed: int = 0,
    replicates: int = 3,
    n_users: int = 1_000,
    **params: object,
) -> pd.DataFrame:
    """Learning curve of the full-refit logistic learner on a stream task.

    ``max(sizes)`` fresh rows are drawn from ``n_users`` i.i.d. users (round-robin, so
    every user contributes alike); each replicate trains on a random subset of each size.

    Args:
        sizes: Training-set sizes.
        seed: Seed of the task, the users' draws and the subsets.
        replicates: Random subsets per size.
        n_users: Users the rows come from.
        **params: Stream parameters (``StreamParams`` fields; ``n_test`` defaults to 10,000).

    Returns:
        Columns ``n_samples, replicate, quality`` (held-out accuracy) and ``bayes`` (the
        held-out accuracy of the Bayes classifier of the generating mixture: the ceiling).
    """
    from abm.learning.registry import load_task
    from abm.learning.tasks import assign_slices, draw_samples

    params = {"n_test": 10_000, **params}
    task = load_task("stream", rng=np.random.default_rng(seed), stream=params)
    slices = assign_slices(task, n_users, rng=np.random.default_rng(seed + 1))
    per_user = -(-max(sizes) // n_users)
    idx = draw_samples(
        slices, np.arange(n_users), np.full(n_users, per_user), np.random.default_rng(seed + 2)
    )
    # Round-robin over users: row j of user u sits at u * per_user + j.
    idx = idx.reshape(n_users, per_user).T.ravel()
    X, y = task.X_train[idx], task.y_train[idx]
    rng = np.random.default_rng(seed + 3)
    rows = []
    for n in sizes:
        for r in range(replicates):
            pick = rng.choice(len(idx), size=n, replace=False)
            model = LogisticRegression(task.n_classes, task.n_features, mode="full")
            q = model.fit(X[pick], y[pick]).score(task.X_test, task.y_test)
            rows.append({"n_samples": n, "replicate": r, "quality": q})
    df = pd.DataFrame(rows)
    df["bayes"] = task.stream.bayes_accuracy(task.X_test, task.y_test)
    return df
