"""Means over seeds with Student t confidence intervals: one definition for every report.

Runs with different seeds are independent replicates (or, paired on seeds, independent
differences), so a mean over them gets the two-sided Student t interval. Comparisons,
checks, sweeps' analysis, replicate summaries and replications all use this one.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats


def mean_ci(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean of ``values`` and its Student t confidence interval.

    Args:
        values: Independent replicates, or paired differences (NaNs dropped by the caller).
        confidence: Two-sided confidence level.

    Returns:
        ``(mean, lo, hi)``; the bounds are NaN with fewer than two values.
    """
    values = np.asarray(values, dtype=float)
    n = values.size
    if n == 0:
        return math.nan, math.nan, math.nan
    mean = float(values.mean())
    if n < 2:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * values.std(ddof=1) / math.sqrt(n))
    return mean, mean - half, mean + half
