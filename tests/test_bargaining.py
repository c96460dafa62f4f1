import math

import numpy as np
import pytest

from abm.bargaining import (
    Outcome,
    PlatformResponse,
    Position,
    disagreement_point,
    nash_bargain,
    nash_product,
    normalised_leverage,
)


def _position(**kw):
    base = dict(leverage=0.4, value_of_quality=100.0, surplus=60.0, member_cost=10.0, power=0.5)
    base.update(kw)
    return Position(**base)


# --- normalised leverage --------------------------------------------------------------


def test_normalised_leverage_share_of_gap():
    assert normalised_leverage(0.85, 0.9, 0.8) == pytest.approx(0.5)
    assert normalised_leverage(0.9, 0.9, 0.5) == 0.0


@pytest.mark.parametrize(
    "q_actual, q_cf, q_naive, expected",
    [
        (0.95, 0.9, 0.5, 0.0),  # the action helped: clipped at 0
        (0.3, 0.9, 0.5, 1.0),  # worse than the naive baseline: clipped at 1
        (0.5, 0.7, 0.7, 0.0),  # no gap
        (0.5, 0.6, 0.7, 0.0),  # negative gap: the model is worse than naive
        (math.nan, 0.9, 0.5, 0.0),
    ],
)
def test_normalised_leverage_edge_cases(q_actual, q_cf, q_naive, expected):
    assert normalised_leverage(q_actual, q_cf, q_naive) == expected


# --- Nash bargaining ------------------------------------------------------------------


@pytest.mark.parametrize("power", [0.0, 0.2, 0.5, 0.8, 1.0])
@pytest.mark.parametrize("leverage", [0.0, 0.05, 0.3, 0.9])
@pytest.mark.parametrize("surplus", [20.0, 200.0])
def test_nash_solution_maximises_nash_product(power, leverage, surplus):
    pos = _position(power=power, leverage=leverage, surplus=surplus)
    out = nash_bargain(pos)
    grid = np.linspace(0.0, pos.surplus, 20001)
    products = np.array([nash_product(pos, d) for d in grid])
    assert nash_product(pos, out.dividend) >= products.max() - 1e-9
    assert 0.0 <= out.dividend <= pos.surplus


def test_closed_form_interior_solution():
    out = nash_bargain(_position(leverage=0.5, power=0.6, member_cost=10.0))
    assert out.dividend == pytest.approx(0.6 * 50.0 - 0.4 * 10.0)
    assert out.platform_payoff == pytest.approx(60.0 - out.dividend)
    assert out.collective_payoff == pytest.approx(out.dividend)
    assert out.concession and out.response is PlatformResponse.CONCEDE


def test_disagreement_point():
    assert disagreement_point(_position()) == pytest.approx((-10.0, 60.0 - 40.0))


def test_dividend_monotone_in_power_and_leverage():
    by_power = [nash_bargain(_position(power=b)).dividend for b in np.linspace(0, 1, 11)]
    by_lev = [nash_bargain(_position(leverage=x)).dividend for x in np.linspace(0, 1, 11)]
    assert np.all(np.diff(by_power) >= 0) and by_power[-1] > by_power[0]
    assert np.all(np.diff(by_lev) >= 0) and by_lev[-1] > by_lev[0]


def test_zero_leverage_campaign_gets_nothing():
    for power in (0.5, 0.9, 1.0):
        out = nash_bargain(_position(leverage=0.0, power=power, member_cost=0.0))
        assert out.dividend == 0.0
        assert not out.concession
        assert out.response is PlatformResponse.IGNORE
        assert out.platform_payoff == pytest.approx(60.0)


def test_leverage_above_member_cost_wins_concession_below_does_not():
    # Loss to the platform = leverage * 100; the members pay 10 per round.
    above = nash_bargain(_position(leverage=0.15, member_cost=10.0))
    below = nash_bargain(_position(leverage=0.05, member_cost=10.0))
    assert above.concession and above.dividend > 0
    assert not below.concession and below.dividend == 0.0
    assert below.response is PlatformResponse.IGNORE
    assert "wait" in below.reason


def test_bargaining_rights_turn_a_weak_campaign_into_a_concession():
    weak = _position(leverage=0.05, member_cost=10.0)
    assert not nash_bargain(weak).concession
    weak.power = 0.8  # loss 5 > cost 10 * 0.2 / 0.8 = 2.5
    assert nash_bargain(weak).concession


def test_response_compares_dividend_with_demand():
    partial = nash_bargain(_position(leverage=0.5, demand=30.0))  # d* = 20
    full = nash_bargain(_position(leverage=0.5, demand=15.0))
    assert partial.response is PlatformResponse.NEGOTIATE
    assert full.response is PlatformResponse.CONCEDE
    assert PlatformResponse.IGNORE < PlatformResponse.NEGOTIATE < PlatformResponse.CONCEDE


def test_dividend_capped_by_surplus():
    out = nash_bargain(_position(leverage=1.0, power=1.0, surplus=30.0))
    assert out.dividend == pytest.approx(30.0)
    assert isinstance(out, Outcome) and out.platform_payoff == pytest.approx(0.0)


def test_position_validation():
    with pytest.raises(ValueError):
        _position(power=1.5)
    with pytest.raises(ValueError):
        _position(member_cost=-1.0)
