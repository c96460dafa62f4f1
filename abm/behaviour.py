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
* **Protest repertoires** (Li et al., CSCW 2019: of US web users protesting a large
  technology company, most stopped using it, fewer blocked its ads and tracking, fewer
  still switched to a competitor; losing ties and lacking alternatives held them back).
  A member moved to protest (the threshold rule above) picks one of four standing
  options, a random-utility (multinomial logit) choice over values on the scale users
  choose platforms by (``platform_utility``), with the campaign's grievance ``G``
  toward the target (what the protest is about):

  - *stay*: keep using the target and contributing, enduring ``G``:
    ``u_target - G``;
  - *withhold* (the ad- and tracker-blocking analogue): keep using the target, and its
    ties there, but send it no data; this answers a share ``relief`` of ``G`` (the
    data-related part) at a per-step cost ``withhold_cost``: the model uses the
    personalisation a user's data buys, the target's quality above the naive,
    non-learning baseline (a blocked tracker gets the unpersonalised service):
    ``u_target - (1 - relief) G - withhold_cost``;
  - *switch*: leave for the best other platform, paying the switching cost and leaving
    ``G`` behind (it is the target's): ``max_j u_j - switching_cost`` (impossible when
    no other platform exists);
  - *stop* (protest non-use): leave and use no platform, the outside option, 0 (as in
    the cost of leaving above).

  So ties to neighbours on the target keep members in *stay* and *withhold*, ties on
  an alternative and its quality draw them to *switch*, and a member stops when ``G``
  outweighs everything the target gives it. Each member draws one idiosyncratic taste
  per option for the whole campaign (Gumbel, from uniforms drawn once), so its choice
  changes only when the values do (neighbours leaving, quality falling), not by fresh
  noise every step; its choice probabilities are the logit's, with the platform
  choice's ``rationality``. The values do not depend on the member's own current
  tactic: a switcher does not save the switching cost by having paid it.
* **Recruitment** is social contagion: a non-member joins with probability
  ``recruit_rate`` once the share of its neighbours in the collective, plus its
  grievance toward the collective's target, reaches its threshold.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # annotations only: the schema imports this module (abm --version, abm list)
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


