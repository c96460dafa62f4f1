"""Leverage and Nash bargaining between a platform and a collective, in one unit of account.

The research argues for collective bargaining over data but gives no formal model, so
this module states one (Nash, 1950, asymmetric form), kept linear so that it has a
closed form and every number in it is measured in the run.

**Unit of account.** Everything is *utility per step*, the unit in which users choose
platforms and pay prices (``abm/behaviour.py``: a user's utility of a platform is its
quality minus its price, plus preferences). Per step:

* a user's payoff is the quality of the platform it uses minus the price it pays
  (0 off every platform, the outside option);
* a platform's revenue is what its users pay plus what it earns from its model,
  ``users * (price + value_of_quality * quality)``, minus what countermeasures and
  dividends cost it that step.

**Disagreement points from the twin.** Against the collective's twin world (the same
run with the campaign off, ``abm/twins.py``), a round's numbers are the platform's
**loss** ``L`` (its revenue per step in the twin minus in the real world) and the
members' **cost** ``c`` (their payoff per step in the twin minus in the real world),
both averaged over the steps since the last round. Payoffs are measured from the
world without the campaign: if talks fail the campaign goes on (platform ``-L``,
members ``-c``); an agreement of a dividend ``d`` per step ends it (platform ``-d``,
members ``+d``).

**A credible loss.** The platform sees its loss step by step, with the noise of a
model evaluated on a finite test set; it bargains on the lower 95% confidence bound of
the round's mean loss (:func:`credible_loss`), so a campaign whose effect is
indistinguishable from noise has no loss to bargain with.

**Nash solution.** With bargaining power ``beta`` (0 without collective bargaining
rights) the agreement maximises ``(d + c)^beta * (L - d)^(1 - beta)`` over
``0 <= d <= L``; the first-order condition gives::

    d* = beta * L - (1 - beta) * c,   clipped to [0, L].

**Response.** The platform **concedes** when ``d*`` covers the collective's demand
``D`` (then it pays ``D`` per step and the campaign ends); since ``d* <= L``, a campaign
wins only when enduring it costs the platform at least the demand. It **negotiates**
when ``0 < d* < D`` (the campaign goes on) and **ignores** the campaign when ``d* = 0``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np
from scipy import stats

__all__ = [
    "ROUND_COLUMNS",
    "Effects",
    "Outcome",
    "PlatformResponse",
    "Position",
    "credible_loss",
    "nash_bargain",
    "nash_product",
    "normalised_leverage",
]


def normalised_leverage(q_actual: float, q_counterfactual: float, q_naive: float) -> float:
    """Share of the quality gap over a naive baseline that a collective's action removes.

    As in the data-strike papers (Vincent et al., WWW 2019). Signed: a campaign that
    raised the target's quality has negative leverage, and noise reads as noise.

    Args:
        q_actual: Quality of the platform's model under the campaign.
        q_counterfactual: Quality in the twin world, without the campaign.
        q_naive: Quality of a naive non-learning baseline (e.g. majority class).

    Returns:
        ``(q_counterfactual - q_actual) / (q_counterfactual - q_naive)``; NaN when the
        twin has no gap over the baseline (there is no learned quality to take away).
    """
    gap = q_counterfactual - q_naive
    if not (math.isfinite(gap) and math.isfinite(q_actual)) or gap <= 0.0:
        return float("nan")
    return (q_counterfactual - q_actual) / gap


@dataclass
class Effects:
    """What one collective's campaign changed this step: twin minus real, signed.

    Positive numbers mean the campaign took something from its target: quality, users,
    revenue. ``lift`` is the other way round: what CDC gave the platform it redirects
    to (real minus twin). Utilities are per step, in the unit in which users choose.
    """

    twin_quality: float = float("nan")
    quality: float = 0.0  # target's held-out quality, twin - real
    twin_hit_rate: float = float("nan")  # target's hit rate at k in the twin (ratings)
    hit_rate: float = float("nan")  # target's hit rate at k, twin - real (ratings tasks)
    leverage: float = float("nan")  # quality effect / (twin quality - naive baseline)
    share: float = 0.0  # target's market share, twin - real
    users: float = 0.0  # target's users, twin - real
    revenue: float = 0.0  # target's revenue per step, twin - real: the platform's loss
    member_cost: float = 0.0  # members' payoff per step, twin - real
    lift: float = float("nan")  # receiver's quality, real - twin (CDC levers)
    groups: np.ndarray = field(default_factory=lambda: np.zeros(0))  # per group, twin - real


# One bargaining round as recorded in a run's bargaining table (utility per step).
ROUND_COLUMNS = (
    "step", "collective", "platform", "leverage", "platform_loss", "member_cost", "demand",
    "nash_dividend", "paid", "response", "reason",
)  # fmt: skip


def credible_loss(losses: list[float]) -> float:
    """Lower 95% confidence bound of the mean of a round's per-step losses.

    Needs two steps or more (a single step carries no evidence of its noise): fewer
    give ``-inf``, a loss no platform concedes to.
    """
    k = len(losses)
    if k < 2:
        return -math.inf
    values = np.asarray(losses, float)
    se = values.std(ddof=1) / math.sqrt(k)
    return float(values.mean() - stats.t.ppf(0.975, k - 1) * se)


class PlatformResponse(IntEnum):
    """What the platform does about a campaign, ordered by how much it gives."""

    IGNORE = 0
    NEGOTIATE = 1
    CONCEDE = 2


@dataclass(frozen=True)
class Position:
    """One bargaining round between a collective and its target, per step, in utility.

    Attributes:
        platform_loss: ``L``, the platform's revenue per step without the campaign minus
            with it (negative if the campaign helps it).
        member_cost: ``c``, the members' payoff per step without the campaign minus with
            it (negative if acting pays them).
        demand: ``D``, the dividend per step the collective asks for (>= 0).
        power: The collective's bargaining power ``beta`` in [0, 1].
        rights: Whether the collective has bargaining rights at all.
    """

    platform_loss: float
    member_cost: float
    demand: float
    power: float = 0.5
    rights: bool = True

    def __post_init__(self) -> None:
        if not 0.0 <= self.power <= 1.0:
            raise ValueError(f"power must be in [0, 1], got {self.power}")
        if self.demand < 0.0:
            raise ValueError(f"demand must be >= 0, got {self.demand}")

    @property
    def beta(self) -> float:
        """The power that applies: none without rights."""
        return self.power if self.rights else 0.0


@dataclass(frozen=True)
class Outcome:
    """Result of one bargaining round.

    Attributes:
        dividend: The Nash dividend ``d*`` per step (0 if the collective wins nothing).
        paid: What the platform agrees to pay per step (``D`` on a concession, else 0).
        response: The platform's discrete response.
        reason: One sentence that states the numbers the response follows from.
    """

    dividend: float
    paid: float
    response: PlatformResponse
    reason: str


def nash_product(position: Position, dividend: float) -> float:
    """``(d + c)^beta * (L - d)^(1 - beta)``, or ``-inf`` where a side loses by agreeing."""
    gain_c = dividend + position.member_cost
    gain_p = position.platform_loss - dividend
    if gain_c < 0.0 or gain_p < 0.0:
        return -math.inf
    beta = position.beta
    return gain_c**beta * gain_p ** (1.0 - beta)


def nash_bargain(position: Position) -> Outcome:
    """Solve one round in closed form (see the module docstring)."""
    loss, cost, demand, beta = (
        position.platform_loss,
        position.member_cost,
        position.demand,
        position.beta,
    )
    dividend = min(max(beta * loss - (1.0 - beta) * cost, 0.0), max(loss, 0.0))
    numbers = (
        f"loss {loss:.3g}/step to the platform (95% lower bound), "
        f"cost {cost:.3g}/step to the members"
    )
    if loss <= 0.0:
        response = PlatformResponse.IGNORE
        reason = f"the campaign has no credible cost to the platform ({numbers})"
    elif not position.rights:
        response = PlatformResponse.IGNORE
        reason = f"no bargaining rights, so the platform need not negotiate ({numbers})"
    elif dividend <= 0.0:
        response = PlatformResponse.IGNORE
        reason = (
            f"at power {beta:.2g} the Nash dividend is 0: {beta:.2g} x loss does not exceed "
            f"{1 - beta:.2g} x cost ({numbers})"
        )
    elif dividend >= demand:
        response = PlatformResponse.CONCEDE
        reason = (
            f"the Nash dividend {dividend:.3g}/step covers the demand {demand:.3g}/step: "
            f"enduring the campaign would cost the platform more ({numbers})"
        )
    else:
        response = PlatformResponse.NEGOTIATE
        reason = (
            f"the Nash dividend {dividend:.3g}/step falls short of the demand "
            f"{demand:.3g}/step, so the campaign goes on ({numbers})"
        )
    paid = demand if response is PlatformResponse.CONCEDE else 0.0
    return Outcome(dividend=dividend, paid=paid, response=response, reason=reason)
