"""The vectorised KNN-Shapley equals Jia et al.'s recursion run one test point at a time."""

from __future__ import annotations

import numpy as np
import pytest

from abm.valuation import knn_shapley


def recursion_one_point_at_a_time(X, y, Xt, yt, k):
    """Theorem 1 of Jia et al. (VLDB 2019), literally: a loop per test point and rank."""
    n = len(y)
    total = np.zeros(n)
    for x_test, y_test in zip(Xt, yt, strict=True):
        d2 = ((X - x_test) ** 2).sum(axis=1)
        order = np.argsort(d2, kind="stable")
        m = (y[order] == y_test).astype(float)
        s = np.zeros(n)
        s[n - 1] = m[n - 1] / max(n, k)
        for i in range(n - 2, -1, -1):  # 0-based i is rank i + 1
            s[i] = s[i + 1] + (m[i] - m[i + 1]) / k * min(k, i + 1) / (i + 1)
        total[order] += s
    return total / len(yt)


@pytest.mark.parametrize(("n", "m", "k"), [(60, 17, 5), (3, 4, 5), (300, 600, 1)])
def test_vectorised_values_equal_the_recursion(n, m, k) -> None:
    rng = np.random.default_rng(n + m + k)
    # Integer features make exact distance ties, so the tie order is tested too.
    X = rng.integers(0, 4, size=(n, 3)).astype(float)
    y = rng.integers(0, 3, n)
    Xt = rng.integers(0, 4, size=(m, 3)).astype(float)
    yt = rng.integers(0, 3, m)
    fast = knn_shapley(X, y, Xt, yt, k)
    slow = recursion_one_point_at_a_time(X, y, Xt, yt, k)
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-12)
