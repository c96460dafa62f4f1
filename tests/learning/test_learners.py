import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression as SkLogistic

from abm.learning import (
    LEARNERS,
    GlobalMean,
    ItemMean,
    KNearestNeighbours,
    Learner,
    LogisticRegression,
    MajorityClass,
    MatrixFactorisation,
    leverage_baseline_for,
    load_task,
    make_learner,
    naive_learner_for,
)


def test_logistic_full_fit_matches_sklearn(breast_cancer):
    t = breast_cancer
    ours = LogisticRegression(t.n_classes, t.n_features).fit(t.X_train, t.y_train)
    sk = SkLogistic(max_iter=5000).fit(t.X_train, t.y_train)
    acc = ours.score(t.X_test, t.y_test)
    assert acc > 0.93
    assert abs(acc - sk.score(t.X_test, t.y_test)) <= 0.02
    # Same objective as sklearn's C=1: the predicted probabilities agree closely.
    p_ours = ours.predict_proba(t.X_test)[:, 1]
    p_sk = sk.predict_proba(t.X_test)[:, 1]
    assert np.max(np.abs(p_ours - p_sk)) < 0.02


def test_logistic_multiclass_matches_sklearn(digits):
    t = digits
    ours = LogisticRegression(t.n_classes, t.n_features).fit(t.X_train, t.y_train)
    sk = SkLogistic(max_iter=5000).fit(t.X_train, t.y_train)
    assert abs(ours.score(t.X_test, t.y_test) - sk.score(t.X_test, t.y_test)) <= 0.02


@pytest.mark.parametrize("name", ["breast_cancer", "digits", "wine"])
def test_incremental_updates_approach_full_fit(name):
    gaps = []
    for seed in range(3):
        t = load_task(name, rng=np.random.default_rng(seed))
        rng = np.random.default_rng(seed)
        inc = LogisticRegression(t.n_classes, t.n_features, mode="incremental")
        first = None
        for batch in np.array_split(rng.permutation(t.n_train), 10):
            inc.update(t.X_train[batch], t.y_train[batch], rng)
            if first is None:
                first = inc.score(t.X_test, t.y_test)
        full = LogisticRegression(t.n_classes, t.n_features).fit(t.X_train, t.y_train)
        gaps.append(full.score(t.X_test, t.y_test) - inc.score(t.X_test, t.y_test))
    assert np.mean(gaps) < 0.03


def test_incremental_update_changes_weights_and_learns(digits):
    t = digits
    rng = np.random.default_rng(1)
    m = LogisticRegression(t.n_classes, t.n_features).fit(t.X_train[:100], t.y_train[:100])
    before = m.coef.copy()
    acc_before = m.score(t.X_test, t.y_test)
    m.update(t.X_train[100:], t.y_train[100:], rng)
    assert not np.allclose(before, m.coef)
    assert m.score(t.X_test, t.y_test) > acc_before
    assert m.n_seen == t.n_train


def test_full_mode_update_is_a_refit(breast_cancer):
    t = breast_cancer
    rng = np.random.default_rng(0)
    cold = LogisticRegression(2, t.n_features, mode="full", warm_start=False)
    cold.fit(t.X_train[:50], t.y_train[:50]).update(t.X_train, t.y_train, rng)
    b = LogisticRegression(2, t.n_features).fit(t.X_train, t.y_train)
    np.testing.assert_allclose(cold.coef, b.coef)
    # Warm-started (the default), it reaches the same optimum to its looser tolerance.
    a = LogisticRegression(2, t.n_features, mode="full").fit(t.X_train[:50], t.y_train[:50])
    a.update(t.X_train, t.y_train, rng)
    np.testing.assert_allclose(a.coef, b.coef, atol=0.05 * np.abs(b.coef).max())
    np.testing.assert_array_equal(a.predict(t.X_test), b.predict(t.X_test))


def test_same_rng_gives_identical_weights(digits):
    t = digits

    def run(seed):
        rng = np.random.default_rng(seed)
        m = LogisticRegression(t.n_classes, t.n_features)
        for batch in np.array_split(np.arange(t.n_train), 5):
            m.update(t.X_train[batch], t.y_train[batch], rng)
        return m.coef

    np.testing.assert_array_equal(run(3), run(3))
    assert not np.array_equal(run(3), run(4))


def test_predict_before_fit_and_empty_data(digits):
    t = digits
    rng = np.random.default_rng(0)
    for learner in [
        LogisticRegression(t.n_classes, t.n_features),
        KNearestNeighbours(t.n_classes),
        MajorityClass(t.n_classes),
    ]:
        assert not learner.is_fitted
        pred = learner.predict(t.X_test[:7])
        np.testing.assert_array_equal(pred, np.zeros(7))
        learner.update(t.X_train[:0], t.y_train[:0], rng)
        assert not learner.is_fitted
        learner.fit(t.X_train[:0], t.y_train[:0], rng)
        assert len(learner.predict(t.X_test)) == t.n_test
    lr = LogisticRegression(t.n_classes, t.n_features).fit(t.X_train, t.y_train)
    coef = lr.coef.copy()
    lr.update(t.X_train[:0], t.y_train[:0], rng)
    np.testing.assert_array_equal(coef, lr.coef)  # empty update keeps state


