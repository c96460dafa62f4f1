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

**A credible loss.** The platform cannot see the twin; it sees its own metrics, each
with its measurement noise, and bargains only on the part of its loss it can tell from
that noise (:func:`credible_loss`). The loss has three channels, split so that each is
judged in the unit the platform measures it in::

    L = v * N * dq              quality: users kept times the quality taken, at v
      + dN * (p_twin + v * q_twin)  users: users lost times what each would have paid
      + booked                  price cuts and countermeasures: on its own books

(``v`` = ``value_of_quality``, ``N`` its users, ``dq`` and ``dN`` the round's mean quality
and user effects). A channel counts only beyond its **resolution**, shrunk toward zero
by it (soft thresholding: ``sign(m) * max(|m| - h, 0)``), where the half-width is

    h = z * sqrt(se^2 + s^2 / n_eff),   z = 1.645 (one-sided 95%)

with ``se`` the standard error of the platform's own measurement (quality on ``n`` held-out
rows: ``sqrt(q (1 - q) / n)`` for accuracy, the delta-method error of ``1 - RMSE/range``
for ratings; users: ``sqrt(n_users * s (1 - s))``, a market share ``s`` over
``n_users`` choices), ``s`` the round's step-to-step standard deviation and
``n_eff = k (1 - rho) / (1 + rho)`` (at least 1) the effective number of independent
steps among the round's ``k``, ``rho`` their lag-1 autocorrelation clipped to [0, 1).
The held-out set is fixed, so its error is common to every step and does not average
away. A quality effect within the platform's resolution buys no bargaining power;
users leaving beyond the noise of its market still do. Booked costs are exact.

**Sensitivity.** The thresholds are in the platform's units (score, users), so the
credible loss is linear in ``v``: ``L(v) = a + b * v``; the Nash dividend is linear in
``L``, so the value of ``v`` (:func:`flip_value_of_quality`) and of the power
(:func:`flip_bargaining_power`) at which a round's verdict (concede or not) changes are
closed forms.

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

__all__ = [
    "ROUND_COLUMNS",
    "ROUND_TABLE",
    "Z",
    "Change",
    "CredibleLoss",
    "Effects",
    "Verdict",
    "PlatformResponse",
    "Position",
    "RoundColumn",
    "accuracy_se",
    "credible_loss",
    "effective_n",
    "flip_bargaining_power",
    "flip_value_of_quality",
    "holds_for",
    "nash_bargain",
    "nash_product",
    "normalised_leverage",
    "rating_quality_se",
]

Z = 1.645  # one-sided 95%: the platform bargains on a loss it is 95% sure of


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
    quality_change: float = 0.0  # target's held-out quality, twin - real (a level: twin_quality)
    twin_hit_rate: float = float("nan")  # target's hit rate at k in the twin (ratings)
    hit_rate_change: float = float("nan")  # target's hit rate at k, twin - real (ratings)
    leverage: float = float("nan")  # quality effect / (twin quality - naive baseline)
    share: float = 0.0  # target's market share, twin - real
    users: float = 0.0  # target's users, twin - real
    revenue: float = 0.0  # target's revenue per step, twin - real: the platform's loss
    member_cost: float = 0.0  # members' payoff per step, twin - real
    lift: float = float("nan")  # receiver's quality, real - twin (CDC levers)
    groups: np.ndarray = field(default_factory=lambda: np.zeros(0))  # per group, twin - real
    # What the target platform itself sees, for its credible loss (``credible_loss``):
    quality_se: float = 0.0  # standard error of its own quality measurement (real world)
    users_on: float = 0.0  # its users in the real world
    twin_price: float = 0.0  # the price its users pay per step in the twin
    booked: float = 0.0  # loss on its own books: price cuts and countermeasures, twin - real


@dataclass(frozen=True)
class RoundColumn:
    """A column of a run's bargaining table (``bargaining.csv``), declared once."""

    name: str
    header: str  # in words, as the report's table shows it
    unit: str
    meaning: str


