"""The setting of a run: what a scenario and a seed fix before anyone acts.

A setting is the social network, the learning task and its held-out data, each user's
slice of the data, each group's class mix and the naive baseline leverage is measured
from. It is built once, by the real world, from its scenario and generator
(:func:`build_setting`); a twin world (``abm/twins.py``) is built by the same
constructor from the real world's setting, so the two stand on the same ground and no
list of shared attributes has to be kept in step: everything a twin shares is here,
everything else each world builds for itself.

Nothing here is written once built, except what grows the same way in every world: a
stream task's store (rows that depend on (seed, user, k) alone) and ``drawn``, the
uniforms over users of the step being run, drawn once a step and read by every world
(common random numbers, ``twins.uniforms``). Each world hands its users' rows over at its
own pace, so it takes its own copy of the slices' cursors (:meth:`Setting.own_slices`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from abm.learning import assign_slices, leverage_baseline_for, load_task
from abm.network import build_graph

if TYPE_CHECKING:
    import scipy.sparse as sp

    from abm.learning import Slices, Task
    from abm.scenario import Scenario


@dataclass(frozen=True)
class Setting:
    """The ground every world of a run stands on (see the module docstring)."""

    adjacency: sp.csr_array  # the social network, users x users
    degree: np.ndarray  # each user's number of neighbours
    groups: np.ndarray  # each user's community / data group
    task: Task
    slices: Slices  # each user's rows of the training data, cursors at step 0
    group_classes: np.ndarray  # each group's class mix (classification; else empty)
    naive_quality: float  # the floor leverage is measured from
    drawn: dict[tuple, np.ndarray] = field(default_factory=dict)  # this step's uniforms

    @property
    def n_users(self) -> int:
        """Users in the world."""
        return self.adjacency.shape[0]

    def own_slices(self) -> Slices:
        """A world's own copy of the slices, cursors at step 0 (the task is not copied)."""
        return copy.deepcopy(self.slices, {id(self.task): self.task})


def build_setting(spec: Scenario, rng: np.random.Generator) -> Setting:
    """The setting of ``spec``: network, task, slices and baseline, drawn from ``rng``."""
    adjacency, groups = build_graph(spec.network, spec.population.n_users, rng)
    t = spec.task
    task = load_task(
        t.name, rng=rng, test_size=t.test_size, path=t.path,
        feature_columns=t.feature_columns, label_column=t.label_column,
        n_samples=t.n_samples, stream=t.stream.model_dump(),
    )  # fmt: skip
    if task.kind == "classification":
        spec.check_labels(task.n_classes)  # a file's classes are known only now
    else:
        spec.check_items(task.n_items)  # a MovieLens file's items are known only now
    pop = spec.population
    slices = assign_slices(
        task, adjacency.shape[0], heterogeneity=pop.heterogeneity.value, groups=groups,
        rng=rng, sampling=pop.sampling.value,
    )  # fmt: skip
    # Each group's class mix: what "quality for group g" weights per-class recall by.
    classify = task.kind == "classification"
    group_classes = slices.class_mix(groups, task.n_classes) if classify else np.zeros((0, 0))
    naive = leverage_baseline_for(task).fit(task.X_train, task.y_train, rng)
    return Setting(
        adjacency=adjacency,
        degree=np.asarray(adjacency.sum(axis=1)).ravel(),
        groups=groups,
        task=task,
        slices=slices,
        group_classes=group_classes,
        naive_quality=naive.score(task.X_test, task.y_test),
    )
