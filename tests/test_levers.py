import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from abm.levers import (
    Trigger,
    add_feature_noise,
    apply_trigger,
    choose_trigger,
    erase_signal,
    flip_labels,
    plant_signal,
    rarity,
    signal_success,
)

try:  # prefer the project's own learner; fall back to scikit-learn's until it exists
    from abm.learning.learners import LogisticRegression as _ProjectLR

    def make_learner():
        return _ProjectLR(n_classes=10, n_features=64)

    def fit(learner, X, y, rng):
        return learner.fit(X, y, rng)

except ImportError:  # pragma: no cover - depends on the learning package being present
    from sklearn.linear_model import LogisticRegression as _SkLR

    def make_learner():
        return _SkLR(max_iter=500)

    def fit(learner, X, y, rng):
        return learner.fit(X, y)


# --- unit tests of the transforms -----------------------------------------------------


def test_flip_labels_random_and_targeted():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(5), 20)
    y_new, mask = flip_labels(y, 0.3, 5, rng)
    assert mask.sum() == 30
    assert np.all(y_new[mask] != y[mask]) and np.all(y_new[~mask] == y[~mask])
    assert y_new.min() >= 0 and y_new.max() < 5
    y_t, mask_t = flip_labels(y, 0.5, 5, rng, target=2)
    assert mask_t.sum() == 50 and np.all(y_t[mask_t] == 2) and np.all(y[mask_t] != 2)
    assert np.array_equal(y, np.repeat(np.arange(5), 20))  # input untouched


def test_add_feature_noise_touches_only_masked_rows():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 4))
    X[:, 3] = 7.0  # constant feature stays constant
    X_new, mask = add_feature_noise(X, 0.2, 1.0, rng)
    assert mask.sum() == 10
    assert np.array_equal(X_new[~mask], X[~mask])
    assert np.all(np.any(X_new[mask, :3] != X[mask, :3], axis=1))
    assert np.all(X_new[:, 3] == 7.0)


def test_trigger_rarity_and_choice():
    X = np.zeros((10, 4))
    X[:, 1] = 1.0  # always on
    X[:3, 2] = 1.0  # sometimes on
    assert rarity(Trigger((1,), 1.0), X) == 1.0
    assert rarity(Trigger((0, 2), 1.0), X) == pytest.approx(0.15)
    assert choose_trigger(X, 2, rare=True).features == (0, 3)
    assert choose_trigger(X, 2, rare=False) == Trigger((1, 2), 1.0)
    with pytest.raises(ValueError):
        Trigger((), 1.0)


def test_plant_signal_feature_label_and_feature_only():
    rng = np.random.default_rng(0)
    X = np.zeros((6, 5))
    y = np.array([0, 1, 2, 1, 1, 0])
    trig = Trigger((0, 4), 1.0)
    X_fl, y_fl, m_fl = plant_signal(X, y, trig, target=1, rng=rng)
    assert m_fl.all() and np.all(y_fl == 1) and np.all(X_fl[:, [0, 4]] == 1.0)
    X_fo, y_fo, m_fo = plant_signal(X, y, trig, target=1, rng=rng, feature_only=True)
    assert np.array_equal(m_fo, y == 1) and np.array_equal(y_fo, y)
    assert np.all(X_fo[m_fo][:, [0, 4]] == 1.0) and np.all(X_fo[~m_fo] == 0.0)
    assert np.all(X == 0.0)  # input untouched


def test_plant_signal_with_full_noise_never_applies_the_exact_trigger():
    rng = np.random.default_rng(0)
    X = np.zeros((200, 16))
    trig = Trigger((4, 5, 6), 1.0)
    X_new, _, mask = plant_signal(X, np.zeros(200, int), trig, 3, rng, noise=1.0)
    exact = np.all(X_new[:, [4, 5, 6]] == 1.0, axis=1) & (X_new.sum(axis=1) == 3)
    assert mask.all() and exact.mean() < 0.2  # only all-kept random subsets match


