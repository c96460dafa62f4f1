"""Learning layer: learners, tasks and user slices, data pools with provenance, curves.

Modelling assumption: learning is a pure, swappable component. Everything here takes
explicit arrays and an explicit ``numpy.random.Generator``, knows nothing of Mesa or of
agents, and can be tested on its own; the model decides when platforms retrain.
"""

from abm.learning.contributions import Contributions
from abm.learning.curves import cdc_curve, learning_curve, normalise, strike_curve
from abm.learning.learners import (
    LEARNER_NAMES,
    GlobalMean,
    ItemMean,
    KNearestNeighbours,
    Learner,
    LogisticRegression,
    MajorityClass,
    MatrixFactorisation,
    fits,
    leverage_baseline_for,
    make_learner,
    naive_learner_for,
)
from abm.learning.movielens import MostPopular, ratings_report, rmse
from abm.learning.pool import Alteration, DataPool, ShardedTrainer
from abm.learning.ranking import RankingProbe, hit_rate
from abm.learning.stream import GaussianStream, StreamParams
from abm.learning.task import TASK_KINDS, Task
from abm.learning.tasks import (
    SAMPLING,
    TASK_NAMES,
    Slices,
    assign_slices,
    draw_samples,
    load_task,
)

__all__ = [
    "LEARNER_NAMES",
    "TASK_KINDS",
    "TASK_NAMES",
    "SAMPLING",
    "Alteration",
    "Contributions",
    "DataPool",
    "GaussianStream",
    "GlobalMean",
    "ItemMean",
    "KNearestNeighbours",
    "Learner",
    "LogisticRegression",
    "MajorityClass",
    "MatrixFactorisation",
    "MostPopular",
    "RankingProbe",
    "ShardedTrainer",
    "Slices",
    "StreamParams",
    "Task",
    "assign_slices",
    "cdc_curve",
    "draw_samples",
    "fits",
    "hit_rate",
    "learning_curve",
    "leverage_baseline_for",
    "load_task",
    "make_learner",
    "naive_learner_for",
    "normalise",
    "ratings_report",
    "rmse",
    "strike_curve",
]