U = "utility / step"
# One bargaining round, as recorded in a run's bargaining table.
ROUND_TABLE = (
    RoundColumn("step", "step", "step",
                "The model.csv step at which the round closed; it covers the steps since the "
                "previous round (or launch) during which the campaign ran."),
    RoundColumn("collective", "collective", "", "The collective bargaining."),
    RoundColumn("platform", "platform", "", "Its target."),
    RoundColumn("leverage", "leverage", "share of gap", "Leverage at the round's last step."),
    RoundColumn("quality_effect", "quality taken", "score",
                "The target's quality effect (twin - real), mean over the round."),
    RoundColumn("quality_resolution", "quality noise +/-", "score",
                "Half-width within which the platform cannot tell that effect from the noise "
                "of its own held-out evaluation and of its steps (docs/model.md)."),
    RoundColumn("users_lost", "users lost", "users",
                "The target's users in the twin minus in the real world, mean over the round."),
    RoundColumn("users_resolution", "users noise +/-", "users",
                "Half-width within which users lost are within the noise of its market."),
    RoundColumn("platform_loss", "credible loss to the platform", U,
                "The loss the platform bargains on: each channel beyond its resolution."),
    RoundColumn("member_cost", "cost to members", U, "Members' payoff, twin - real, mean."),
    RoundColumn("demand", "demand", U, "Dividend per step asked: demand x members."),
    RoundColumn("nash_dividend", "Nash dividend", U, "The Nash solution d*."),
    RoundColumn("paid", "agreed to pay", U, "The demand on a concession, else 0."),
    RoundColumn("response", "response", "", "ignore, negotiate or concede."),
    RoundColumn("flip_value_of_quality", "verdict flips at value_of_quality",
                "utility / user / step / quality",
                "The value_of_quality at which the verdict (concede or not) would change; it "
                "holds on the side where the run's value lies. Empty: no value changes it."),
    RoundColumn("flip_bargaining_power", "verdict flips at bargaining_power", "share",
                "The same for the collective's bargaining power. Empty: no power in [0, 1] "
                "changes it (or no bargaining rights)."),
    RoundColumn("reason", "reason", "", "The response in words, with its numbers."),
)  # fmt: skip
ROUND_COLUMNS = tuple(c.name for c in ROUND_TABLE)


# --------------------------------------------------------------- the platform's resolution


def accuracy_se(quality: float, n: int) -> float:
    """Standard error of an accuracy ``quality`` measured on ``n`` held-out rows."""
    if n <= 0 or not math.isfinite(quality):
        return float("nan")
    return math.sqrt(max(quality * (1.0 - quality), 0.0) / n)


def rating_quality_se(quality: float, squared_errors: np.ndarray) -> float:
    """Standard error of ``quality = 1 - RMSE / range`` from its held-out squared errors.

    Delta method: ``1 - quality`` is ``RMSE / range`` and ``dRMSE / RMSE = dMSE / (2 MSE)``,
    so ``se = (1 - quality) * sd(e^2) / (2 * MSE * sqrt(n))``.
    """
    e2 = np.asarray(squared_errors, float)
    n, mse = e2.size, float(e2.mean()) if e2.size else 0.0
    if n < 2 or not math.isfinite(quality):
        return float("nan")
    if mse == 0.0:
        return 0.0
    return (1.0 - quality) * float(e2.std(ddof=1)) / (2.0 * mse * math.sqrt(n))


def effective_n(values: np.ndarray) -> float:
    """Effective number of independent steps: ``k (1 - rho) / (1 + rho)``, at least 1.

    ``rho`` is the lag-1 autocorrelation of the ``k`` values, clipped to [0, 1): a
    persistent effect is one piece of evidence repeated, not ``k`` pieces; an
    alternating one is not counted as more than ``k``.
    """
    x = np.asarray(values, float)
    k = x.size
    dev = x - x.mean()
    ss = float(dev @ dev)
    rho = float(dev[1:] @ dev[:-1]) / ss if k > 1 and ss > 0.0 else 0.0
    rho = min(max(rho, 0.0), 1.0 - 1e-9)
    return max(k * (1.0 - rho) / (1.0 + rho), 1.0)