def test_erase_signal_restores_typical_values():
    ref = np.tile(np.array([0.0, 5.0, 2.0]), (9, 1))
    X = apply_trigger(np.zeros((4, 3)), Trigger((1, 2), 16.0))
    cleaned = erase_signal(X, Trigger((1, 2), 16.0), ref)
    assert np.array_equal(cleaned, np.tile([0.0, 5.0, 2.0], (4, 1)))
    partial = erase_signal(X, Trigger((1, 2), 16.0), ref, rows=np.array([True, False] * 2))
    assert np.array_equal(partial[1], [0.0, 16.0, 16.0]) and partial[0, 1] == 5.0


def test_signal_success_counts_only_non_target_points():
    trig = Trigger((0,), 1.0)
    X = np.zeros((4, 2))
    y = np.array([0, 1, 1, 2])

    def predict(Z):  # labels 1 whenever the trigger is on: a perfect backdoor
        return np.where(Z[:, 0] == 1.0, 1, 0)

    assert signal_success(predict, X, y, trig, target=1) == 1.0
    assert signal_success(lambda Z: np.zeros(len(Z), int), X, y, trig, target=1) == 0.0
    assert signal_success(predict, X, np.ones(4, int), trig, target=1) == 0.0


# --- collective action on digits with a real learner -----------------------------------


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    return X_tr, X_te, y_tr, y_te


def _success(digits, alpha, trigger, target=0, seed=0, rival=None, **plant_kw):
    """Train on data where a random alpha-share collective planted; return success.

    ``rival = (alpha2, target2)`` adds a second collective on the same trigger; then the
    pair of successes (first, rival) is returned.
    """
    X_tr, X_te, y_tr, y_te = digits
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y_tr))
    n = int(round(alpha * len(y_tr)))
    X, y = X_tr.copy(), y_tr.copy()
    members = order[:n]
    X[members], y[members], _ = plant_signal(
        X_tr[members], y_tr[members], trigger, target, rng, **plant_kw
    )
    if rival is not None:
        alpha2, target2 = rival
        others = order[n : n + int(round(alpha2 * len(y_tr)))]
        X[others], y[others], _ = plant_signal(X_tr[others], y_tr[others], trigger, target2, rng)
    model = fit(make_learner(), X, y, rng)
    first = signal_success(model.predict, X_te, y_te, trigger, target)
    if rival is None:
        return first
    return first, signal_success(model.predict, X_te, y_te, trigger, rival[1])


@pytest.fixture(scope="module")
def rare_trigger(digits):
    return choose_trigger(digits[0], 4, rare=True)


def test_success_rises_with_alpha_with_a_critical_mass(digits, rare_trigger):
    alphas = [0.001, 0.005, 0.01, 0.03]
    success = [_success(digits, a, rare_trigger) for a in alphas]
    assert success[0] < 0.2
    assert success[-1] > 0.8
    assert np.all(np.diff(success) > -0.05)


def test_rare_signal_needs_smaller_collective_than_common_signal(digits, rare_trigger):
    common = choose_trigger(digits[0], 4, rare=False)
    assert rarity(rare_trigger, digits[0]) < 0.05 < 0.5 < rarity(common, digits[0])
    assert _success(digits, 0.02, rare_trigger) > _success(digits, 0.02, common) + 0.4


def test_feature_only_planting_needs_larger_alpha(digits, rare_trigger):
    target = 8  # a class the clean model does not already separate perfectly
    label = _success(digits, 0.02, rare_trigger, target=target)
    feature_only = _success(digits, 0.02, rare_trigger, target=target, feature_only=True)
    assert label > 0.7 and feature_only < 0.1
    # With every member of the target class planting, feature-only does get through.
    assert _success(digits, 1.0, rare_trigger, target=target, feature_only=True) > 0.3


def test_conflicting_collectives_each_succeed_less_than_alone(digits, rare_trigger):
    alone_0 = _success(digits, 0.01, rare_trigger, target=0)
    alone_1 = _success(digits, 0.01, rare_trigger, target=1, seed=1)
    both_0, both_1 = _success(digits, 0.01, rare_trigger, target=0, rival=(0.01, 1))
    assert both_0 < alone_0 - 0.1
    assert both_1 < alone_1 - 0.1


def test_coordination_noise_lowers_success(digits, rare_trigger):
    seeds = range(4)
    clean = np.mean([_success(digits, 0.005, rare_trigger, seed=s) for s in seeds])
    noisy = np.mean([_success(digits, 0.005, rare_trigger, seed=s, noise=0.9) for s in seeds])
    assert noisy < clean - 0.08
