"""Learning layer: learners, tasks and user slices, data pools with provenance, curves.

Modelling assumption: learning is a pure, swappable component. Everything here takes
explicit arrays and an explicit ``numpy.random.Generator``, knows nothing of Mesa or of
agents, and can be tested on its own; the model decides when platforms retrain.
"""

from abm.learning.curves import cdc_curve, learning_curve, normalise, strike_curve
from abm.learning.learners import (
    LEARNER_NAMES,
    ItemMean,
    KNearestNeighbours,
    Learner,
    LogisticRegression,
    MajorityClass,
    MatrixFactorisation,
    make_learner,
    naive_learner_for,
)
from abm.learning.pool import Alteration, DataPool, ShardedTrainer
from abm.learning.tasks import (
    TASK_NAMES,
    Slices,
    Task,
    assign_slices,
    draw_samples,
    load_task,
)

__all__ = [
    "LEARNER_NAMES",
    "TASK_NAMES",
    "Alteration",
    "DataPool",
    "ItemMean",
    "KNearestNeighbours",
    "Learner",
    "LogisticRegression",
    "MajorityClass",
    "MatrixFactorisation",
    "ShardedTrainer",
    "Slices",
    "Task",
    "assign_slices",
    "cdc_curve",
    "draw_samples",
    "learning_curve",
    "load_task",
    "make_learner",
    "naive_learner_for",
    "normalise",
    "strike_curve",
]