def test_missing_classes_handled(digits):
    t = digits
    rng = np.random.default_rng(0)
    keep = t.y_train < 3
    for learner in [
        LogisticRegression(t.n_classes, t.n_features),
        KNearestNeighbours(t.n_classes),
        MajorityClass(t.n_classes),
    ]:
        learner.fit(t.X_train[keep], t.y_train[keep], rng)
        pred = learner.predict(t.X_test)
        assert set(np.unique(pred)) <= {0, 1, 2}
        test_keep = t.y_test < 3
        if not isinstance(learner, MajorityClass):
            assert learner.score(t.X_test[test_keep], t.y_test[test_keep]) > 0.9
    lr = LogisticRegression(t.n_classes, t.n_features).fit(t.X_train[keep], t.y_train[keep])
    assert np.all(np.isfinite(lr.intercept))
    # A class that arrives later is learned by incremental updates.
    late = t.y_train == 7
    for _ in range(5):
        lr.update(t.X_train[late | keep], t.y_train[late | keep], rng)
    assert np.mean(lr.predict(t.X_test[t.y_test == 7]) == 7) > 0.8


def test_majority_tracks_counts():
    m = MajorityClass(3)
    m.update(np.zeros((3, 1)), np.array([2, 2, 1]))
    assert m.predict(np.zeros((2, 1))).tolist() == [2, 2]
    m.update(np.zeros((3, 1)), np.array([1, 1, 1]))
    assert m.predict(np.zeros((1, 1))).tolist() == [1]
    m.fit(np.zeros((1, 1)), np.array([0]))
    assert m.predict(np.zeros((1, 1))).tolist() == [0]


def test_knn_on_digits(digits):
    t = digits
    knn = KNearestNeighbours(t.n_classes, k=5).fit(t.X_train, t.y_train)
    assert knn.score(t.X_test, t.y_test) > 0.95
    half = t.n_train // 2
    inc = KNearestNeighbours(t.n_classes, k=5).fit(t.X_train[:half], t.y_train[:half])
    inc.update(t.X_train[half:], t.y_train[half:])
    np.testing.assert_array_equal(inc.predict(t.X_test), knn.predict(t.X_test))


def test_mf_beats_item_mean(ratings):
    t = ratings
    rng = np.random.default_rng(0)
    mf = make_learner("mf", t).fit(t.X_train, t.y_train, rng)
    naive = ItemMean(t.n_items, rating_range=t.rating_range).fit(t.X_train, t.y_train)
    q_mf, q_naive = mf.score(t.X_test, t.y_test), naive.score(t.X_test, t.y_test)
    assert q_mf > q_naive + 0.02
    pred = mf.predict(t.X_test)
    assert pred.min() >= 1.0 and pred.max() <= 5.0


def test_mf_update_continues_and_improves(ratings):
    t = ratings
    rng = np.random.default_rng(0)
    half = t.n_train // 4
    mf = MatrixFactorisation(t.n_raters, t.n_items).fit(t.X_train[:half], t.y_train[:half], rng)
    q0 = mf.score(t.X_test, t.y_test)
    mf.update(t.X_train[half:], t.y_train[half:], rng)
    assert mf.score(t.X_test, t.y_test) > q0


def test_mf_unseen_rater_falls_back_to_item_bias(ratings):
    t = ratings
    rng = np.random.default_rng(0)
    seen = t.X_train[:, 0] != 0
    mf = MatrixFactorisation(t.n_raters, t.n_items).fit(t.X_train[seen], t.y_train[seen], rng)
    X = np.array([[0, 5], [0, 6]])
    expected = np.clip(mf.mu + mf.bi[[5, 6]], 1, 5)
    np.testing.assert_allclose(mf.predict(X), expected)
    empty = MatrixFactorisation(t.n_raters, t.n_items)
    np.testing.assert_allclose(empty.predict(X), 3.0)


def test_item_mean_with_global_fallback():
    im = ItemMean(rating_range=(1, 5))
    assert im.predict(np.array([[0, 0]])).tolist() == [3.0]
    im.fit(np.array([[0, 0], [1, 0], [2, 1]]), np.array([4.0, 2.0, 5.0]))
    np.testing.assert_allclose(im.predict(np.array([[9, 0], [9, 1], [9, 7]])), [3, 5, 11 / 3])
    assert im.score(np.array([[0, 1]]), np.array([5.0])) == 1.0


def test_factory_and_naive(breast_cancer, ratings):
    for name in ["logistic", "knn", "majority"]:
        assert isinstance(make_learner(name, breast_cancer), Learner)
    for name in ["mf", "item_mean"]:
        assert isinstance(make_learner(name, ratings), Learner)
    assert isinstance(naive_learner_for(breast_cancer), MajorityClass)
    assert isinstance(naive_learner_for(ratings), ItemMean)
    m = make_learner("logistic", breast_cancer, l2=2.0, mode="full")
    assert m.l2 == 2.0 and m.mode == "full"
    with pytest.raises(ValueError, match="logistic, knn, mf, majority, item_mean"):
        make_learner("forest", breast_cancer)
    with pytest.raises(ValueError, match="ratings"):
        make_learner("mf", breast_cancer)
    assert {"logistic", "knn", "mf", "majority", "item_mean", "centroid"} <= set(LEARNERS)


def test_global_mean_predicts_one_number_below_the_item_means(ratings):
    gm = GlobalMean(ratings.n_items, rating_range=ratings.rating_range)
    gm.fit(ratings.X_train, ratings.y_train)
    pred = gm.predict(ratings.X_test)
    assert np.all(pred == pytest.approx(ratings.y_train.mean()))
    item_mean = ItemMean(ratings.n_items, rating_range=ratings.rating_range)
    item_mean.fit(ratings.X_train, ratings.y_train)
    X, y = ratings.X_test, ratings.y_test
    assert gm.score(X, y) < item_mean.score(X, y)
    assert isinstance(leverage_baseline_for(ratings), GlobalMean)
