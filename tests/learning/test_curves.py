"""Replication of the data-strike / CDC numbers on breast_cancer (docs/references.md).

The authors' code fits scikit-learn's LogisticRegression(C=1) on the raw (unscaled)
features with a 25% holdout, so these tests load the task with ``standardise=False``;
with standardised features every accuracy is ~0.02-0.07 higher.
"""

import numpy as np
import pandas as pd
import pytest

from abm.learning import (
    KNearestNeighbours,
    cdc_curve,
    learning_curve,
    load_task,
    normalise,
    strike_curve,
)

STRIKE_F = [0.05, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95]
PUBLISHED_STRIKE = np.array([0.956, 0.953, 0.947, 0.935, 0.924, 0.890, 0.864])
CDC_F = [0.05, 0.1, 0.2, 0.5]
PUBLISHED_CDC = np.array([0.868, 0.889, 0.934, 0.954])
SEEDS = range(6)


@pytest.fixture(scope="module")
def curves():
    strikes, cdcs = [], []
    for seed in SEEDS:
        task = load_task("breast_cancer", rng=np.random.default_rng(seed), standardise=False)
        strikes.append(strike_curve(task, STRIKE_F, np.random.default_rng(100 + seed), 5))
        cdcs.append(cdc_curve(task, CDC_F, np.random.default_rng(100 + seed), 5))
    return pd.concat(strikes), pd.concat(cdcs)


def test_strike_curve_matches_published(curves):
    strike, _ = curves
    q = strike.groupby("fraction").quality.mean().to_numpy()
    assert np.mean(np.abs(q - PUBLISHED_STRIKE)) < 0.03
    assert np.max(np.abs(q - PUBLISHED_STRIKE)) < 0.04


def test_strike_curve_flat_then_steep(curves):
    strike, _ = curves
    q = strike.groupby("fraction").quality.mean()
    assert q[0.05] - q[0.5] < 0.02  # flat up to half the data gone
    assert q[0.5] - q[0.95] > 0.04  # steep beyond ~80%
    assert (q[0.9] - q[0.95]) > (q[0.3] - q[0.5])
    assert np.all(np.diff(q.to_numpy()) < 0.005)  # monotone (up to noise)


def test_cdc_competitor_matches_published(curves):
    _, cdc = curves
    q = cdc.groupby("fraction").quality.mean().to_numpy()
    assert np.mean(np.abs(q - PUBLISHED_CDC)) < 0.03
    # The paper's normalisation: the share of the range between the worst performance
    # observed (the competitor at the smallest fraction) and the best (the full-data
    # model). It divides two small accuracy differences, so only a band is checked
    # (published 0.75; docs/replications.md, cdc_curve, explains the spread).
    by = cdc.groupby("fraction")
    worst, best = by.quality.mean().iloc[0], cdc.full.mean()
    paper = (by.quality.mean()[0.2] - worst) / (best - worst)
    assert 0.4 <= paper <= 1.0


def test_cdc_moves_far_more_than_strike(curves):
    strike, cdc = curves
    # A strike by 20% costs the incumbent a sliver of the gap; giving the same 20% to a
    # competitor that had nothing (normalised 0) lifts it most of the way.
    task = load_task("breast_cancer", rng=np.random.default_rng(0), standardise=False)
    s20 = strike_curve(task, [0.2], np.random.default_rng(7), 10)
    strike_effect = 1.0 - s20.normalised.mean()
    cdc_effect = cdc.groupby("fraction").normalised.mean()[0.2] - 0.0
    assert strike_effect < 0.1
    assert cdc_effect > 5 * strike_effect
    assert cdc_effect > 0.75


def test_normalise():
    assert normalise(0.8, 0.6, 1.0) == pytest.approx(0.5)
    np.testing.assert_allclose(normalise(np.array([0.6, 1.0]), 0.6, 1.0), [0.0, 1.0])
    assert np.isnan(normalise(0.7, 0.7, 0.7))


def test_learning_curve_increases(digits):
    df = learning_curve(
        digits,
        lambda: KNearestNeighbours(digits.n_classes),
        [0.02, 0.2, 1.0],
        np.random.default_rng(0),
        replicates=3,
    )
    assert list(df.columns) == ["fraction", "replicate", "n_samples", "quality"]
    q = df.groupby("fraction").quality.mean()
    assert q[0.02] < q[0.2] < q[1.0]
    assert df.n_samples.max() == digits.n_train
