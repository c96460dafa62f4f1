"""population.sampling: rows handed over once (without replacement) or redrawn (with)."""

from __future__ import annotations

import numpy as np
import pytest

from abm.learning import assign_slices, draw_samples
from abm.model import LeverageModel
from tests.conftest import small


def test_without_replacement_never_repeats_a_row_and_users_run_dry(digits):
    rng = np.random.default_rng(0)
    s = assign_slices(digits, 100, heterogeneity="class", rng=rng, sampling="without_replacement")
    users = np.arange(100)
    given, owner = [], []
    for _ in range(200):
        want = rng.poisson(2.0, 100)
        counts = np.minimum(want, s.remaining(users))
        given.append(draw_samples(s, users, counts, rng))
        owner.append(np.repeat(users, counts))
    given, owner = np.concatenate(given), np.concatenate(owner)
    assert len(np.unique(given)) == len(given)  # never the same row twice
    for u in (0, 17, 99):  # each row is contributed by its owner
        assert set(given[owner == u].tolist()) <= set(s.owned(u).tolist())
    assert len(given) == digits.n_train and s.remaining(users).sum() == 0  # all used up
    assert len(draw_samples(s, users, np.zeros(100, np.int64), rng)) == 0
    with pytest.raises(ValueError, match="more rows than it has left"):
        draw_samples(s, users[:1], np.array([1]), rng)


def test_without_replacement_order_is_a_permutation_of_the_slice(digits):
    a = assign_slices(digits, 50, rng=np.random.default_rng(1))
    b = assign_slices(digits, 50, rng=np.random.default_rng(1), sampling="without_replacement")
    np.testing.assert_array_equal(a.offsets, b.offsets)
    assert not np.array_equal(a.order, b.order)
    for u in (0, 25, 49):
        assert sorted(a.owned(u).tolist()) == sorted(b.owned(u).tolist())


def test_with_replacement_draws_are_common_random_numbers(digits):
    """A user's picks do not depend on which other users draw in the same call."""
    s = assign_slices(digits, 300, heterogeneity="iid", rng=np.random.default_rng(0))
    all_users = draw_samples(s, np.arange(300), np.full(300, 4), np.random.default_rng(5))
    some = draw_samples(s, np.array([17, 200]), np.array([4, 4]), np.random.default_rng(5))
    np.testing.assert_array_equal(some[:4], all_users[17 * 4 : 18 * 4])
    np.testing.assert_array_equal(some[4:], all_users[200 * 4 : 201 * 4])
    # One number is taken from the generator per call, whoever draws.
    r1, r2 = np.random.default_rng(9), np.random.default_rng(9)
    draw_samples(s, np.arange(300), np.full(300, 4), r1)
    draw_samples(s, np.array([3]), np.array([1]), r2)
    assert r1.random() == r2.random()
    # Picks are spread over the whole slice (not stuck on one row).
    big = assign_slices(digits, 10, rng=np.random.default_rng(0))
    picks = draw_samples(big, np.array([0]), np.array([2000]), np.random.default_rng(0))
    assert len(np.unique(picks)) > 0.9 * big.sizes[0]


def test_unknown_sampling_is_refused(digits):
    with pytest.raises(ValueError, match="sampling"):
        assign_slices(digits, 10, rng=np.random.default_rng(0), sampling="bootstrap")


def test_model_without_replacement_contributes_each_row_once():
    sc = small(
        task={"name": "breast_cancer"},
        population={"n_users": 100, "samples_per_step": 2.0, "sampling": "without_replacement"},
        steps=6,
    )
    model = LeverageModel(scenario=sc)
    while model.running:
        model.step()
    pool = model.platforms[0].pool
    rows = np.concatenate([p.pool.sample[p.pool.contributor >= 0] for p in model.platforms])
    assert len(np.unique(rows)) == len(rows)
    assert model.users.contributed.sum() == model.slices.used.sum() <= model.task.n_train
    # 426 rows, 100 users at ~2 per step: most slices are used up within 6 steps.
    assert model.slices.remaining(np.arange(100)).sum() < 0.3 * model.task.n_train
    assert len(pool) > 0
