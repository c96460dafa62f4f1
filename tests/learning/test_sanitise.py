"""The loss-based poison filter: its conformal threshold and what it drops."""

from __future__ import annotations

import math

import numpy as np
import pytest

from abm.learning import LogisticRegression, ShardedTrainer, load_task
from abm.learning.sanitise import LossFilter, conformal_threshold, row_losses
from abm.levers import flip_labels


def test_the_threshold_is_the_conformal_rank_and_infinite_without_enough_rows():
    losses = np.arange(1.0, 201.0)[::-1]  # 200 losses, 1..200, in no order
    assert conformal_threshold(losses, 0.01) == 199.0  # ceil(201 * 0.99) = 199th smallest
    assert conformal_threshold(losses, 0.05) == 191.0  # ceil(201 * 0.95) = 191st
    assert math.isinf(conformal_threshold(losses, 0.0))  # may drop nothing
    assert math.isinf(conformal_threshold(losses[:50], 0.01))  # 50 rows cannot bound 1%
    assert math.isinf(conformal_threshold(np.array([]), 0.5))


@pytest.fixture(scope="module")
def stream():
    task = load_task("stream", rng=np.random.default_rng(3), n_samples=6000,
                     stream={"n_test": 100})  # fmt: skip
    rng = np.random.default_rng(0)
    model = LogisticRegression(task.n_classes, task.n_features)
    model.fit(task.X_train[:1000], task.y_train[:1000], rng)
    return task, model


def test_clean_rows_are_dropped_at_most_at_the_chosen_rate_and_flips_mostly(stream):
    task, model = stream
    cal = slice(1000, 1200)
    f = LossFilter(task.X_train[cal], task.y_train[cal], 0.05, task.kind, task.n_classes)
    X, y = task.X_train[1200:], task.y_train[1200:]
    clean = f.suspect(model, X, y).mean()
    assert 0.0 < clean <= 0.05 + 0.02  # the level, up to the calibration sample's noise
    flipped, _ = flip_labels(y, 1.0, task.n_classes, np.random.default_rng(1))
    assert f.suspect(model, X, flipped).mean() > 0.8  # a random label is an unlikely one
    # Stricter level: fewer clean rows dropped.
    strict = LossFilter(task.X_train[cal], task.y_train[cal], 0.01, task.kind, task.n_classes)
    assert strict.suspect(model, X, y).mean() < clean


def test_an_untrained_model_or_a_zero_level_drops_nothing(stream):
    task, model = stream
    X, y = task.X_train[:300], (task.y_train[:300] + 1) % task.n_classes
    f = LossFilter(X, task.y_train[:300], 0.0, task.kind, task.n_classes)
    assert not f.suspect(model, X, y).any()
    f.alpha = 0.2
    assert not f.suspect(LogisticRegression(task.n_classes, task.n_features), X, y).any()
    assert f.suspect(model, X, y).any()


def test_losses_of_shards_vote_and_ratings(stream, ratings):
    task, model = stream
    X, y = task.X_train[:50], task.y_train[:50]
    shards = ShardedTrainer(1, lambda: model, np.random.default_rng(0))
    assert np.allclose(row_losses(shards, X, y, task.kind, task.n_classes),
                       row_losses(model, X, y, task.kind, task.n_classes))  # fmt: skip
    assert np.allclose(row_losses(model, X, y, task.kind, task.n_classes),
                       -np.log(model.predict_proba(X)[np.arange(50), y]))  # fmt: skip

    class Mean:
        def predict(self, X):
            return np.full(len(X), 3.0)

    r = row_losses(Mean(), ratings.X_test[:5], ratings.y_test[:5], "ratings", 0)
    assert np.allclose(r, (ratings.y_test[:5] - 3.0) ** 2)
