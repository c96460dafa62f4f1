"""Stream tasks: fresh draws per user, common random numbers, a curve that keeps rising."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from abm.learning import (
    ItemMean,
    LogisticRegression,
    MatrixFactorisation,
    StreamParams,
    assign_slices,
    draw_samples,
    load_task,
    rmse,
)
from abm.learning.tasks import Task
from abm.model import LeverageModel
from abm.runner import simulate
from tests.conftest import small


def _world(seed: int = 0, n_users: int = 300, **kw):
    task = load_task("stream", rng=np.random.default_rng(seed), stream=kw)
    slices = assign_slices(
        task, n_users, heterogeneity="class", groups=np.arange(n_users) % 6,
        rng=np.random.default_rng(seed + 1),
    )  # fmt: skip
    return task, slices


def test_stream_task_shapes_and_held_out_set_fixed_by_seed():
    t = load_task("stream", rng=np.random.default_rng(3), n_samples=500, stream={"n_test": 800})
    assert t.kind == "classification" and t.n_train == 500 and t.n_test == 800
    assert t.X_train.shape == (500, 64) and t.n_classes == 20
    assert set(np.unique(t.y_test)) == set(range(20))
    again = load_task("stream", rng=np.random.default_rng(3), n_samples=500, stream={"n_test": 800})
    np.testing.assert_array_equal(t.X_test, again.X_test)
    other = load_task("stream", rng=np.random.default_rng(4), n_samples=500, stream={"n_test": 800})
    assert not np.allclose(t.X_test, other.X_test)


def test_bad_stream_parameter_is_named():
    with pytest.raises(ValueError, match="noise"):
        load_task("stream", rng=np.random.default_rng(0), stream={"noise": 0.0})
    with pytest.raises(TypeError):
        load_task("stream", rng=np.random.default_rng(0), stream={"dimension": 3})


def test_every_contribution_is_fresh_and_store_indices_stay_valid():
    task, slices = _world()
    n0 = task.n_train
    first = draw_samples(slices, np.arange(300), np.full(300, 3), np.random.default_rng(0))
    X_first = task.X_train[first].copy()
    second = draw_samples(slices, np.arange(300), np.full(300, 40), np.random.default_rng(0))
    assert first.min() == n0 and second.min() == first.max() + 1
    assert task.n_train == n0 + 300 * 43
    np.testing.assert_array_equal(task.X_train[first], X_first)  # earlier rows unchanged
    rows = task.X_train[n0:]
    assert len(np.unique(rows, axis=0)) == len(rows)  # no row repeats
    assert slices.remaining(np.arange(3)).min() > 10**9  # a stream never runs dry


def test_kth_row_of_a_user_depends_only_on_seed_user_and_k():
    """Common random numbers: who else contributes, and the run's rng, change nothing."""
    ta, sa = _world()
    tb, sb = _world()
    a = draw_samples(sa, np.array([7, 8, 9]), np.array([2, 5, 1]), np.random.default_rng(1))
    b1 = draw_samples(sb, np.array([8]), np.array([3]), np.random.default_rng(99))
    b2 = draw_samples(sb, np.array([2, 8]), np.array([4, 2]), np.random.default_rng(5))
    user8_a = ta.X_train[a[2:7]]
    user8_b = tb.X_train[np.concatenate([b1, b2[4:]])]
    np.testing.assert_array_equal(user8_a, user8_b)
    np.testing.assert_array_equal(ta.y_train[a[2:7]], tb.y_train[np.concatenate([b1, b2[4:]])])
    # A user listed twice in one call continues its own sequence.
    tc, sc = _world()
    c = draw_samples(sc, np.array([8, 3, 8]), np.array([2, 1, 3]), np.random.default_rng(0))
    np.testing.assert_array_equal(tc.X_train[np.concatenate([c[:2], c[3:]])], user8_a)


