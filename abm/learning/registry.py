"""The learners and tasks a scenario can name: one entry each.

Adding a learner or a task is adding one entry here (and its class or loader). The
scenario schema's ``LearnerName`` and ``TaskName`` vocabularies, docs/schema.md,
validation (which learner fits which task, which levers work on it, what is known about
a task before its data is read) and :func:`abm.learning.make_learner` all read these
entries. The module is light (no learner is imported until one is built), so the schema
reads it without loading the numerical stack.

Modelling assumption: a learner fits a task by the kind of thing the task asks for
(:class:`TaskKind`): class labels from features, or ratings of (rater, item) pairs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from abm.learning.task import TaskKind

if TYPE_CHECKING:
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
        needs_path: It reads ``task.path`` (a data file).
        classes: Its classes when known before its data is read (None: from the data).
        items: Its items when known before its data is read (ratings tasks).
    """

    name: str
    words: str
    kind: TaskKind
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

TASKS: dict[str, TaskEntry] = _by_name(
    TaskEntry("digits", "scikit-learn's 8x8 handwritten digits", CLASSES, classes=10),
    TaskEntry("breast_cancer", "scikit-learn's breast cancer diagnoses", CLASSES, classes=2),
    TaskEntry("wine", "scikit-learn's wine cultivars", CLASSES, classes=3),
    TaskEntry("synthetic", "make_classification (2 classes)", CLASSES, classes=2),
    TaskEntry("ratings", "generated low-rank ratings", RATES, items=200),
    TaskEntry("csv", "a labelled table in a CSV file", CLASSES, needs_path=True),
    TaskEntry("parquet", "a labelled table in a Parquet file", CLASSES, needs_path=True),
    TaskEntry("stream", "fresh draws from Gaussian class mixtures", CLASSES),
    TaskEntry("ratings_stream", "fresh ratings from latent tastes", RATES),
    TaskEntry("movielens", "MovieLens ratings in rater time order", RATES, needs_path=True),
)

# The scenario schema's vocabularies, generated from the registries.
LearnerName = StrEnum("LearnerName", {n.upper(): n for n in LEARNERS})
LearnerName.__doc__ = "The platforms' embedded learning models (one per ``LEARNERS`` entry)."
TaskName = StrEnum("TaskName", {n.upper(): n for n in TASKS})
TaskName.__doc__ = "The learning tasks (one per ``TASKS`` entry)."


class Sampling(StrEnum):
    """How a user of a finite task hands over rows of its slice."""

    WITH_REPLACEMENT = "with_replacement"
    WITHOUT_REPLACEMENT = "without_replacement"


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
