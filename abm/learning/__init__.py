"""Learning layer: learners, tasks and user slices, data pools with provenance, curves.

Modelling assumption: learning is a pure, swappable component. Everything here takes
explicit arrays and an explicit ``numpy.random.Generator``, knows nothing of Mesa or of
agents, and can be tested on its own; the model decides when platforms retrain.

Names are imported on first use (PEP 562): the scenario schema reads this layer's
registries without loading pandas, scipy's optimisers or scikit-learn.
"""

from __future__ import annotations

import importlib
from typing import Any

# Each public name and the module that defines it.
_HOME = {
    "Contributions": "contributions",
    "cdc_curve": "curves",
    "learning_curve": "curves",
    "normalise": "curves",
    "strike_curve": "curves",
    "GlobalMean": "learners",
    "ItemMean": "learners",
    "KNearestNeighbours": "learners",
    "Learner": "learners",
    "LogisticRegression": "learners",
    "MajorityClass": "learners",
    "MatrixFactorisation": "learners",
    "NearestCentroid": "learners",
    "leverage_baseline_for": "learners",
    "naive_learner_for": "learners",
    "MostPopular": "movielens",
    "ratings_report": "movielens",
    "rmse": "movielens",
    "Alteration": "pool",
    "DataPool": "pool",
    "ShardedTrainer": "pool",
    "RankingProbe": "ranking",
    "hit_rate": "ranking",
    "GaussianStream": "stream",
    "StreamParams": "stream",
    "LEARNERS": "registry",
    "TASKS": "registry",
    "LearnerName": "registry",
    "Sampling": "registry",
    "TaskName": "registry",
    "fits": "registry",
    "load_task": "registry",
    "make_learner": "registry",
    "tasks_of": "registry",
    "Task": "task",
    "TaskRequest": "task",
    "TaskKind": "task",
    "Slices": "tasks",
    "assign_slices": "tasks",
    "draw_samples": "tasks",
}

__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    """Import the module that defines ``name`` on first use."""
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOME})
