import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier

from abm.valuation import (
    exact_shapley,
    knn_shapley,
    knn_utility,
    leave_one_out,
    split_dividend,
    tmc_shapley,
)

# --- exact Shapley on hand-made games -------------------------------------------------


def test_exact_shapley_additive_game_returns_each_weight():
    weights = {"a": 1.0, "b": 2.5, "c": -0.5}
    phi = exact_shapley(list(weights), lambda s: 10.0 + sum(weights[p] for p in s))
    assert phi == pytest.approx(weights)


def test_exact_shapley_glove_game():
    # One left glove (L) and two right gloves (R1, R2); a pair is worth 1.
    def v(s):
        return float("L" in s and ("R1" in s or "R2" in s))

    phi = exact_shapley(["L", "R1", "R2"], v)
    assert phi["L"] == pytest.approx(2 / 3)
    assert phi["R1"] == pytest.approx(1 / 6)
    assert phi["R2"] == pytest.approx(1 / 6)
    assert sum(phi.values()) == pytest.approx(v({"L", "R1", "R2"}) - v(set()))


def test_exact_shapley_efficiency_symmetry_null_player_and_caching():
    calls = []

    def v(s):
        calls.append(s)
        # a and b are symmetric complements; z is a null player.
        base = 0.3
        return base + 0.2 * ("a" in s) + 0.2 * ("b" in s) + 0.4 * ("a" in s and "b" in s)

    players = ["a", "b", "z"]
    phi = exact_shapley(players, v)
    assert len(calls) == len(set(calls)) == 2 ** len(players)  # one call per coalition
    assert sum(phi.values()) == pytest.approx(v(frozenset(players)) - v(frozenset()))
    assert phi["a"] == pytest.approx(phi["b"])
    assert phi["z"] == pytest.approx(0.0)


def test_exact_shapley_rejects_duplicates():
    with pytest.raises(ValueError):
        exact_shapley(["a", "a"], lambda s: 0.0)


# --- KNN-Shapley ----------------------------------------------------------------------


def _brute_force_knn_shapley(X, y, Xt, yt, k):
    players = [str(i) for i in range(len(y))]

    def v(s):
        idx = np.array(sorted(int(p) for p in s), dtype=int)
        return knn_utility(X[idx], y[idx], Xt, yt, k)

    phi = exact_shapley(players, v)
    return np.array([phi[p] for p in players])


def test_knn_shapley_matches_brute_force_and_is_efficient():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(8, 2))
    y = rng.integers(0, 2, size=8)
    Xt = rng.normal(size=(5, 2))
    yt = rng.integers(0, 2, size=5)
    for k in (1, 3, 10):  # k = 10 > N exercises the min(K, i) branch
        exact = knn_shapley(X, y, Xt, yt, k)
        np.testing.assert_allclose(exact, _brute_force_knn_shapley(X, y, Xt, yt, k), atol=1e-12)
        # Jia et al.'s game has U(empty) = 0, so efficiency is sum = U(D).
        assert exact.sum() == pytest.approx(knn_utility(X, y, Xt, yt, k))


@pytest.fixture(scope="module")
def noisy_digits():
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    X_tr, X_val, y_tr, y_val = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    X_val, X_te, y_val, y_te = train_test_split(
        X_val, y_val, test_size=0.5, random_state=0, stratify=y_val
    )
    rng = np.random.default_rng(1)
    flipped = rng.random(len(y_tr)) < 0.10
    y_noisy = y_tr.copy()
    y_noisy[flipped] = (y_tr[flipped] + rng.integers(1, 10, flipped.sum())) % 10
    values = knn_shapley(X_tr, y_noisy, X_val, y_val, k=5)
    return X_tr, y_noisy, X_te, y_te, flipped, values


def test_knn_shapley_flipped_labels_get_lowest_values(noisy_digits):
    *_, flipped, values = noisy_digits
    lowest_decile = values <= np.quantile(values, 0.10)
    share_flipped = flipped[lowest_decile].mean()
    assert share_flipped > 3 * flipped.mean()


def test_removing_high_value_points_hurts_faster_than_random(noisy_digits):
    X_tr, y_tr, X_te, y_te, _, values = noisy_digits

    def accuracy_after_removing(order, frac):
        keep = np.sort(order[int(frac * len(order)) :])
        clf = KNeighborsClassifier(n_neighbors=5).fit(X_tr[keep], y_tr[keep])
        return clf.score(X_te, y_te)

    by_value = np.argsort(-values, kind="stable")
    random_order = np.random.default_rng(2).permutation(len(values))
    for frac in (0.3, 0.6):
        assert (
            accuracy_after_removing(by_value, frac)
            < accuracy_after_removing(random_order, frac) - 0.02
        )


def test_tmc_shapley_agrees_with_knn_shapley_in_rank():
    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    rng = np.random.default_rng(3)
    idx = rng.choice(len(y), 70, replace=False)
    tr, val = idx[:40], idx[40:]
    y_tr = y[tr].copy()
    y_tr[:6] = 1 - y_tr[:6]  # some bad points so the ranking has structure
    k = 3
    exact = knn_shapley(X[tr], y_tr, X[val], y[val], k)

    def utility(ids):
        return knn_utility(X[tr][ids], y_tr[ids], X[val], y[val], k)

    estimate = tmc_shapley(len(tr), utility, rng, n_permutations=150, tolerance=0.01)
    assert spearmanr(exact, estimate).statistic > 0.5
    assert estimate[:6].mean() < estimate[6:].mean()