def test_class_profile_and_group_shift_shape_a_users_data():
    task, slices = _world(n_users=60, shift=3.0)
    users = np.arange(60)
    idx = draw_samples(slices, users, np.full(60, 200), np.random.default_rng(0))
    owner = np.repeat(users, 200)
    y = task.y_train[idx]
    # "class" heterogeneity with concentration 0.8: ~82% of a user's labels are its favourite.
    share = np.mean(y == slices.favourite[owner])
    assert 0.75 < share < 0.9
    # Groups differ: the same class has a different mean in each data group.
    group = slices.stream_users.group[owner]
    X = task.X_train[idx]
    m0 = X[(group == 0) & (y == 0)].mean(axis=0)
    m1 = X[(group == 1) & (y == 0)].mean(axis=0)
    assert np.linalg.norm(m0 - m1) > 1.5
    mix = slices.class_mix(np.arange(60) % 6, task.n_classes)
    np.testing.assert_allclose(mix.sum(axis=1), 1.0)
    assert np.all(mix.argmax(axis=1) == np.arange(6))


def test_learning_curve_keeps_rising_from_1e2_to_1e5():
    """The issue's requirement: the logistic learner keeps improving over three decades."""
    p = StreamParams(n_test=10_000)
    task = load_task("stream", rng=np.random.default_rng(0), stream=vars(p))
    slices = assign_slices(task, 1000, rng=np.random.default_rng(1))
    idx = draw_samples(slices, np.arange(1000), np.full(1000, 100), np.random.default_rng(2))
    X, y = task.X_train[idx], task.y_train[idx]
    perm = np.random.default_rng(3).permutation(len(idx))
    acc = []
    for n in (100, 1_000, 10_000, 100_000):
        rows = perm[:n]
        model = LogisticRegression(20, 64, mode="full").fit(X[rows], y[rows])
        acc.append(model.score(task.X_test, task.y_test))
    gains = np.diff(acc)
    assert np.all(gains > 0.01), acc  # every decade adds accuracy, the last ~2 points
    assert acc[0] < 0.7 and acc[-1] > 0.9


def test_stream_scenario_runs_end_to_end_with_fresh_rows():
    sc = small(task={"name": "stream", "n_samples": 300, "stream": {"n_test": 1000}}, steps=4)
    model = LeverageModel(scenario=sc)
    n0 = model.task.n_train
    while model.running:
        model.step()
    pool = model.platforms[0].pool
    mine = pool.sample[pool.contributor >= 0]
    assert len(mine) > 0 and mine.min() >= n0
    assert len(np.unique(mine)) == len(mine)  # users never sent the same row twice
    made = model.slices.stream_users.made
    assert made.sum() == model.task.n_train - n0 == model.users.contributed.sum()
    assert simulate(sc).outcomes == simulate(sc).outcomes


def test_a_twin_reuses_the_rows_its_real_world_just_made(monkeypatch):
    """A twin in lockstep gets the stored copies of the rows its real world made."""
    sc = small(
        task={"name": "stream", "n_samples": 300, "stream": {"n_test": 500}},
        collectives=[{"name": "s", "target": "incumbent", "lever": "strike", "size": 0.4,
                      "start": 1}],
        measurement={"valuation": False}, steps=5,
    )  # fmt: skip
    model = LeverageModel(scenario=sc)
    n0 = model.task.n_train
    while model.running:
        model.step()
    twin = model.twins[0]
    real_made, twin_made = model.slices.stream_users.made, twin.slices.stream_users.made
    np.testing.assert_array_equal(real_made, twin_made)  # strikers still make data
    assert model.task.n_train - n0 == real_made.sum()  # stored once, not once per world
    # The same numbers as making every row again in every world.
    cached = simulate(sc).model_table
    make_again = Task.stream_rows

    def no_reuse(task, who, k, make):
        task._recent = None
        return make_again(task, who, k, make)

    monkeypatch.setattr(Task, "stream_rows", no_reuse)
    pd.testing.assert_frame_equal(simulate(sc).model_table, cached)


def test_a_draw_after_a_step_without_rows_makes_them():
    """A step in which nobody made data (a small, quiet world) must not break the next."""
    task = load_task("stream", rng=np.random.default_rng(0), stream={"n_test": 50})

    def make(who, k):
        return np.ones((len(who), task.X_train.shape[1])), np.zeros(len(who), np.int64)

    none = np.zeros(0, np.int64)
    assert task.stream_rows(none, none, make).size == 0
    idx = task.stream_rows(np.array([3, 4]), np.array([0, 0]), make)
    assert len(idx) == 2 and (idx >= 0).all()
    np.testing.assert_array_equal(task.stream_rows(np.array([4]), np.array([0]), make), idx[1:])


