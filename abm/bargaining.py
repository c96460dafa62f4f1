"""Leverage measurement and Nash bargaining between a platform and a collective.

The research argues for collective bargaining over data but gives no formal model, so
this module states one (Nash, 1950, asymmetric form), kept linear so that it has a
closed form and every number in it can be traced to something the simulator measures.

**Leverage.** As in the data-strike papers (Vincent et al., WWW 2019), leverage is the
share of the gap between the full-data model and a naive non-learning baseline that the
collective's action removes::

    leverage = (q_cf - q_actual) / (q_cf - q_naive),  clipped to [0, 1],

where ``q_cf`` is the counterfactual quality had the collective contributed normally,
``q_actual`` the quality under the campaign and ``q_naive`` the baseline's quality.

**Bargaining problem.** Platform P and collective C bargain over a data dividend (or a
concession valued in the same units) ``d`` in ``[0, D_max]`` with ``D_max = S``, the
platform's surplus from the collective's data. Payoffs are linear and transferable::

    u_C(d) = d,                 u_P(d) = S - d.

If talks fail the campaign goes on. The platform keeps its surplus minus the loss the
campaign inflicts, ``L = leverage * value_of_quality`` (value_of_quality is what a full
gap of quality is worth to the platform, per bargaining round); the members bear the
cost ``c`` of acting (service and quality they forgo while striking). Disagreement::

    d_P = S - L,                d_C = -c.

**Nash solution.** With bargaining power ``beta`` in [0, 1] (collective bargaining
rights raise it) the agreement maximises the Nash product::

    N(d) = (u_C - d_C)^beta * (u_P - d_P)^(1 - beta) = (d + c)^beta * (L - d)^(1 - beta).

The first-order condition ``beta (L - d) = (1 - beta)(d + c)`` gives the closed form::

    d* = beta * L - (1 - beta) * c,   then clipped to [0, min(S, L)],

because the Nash product is concave in ``d`` on ``(-c, L)``. Consequences the
simulator relies on:

* A campaign the platform does not feel (``L = 0``) wins nothing.
* With equal power (``beta = 1/2``) a campaign wins a positive dividend exactly when the
  loss it inflicts exceeds what it costs the members (``L > c``); otherwise ``d* = 0``:
  the platform's threat to wait the campaign out is credible, because the members would
  rather call it off for nothing than keep paying ``c``.
* ``d*`` rises with leverage and with power, and falls with the members' cost.

**Platform response.** The outcome is read as a discrete :class:`PlatformResponse`:
``IGNORE`` (no dividend), ``NEGOTIATE`` (a positive dividend short of the collective's
demand) or ``CONCEDE`` (the demand is met; with no stated demand any positive dividend
counts as a concession).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum

__all__ = [
    "Outcome",
    "PlatformResponse",
    "Position",
    "disagreement_point",
    "nash_bargain",
    "nash_product",
    "normalised_leverage",
]


def normalised_leverage(q_actual: float, q_counterfactual: float, q_naive: float) -> float:
    """Share of the full-data-over-baseline quality gap that a collective's action removes.

    Args:
        q_actual: Quality of the platform's model under the campaign.
        q_counterfactual: Quality had the collective contributed normally.
        q_naive: Quality of a naive non-learning baseline (e.g. majority class).

    Returns:
        ``(q_counterfactual - q_actual) / (q_counterfactual - q_naive)`` clipped to
        [0, 1]; 0 when the gap is non-positive or any input is not finite (there is no
        learned quality for the collective to take away).
    """
    gap = q_counterfactual - q_naive
    removed = q_counterfactual - q_actual
    if not (math.isfinite(gap) and math.isfinite(removed)) or gap <= 0.0:
        return 0.0
    return min(max(removed / gap, 0.0), 1.0)


class PlatformResponse(IntEnum):
    """What the platform does about a campaign, ordered by how much it gives."""

    IGNORE = 0
    NEGOTIATE = 1
    CONCEDE = 2


@dataclass
class Position:
    """A collective's bargaining position facing one platform.

    Attributes:
        leverage: Normalised leverage in [0, 1] (see :func:`normalised_leverage`).
        value_of_quality: What closing the whole quality gap is worth to the platform
            per round, so the campaign costs it ``leverage * value_of_quality``.
        surplus: The platform's surplus from the collective's data; caps the dividend.
        member_cost: What continuing the campaign costs the members per round (>= 0).
        power: The collective's bargaining power beta in [0, 1]; 0.5 is symmetric.
        demand: What the collective asks for; ``None`` means any dividend satisfies it.
    """

    leverage: float
    value_of_quality: float
    surplus: float
    member_cost: float
    power: float = 0.5
    demand: float | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.power <= 1.0:
            raise ValueError(f"power must be in [0, 1], got {self.power}")
        if self.member_cost < 0.0:
            raise ValueError(f"member_cost must be >= 0, got {self.member_cost}")
        if self.surplus < 0.0 or self.value_of_quality < 0.0:
            raise ValueError("surplus and value_of_quality must be >= 0")

    @property
    def platform_loss(self) -> float:
        """Loss ``L`` the campaign inflicts on the platform if talks fail."""
        return max(self.leverage, 0.0) * self.value_of_quality


@dataclass(frozen=True)
class Outcome:
    """Result of one bargaining round.

    Attributes:
        dividend: Agreed dividend ``d*`` (0 if the collective wins nothing).
        concession: Whether the collective won anything (``dividend > 0``).
        platform_payoff: ``u_P(d*) = surplus - d*``.
        collective_payoff: ``u_C(d*) = d*``.
        reason: A short human-readable account of why.
        response: The platform's discrete response.
    """

    dividend: float
    concession: bool
    platform_payoff: float
    collective_payoff: float
    reason: str
    response: PlatformResponse


def disagreement_point(position: Position) -> tuple[float, float]:
    """Payoffs if talks fail and the campaign continues.

    Args:
        position: The bargaining position.

    Returns:
        ``(d_C, d_P) = (-member_cost, surplus - leverage * value_of_quality)``.
    """
    return -position.member_cost, position.surplus - position.platform_loss


def nash_product(position: Position, dividend: float) -> float:
    """The asymmetric Nash product at a given dividend.

    Args:
        position: The bargaining position.
        dividend: Candidate dividend ``d``.

    Returns:
        ``(d - d_C)^beta * (S - d - d_P)^(1 - beta)``, or ``-inf`` where either side
        would be worse off than at disagreement.
    """
    d_c, d_p = disagreement_point(position)
    gain_c = dividend - d_c
    gain_p = position.surplus - dividend - d_p
    if gain_c < 0.0 or gain_p < 0.0:
        return -math.inf
    beta = position.power
    return gain_c**beta * gain_p ** (1.0 - beta)


def nash_bargain(position: Position) -> Outcome:
    """Solve the Nash bargaining problem in closed form (see module docstring).

    Args:
        position: The bargaining position.

    Returns:
        The :class:`Outcome`, with ``d* = clip(beta L - (1 - beta) c, 0, min(S, L))``.
    """
    beta = position.power
    loss = position.platform_loss
    cost = position.member_cost
    cap = min(position.surplus, loss)
    interior = beta * loss - (1.0 - beta) * cost
    dividend = min(max(interior, 0.0), cap)

    if loss <= 0.0:
        reason = "the campaign does not hurt the platform, so it ignores it"
    elif dividend <= 0.0:
        reason = (
            f"the platform's loss ({loss:.3g}) is too small against the members' cost "
            f"({cost:.3g}) at power {beta:.2g}: its threat to wait the campaign out is "
            "credible"
        )
    elif dividend >= cap and interior > cap:
        reason = f"the collective captures the platform's whole stake ({cap:.3g})"
    else:
        reason = (
            f"the platform's loss ({loss:.3g}) outweighs the members' cost ({cost:.3g}); "
            f"the Nash split at power {beta:.2g} pays {dividend:.3g}"
        )

    if dividend <= 0.0:
        response = PlatformResponse.IGNORE
    elif position.demand is None or dividend >= position.demand:
        response = PlatformResponse.CONCEDE
    else:
        response = PlatformResponse.NEGOTIATE

    return Outcome(
        dividend=dividend,
        concession=dividend > 0.0,
        platform_payoff=position.surplus - dividend,
        collective_payoff=dividend,
        reason=reason,
        response=response,
    )
