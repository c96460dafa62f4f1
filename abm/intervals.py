"""Means over seeds with Student t confidence intervals: one definition for every report.

Runs with different seeds are independent replicates (or, paired on seeds, independent
differences), so a mean over them gets the two-sided Student t interval. Comparisons,
checks, sweeps' analysis, replicate summaries and replications all use this one.
"""

from __future__ import annotations

import math
from typing import Any

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
    half = float(t_half_width(values.std(ddof=1), n, confidence))
    return mean, mean - half, mean + half


def t_half_width(sd: Any, n: Any, confidence: float = 0.95) -> np.ndarray:
    """Half-width of the Student t interval of a mean of ``n`` values with sample sd ``sd``.

    Element-wise over arrays (one group per element, as a sweep's design points); NaN
    where ``n`` is below two.
    """
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = stats.t.ppf(0.5 + confidence / 2, np.where(n > 1, n - 1, np.nan))
        return t * np.asarray(sd, dtype=float) / np.sqrt(n)
