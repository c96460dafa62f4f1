import numpy as np
import pandas as pd
import pytest

from abm.learning import TASKS, assign_slices, draw_samples, load_task


@pytest.mark.parametrize("name", ["digits", "breast_cancer", "wine", "synthetic"])
def test_bundled_classification_tasks_load(name):
    t = load_task(name, rng=np.random.default_rng(0))
    assert t.kind == "classification"
    assert t.X_train.shape == (t.n_train, t.n_features)
    assert t.X_test.shape[1] == t.n_features
    assert abs(t.n_test / (t.n_train + t.n_test) - 0.25) < 0.01
    assert set(np.unique(t.y_train)) == set(range(t.n_classes))
    # Stratified: class shares agree between the splits.
    p_tr = np.bincount(t.y_train) / t.n_train
    p_te = np.bincount(t.y_test, minlength=t.n_classes) / t.n_test
    assert np.max(np.abs(p_tr - p_te)) < 0.03


def test_standardisation_uses_train_stats_only():
    t = load_task("breast_cancer", rng=np.random.default_rng(1))
    np.testing.assert_allclose(t.X_train.mean(axis=0), 0, atol=1e-10)
    np.testing.assert_allclose(t.X_train.std(axis=0), 1, atol=1e-10)
    # The test split is transformed with the training statistics, so it is not exactly 0/1.
    assert np.max(np.abs(t.X_test.mean(axis=0))) > 1e-3
    raw = load_task("breast_cancer", rng=np.random.default_rng(1), standardise=False)
    np.testing.assert_allclose(raw.X_train.mean(axis=0), t.feature_mean)
    np.testing.assert_allclose((raw.X_test - t.feature_mean) / t.feature_scale, t.X_test)


def test_split_is_seeded():
    a = load_task("wine", rng=np.random.default_rng(5))
    b = load_task("wine", rng=np.random.default_rng(5))
    c = load_task("wine", rng=np.random.default_rng(6))
    np.testing.assert_array_equal(a.X_train, b.X_train)
    assert not np.array_equal(a.y_train, c.y_train) or not np.array_equal(a.X_train, c.X_train)


def test_synthetic_params():
    t = load_task(
        "synthetic",
        rng=np.random.default_rng(0),
        n_samples=400,
        n_features=8,
        n_informative=4,
        n_classes=3,
    )
    assert (t.n_train + t.n_test, t.n_features, t.n_classes) == (400, 8, 3)


def test_ratings_task():
    t = load_task("ratings", rng=np.random.default_rng(0), n_samples=5000, n_raters=50, n_items=40)
    assert t.kind == "ratings"
    assert t.X_train.dtype == np.int64 and t.X_train.shape[1] == 2
    assert t.y_train.min() >= 1 and t.y_train.max() <= 5
    assert t.X_train[:, 0].max() < 50 and t.X_train[:, 1].max() < 40
    pairs = np.concatenate([t.X_train, t.X_test])
    assert len(np.unique(pairs[:, 0] * 40 + pairs[:, 1])) == len(pairs)  # no duplicate cell


def test_csv_and_parquet_loading(tmp_path):
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {"a": rng.normal(size=200), "b": rng.normal(size=200), "noise": rng.normal(size=200)}
    )
    df["label"] = np.where(df.a + df.b > 0, "yes", "no")
    csv = tmp_path / "data.csv"
    df.to_csv(csv, index=False)
    t = load_task("csv", rng=rng, path=csv, feature_columns=["a", "b"], label_column="label")
    assert t.n_features == 2 and t.n_classes == 2
    assert t.class_names == ("no", "yes")
    assert t.feature_names == ("a", "b")
    pq = tmp_path / "data.parquet"
    df.to_parquet(pq)
    t2 = load_task("parquet", rng=rng, path=pq, label_column="label")
    assert t2.n_features == 3


def test_csv_errors_name_the_problem(tmp_path):
    rng = np.random.default_rng(0)
    missing = tmp_path / "nope.csv"
    with pytest.raises(ValueError, match="nope.csv"):
        load_task("csv", rng=rng, path=missing, label_column="y")
    csv = tmp_path / "d.csv"
    pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "y": [0, 1, 0, 1]}).to_csv(csv, index=False)
    with pytest.raises(ValueError, match="'zz'"):
        load_task("csv", rng=rng, path=csv, feature_columns=["a", "zz"], label_column="y")
    with pytest.raises(ValueError, match="'lbl'"):
        load_task("csv", rng=rng, path=csv, label_column="lbl")
    with pytest.raises(ValueError, match="breast_cancer"):
        load_task("mnist", rng=rng)
    assert "csv" in TASKS


