"""What a learning task is: a seeded train/test split and what learners need to size themselves.

Modelling assumption: a task is split once, with the run's rng, into a training split
that users own and a held-out test split on which platforms are evaluated (stratified by
class for classification, so a rare class is held out in proportion). Which tasks exist
and how users share the training split is :mod:`abm.learning.tasks`; this module is the
shared noun that learners, loaders and MovieLens files all speak of.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

from abm.learning.ratings_stream import RatingsStream
from abm.learning.stream import GaussianStream

__all__ = ["Sampling", "Task", "TaskKind", "TaskRequest", "draw_seed", "split", "split_problem"]


class TaskKind(StrEnum):
    """What a task asks a learner to learn (learners and levers say which kinds they fit)."""

    CLASSIFICATION = "classification"  # a class label from features
    RATINGS = "ratings"  # a rating of an item by a rater


class Sampling(StrEnum):
    """How a user of a finite task hands over rows of its slice."""

    WITH_REPLACEMENT = "with_replacement"
    WITHOUT_REPLACEMENT = "without_replacement"


@dataclass(frozen=True)
class TaskRequest:
    """What a task's loader is given: ``abm.learning.load_task``'s arguments.

    It has no defaults of its own: ``load_task``'s are the only ones.

    Attributes:
        name: The task's name.
        rng: The run's generator; it seeds the split and any generated data.
        test_size: Held-out fraction.
        path: The data file, for tasks that read one.
        feature_columns: A table's feature columns (default: all but the label).
        label_column: A table's label column.
        n_samples: Size of generated tasks (None: the task's default).
        standardise: Standardise a classification task's features on its training split.
        stream: A stream task's parameters (``StreamParams`` or ``RatingsStreamParams``).
        params: Any other task-specific options.
    """

    name: str
    rng: np.random.Generator
    test_size: float
    path: Any
    feature_columns: list[str] | None
    label_column: str | None
    n_samples: int | None
    standardise: bool
    stream: dict[str, Any]
    params: dict[str, Any]


@dataclass(eq=False)
class Task:
    """A learning task: a seeded train/test split and what learners need to size themselves.

    A task is fixed once loaded, except that a stream task's training store grows as
    users make fresh rows (``append_rows``); indices into ``X_train`` stay valid.

    Attributes:
        name: Task name (e.g. "breast_cancer").
        kind: What is learnt: classes from features, or ratings of (rater, item) pairs.
        X_train: Training features (float) or, for ratings, int ``(rater, item)`` pairs.
        y_train: Training labels (int) or ratings (float).
        X_test: Held-out features / pairs.
        y_test: Held-out labels / ratings.
        n_classes: Number of classes (0 for ratings).
        n_features: Number of features (2 for ratings: rater, item).
        rating_range: ``(r_min, r_max)`` for ratings tasks.
        n_raters: Number of raters (ratings tasks).
        n_items: Number of items (ratings tasks).
        feature_names: Names of the features.
        class_names: Original label values, index = encoded class.
        feature_mean: Training-split mean used to standardise (classification).
        feature_scale: Training-split standard deviation used to standardise.
        stream: The generator of a stream task (None for finite tasks). A ratings
            stream's held-out set and raters are filled in by ``assign_slices``.
        ranking: Held-out ranking probe of a ratings task (hit rate at k).
        ordered: True when each slice must be contributed in order (rater histories).
    """

    name: str
    kind: TaskKind
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int = 0
    n_features: int = 0
    rating_range: tuple[float, float] = (1.0, 5.0)
    n_raters: int = 0
    n_items: int = 0
    feature_names: tuple[str, ...] = ()
    class_names: tuple[Any, ...] = ()
    feature_mean: np.ndarray | None = field(default=None, repr=False)
    feature_scale: np.ndarray | None = field(default=None, repr=False)
    stream: GaussianStream | RatingsStream | None = field(default=None, repr=False)
    ranking: Any = field(default=None, repr=False)
    ordered: bool = False
    _n_store: int = field(default=-1, repr=False)
    # The last stream draw: sorted (source, k) keys and their store indices, so a twin
    # world asking for rows its real world just made reuses them (``stream_rows``).
    _recent: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)

    def append_rows(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Append fresh training rows (stream tasks) and return their indices.

        The store grows geometrically; ``X_train`` / ``y_train`` become views of its
        filled part, so earlier indices (and earlier views) stay valid.
        """
        n_old = len(self.y_train)
        m = len(y)
        if self._n_store < 0 or n_old + m > len(self._y_buf):
            cap = max(2 * (n_old + m), 1024)
            Xb = np.empty((cap, self.X_train.shape[1]), dtype=self.X_train.dtype)
            yb = np.empty(cap, dtype=self.y_train.dtype)
            Xb[:n_old], yb[:n_old] = self.X_train, self.y_train
            self._X_buf, self._y_buf = Xb, yb
        self._X_buf[n_old : n_old + m] = X
        self._y_buf[n_old : n_old + m] = y
        self._n_store = n_old + m
        self.X_train = self._X_buf[: n_old + m]
        self.y_train = self._y_buf[: n_old + m]
        return np.arange(n_old, n_old + m, dtype=np.int64)

    def stream_rows(self, who: np.ndarray, k: np.ndarray, make: Any) -> np.ndarray:
        """Store indices of rows number ``k`` of sources ``who``, made where new.

        A stream row is a pure function of (seed, source, k), so a row the last call
        made (in the real world, before its twins step in lockstep) is reused rather than
        made and stored again: same values, one copy. ``make(who, k)`` returns ``(X, y)``
        of the rows not found.
        """
        keys = (np.asarray(who, np.int64) << 32) | np.asarray(k, np.int64)
        idx = np.full(len(keys), -1, np.int64)
        known, at = self._recent if self._recent is not None else (keys[:0], keys[:0])
        if len(known) and len(keys):  # a step with no rows leaves nothing to look up
            pos = np.minimum(np.searchsorted(known, keys), len(known) - 1)
            hit = known[pos] == keys
            idx[hit] = at[pos[hit]]
        miss = np.flatnonzero(idx < 0)
        if miss.size:
            idx[miss] = self.append_rows(*make(who[miss], k[miss]))
        order = np.argsort(keys, kind="stable")
        self._recent = (keys[order], idx[order])
        return idx

    @classmethod
    def from_ratings(
        cls,
        name: str,
        pairs: np.ndarray,
        ratings: np.ndarray,
        train: np.ndarray,
        test: np.ndarray,
        **more: Any,
    ) -> Task:
        """A ratings task from ``(rater, item)`` pairs and their ratings, split by index.

        ``more`` gives the other fields (``rating_range``, ``n_raters``, ``n_items``, ...).
        """
        return cls(
            name=name,
            kind="ratings",
            X_train=pairs[train],
            y_train=ratings[train],
            X_test=pairs[test],
            y_test=ratings[test],
            n_features=2,
            feature_names=("rater", "item"),
            **more,
        )

    @property
    def n_train(self) -> int:
        """Number of training samples."""
        return len(self.y_train)

    @property
    def n_test(self) -> int:
        """Number of held-out samples."""
        return len(self.y_test)


# ------------------------------------------------------------------------ split


def draw_seed(rng: np.random.Generator) -> int:
    """A seed for a library that takes an int (scikit-learn), drawn from the run's generator."""
    return int(rng.integers(0, 2**31 - 1))


def split_problem(
    n: int, test_size: float, classes: int | None = None, smallest: int = 2
) -> str | None:
    """Why :func:`split` cannot split ``n`` rows at ``test_size``, or None when it can.

    The sizes are :func:`split`'s own: without labels (ratings) ``max(1, round(test_size
    * n))`` test rows; with labels scikit-learn's ``ceil``/``floor``, stratified (each
    side needs a row of every class) when the rarest class has ``smallest >= 2`` rows.

    Args:
        n: Rows of the task.
        test_size: Share held out.
        classes: Number of classes (None: ratings, no stratification).
        smallest: Rows of the rarest class.
    """
    if classes is None:
        n_test = max(1, int(round(test_size * n)))
        n_train, need, each = n - n_test, 1, "a row"
    else:
        n_test, n_train = math.ceil(test_size * n), math.floor((1.0 - test_size) * n)
        stratified = smallest >= 2
        need = classes if stratified else 1
        each = f"a row of each of its {classes} classes" if stratified else "a row"
    if min(n_train, n_test) >= need:
        return None
    return f"{n} rows split into {n_train} training and {n_test} test rows, each needing {each}"


def split(
    n: int, y: np.ndarray | None, test_size: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Train/test indices; stratified by ``y`` when given."""
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be in (0, 1), got {test_size}")
    if y is None:
        perm = rng.permutation(n)
        n_test = max(1, int(round(test_size * n)))
        return np.sort(perm[n_test:]), np.sort(perm[:n_test])
    from sklearn.model_selection import train_test_split

    idx = np.arange(n)
    counts = np.bincount(y)
    stratify = y if counts[counts > 0].min() >= 2 else None
    train, test = train_test_split(
        idx, test_size=test_size, random_state=draw_seed(rng), stratify=stratify
    )
    return np.sort(train), np.sort(test)