# ------------------------------------------------------------------ ratings stream


def _ratings_world(n_users: int = 150, seed: int = 0):
    task = load_task(
        "ratings_stream", rng=np.random.default_rng(seed), n_samples=400,
        stream={"n_items": 200, "noise": 0.5, "n_test": 3000, "n_features": 5},
    )  # fmt: skip
    return task, assign_slices(task, n_users, rng=np.random.default_rng(seed))


def test_ratings_stream_users_rate_new_items_never_the_held_out_ones():
    task, s = _ratings_world()
    assert task.kind == "ratings" and task.n_raters == 150 and task.n_items == 200
    assert task.n_train == 400 and task.n_test == 3000
    users = np.arange(150)
    assert np.all(s.remaining(users) == 160)  # 80% of the catalogue
    idx = draw_samples(s, users, np.full(150, 100), np.random.default_rng(0))
    pairs = task.X_train[idx]
    assert len(np.unique(pairs, axis=0)) == len(pairs)  # each rating is of a new item
    assert np.all(pairs[:, 0] == np.repeat(users, 100))
    held = {tuple(p) for p in task.X_test.tolist()} | {
        tuple(p) for p in task.X_train[:400].tolist()
    }
    assert not any(tuple(p) in held for p in pairs.tolist())
    rest = draw_samples(s, users, s.remaining(users), np.random.default_rng(0))
    assert len(rest) == 150 * 60 and s.remaining(users).sum() == 0  # run dry
    with pytest.raises(ValueError, match="items left"):
        draw_samples(s, users[:1], np.array([1]), np.random.default_rng(0))


def test_ratings_stream_kth_rating_is_common_random_numbers_and_mf_learns_tastes():
    ta, sa = _ratings_world()
    tb, sb = _ratings_world()
    a = draw_samples(sa, np.array([4, 9]), np.array([30, 30]), np.random.default_rng(1))
    b = draw_samples(sb, np.array([9]), np.array([30]), np.random.default_rng(7))
    np.testing.assert_array_equal(ta.X_train[a[30:]], tb.X_train[b])
    np.testing.assert_array_equal(ta.y_train[a[30:]], tb.y_train[b])
    with pytest.raises(ValueError, match="150 users"):
        assign_slices(ta, 151, rng=np.random.default_rng(0))
    # Latent tastes are learnable: MF beats the item mean on the held-out ratings.
    users = np.arange(150)
    draw_samples(sa, users, np.full(150, 80), np.random.default_rng(0))
    rng = np.random.default_rng(0)
    mf = MatrixFactorisation(ta.n_raters, ta.n_items, rank=4).fit(ta.X_train, ta.y_train, rng)
    im = ItemMean(ta.n_items).fit(ta.X_train, ta.y_train)
    assert rmse(mf, ta.X_test, ta.y_test) < rmse(im, ta.X_test, ta.y_test) - 0.1


def test_ratings_stream_scenario_runs_and_cold_users_are_predicted_from_biases():
    sc = small(
        task={"name": "ratings_stream", "n_samples": 300, "stream": {"n_items": 300}},
        platforms=[
            {"name": "incumbent", "learner": "mf", "initial_share": 0.6},
            {"name": "challenger", "learner": "mf", "initial_share": 0.4},
        ],
        steps=4,
    )
    model = LeverageModel(scenario=sc)
    while model.running:
        model.step()
    inc = model.platforms[0]
    seen = np.unique(inc.pool.features(model.task.X_train)[:, 0])
    cold = np.setdiff1d(np.arange(model.n_users), seen)
    assert len(cold) > 0  # users of the other platform were never seen here
    assert np.all(inc.trainer.P[cold] == 0) and np.all(inc.trainer.bu[cold] == 0)
    assert np.isfinite(inc.quality)
