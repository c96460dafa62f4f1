"""The learners and tasks a scenario can name: one entry each.

Adding a learner or a task is adding one entry here (and its class or loader). The
scenario schema's ``LearnerName`` and ``TaskName`` vocabularies, docs/schema.md,
validation (which learner fits which task, which levers work on it, what is known about
a task before its data is read), :func:`make_learner` and :func:`load_task` all read
these entries. The module is light (no learner or loader is imported until one is
used), so the schema reads it without loading the numerical stack.

Modelling assumption: a learner fits a task by the kind of thing the task asks for
(:class:`TaskKind`): class labels from features, or ratings of (rater, item) pairs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from abm.learning.task import Sampling, TaskKind, TaskRequest

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np

    from abm.learning.learners import Learner
    from abm.learning.task import Task

__all__ = [
    "LEARNERS",
    "TASKS",
    "LearnerEntry",
    "LearnerName",
    "Sampling",
    "TaskEntry",
    "TaskKind",
    "TaskName",
    "fits",
    "load_task",
    "make_learner",
    "tasks_of",
]


@dataclass(frozen=True)
class LearnerEntry:
    """One learner.

    Attributes:
        name: Its name in scenario files (``platforms[].learner``).
        words: What it is, for docs and messages.
        kinds: The task kinds it learns.
        build: ``(task, **params) -> Learner``: a fresh, unfitted learner sized for the
            task (it imports its class when called).
    """

    name: str
    words: str
    kinds: frozenset[TaskKind]
    build: Callable[..., Learner]


@dataclass(frozen=True)
class TaskEntry:
    """One task.

    Attributes:
        name: Its name in scenario files (``task.name``).
        words: What it is, for docs and messages.
        kind: What it asks a learner to learn.
        load: ``(request) -> Task``: reads or generates the task and splits it (it
            imports its loader when called; :func:`load_task` builds the request).
        needs_path: It reads ``task.path`` (a data file).
        classes: Its classes when known before its data is read (None: from the data).
        items: Its items when known before its data is read (ratings tasks).
    """

    name: str
    words: str
    kind: TaskKind
    load: Callable[[TaskRequest], Task]
    needs_path: bool = False
    classes: int | None = None
    items: int | None = None


def _learners() -> Any:
    from abm.learning import learners

    return learners


def _by_name(*entries: Any) -> dict[str, Any]:
    out = {e.name: e for e in entries}
    if len(out) != len(entries):
        raise ValueError("two entries share a name")
    return out


CLASSES, RATES = TaskKind.CLASSIFICATION, TaskKind.RATINGS
C, R = frozenset({TaskKind.CLASSIFICATION}), frozenset({TaskKind.RATINGS})

LEARNERS: dict[str, LearnerEntry] = _by_name(
    LearnerEntry("logistic", "multinomial logistic regression, warm-started", C,
                 lambda t, **p: _learners().LogisticRegression(t.n_classes, t.n_features, **p)),
    LearnerEntry("knn", "k nearest neighbours", C,
                 lambda t, **p: _learners().KNearestNeighbours(t.n_classes, **p)),
    LearnerEntry("mf", "matrix factorisation with biases, warm-started", R,
                 lambda t, **p: _learners().MatrixFactorisation(
                     t.n_raters, t.n_items, rating_range=t.rating_range, **p)),
    LearnerEntry("majority", "the majority class (a non-learning baseline)", C,
                 lambda t, **p: _learners().MajorityClass(t.n_classes, **p)),
    LearnerEntry("item_mean", "each item's mean rating (a non-learning baseline)", R,
                 lambda t, **p: _learners().ItemMean(t.n_items, rating_range=t.rating_range, **p)),
    LearnerEntry("centroid", "nearest class centroid, refitted on its pool", C,
                 lambda t, **p: _learners().NearestCentroid(t.n_classes, **p)),
)  # fmt: skip


def _loader(name: str) -> Callable[[TaskRequest], Task]:
    """The loader ``abm.learning.tasks.<name>``, imported when a task is loaded."""

    def load(request: TaskRequest) -> Task:
        from abm.learning import tasks

        return getattr(tasks, name)(request)

    return load


TASKS: dict[str, TaskEntry] = _by_name(
    TaskEntry("digits", "scikit-learn's 8x8 handwritten digits", CLASSES,
              _loader("load_bundled"), classes=10),
    TaskEntry("breast_cancer", "scikit-learn's breast cancer diagnoses", CLASSES,
              _loader("load_bundled"), classes=2),
    TaskEntry("wine", "scikit-learn's wine cultivars", CLASSES, _loader("load_bundled"),
              classes=3),
    TaskEntry("synthetic", "make_classification (2 classes)", CLASSES,
              _loader("load_synthetic"), classes=2),
    TaskEntry("ratings", "generated low-rank ratings", RATES, _loader("load_ratings"),
              items=200),
    TaskEntry("csv", "a labelled table in a CSV file", CLASSES, _loader("load_table"),
              needs_path=True),
    TaskEntry("parquet", "a labelled table in a Parquet file", CLASSES, _loader("load_table"),
              needs_path=True),
    TaskEntry("stream", "fresh draws from Gaussian class mixtures", CLASSES,
              _loader("load_stream")),
    TaskEntry("ratings_stream", "fresh ratings from latent tastes", RATES,
              _loader("load_ratings_stream")),
    TaskEntry("movielens", "MovieLens ratings in rater time order", RATES,
              _loader("load_movielens"), needs_path=True),
)  # fmt: skip

# The scenario schema's vocabularies, generated from the registries.
LearnerName = StrEnum("LearnerName", {n.upper(): n for n in LEARNERS})
LearnerName.__doc__ = "The platforms' embedded learning models (one per ``LEARNERS`` entry)."
TaskName = StrEnum("TaskName", {n.upper(): n for n in TASKS})
TaskName.__doc__ = "The learning tasks (one per ``TASKS`` entry)."


def tasks_of(kinds: frozenset[TaskKind] | set[TaskKind]) -> list[str]:
    """The names of the tasks of these kinds, in registry order."""
    return [t.name for t in TASKS.values() if t.kind in kinds]


def fits(learner: str, task: str | Task) -> str | None:
    """Why ``learner`` cannot be trained on ``task``, or None when it can.

    The one answer to "does this learner fit this task", read by validation (before a
    run, from the task's name) and by :func:`abm.learning.make_learner` (a loaded task).

    Args:
        learner: A learner name (a ``LEARNERS`` key).
        task: A task name (a ``TASKS`` key) or a loaded :class:`Task`.

    Returns:
        One line saying what the learner needs, or None.
    """
    name = str(getattr(task, "name", task))
    kind = getattr(task, "kind", None) or TASKS[name].kind
    needs = LEARNERS[str(learner)].kinds
    if kind in needs:
        return None
    need = " or ".join(sorted(needs))
    fitting = [n for n, e in LEARNERS.items() if kind in e.kinds]
    return (
        f"{learner} needs a {need} task; {name} is a {kind} task:"
        f" {', '.join(fitting[:-1])} and {fitting[-1]} fit it"
    )


def make_learner(name: str, task: Task, **params: Any) -> Learner:
    """Build a learner sized for ``task`` from its registry entry.

    Args:
        name: A learner's name (a key of :data:`LEARNERS`).
        task: The task the learner will be trained on (gives classes, features, ranges).
        **params: Passed to the learner's constructor (e.g. ``l2``, ``mode``, ``k``).

    Returns:
        A fresh, unfitted learner.

    Raises:
        ValueError: If the name is unknown or does not fit the task's kind.
    """
    if name not in LEARNERS:
        raise ValueError(f"unknown learner {name!r}; valid names: {', '.join(LEARNERS)}")
    reason = fits(name, task)
    if reason is not None:  # validation refuses this before a run; a library caller may not
        raise ValueError(f"learner {name}: {reason}")
    return LEARNERS[name].build(task, **params)


def load_task(
    name: str,
    *,
    rng: np.random.Generator,
    test_size: float = 0.25,
    path: str | Path | None = None,
    feature_columns: list[str] | None = None,
    label_column: str | None = None,
    n_samples: int | None = None,
    **params: Any,
) -> Task:
    """Load a task through its registry entry and split it with ``rng``.

    Classification tasks are split stratified by class.

    Args:
        name: A task's name (a key of :data:`TASKS`).
        rng: The run's generator; it seeds the split and any synthetic data.
        test_size: Held-out fraction.
        path: Data file for "csv" / "parquet" / "movielens".
        feature_columns: Feature columns of the file (default: all but the label).
        label_column: Label column of the file.
        n_samples: Size of synthetic tasks ("synthetic": 2000, "ratings": 20000 ratings;
            "stream": the rows platforms start with, 2000).
        **params: Task-specific options: ``stream={...}`` for "stream" (the fields of
            ``StreamParams``) and "ratings_stream" (those of ``RatingsStreamParams``;
            other keys are ignored), ignored by other tasks; for "movielens" the options of
            ``abm.learning.movielens.movielens_task``; for "synthetic" anything
            ``sklearn.datasets.make_classification`` accepts (``n_features``,
            ``n_classes``, ...); for "ratings" ``n_raters``, ``n_items``, ``rank``,
            ``noise``, ``discrete``, ``rating_range``; ``standardise=False`` turns
            standardisation off for classification tasks.

    Returns:
        The task.

    Raises:
        ValueError: Unknown name, missing file or missing column.
    """
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; valid names: {', '.join(TASKS)}")
    standardise = bool(params.pop("standardise", True))
    stream = params.pop("stream", None) or {}
    request = TaskRequest(
        str(name), rng, test_size, path, feature_columns, label_column, n_samples,
        standardise, stream, params,
    )  # fmt: skip
    return TASKS[name].load(request)
