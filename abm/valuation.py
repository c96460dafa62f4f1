"""Data valuation: what a collective's or a user's data is worth to a model.

Modelling assumptions:

* Value is the Shapley value of a cooperative game whose players are data holders and
  whose characteristic function ``V(S)`` is the quality of a model trained on the data
  of coalition ``S`` only (Ghorbani & Zou, ICML 2019; Jia et al., VLDB 2019):

  ``phi_i = sum_{S subset N - {i}} |S|! (n - |S| - 1)! / n! * [V(S + i) - V(S)]``.

  It is the only split of ``V(N) - V(empty)`` that is efficient, symmetric, gives
  nothing to null players and is additive across games, which is why it is the
  reference for what a collective can credibly claim at the bargaining table.
* Over **collectives** there are usually few players, so every coalition can be
  retrained (:func:`exact_shapley`, 2^n calls to the caller's ``value``); where that
  would cost more than a fixed budget of refitted rows, random permutations estimate
  the same values (:func:`tmc_shapley` without truncation), chosen from the pool size
  and the number of collectives (:func:`plan_collective_valuation`), never a clock.
* Over **individual users** a retrain per coalition is impossible; for a K-nearest-
  neighbour classifier the Shapley value has an exact O(N log N) closed form per test
  point (:func:`knn_shapley`), and for any other learner truncated Monte Carlo
  (:func:`tmc_shapley`) estimates it; it is used as a check.
* Leave-one-out (:func:`leave_one_out`) is reported as the naive baseline: it misses
  redundancy (two identical points both get zero).
* A data dividend is shared in proportion to positive value (:func:`split_dividend`):
  data that harms the model (negative value) earns nothing, and it is not charged.

Everything here is pure numpy (arrays and callables in, arrays out, explicit rng),
except the last two functions, which value a finished run's data with them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from math import factorial
from typing import TYPE_CHECKING

import numpy as np

from abm.learning import make_learner
from abm.streams import Draw

if TYPE_CHECKING:
    from abm.model import LeverageModel

__all__ = [
    "exact_shapley",
    "knn_shapley",
    "knn_utility",
    "leave_one_out",
    "split_dividend",
    "tmc_shapley",
]


def exact_shapley(
    players: Sequence[str], value: Callable[[frozenset[str]], float]
) -> dict[str, float]:
    """Exact Shapley values by enumerating all 2^n coalitions.

    ``value`` is called exactly once per coalition (results are cached), which matters
    because in the simulator each call retrains a model on the coalition's data.

    Args:
        players: Distinct player names (e.g. collective ids); keep n small (<= ~12).
        value: Characteristic function ``V(S)``; ``V(frozenset())`` is the empty
            coalition's value (e.g. the naive baseline's quality).

    Returns:
        Mapping from player to Shapley value. The values sum to
        ``V(all players) - V(empty)`` (efficiency).

    Raises:
        ValueError: If player names are not distinct.
    """
    names = list(players)
    if len(set(names)) != len(names):
        raise ValueError("players must be distinct")
    n = len(names)
    cache: dict[frozenset[str], float] = {}

    def v(coalition: frozenset[str]) -> float:
        if coalition not in cache:
            cache[coalition] = float(value(coalition))
        return cache[coalition]

    # Weight |S|!(n-|S|-1)!/n! depends only on |S|; precompute it once per size.
    weights = [factorial(s) * factorial(n - s - 1) / factorial(n) for s in range(n)]
    phi = {name: 0.0 for name in names}
    for name in names:
        others = [p for p in names if p != name]
        for size in range(n):
            for subset in combinations(others, size):
                s = frozenset(subset)
                phi[name] += weights[size] * (v(s | {name}) - v(s))
    return phi


def _as_2d(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=float)
    return X.reshape(len(X), -1)


def _neighbour_order(
    X_train: np.ndarray,
    X_test: np.ndarray,
    chunk: int = 256,
    sq_train: np.ndarray | None = None,
) -> np.ndarray:
    """Indices of training points sorted by Euclidean distance, one row per test point.

    ``sq_train`` (the training points' squared norms) can be passed in by a caller that
    orders several test chunks against the same training set.
    """
    X_train = _as_2d(X_train)
    X_test = _as_2d(X_test)
    if sq_train is None:
        sq_train = np.einsum("ij,ij->i", X_train, X_train)
    order = np.empty((len(X_test), len(X_train)), dtype=np.intp)
    # Chunk the test set so the distance matrix never exceeds chunk x N floats.
    for start in range(0, len(X_test), chunk):
        block = X_test[start : start + chunk]
        d2 = sq_train[None, :] - 2.0 * block @ X_train.T
        # Stable sort so ties break by training index, as the recursion assumes a
        # fixed total order.
        order[start : start + chunk] = np.argsort(d2, axis=1, kind="stable")
    return order


def knn_utility(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    k: int,
) -> float:
    """Utility of a K-nearest-neighbour classifier in the sense of Jia et al. (2019).

    ``U(S) = mean over test points of (1/K) * #{correct labels among the
    min(K, |S|) nearest points of S}``, with ``U(empty) = 0``. It is the soft accuracy
    (likelihood of the right label) of unweighted KNN, the game whose Shapley value
    :func:`knn_shapley` computes exactly.

    Args:
        X_train: Training features, shape (N, d); may be empty.
        y_train: Training labels, shape (N,).
        X_test: Test features, shape (M, d).
        y_test: Test labels, shape (M,).
        k: Number of neighbours K >= 1.

    Returns:
        The utility, in [0, 1].
    """
    y_train = np.asarray(y_train)
    if len(y_train) == 0:
        return 0.0
    order = _neighbour_order(X_train, X_test)[:, :k]
    correct = y_train[order] == np.asarray(y_test)[:, None]
    return float(correct.sum(axis=1).mean() / k)


def knn_shapley(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    k: int,
) -> np.ndarray:
    """Exact Shapley values of training points for the KNN utility (Jia et al., 2019).

    For one test point, sort the N training points by distance, alpha_1 (nearest) to
    alpha_N, and let m_i = 1[y_{alpha_i} = y_test]. Theorem 1 of Jia et al. gives

    ``s_{alpha_N} = m_N / max(N, K)``,
    ``s_{alpha_i} = s_{alpha_{i+1}} + (m_i - m_{i+1}) / K * min(K, i) / i``.

    The recursion is unrolled as a reverse cumulative sum, vectorised over test points,
    and the values are averaged over the test set.

    Args:
        X_train: Training features, shape (N, d).
        y_train: Training labels, shape (N,).
        X_test: Test (validation) features, shape (M, d).
        y_test: Test labels, shape (M,).
        k: Number of neighbours K >= 1.

    Returns:
        Array of shape (N,). By efficiency it sums to
        ``knn_utility(X_train, ...) - U(empty)`` with ``U(empty) = 0``; the game has no
        chance-level baseline, so values are not centred on 1/n_classes.

    Raises:
        ValueError: If k < 1 or the training set is empty.
    """
    if k < 1:
        raise ValueError("k must be >= 1")
    y_train = np.asarray(y_train)
    n = len(y_train)
    if n == 0:
        raise ValueError("training set is empty")
    y_test = np.asarray(y_test)
    X_train, X_test = _as_2d(X_train), _as_2d(X_test)
    sq_train = np.einsum("ij,ij->i", X_train, X_train)  # once, not once per chunk
    values = np.zeros(n)
    ranks = np.arange(1, n, dtype=float)  # i = 1..N-1 (1-indexed positions)
    step = np.minimum(k, ranks) / ranks / k
    # Test points in blocks of ~2 M matrix entries: the recursion runs on a whole block
    # at once (one row per test point) in bounded memory (~2 M entries per matrix).
    block = max(1, min(len(y_test), 2_000_000 // max(n, 1)))
    for start in range(0, len(y_test), block):
        order = _neighbour_order(
            X_train, X_test[start : start + block], chunk=block, sq_train=sq_train
        )
        match = (y_train[order] == y_test[start : start + block, None]).astype(float)
        s = _unrolled_recursion(match, k, step)
        values += np.bincount(order.ravel(), weights=s.ravel(), minlength=n)
    return values / len(y_test)


def _unrolled_recursion(match: np.ndarray, k: int, step: np.ndarray) -> np.ndarray:
    """Theorem 1 for a block of test points, one row each, columns nearest first.

    ``match[t, i]`` is m_i of test point t; ``step[i - 1]`` is min(K, i) / (i K).
    """
    n = match.shape[1]
    s = np.empty_like(match)
    # Jia et al. state s_N = m_N / N for N >= K; with fewer points than K the game
    # is additive (each point's vote is worth 1/K), hence max(N, K).
    s[:, -1] = match[:, -1] / max(n, k)
    # s_i = s_N + sum_{j=i}^{N-1} (m_j - m_{j+1}) * min(K, j) / (j K).
    increments = (match[:, :-1] - match[:, 1:]) * step
    s[:, :-1] = s[:, -1:] + np.cumsum(increments[:, ::-1], axis=1)[:, ::-1]
    return s


def tmc_shapley(
    n: int,
    utility: Callable[[np.ndarray], float],
    rng: np.random.Generator,
    n_permutations: int,
    tolerance: float = 0.01,
) -> np.ndarray:
    """Truncated Monte Carlo Shapley values (Ghorbani & Zou, ICML 2019).

    Each permutation adds points one at a time and credits each with its marginal
    change in utility. Once the running utility is within ``tolerance * |V(D)|`` of
    the full-data utility ``V(D)``, the remaining points of that permutation are
    credited zero without evaluating ``utility`` (the truncation that makes it cheap).

    Args:
        n: Number of data points (players), indexed 0..n-1.
        utility: ``V(indices)``: quality of a model trained on the points with those
            indices; must accept an empty index array.
        rng: Source of the random permutations.
        n_permutations: Number of permutations to average.
        tolerance: Relative truncation tolerance (0 disables truncation).

    Returns:
        Array of shape (n,) of estimated Shapley values.
    """
    if n_permutations < 1:
        raise ValueError("n_permutations must be >= 1")
    full = float(utility(np.arange(n)))
    empty = float(utility(np.array([], dtype=int)))
    threshold = tolerance * abs(full)
    total = np.zeros(n)
    for _ in range(n_permutations):
        perm = rng.permutation(n)
        previous = empty
        for j in range(n):
            if tolerance > 0 and abs(full - previous) <= threshold:
                break  # the rest of this permutation's marginals are taken as zero
            current = float(utility(perm[: j + 1]))
            total[perm[j]] += current - previous
            previous = current
    return total / n_permutations


def leave_one_out(n: int, utility: Callable[[np.ndarray], float]) -> np.ndarray:
    """Leave-one-out values ``V(D) - V(D minus i)``.

    Args:
        n: Number of data points, indexed 0..n-1.
        utility: ``V(indices)`` as in :func:`tmc_shapley`.

    Returns:
        Array of shape (n,).
    """
    everyone = np.arange(n)
    full = float(utility(everyone))
    return np.array([full - float(utility(np.delete(everyone, i))) for i in range(n)])


def split_dividend(total: float, values: Mapping[str, float] | np.ndarray):
    """Share a dividend in proportion to positive data values.

    Args:
        total: The dividend to distribute.
        values: Value of each holder's data (e.g. Shapley values), as a mapping from
            holder to value or an array (one value per holder); negative or zero values
            receive nothing.

    Returns:
        The shares, in the same form as ``values``; they sum to ``total`` unless no
        value is positive, in which case everyone gets zero.
    """
    if isinstance(values, np.ndarray):
        positive = np.maximum(values.astype(float), 0.0)
        mass = positive.sum()
        return positive * (total / mass) if mass > 0 else np.zeros_like(positive)
    keys = list(values)
    shares = split_dividend(total, np.array([float(values[k]) for k in keys]))
    return {k: float(v) for k, v in zip(keys, shares, strict=True)}


# ---------------------------------------------------------------- valuing a run's data
# What one valuation over collectives may cost, in rows fitted summed over its refits:
# 2^5 coalitions of the 5,000-row game, i.e. exact Shapley over five collectives, the
# most the run did before the bound (about 6 s of L-BFGS refits of the 64-feature stream
# on the 2-core machine). The method is chosen from the pool size and the number of
# collectives alone, never from a clock, so a run's values do not depend on its machine.
REFIT_ROWS_BUDGET = 2**5 * 5000
# Permutations of the Monte Carlo estimate when exact Shapley would cost more: its game
# is played on as many rows as that many permutations allow within the budget, but
# never on fewer than MIN_GAME_ROWS (then the budget is exceeded, and said).
PERMUTATIONS = 16
MIN_GAME_ROWS = 500
# A valuation expected to take longer than this says so, with its estimate, first.
SAY_ABOVE_SECONDS = 10.0


@dataclass(frozen=True)
class ValuationPlan:
    """How the collectives' data is valued: exact or sampled, on how many rows.

    Attributes:
        method: ``"exact"`` (every coalition retrained) or ``"monte_carlo"`` (random
            permutations, each collective credited its marginal value in each).
        rows: Rows of the game (a uniform subsample of the run's data).
        refits: The most learner refits it takes (repeated coalitions are cached).
        permutations: Permutations of the Monte Carlo estimate (0 when exact).
    """

    method: str
    rows: int
    refits: int
    permutations: int = 0

    def describe(self, n_players: int) -> str:
        """The plan in words, e.g. ``exact Shapley over 3 collectives on 5,000 rows``."""
        what = f"{n_players} collective{'s' if n_players != 1 else ''}"
        if self.method == "exact":
            return f"exact Shapley over {what} on {self.rows:,} rows"
        return (
            f"Monte Carlo Shapley over {what}, {self.permutations} permutations on"
            f" {self.rows:,} rows"
        )


def plan_collective_valuation(n_players: int, rows: int) -> ValuationPlan:
    """The cheapest honest method for ``n_players`` collectives on a ``rows``-row game.

    Exact Shapley (2^n refits) wherever it fits in :data:`REFIT_ROWS_BUDGET`; otherwise
    :data:`PERMUTATIONS` random permutations (at most ``PERMUTATIONS * n + 2`` refits)
    on a subsample small enough to fit the budget, but not below :data:`MIN_GAME_ROWS`.
    """
    if n_players <= 0 or 2**n_players * rows <= REFIT_ROWS_BUDGET:
        return ValuationPlan("exact", rows, 2 ** max(n_players, 0))
    refits = min(2**n_players, PERMUTATIONS * n_players + 2)
    game_rows = min(rows, max(MIN_GAME_ROWS, REFIT_ROWS_BUDGET // refits))
    return ValuationPlan("monte_carlo", game_rows, refits, PERMUTATIONS)


def value_collectives(
    model: LeverageModel, max_rows: int = 5000, say: Callable[[str], None] | None = None
) -> dict[str, float]:
    """Shapley value of each collective's data in a finished run, at a bounded cost.

    The game: ``V(S)`` is the held-out quality of a fresh learner (the first platform's
    kind) trained on the clean data everyone produced during the run that reached any
    platform in the real world or its twins, keeping non-members' data always and
    members' data only for collectives in ``S``. A user in several collectives counts
    for the first. Above ``max_rows`` rows the game is played on a uniform subsample of
    them. :func:`plan_collective_valuation` chooses exact Shapley (values sum to
    ``V(all) - V(none)``) where its 2^C refits are cheap, and a Monte Carlo estimate
    over permutations otherwise (also efficient: each permutation's marginals sum to
    ``V(all) - V(none)``). Stored in each collective's ``value``.

    Args:
        model: The finished run.
        max_rows: The most rows the game is played on.
        say: Called with one line (the plan and its expected seconds) before a valuation
            expected to take over :data:`SAY_ABOVE_SECONDS`, estimated from its first refit.

    Returns:
        Collective name -> value.
    """
    if not model.collectives:
        return {}
    names = [c.name for c in model.collectives]
    key = _run_data(model)
    rng = model.draw(Draw.VALUATION)
    plan = plan_collective_valuation(len(names), min(len(key), max_rows))
    if len(key) > plan.rows:
        key = key[np.sort(rng.choice(len(key), size=plan.rows, replace=False))]
    value = _timed(_coalition_quality(model, key, rng), plan, len(names), say)
    if plan.method == "exact":
        values = exact_shapley(names, value)
    else:
        cache: dict[frozenset[str], float] = {}

        def by_index(idx: np.ndarray) -> float:
            coalition = frozenset(names[i] for i in idx)
            if coalition not in cache:
                cache[coalition] = value(coalition)
            return cache[coalition]

        # No truncation: with few players it saves little and would break efficiency,
        # which the dividend split relies on.
        phi = tmc_shapley(len(names), by_index, model.draw(Draw.VALUATION, 2),
                          plan.permutations, tolerance=0.0)  # fmt: skip
        values = dict(zip(names, map(float, phi), strict=True))
    for c in model.collectives:
        c.valued(values[c.name])
    return values


def _run_data(model: LeverageModel) -> np.ndarray:
    """(sample, contributor, step) of every distinct row that reached a pool in any world."""
    pools = [p.pool for world in (model, *model.twins) for p in world.platforms]
    return np.unique(
        np.stack([np.concatenate([q.sample for q in pools]),
                  np.concatenate([q.contributor for q in pools]),
                  np.concatenate([q.step for q in pools])], axis=1),
        axis=0,
    )  # fmt: skip


def _coalition_quality(
    model: LeverageModel, key: np.ndarray, rng: np.random.Generator
) -> Callable[[frozenset[str]], float]:
    """``V(S)``: quality of a fresh learner on non-members' rows and those of ``S``."""
    task, u = model.task, model.users
    sample, contributor = key[:, 0], key[:, 1]
    first = np.where(u.member.any(axis=1), u.member.argmax(axis=1), -1)
    owner = np.where(contributor >= 0, first[np.maximum(contributor, 0)], -1)
    X, y = task.X_train[sample], task.y_train[sample]
    kind = model.spec.platforms[0].learner

    def value(coalition: frozenset[str]) -> float:
        keep = owner < 0
        for c in model.collectives:
            if c.name in coalition:
                keep |= owner == c.index
        if not keep.any():
            return model.naive_quality
        return make_learner(kind, task).fit(X[keep], y[keep], rng).score(task.X_test, task.y_test)

    return value


def _timed(
    value: Callable[[frozenset[str]], float],
    plan: ValuationPlan,
    n_players: int,
    say: Callable[[str], None] | None,
) -> Callable[[frozenset[str]], float]:
    """``value``, which after its first call says the plan if it will take long."""
    calls = [0]

    def timed(coalition: frozenset[str]) -> float:
        t0 = time.perf_counter()
        result = value(coalition)
        calls[0] += 1
        if calls[0] == 1 and say is not None:
            expected = (time.perf_counter() - t0) * plan.refits
            if expected > SAY_ABOVE_SECONDS:
                say(f"valuing data: {plan.describe(n_players)}, {plan.refits} refits,"
                    f" about {expected:,.0f} s")  # fmt: skip
        return result

    return timed


def value_users(
    model: LeverageModel, max_rows: int = 2000, max_test: int = 300, k: int = 5
) -> np.ndarray:
    """KNN-Shapley value of each user's data to the platforms it contributed to.

    Per platform, the values of (at most ``max_rows``) pool rows are computed in closed
    form (Jia et al., 2019) against (at most ``max_test``) held-out points, summed per
    contributor and scaled up by the sampling fraction. A collective's dividend is then
    split among its members in proportion to their values.

    Returns:
        (n,) value per user; also stored in ``users.value``, with the dividend shares in
        ``users.dividend``.
    """
    task, u = model.task, model.users
    if task.kind != "classification":
        return u.value
    rng = model.draw(Draw.VALUATION, 1)
    test = rng.permutation(task.n_test)[:max_test]
    for p in model.platforms:
        live = np.flatnonzero(p.pool.contributor >= 0)
        if live.size == 0:
            continue
        rows = rng.choice(live, size=min(max_rows, live.size), replace=False)
        values = knn_shapley(
            p.pool.features(task.X_train, rows), p.pool.y[rows],
            task.X_test[test], task.y_test[test], k,
        )  # fmt: skip
        contributor = p.pool.contributor[rows]
        u.value += np.bincount(contributor, weights=values, minlength=model.n_users) * (
            live.size / rows.size
        )
    for c in model.collectives:
        members = np.flatnonzero(c.members)
        if c.dividend > 0 and members.size:
            u.dividend[members] += split_dividend(c.dividend, u.value[members])
    return u.value
