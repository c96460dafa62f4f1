import numpy as np
import pytest

from abm.learning import Alteration, DataPool, LogisticRegression, ShardedTrainer


def _route(pool, rng, n, step, n_users=50, collective=-1):
    sample = rng.integers(0, 300, size=n)
    contributor = rng.integers(0, n_users, size=n)
    pool.add(sample, sample % 2, contributor, step, collective)
    return sample, contributor


def test_add_grows_and_views_are_exact():
    pool = DataPool(capacity=4)
    rng = np.random.default_rng(0)
    routed = [_route(pool, rng, 37, step) for step in range(10)]
    assert len(pool) == 370
    assert pool.capacity >= 370 and pool.capacity < 2 * 370 * 2
    np.testing.assert_array_equal(pool.sample, np.concatenate([r[0] for r in routed]))
    np.testing.assert_array_equal(pool.contributor, np.concatenate([r[1] for r in routed]))
    np.testing.assert_array_equal(pool.step, np.repeat(np.arange(10), 37))
    assert (pool.step == 3).sum() == 37
    assert np.all(pool.collective == -1)
    assert np.all(pool.alteration == Alteration.NONE)
    assert pool.n_added - pool.n_deleted - pool.n_expired == len(pool)
    # Platform-owned rows (contributor -1) are stored and hashed to a shard.
    pool.add(np.array([1, 2]), np.array([1, 0]), -1, -1)
    assert (pool.contributor == -1).sum() == 2
    sisa = ShardedTrainer(3, lambda: None, np.random.default_rng(0))
    assert 0 <= sisa.shard_of(np.array([-1]))[0] < 3


def test_delete_and_expire_are_exact():
    pool = DataPool()
    rng = np.random.default_rng(1)
    rows = []
    for step in range(6):
        s, c = _route(pool, rng, 100, step, collective=step % 3 - 1)
        rows += [(int(a), int(b), step, step % 3 - 1) for a, b in zip(s, c, strict=True)]
    removed = pool.delete(contributors=np.array([1, 2, 3]))
    expected = [r for r in rows if r[1] not in (1, 2, 3)]
    assert removed == len(rows) - len(expected)
    removed = pool.delete(collective=1)
    expected = [r for r in expected if r[3] != 1]
    assert removed > 0
    removed = pool.expire(current_step=5, retention=3)  # keep steps 3, 4, 5
    expected = [r for r in expected if r[2] > 2]
    assert removed > 0
    live = list(
        zip(
            pool.sample.tolist(),
            pool.contributor.tolist(),
            pool.step.tolist(),
            pool.collective.tolist(),
            strict=True,
        )
    )
    assert live == expected
    assert pool.n_added - pool.n_deleted - pool.n_expired == len(pool)
    assert pool.delete(contributors=np.array([1, 2, 3])) == 0


def test_features_reconstruct_altered_rows():
    rng = np.random.default_rng(2)
    X_train = rng.normal(size=(20, 3))
    pool = DataPool()
    alteration = np.array([0, 1, 0, 3, 2], dtype=np.int8)
    X_alt = np.array([[9.0, 9, 9], [7.0, 7, 7], [5.0, 5, 5]])
    pool.add(
        np.array([0, 1, 2, 3, 4]),
        np.array([0, 1, 0, 1, 0]),
        np.array([10, 11, 12, 13, 14]),
        step=0,
        alteration=alteration,
        X_altered=X_alt,
    )
    pool.add(np.array([5, 6]), np.array([1, 1]), np.array([15, 16]), step=1)
    X = pool.features(X_train)
    np.testing.assert_array_equal(X[[0, 2, 5, 6]], X_train[[0, 2, 5, 6]])
    np.testing.assert_array_equal(X[[1, 3, 4]], X_alt)
    # Deleting compacts the side array and keeps the mapping right.
    pool.delete(contributors=np.array([11]))
    X = pool.features(X_train)
    np.testing.assert_array_equal(X[[2, 3]], X_alt[1:])
    np.testing.assert_array_equal(pool.alteration, [0, 0, 3, 2, 0, 0])
    assert pool._n_feats == 2
    np.testing.assert_array_equal(pool.features(X_train, rows=pool.alteration > 0), X_alt[1:])
    with pytest.raises(ValueError, match="altered"):
        pool.add(np.array([1, 2]), np.array([0, 0]), 3, 2, alteration=1, X_altered=np.zeros((1, 3)))


def _pool_for(task, rng, n_users=200):
    pool = DataPool()
    owner = rng.integers(0, n_users, size=task.n_train)
    pool.add(np.arange(task.n_train), task.y_train, owner, step=0)
    return pool


def test_sisa_deletion_retrains_about_one_shard(breast_cancer):
    t = breast_cancer
    rng = np.random.default_rng(0)
    S = 5
    fractions = []
    for seed in range(10):
        rng = np.random.default_rng(seed)
        pool = _pool_for(t, rng)
        sisa = ShardedTrainer(S, lambda: LogisticRegression(2, t.n_features, mode="full"), rng)
        sisa.fit(pool, t.X_train, rng)
        assert sisa.samples_trained == len(pool) and sisa.samples_retrained == 0
        removed = sisa.delete(pool, t.X_train, rng, contributors=pool.contributor[:1])
        assert removed > 0 and sisa.shards_retrained == 1
        fractions.append(sisa.samples_retrained / len(pool))
    assert abs(np.mean(fractions) - 1 / S) < 0.05
    assert sisa.score(t.X_test, t.y_test) > 0.9


def test_sisa_shards_by_contributor_and_accuracy_falls_with_shards(breast_cancer):
    t = breast_cancer
    rng = np.random.default_rng(0)
    pool = _pool_for(t, rng)
    sisa = ShardedTrainer(
        4, lambda: LogisticRegression(2, t.n_features, mode="full"), rng, aggregate="proba"
    )
    shard = sisa.shard_of(pool.contributor)
    for c in np.unique(pool.contributor)[:20]:
        assert len(np.unique(shard[pool.contributor == c])) == 1
    assert np.all(np.bincount(shard, minlength=4) > 0.15 * len(pool))
    sisa.fit(pool, t.X_train, rng)
    accs = {}
    for S in (1, 40):
        m = ShardedTrainer(
            S, lambda: LogisticRegression(2, t.n_features, mode="full"), np.random.default_rng(1)
        ).fit(pool, t.X_train, rng)
        accs[S] = m.score(t.X_test, t.y_test)
    assert accs[1] >= accs[40]
    # Deleting a collective retrains the shards of its members only.
    pool.add(np.arange(10), t.y_train[:10], np.full(10, 999), step=1, collective=7)
    sisa.fit(pool, t.X_train, rng)
    sisa.delete(pool, t.X_train, rng, collective=7)
    assert sisa.shards_retrained == 1


def test_a_sharded_trainer_predicts_nothing_for_no_rows():
    """A poison filter with no calibration rows asks for no predictions (it used to fail)."""
    from abm.learning import MatrixFactorisation

    rng = np.random.default_rng(0)
    for aggregate in ("vote", "mean"):
        sisa = ShardedTrainer(3, lambda: MatrixFactorisation(5, 5), rng, aggregate=aggregate)
        assert sisa.predict(np.zeros((0, 2), np.int64)).shape == (0,)
