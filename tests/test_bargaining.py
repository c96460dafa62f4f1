"""Nash bargaining in one unit of account: closed form, the line a campaign must cross."""

import math

import numpy as np
import pytest

from abm.bargaining import (
    PlatformResponse,
    Position,
    nash_bargain,
    nash_product,
    normalised_leverage,
)


def _position(**kw) -> Position:
    base = dict(platform_loss=40.0, member_cost=10.0, demand=5.0, power=0.5, rights=True)
    base.update(kw)
    return Position(**base)


# --- normalised leverage --------------------------------------------------------------


def test_normalised_leverage_is_a_signed_share_of_gap():
    assert normalised_leverage(0.85, 0.9, 0.8) == pytest.approx(0.5)
    assert normalised_leverage(0.95, 0.9, 0.8) == pytest.approx(-0.5)  # the campaign helped
    assert normalised_leverage(0.9, 0.9, 0.5) == 0.0


@pytest.mark.parametrize(("q_actual", "q_cf", "q_naive"), [(0.5, 0.5, 0.6), (0.5, math.nan, 0.1)])
def test_normalised_leverage_undefined_without_a_gap(q_actual, q_cf, q_naive):
    assert math.isnan(normalised_leverage(q_actual, q_cf, q_naive))


# --- the Nash solution ----------------------------------------------------------------


@pytest.mark.parametrize("power", [0.2, 0.5, 0.8])
@pytest.mark.parametrize("loss", [1.0, 20.0, 80.0])
@pytest.mark.parametrize("cost", [-5.0, 0.0, 10.0])
def test_closed_form_maximises_the_nash_product(power, loss, cost):
    pos = _position(power=power, platform_loss=loss, member_cost=cost)
    best = nash_bargain(pos).dividend
    grid = np.linspace(0.0, loss, 2001)
    products = [nash_product(pos, d) for d in grid]
    assert nash_product(pos, best) >= max(products) - 1e-9
    assert 0.0 <= best <= loss


def test_dividend_rises_with_power_and_loss_and_falls_with_cost():
    by_power = [nash_bargain(_position(power=b)).dividend for b in np.linspace(0, 1, 11)]
    by_loss = [nash_bargain(_position(platform_loss=x)).dividend for x in np.linspace(0, 80, 9)]
    by_cost = [nash_bargain(_position(member_cost=x)).dividend for x in np.linspace(0, 40, 9)]
    assert np.all(np.diff(by_power) >= 0) and by_power[-1] > by_power[0]
    assert np.all(np.diff(by_loss) >= 0) and by_loss[-1] > by_loss[0]
    assert np.all(np.diff(by_cost) <= 0) and by_cost[-1] < by_cost[0]


# --- the line a campaign must cross ---------------------------------------------------


@pytest.mark.parametrize("power", [0.5, 0.9, 1.0])
def test_a_campaign_wins_only_when_enduring_it_costs_more_than_the_demand(power):
    demand = 10.0
    below = nash_bargain(_position(platform_loss=demand * 0.99, member_cost=0.0, demand=demand,
                                   power=power))  # fmt: skip
    assert below.response is not PlatformResponse.CONCEDE and below.paid == 0.0
    above = nash_bargain(_position(platform_loss=demand / power * 1.01, member_cost=0.0,
                                   demand=demand, power=power))  # fmt: skip
    assert above.response is PlatformResponse.CONCEDE and above.paid == demand


def test_no_rights_no_dividend_and_the_reason_says_so():
    out = nash_bargain(_position(platform_loss=1e6, rights=False))
    assert out.response is PlatformResponse.IGNORE and out.dividend == 0.0
    assert "no bargaining rights" in out.reason


def test_a_campaign_that_costs_nothing_is_ignored():
    out = nash_bargain(_position(platform_loss=0.0, member_cost=0.0))
    assert out.response is PlatformResponse.IGNORE
    assert "no credible cost" in out.reason


def test_reasons_state_the_numbers_they_follow_from():
    # Shortfall: the dividend is positive but below the demand; the reason says both.
    out = nash_bargain(_position(platform_loss=40.0, member_cost=10.0, demand=30.0))
    assert out.response is PlatformResponse.NEGOTIATE
    assert f"{out.dividend:.3g}" in out.reason and "30" in out.reason and "40" in out.reason
    # Power too low: 0.1 x 40 does not exceed 0.9 x 10.
    low = nash_bargain(_position(platform_loss=40.0, member_cost=10.0, power=0.1))
    assert low.response is PlatformResponse.IGNORE and "0.1 x loss" in low.reason


def test_bad_positions_are_refused():
    with pytest.raises(ValueError):
        _position(power=1.5)
    with pytest.raises(ValueError):
        _position(demand=-1.0)


def test_credible_loss_discounts_noise():
    from abm.bargaining import credible_loss

    assert credible_loss([5.0]) == -math.inf  # one step: no evidence of its noise
    assert credible_loss([5.0, 5.0, 5.0]) == pytest.approx(5.0)
    noisy = credible_loss([-6.0, 0.0, 6.0, 12.0, 0.0])
    assert noisy < 0 < np.mean([-6.0, 0.0, 6.0, 12.0, 0.0])
