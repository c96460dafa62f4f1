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
* **The cost of leaving** (Li et al., CSCW 2019: losing social ties and lacking an
  alternative hold protesters back): a member whose action leaves the platform
  (boycott) also weighs what leaving gives up. The cost is the ties lost,
  ``network_weight * share of neighbours on the target`` (the network term of the
  target's utility), minus the best alternative's utility (the best other platform's
  ``platform_utility`` for that user, or the outside option of no platform, 0, when no
  other platform is better or none exists), never below 0: a member with a good
  alternative acts on pressure alone, as under any other lever. Times
  ``population.exit_cost_weight``, it raises the member's threshold, so pressure is read
  on the utility scale of the network effect (a whole neighbourhood acting weighs as
  much as a whole neighbourhood on a platform at ``network_weight = 1``).
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
    # Only the users who reconsider choose: work on their rows alone, one platform
    # column at a time. The arithmetic is exactly that of the whole-matrix logit (same
    # operations, same order), at a small fraction of the cost.
    idx = np.flatnonzero(reconsider)
    cur, x = current[idx], uniforms[idx]
    has = cur >= 0
    cols = []
    for j in range(n_platforms):
        leaving = has & (cur != j)
        u = rationality * (utility[idx, j] - switching_cost * leaving)
        if allowed is not None:
            u = np.where(allowed[idx, j], u, -np.inf)
        cols.append(u)
    top = cols[0].copy()
    for u in cols[1:]:
        np.maximum(top, u, out=top)
    top[~np.isfinite(top)] = 0.0
    cum = []  # running sums of exp(u - top), platform by platform
    for u in cols:
        w = np.exp(u - top)
        cum.append(w if not cum else cum[-1] + w)
    totals = cum[-1]
    pick = np.zeros(idx.size, np.intp)
    found = np.zeros(idx.size, bool)
    for j, c in enumerate(cum):
        hit = ~found & (x * totals < c)
        pick[hit] = j
        found |= hit
    pick[totals <= 0] = NO_PLATFORM
    chosen = np.zeros(n, np.intp)
    chosen[idx] = pick
    return np.where(reconsider, chosen, current)


def participation_pressure(
    acting_neighbour_share: np.ndarray, turnout: float, turnout_weight: float
) -> np.ndarray:
    """Social pressure to act: neighbours' example mixed with the collective's turnout."""
    return (1.0 - turnout_weight) * acting_neighbour_share + turnout_weight * turnout


def leaving_cost(
    utility: np.ndarray, neighbour_share: np.ndarray, target: int, network_weight: float
) -> np.ndarray:
    """What leaving ``target`` costs each user: the ties lost minus the best alternative.

    Args:
        utility: (n, P) platform utilities (``platform_utility``) of the users deciding.
        neighbour_share: (n, P) share of each user's neighbours on each platform.
        target: The platform left.
        network_weight: Utility weight of the share of neighbours on a platform.

    Returns:
        (n,) cost in utility, >= 0. The alternative is the best other platform's utility,
        or the outside option (no platform, utility 0) if that is better or none exists.
    """
    ties = network_weight * neighbour_share[:, target]
    others = np.delete(utility, target, axis=1)
    alternative = others.max(axis=1, initial=0.0)
    return np.maximum(ties - alternative, 0.0)


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


def asks_substitute(
    substitute_quality: float, platform_quality: np.ndarray, rationality: float
) -> np.ndarray:
    """Probability that a user asks an AI substitute instead of the platform (a commons).

    A question asked on the platform is a contribution to it; asked of the substitute,
    it is not. The user compares the two answers' quality, a binary logit with the same
    rationality as its platform choice: equal quality splits users evenly, and a better
    substitute draws more of them away (del Rio-Chanona et al., 2024).
    """
    return 1.0 / (1.0 + np.exp(-rationality * (substitute_quality - platform_quality)))
