"""Warm-started refits: as good as a tight fit from zero, to 1e-3 of quality, per task.

A platform that refits its whole pool (``retrain: full``, SISA shards, a refit after
expiry or deletion) refits a learner it has fitted before; logistic regression then
starts from its weights and stops at ``WARM_TOL`` instead of ``tol`` from zero.
"""

from __future__ import annotations

import numpy as np
import pytest

from abm.learning import load_task, make_learner
from abm.learning.learners import WARM_TOL

TASKS = ("digits", "breast_cancer", "wine", "synthetic", "stream")  # logistic regression's


@pytest.mark.parametrize("name", TASKS)
def test_a_warm_refit_scores_within_1e3_of_a_tight_fit_from_zero(name: str) -> None:
    task = load_task(name, rng=np.random.default_rng(3))
    X, y = task.X_train, task.y_train
    order = np.random.default_rng(4).permutation(len(X))
    warm = make_learner("logistic", task)
    assert warm.warm_start and warm.warm_tol == WARM_TOL > warm.tol
    # The pool grows, and loses rows, as a platform's does between refits.
    pools = [order[: len(X) // 3], order[: 2 * len(X) // 3], order, order[len(X) // 4 :]]
    for rows in pools:
        warm.fit(X[rows], y[rows])
        tight = make_learner("logistic", task, tol=1e-10, max_iter=5000).fit(X[rows], y[rows])
        gap = abs(warm.score(task.X_test, task.y_test) - tight.score(task.X_test, task.y_test))
        assert gap <= 1e-3, (name, len(rows), gap)
    # It did start warm: a cold refit at the loose tolerance stops elsewhere.
    cold = make_learner("logistic", task, warm_start=False, tol=WARM_TOL).fit(X[rows], y[rows])
    assert not np.allclose(cold.coef, warm.coef, atol=1e-6)


def test_a_learner_that_does_not_warm_start_refits_from_zero() -> None:
    task = load_task("wine", rng=np.random.default_rng(0))
    X, y = task.X_train, task.y_train
    a = make_learner("logistic", task, warm_start=False).fit(X[:40], y[:40]).fit(X, y)
    b = make_learner("logistic", task).fit(X, y)  # first fit: from zero at ``tol``
    np.testing.assert_array_equal(a.coef, b.coef)