def neighbours(adj: sp.csr_array, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The edges of ``rows``, flat: (position of the row in ``rows``, neighbour) per edge.

    The network is unweighted: every edge counts once.
    """
    start = adj.indptr[rows]
    length = adj.indptr[rows + 1] - start
    first = np.cumsum(length) - length  # where each row's edges start in the flat list
    edge = np.arange(length.sum()) + np.repeat(start - first, length)
    return np.repeat(np.arange(rows.size), length), adj.indices[edge]


def neighbour_share(
    adj: sp.csr_array, degree: np.ndarray, rows: np.ndarray, values: np.ndarray, k: int = 0
) -> np.ndarray:
    """``neighbour_mean`` for ``rows`` alone, without slicing the matrix.

    The share of each row's neighbours with a true ``values`` (k=0), or, for integer
    ``values`` and k > 0, with each value 0..k-1, as (rows, k) (-1 counts for none).
    Counts are in the adjacency's dtype, as ``adj @ values`` would give them.
    """
    row, nb = neighbours(adj, rows)
    scale = 1.0 / np.maximum(degree[rows], 1)
    if not k:
        return np.bincount(row, weights=values[nb], minlength=rows.size).astype(adj.dtype) * scale
    # Bin 0 of each row collects the -1s, then is dropped.
    counts = np.bincount(row * (k + 1) + (values[nb] + 1), minlength=rows.size * (k + 1))
    return counts.reshape(-1, k + 1)[:, 1:].astype(adj.dtype) * scale[:, None]


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
    uniforms: np.ndarray,
) -> np.ndarray:
    """Logit choice of platform, for the users who reconsider this step.

    Args:
        utility: (m, P) utilities before switching costs, a row per choosing user.
        current: (m,) their current platform, ``NO_PLATFORM`` for none (no switching cost).
        rationality: Logit sensitivity (0: uniform choice).
        switching_cost: Utility cost of leaving the current platform.
        uniforms: (m,) uniform draws in [0, 1) deciding the sampled choice.

    Returns:
        (m,) the platform each of them uses next.
    """
    m, n_platforms = utility.shape
    # One platform column at a time: a few long rows instead of many short ones.
    has = current >= 0
    cols = [
        rationality * (utility[:, j] - switching_cost * (has & (current != j)))
        for j in range(n_platforms)
    ]
    top = cols[0].copy()
    for u in cols[1:]:
        np.maximum(top, u, out=top)
    cum = []  # running sums of exp(u - top), platform by platform
    for u in cols:
        w = np.exp(u - top)
        cum.append(w if not cum else cum[-1] + w)
    target = uniforms * cum[-1]
    pick = np.zeros(m, np.intp)
    found = np.zeros(m, bool)
    for j, c in enumerate(cum):
        hit = ~found & (target < c)
        pick[hit] = j
        found |= hit
    return pick


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


class Tactic(IntEnum):
    """A protesting member's option (``protest_tactic``); only STAY is not protest."""

    STAY = 0  # keep using the target and contributing
    WITHHOLD = 1  # keep using the target, send it no data (blocking ads and tracking)
    SWITCH = 2  # leave for the best other platform
    STOP = 3  # leave and use no platform (protest non-use)


# What each tactic's member does with its data: a switcher contributes to the platform
# it moved to; a stopper boycotts (withholds and leaves); staying is not acting.
TACTIC_ACTION = np.array(
    [Action.CONTRIBUTE, Action.WITHHOLD, Action.CONTRIBUTE, Action.BOYCOTT], np.int8
)


def tactic_values(
    utility: np.ndarray,
    target: int,
    grievance: np.ndarray | float,
    *,
    relief: float,
    withhold_cost: float,
    switching_cost: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The value of each ``Tactic`` to each member (see the module docstring).

    Args:
        utility: (m, P) platform utilities (``platform_utility``) of the members.
        target: The platform protested.
        grievance: (m,) or scalar: the grievance ``G`` toward the target that protesting
            answers (utility per step).
        relief: Share of ``G`` that withholding data answers, in [0, 1].
        withhold_cost: Utility cost per step of withholding while using the target.
        switching_cost: Utility cost of leaving the target for another platform.

    Returns:
        ``(values, alternative)``: (m, 4) values in ``Tactic`` order (SWITCH is ``-inf``
        when there is no other platform), and (m,) each member's best other platform
        (``NO_PLATFORM`` when there is none).
    """
    m, n_platforms = utility.shape
    stay = utility[:, target] - grievance
    others = utility.copy()
    others[:, target] = -np.inf
    alternative = np.full(m, NO_PLATFORM, np.int32)
    best = np.full(m, -np.inf)
    if n_platforms > 1:
        alternative[:] = others.argmax(axis=1)
        best = others[np.arange(m), alternative]
    values = np.empty((m, len(Tactic)))
    values[:, Tactic.STAY] = stay
    values[:, Tactic.WITHHOLD] = stay + relief * grievance - withhold_cost
    values[:, Tactic.SWITCH] = best - switching_cost
    values[:, Tactic.STOP] = 0.0  # the outside option: no platform
    return values, alternative


def choose_tactic(values: np.ndarray, rationality: float, taste: np.ndarray) -> np.ndarray:
    """Random-utility choice: each member takes the option of highest value plus taste.

    Args:
        values: (m, k) values of the options; ``-inf`` marks an impossible one.
        rationality: Logit sensitivity (0: uniform over the possible options).
        taste: (m, k) uniforms in [0, 1), one per member and option, turned into Gumbel
            tastes, so the choice probabilities are the multinomial logit's.

    Returns:
        (m,) the index of the option chosen (a ``Tactic`` for ``tactic_values``).
    """
    u = np.clip(taste, np.finfo(float).tiny, 1.0 - np.finfo(float).eps)
    gumbel = -np.log(-np.log(u))
    possible = np.isfinite(values)
    scaled = np.full(values.shape, -np.inf)
    scaled[possible] = rationality * values[possible]  # 0 * -inf would be NaN
    return np.argmax(scaled + gumbel, axis=1).astype(np.int8)


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