@dataclass(frozen=True)
class Change:
    """A round's mean change in one of the platform's metrics, and its resolution.

    Attributes:
        mean: The round's mean per-step change (twin minus real).
        resolution: The half-width ``h`` within which the platform cannot tell the
            change from its measurement noise (see the module docstring).
    """

    mean: float
    resolution: float

    @classmethod
    def measure(cls, values: np.ndarray, se: float) -> Change:
        """The change over a round's per-step ``values``, measured with standard error ``se``."""
        x = np.asarray(values, float)
        if x.size < 2 or not (np.isfinite(x).all() and math.isfinite(se)):
            return cls(float(x.mean()) if x.size else float("nan"), math.inf)
        step = float(x.std(ddof=1)) ** 2 / effective_n(x)
        return cls(float(x.mean()), Z * math.sqrt(se * se + step))

    @property
    def credible(self) -> float:
        """The part of the change beyond the resolution, signed (0 within it)."""
        if not (math.isfinite(self.mean) and abs(self.mean) > self.resolution):
            return 0.0
        return math.copysign(abs(self.mean) - self.resolution, self.mean)


@dataclass(frozen=True)
class CredibleLoss:
    """What a round of a campaign credibly cost the platform, per step, by channel.

    Attributes:
        quality: The quality taken (score) and the platform's resolution of it.
        users: The users lost and the resolution of its market.
        users_on: The platform's mean number of users over the round.
        twin_price: What each lost user would have paid per step (mean, in the twin).
        twin_quality: The quality each lost user would have had (mean, in the twin).
        booked: Price cuts and countermeasures, exact (utility per step).
    """

    quality: Change
    users: Change
    users_on: float
    twin_price: float
    twin_quality: float
    booked: float

    @property
    def intercept(self) -> float:
        """The part of the credible loss that does not scale with ``value_of_quality``."""
        return self.users.credible * self.twin_price + self.booked

    @property
    def slope(self) -> float:
        """How much the credible loss grows per unit of ``value_of_quality``."""
        return self.users_on * self.quality.credible + self.users.credible * self.twin_quality

    def at(self, value_of_quality: float) -> float:
        """The credible loss per step when quality earns ``value_of_quality`` per user."""
        return self.intercept + self.slope * value_of_quality

    def describe(self) -> str:
        """The evidence in words: each effect against the platform's resolution of it."""
        parts = []
        for what, change, fmt in (
            ("quality taken", self.quality, ".3g"),
            ("users lost", self.users, ".3g"),
        ):
            where = "beyond" if change.credible != 0.0 else "within"
            noise = f"{change.resolution:{fmt}}"
            parts.append(f"{what} {change.mean:{fmt}} {where} its noise +/-{noise}")
        return "; ".join(parts)


