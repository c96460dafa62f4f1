"""Users' decision rules as pure, vectorised functions: arrays in, arrays out.

Every rule reads the state of the previous step only (synchronous updating), so the
order in which users are visited can never change an outcome. The assumptions:

* **Platform choice** is a multinomial logit over
  ``quality - price - grievance + network_weight * share_of_neighbours_on_it
  - switching_cost * (1 - portability) * [leaving the current platform]``;
  each step only a ``reconsider_rate`` share of users re-chooses.
* **Participation** follows Granovetter's threshold model: a member of a running
  campaign acts when a weighted mix of the share of its neighbours acting and the
  collective's turnout reaches its personal threshold. Acting members drop out with
  probability ``fatigue`` per step.
* **Recruitment** is social contagion: a non-member joins with probability
  ``recruit_rate`` once the share of its neighbours in the collective, plus its
  grievance toward the collective's target, reaches its threshold.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np
import scipy.sparse as sp

NO_PLATFORM = -1


class Action(IntEnum):
    """What a user does with its data this step."""

    CONTRIBUTE = 0  # data goes to the platform it uses
    WITHHOLD = 1  # strike: data goes nowhere (retroactive: past data deleted too)
    BOYCOTT = 2  # strike and stop using the target
    REDIRECT = 3  # conscious data contribution to another platform
    POISON = 4  # contribute corrupted data
    PLANT = 5  # contribute data carrying a signal (or with a signal erased)
    IDLE = 6  # uses no platform


def neighbour_mean(adj: sp.csr_array, degree: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Mean of ``values`` (n,) or (n, k) over each user's neighbours (0 for isolates)."""
    total = adj @ values
    scale = 1.0 / np.maximum(degree, 1)
    return total * (scale[:, None] if total.ndim == 2 else scale)


def platform_utility(
    quality: np.ndarray,
    price: np.ndarray,
    grievance: np.ndarray,
    neighbour_share: np.ndarray,
    network_weight: float,
) -> np.ndarray:
    """Utility of each platform to each user, (n, P), before switching costs."""
    return quality[None, :] - price[None, :] - grievance + network_weight * neighbour_share


def choose_platform(
    utility: np.ndarray,
    current: np.ndarray,
    *,
    rationality: float,
    switching_cost: float,
    reconsider: np.ndarray,
    uniforms: np.ndarray,
    allowed: np.ndarray | None = None,
) -> np.ndarray:
    """Logit choice of platform for users who reconsider; others keep their platform.

    Args:
        utility: (n, P) utilities before switching costs.
        current: (n,) current platform, ``NO_PLATFORM`` for none (no switching cost then).
        rationality: Logit sensitivity (0: uniform choice).
        switching_cost: Utility cost of leaving the current platform.
        reconsider: (n,) bool, who chooses this step.
        uniforms: (n,) uniform draws in [0, 1) deciding the sampled choice.
        allowed: optional (n, P) bool; disallowed platforms get probability 0. A user
            with no allowed platform ends on ``NO_PLATFORM``.

    Returns:
        (n,) the platform each user uses next.
    """
    n, n_platforms = utility.shape
    leaving = np.ones((n, n_platforms), dtype=bool)
    has = current >= 0
    leaving[np.flatnonzero(has), current[has]] = False
    leaving[~has] = False
    u = rationality * (utility - switching_cost * leaving)
    if allowed is not None:
        u = np.where(allowed, u, -np.inf)
    top = u.max(axis=1, keepdims=True)
    top[~np.isfinite(top)] = 0.0
    w = np.exp(u - top)
    cum = np.cumsum(w, axis=1)
    totals = cum[:, -1]
    pick = (uniforms[:, None] * totals[:, None] < cum).argmax(axis=1)
    pick[totals <= 0] = NO_PLATFORM
    return np.where(reconsider, pick, current)


def participation_pressure(
    acting_neighbour_share: np.ndarray, turnout: float, turnout_weight: float
) -> np.ndarray:
    """Social pressure to act: neighbours' example mixed with the collective's turnout."""
    return (1.0 - turnout_weight) * acting_neighbour_share + turnout_weight * turnout


def will_act(
    member: np.ndarray,
    pressure: np.ndarray,
    threshold: np.ndarray,
    was_acting: np.ndarray,
    fatigue_draws: np.ndarray,
    fatigue: float,
) -> np.ndarray:
    """Members act when pressure reaches their threshold, unless fatigue stops them."""
    tired = was_acting & (fatigue_draws < fatigue)
    return member & (pressure >= threshold) & ~tired


def recruit(
    member: np.ndarray,
    pull: np.ndarray,
    threshold: np.ndarray,
    draws: np.ndarray,
    recruit_rate: float,
) -> np.ndarray:
    """New membership after one round of contagion (members stay members).

    ``pull`` is the share of a user's neighbours who are members plus its grievance.
    """
    joins = ~member & (pull >= threshold) & (draws < recruit_rate)
    return member | joins