@pytest.mark.parametrize("heterogeneity", ["iid", "class", "group"])
@pytest.mark.parametrize("n_users", [7, 100, 5000])
def test_slices_cover_every_user(breast_cancer, heterogeneity, n_users):
    s = assign_slices(
        breast_cancer, n_users, heterogeneity=heterogeneity, rng=np.random.default_rng(0)
    )
    assert s.n_users == n_users
    assert s.sizes.min() >= 1
    assert s.offsets[-1] == len(s.order)
    assert s.order.min() >= 0 and s.order.max() < breast_cancer.n_train
    if n_users <= breast_cancer.n_train:
        # Every training sample is owned by someone.
        assert len(np.unique(s.order)) == breast_cancer.n_train
    if heterogeneity == "iid" and n_users <= breast_cancer.n_train:
        assert s.sizes.max() - s.sizes.min() <= 1
        assert len(s.order) == breast_cancer.n_train


def _favourite_share(task, s):
    owners = s.owners()
    labels = task.y_train[s.order]
    counts = np.zeros((s.n_users, task.n_classes))
    np.add.at(counts, (owners, labels), 1)
    return counts.max(axis=1).sum() / counts.sum(), counts


def test_class_skew_is_measurable(digits):
    rng = np.random.default_rng(0)
    iid = assign_slices(digits, 50, heterogeneity="iid", rng=rng)
    skew = assign_slices(digits, 50, heterogeneity="class", concentration=0.9, rng=rng)
    share_iid, _ = _favourite_share(digits, iid)
    share_skew, counts = _favourite_share(digits, skew)
    assert share_iid < 0.35
    assert share_skew > 0.8
    # The dominant class is the user's favourite.
    assert np.mean(np.argmax(counts, axis=1) == skew.favourite) > 0.9


def _by_group(task, groups, heterogeneity):
    """Slices of ``task`` for one user per entry of ``groups`` (concentration 1, seed 0)."""
    return assign_slices(
        task,
        len(groups),
        heterogeneity=heterogeneity,
        groups=groups,
        concentration=1.0,
        rng=np.random.default_rng(0),
    )


def test_class_favourite_follows_groups(digits):
    groups = np.arange(40) % 10
    s = _by_group(digits, groups, "class")
    np.testing.assert_array_equal(s.favourite, groups)
    owners = s.owners()
    assert np.all(digits.y_train[s.order] == groups[owners])


def test_group_profiles_shared(digits):
    groups = np.repeat(np.arange(5), 20)
    s = _by_group(digits, groups, "group")
    owners = s.owners()
    labels = digits.y_train[s.order]
    prof = np.zeros((5, digits.n_classes))
    np.add.at(prof, (groups[owners], labels), 1)
    prof /= prof.sum(axis=1, keepdims=True)
    # Groups differ: their class profiles are far apart in total variation.
    tv = [0.5 * np.abs(prof[a] - prof[b]).sum() for a in range(5) for b in range(a + 1, 5)]
    assert np.mean(tv) > 0.3
    # Members of a group share the profile: users' shares correlate with their group's.
    assert np.all(s.favourite == s.favourite[np.searchsorted(groups, groups)])


def test_ratings_users_are_raters(ratings):
    s = assign_slices(ratings, 50, rng=np.random.default_rng(0))
    owners = s.owners()
    raters = ratings.X_train[s.order, 0]
    # Each rater's ratings belong to exactly one user.
    pairs = np.unique(np.column_stack([raters, owners]), axis=0)
    assert len(np.unique(pairs[:, 0])) == len(pairs)
    assert len(s.order) == ratings.n_train
    big = assign_slices(ratings, 1000, rng=np.random.default_rng(0))
    assert big.sizes.min() >= 1
    r_of_user = [np.unique(ratings.X_train[big.owned(u), 0]) for u in range(0, 1000, 97)]
    assert all(len(r) == 1 for r in r_of_user)


def test_draw_samples_only_own_data(digits):
    rng = np.random.default_rng(0)
    s = assign_slices(digits, 300, heterogeneity="class", rng=rng)
    users = np.array([3, 10, 299, 3])
    counts = np.array([5, 0, 7, 2])
    out = draw_samples(s, users, counts, rng)
    assert len(out) == 14
    owned = [set(s.owned(u).tolist()) for u in users]
    chunks = np.split(out, np.cumsum(counts)[:-1])
    for chunk, own in zip(chunks, owned, strict=True):
        assert set(chunk.tolist()) <= own
    assert len(draw_samples(s, users[:0], counts[:0], rng)) == 0


def test_draw_samples_vectorised_at_scale(digits):
    rng = np.random.default_rng(0)
    s = assign_slices(digits, 1_000_000, heterogeneity="iid", rng=rng)
    users = np.arange(1_000_000)
    counts = rng.integers(0, 3, size=1_000_000)
    out = draw_samples(s, users, counts, rng)
    assert len(out) == counts.sum()
    # Spot check provenance at scale.
    rep = np.repeat(users, counts)
    idx = rng.integers(0, len(out), size=200)
    for i in idx:
        assert out[i] in s.owned(rep[i])
