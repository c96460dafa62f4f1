"""The centroid learner (docs/extending.md's worked example): one class, one registry entry."""

from __future__ import annotations

import numpy as np
import pytest

from abm.learning import NearestCentroid, fits, load_task, make_learner
from abm.model import LeverageModel
from tests.conftest import STRIKE_ALL, small


@pytest.fixture(scope="module")
def wine():
    return load_task("wine", rng=np.random.default_rng(0))


def test_it_learns_and_an_update_equals_a_refit(wine):
    learner = make_learner("centroid", wine)
    assert isinstance(learner, NearestCentroid) and not learner.is_fitted
    assert (learner.predict(wine.X_test) == 0).all()  # before any data: class 0
    half = len(wine.y_train) // 2
    learner.fit(wine.X_train[:half], wine.y_train[:half]).update(
        wine.X_train[half:], wine.y_train[half:]
    )
    whole = NearestCentroid(wine.n_classes).fit(wine.X_train, wine.y_train)
    np.testing.assert_allclose(learner.sums, whole.sums)
    np.testing.assert_array_equal(learner.predict(wine.X_test), whole.predict(wine.X_test))
    majority = np.bincount(wine.y_train).max() / len(wine.y_train)
    assert whole.score(wine.X_test, wine.y_test) > majority + 0.3  # wine's centroids are apart


def test_it_fits_classification_tasks_only():
    assert fits("centroid", "digits") is None
    assert "centroid needs a classification task" in fits("centroid", "movielens")


@pytest.mark.parametrize("retrain", ["incremental", "full"])
def test_platforms_train_it_on_exactly_the_data_routed_to_them(retrain):
    platforms = [
        {"name": "incumbent", "initial_share": 0.7, "learner": "centroid", "retrain": retrain},
        {"name": "challenger", "initial_share": 0.3, "learner": "centroid", "retention": 3},
    ]
    model = LeverageModel(scenario=small(**STRIKE_ALL, steps=6, platforms=platforms))
    while model.running:
        model.step()
    X = model.task.X_train
    for p in model.platforms:
        pool, learner = p.pool, p.trainer
        assert isinstance(learner, NearestCentroid)
        labels = pool.y.astype(np.int64)
        np.testing.assert_array_equal(
            learner.counts, np.bincount(labels, minlength=learner.n_classes)
        )
        sums = np.zeros_like(learner.sums)
        np.add.at(sums, labels, pool.features(X))
        np.testing.assert_allclose(learner.sums, sums)
        assert p.quality == learner.score(model.task.X_test, model.task.y_test)
    # The strike kept members' rows from the incumbent: its learner saw fewer rows than
    # the twin's, in which they contributed.
    real, twin = model.platforms[0].trainer, model.twins[0].platforms[0].trainer
    assert real.counts.sum() < twin.counts.sum()