def credible_loss(steps: list[Effects], n_users: int) -> CredibleLoss:
    """The platform's credible loss over a round's steps (see the module docstring).

    Args:
        steps: The campaign's effects at each step of the round (two or more: one step
            carries no evidence of its noise, and gives an infinite resolution).
        n_users: All users in the market, for the resolution of the platform's share.
    """
    users_on = float(np.mean([e.users_on for e in steps])) if steps else 0.0
    share = users_on / n_users if n_users else 0.0
    quality_se = math.sqrt(float(np.mean([e.quality_se**2 for e in steps]))) if steps else 0.0
    return CredibleLoss(
        quality=Change.measure([e.quality_change for e in steps], quality_se),
        users=Change.measure([e.users for e in steps], math.sqrt(n_users * share * (1 - share))),
        users_on=users_on,
        twin_price=float(np.mean([e.twin_price for e in steps])) if steps else 0.0,
        twin_quality=float(np.mean([e.twin_quality for e in steps])) if steps else 0.0,
        booked=float(np.mean([e.booked for e in steps])) if steps else 0.0,
    )


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
class Verdict:
    """How one bargaining round ends: the dividend, what is paid, the response and why.

    (Not an end-of-run outcome: those are :class:`abm.metrics.Outcome`.)

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


def nash_bargain(position: Position, evidence: str = "") -> Verdict:
    """Solve one round in closed form (see the module docstring).

    Args:
        position: The round's numbers.
        evidence: What the loss was measured from, in words, for the reason.
    """
    loss, cost, demand, beta = (
        position.platform_loss,
        position.member_cost,
        position.demand,
        position.beta,
    )
    dividend = min(max(beta * loss - (1.0 - beta) * cost, 0.0), max(loss, 0.0))
    numbers = (
        f"credible loss {loss:.3g}/step to the platform, cost {cost:.3g}/step to the members"
        + (f"; {evidence}" if evidence else "")
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
    return Verdict(dividend=dividend, paid=paid, response=response, reason=reason)


# ------------------------------------------------------------------ each verdict's range


def concession_threshold(position: Position) -> float:
    """The smallest credible loss ``L*`` at which the platform concedes; NaN if none does.

    With the other numbers of the round fixed, the platform concedes exactly when
    ``L >= L* = max(D, (D + (1 - beta) c) / beta)`` (the Nash dividend, linear in ``L``,
    reaches the demand; it never exceeds ``L``). At ``beta = 0`` only members who gain by
    acting (``-c >= D``) are paid, and then as soon as ``L >= D``.
    """
    beta, cost, demand = position.beta, position.member_cost, position.demand
    if not position.rights:
        return float("nan")
    if beta > 0.0:
        return max(demand, (demand + (1.0 - beta) * cost) / beta, 0.0)
    return max(demand, 0.0) if -cost >= demand and -cost > 0.0 else float("nan")


def flip_value_of_quality(loss: CredibleLoss, position: Position) -> float:
    """The ``value_of_quality`` at which the round's verdict (concede or not) changes.

    ``L(v) = a + b v`` (:class:`CredibleLoss`), so ``v* = (L* - a) / b``. The verdict holds
    on the side of ``v*`` where the round's own value lies. NaN when no value >= 0
    changes it: no bargaining rights, a loss that does not scale with ``v`` (``b = 0``),
    or a threshold at a negative ``v``.
    """
    threshold, slope = concession_threshold(position), loss.slope
    if not math.isfinite(threshold) or slope == 0.0 or not math.isfinite(slope):
        return float("nan")
    flip = (threshold - loss.intercept) / slope
    return flip if flip >= 0.0 else float("nan")


def flip_bargaining_power(position: Position) -> float:
    """The bargaining power at which the round's verdict (concede or not) changes.

    The platform concedes when ``L >= D`` and ``beta (L + c) >= D + c``, so
    ``beta* = (D + c) / (L + c)``; the verdict holds on the side of ``beta*`` where the
    round's own power lies. NaN when no power in [0, 1] changes it: no bargaining
    rights, or a loss below the demand (no power wins it).
    """
    loss, cost, demand = position.platform_loss, position.member_cost, position.demand
    if not position.rights or loss < demand or loss <= 0.0 or loss + cost == 0.0:
        return float("nan")
    flip = (demand + cost) / (loss + cost)
    return flip if 0.0 <= flip <= 1.0 else float("nan")


def holds_for(name: str, flip: float, value: float, conceded: bool) -> str:
    """Where a round's verdict holds in one assumed constant, in words.

    Args:
        name: The constant (``value_of_quality``, ``bargaining_power``).
        flip: The value at which the verdict changes (NaN: none does).
        value: The value the run used.
        conceded: Whether the round was a concession.

    Returns:
        For a concession, where it holds ("value_of_quality >= 3.2, default 10"); for a
        refusal, where the platform would have conceded instead.
    """
    if not math.isfinite(flip):
        return f"any {name} (default {value:g})" if conceded else f"no {name} changes it"
    above = value >= flip if conceded else value < flip
    return f"{name} {'>=' if above else '<='} {flip:.3g} (default {value:g})"