def test_tmc_without_truncation_is_efficient():
    weights = np.array([0.1, 0.4, -0.2, 0.0])
    est = tmc_shapley(4, lambda ids: float(weights[ids].sum()), np.random.default_rng(0), 5, 0.0)
    np.testing.assert_allclose(est, weights)


def test_leave_one_out_misses_redundant_copies():
    # Two duplicated points: each alone is redundant, so LOO gives both zero.
    def utility(ids):
        return float(len(set(np.asarray(ids) // 2) & {0}) > 0) + 0.5 * (2 in ids)

    loo = leave_one_out(3, utility)
    np.testing.assert_allclose(loo, [0.0, 0.0, 0.5])


def test_split_dividend():
    shares = split_dividend(90.0, {"a": 2.0, "b": 1.0, "c": -1.0})
    assert shares == pytest.approx({"a": 60.0, "b": 30.0, "c": 0.0})
    assert split_dividend(10.0, {"a": 0.0, "b": -1.0}) == {"a": 0.0, "b": 0.0}


# --- valuing a run's collectives at a bounded cost -------------------------------------


def test_the_plan_is_exact_where_cheap_and_sampled_within_the_budget_otherwise():
    from abm.valuation import MIN_GAME_ROWS, REFIT_ROWS_BUDGET, plan_collective_valuation

    # Everything the run valued exactly before the bound stays exact (<= 5 on 5,000 rows).
    assert plan_collective_valuation(5, 5000).method == "exact"
    assert plan_collective_valuation(8, 600).method == "exact"  # a small pool: 256 refits
    for players in (6, 9, 20, 40):
        plan = plan_collective_valuation(players, 5000)
        assert plan.method == "monte_carlo" and plan.permutations > 0
        assert plan.refits <= plan.permutations * players + 2
        assert plan.rows * plan.refits <= REFIT_ROWS_BUDGET or plan.rows == MIN_GAME_ROWS
    assert plan_collective_valuation(200, 5000).rows == MIN_GAME_ROWS  # floor, said aloud


def _three_collectives():
    from tests.conftest import small

    return small(
        steps=6,
        measurement={"twins": "off"},
        collectives=[
            {"name": f"c{i}", "target": "incumbent", "lever": "strike", "size": 0.2, "start": 2}
            for i in range(3)
        ],
    )


def _finished(scenario):
    from abm.model import LeverageModel

    model = LeverageModel(scenario=scenario)
    while model.running:
        model.step()
    return model


def test_the_sampled_estimate_is_efficient_and_within_each_collectives_marginals(
    monkeypatch,
):
    from itertools import permutations

    from abm import valuation
    from abm.streams import Draw

    model = _finished(_three_collectives())
    rows = 400  # below the Monte Carlo floor: both methods play the same 400-row game
    exact = valuation.value_collectives(model, max_rows=rows)
    calls = []
    game = valuation._coalition_quality
    monkeypatch.setattr(valuation, "_coalition_quality", lambda *a: calls.append(1) or game(*a))
    monkeypatch.setattr(valuation, "REFIT_ROWS_BUDGET", 8)  # exact is now too dear
    names = list(exact)
    plan = valuation.plan_collective_valuation(3, 10**6)
    assert plan.method == "monte_carlo"
    sampled = valuation.value_collectives(model, max_rows=rows)
    assert calls == [1]
    assert sampled != exact  # it did sample (16 permutations of 6 orders)
    # The same game, so the same total: V(all) - V(none).
    assert sum(sampled.values()) == pytest.approx(sum(exact.values()), abs=1e-12)
    # Each estimate is a mean of that collective's marginals over orders of arrival.
    key = valuation._run_data(model)
    rng = model.draw(Draw.VALUATION)
    key = key[np.sort(rng.choice(len(key), size=rows, replace=False))]
    v = valuation._coalition_quality(model, key, rng)
    for name in names:
        margins = []
        for order in permutations(names):
            before = frozenset(order[: order.index(name)])
            margins.append(v(before | {name}) - v(before))
        assert min(margins) - 1e-12 <= sampled[name] <= max(margins) + 1e-12
    assert [c.value for c in model.collectives] == [sampled[n] for n in names]


def test_a_long_valuation_says_its_plan_and_estimate_first(monkeypatch):
    from abm import valuation

    model = _finished(_three_collectives())
    lines = []
    monkeypatch.setattr(valuation, "SAY_ABOVE_SECONDS", 0.0)
    valuation.value_collectives(model, say=lines.append)
    assert len(lines) == 1, lines
    assert lines[0].startswith("valuing data: exact Shapley over 3 collectives on ")
    assert "8 refits, about " in lines[0]
    quiet = []
    monkeypatch.setattr(valuation, "SAY_ABOVE_SECONDS", 1e9)
    valuation.value_collectives(model, say=quiet.append)
    assert quiet == []
