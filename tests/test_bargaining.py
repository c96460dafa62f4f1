"""Nash bargaining in one unit of account: closed form, the line a campaign must cross."""

import math

import numpy as np
import pytest

from abm.bargaining import (
    Change,
    Effects,
    PlatformResponse,
    Position,
    Z,
    accuracy_se,
    credible_loss,
    effective_n,
    flip_bargaining_power,
    flip_value_of_quality,
    nash_bargain,
    nash_product,
    normalised_leverage,
    rating_quality_se,
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


# --- the platform's resolution and its credible loss ---------------------------------


def _steps(dq, users_lost=0.0, quality=0.85, n_test=2000, users_on=350.0, booked=0.0):
    """A round's effects as the target sees them (price 0, so a user is worth v * q)."""
    dq = np.broadcast_to(np.asarray(dq, float), np.shape(dq) or (5,))
    lost = np.broadcast_to(np.asarray(users_lost, float), dq.shape)
    return [
        Effects(quality_change=float(d), twin_quality=quality + float(d), users=float(n),
                quality_se=accuracy_se(quality, n_test), users_on=users_on, booked=booked)
        for d, n in zip(dq, lost, strict=True)
    ]  # fmt: skip


def test_accuracy_se_is_the_binomial_standard_error():
    assert accuracy_se(0.8, 400) == pytest.approx(0.02)
    assert accuracy_se(1.0, 50) == 0.0
    assert math.isnan(accuracy_se(0.5, 0))


def test_rating_quality_se_matches_the_spread_of_resampled_test_sets():
    rng = np.random.default_rng(0)
    errors = rng.normal(0.0, 0.9, 800) + rng.standard_t(3, 800) * 0.3
    span = 4.0
    quality = 1.0 - np.sqrt(np.mean(errors**2)) / span
    se = rating_quality_se(quality, errors**2)
    resampled = [
        1.0 - np.sqrt(np.mean(rng.choice(errors, errors.size) ** 2)) / span for _ in range(2000)
    ]
    assert se == pytest.approx(np.std(resampled), rel=0.1)
    assert rating_quality_se(0.9, np.full(10, 0.25)) == 0.0


def test_effective_n_counts_a_persistent_effect_as_less_evidence():
    assert effective_n([1.0, -1.0, 1.0, -1.0, 1.0]) == pytest.approx(5.0)  # rho < 0: clipped
    assert effective_n([0.0, 0.0, 0.0, 0.0]) == 4.0  # no variation: nothing to correlate
    trend = effective_n([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    assert 1.0 <= trend < 6.0 * (1 - 0.5) / (1 + 0.5) + 1e-9  # rho = 0.5 here
    assert effective_n([1.0, 1.0, 1.0, 9.0, 9.0, 9.0]) < 3.0


def test_a_change_counts_only_beyond_its_resolution_signed():
    assert Change(0.010, 0.012).credible == 0.0
    assert Change(-0.010, 0.012).credible == 0.0
    assert Change(0.020, 0.012).credible == pytest.approx(0.008)
    assert Change(-0.020, 0.012).credible == pytest.approx(-0.008)
    # The held-out set is fixed: its error does not average away over steady steps.
    steady = Change.measure([0.02] * 20, se=0.008)
    assert steady.resolution == pytest.approx(Z * 0.008)
    assert steady.credible == pytest.approx(0.02 - Z * 0.008)
    assert Change.measure([0.05], se=0.0).credible == 0.0  # one step: no evidence of noise


def test_a_steady_quality_effect_within_the_test_sets_resolution_buys_nothing():
    # 0.006 every step, well under 1.645 x sqrt(0.85 x 0.15 / 2000) = 0.013: no credible
    # loss, though the steps agree perfectly (a t-bound over them would read 0.006).
    loss = credible_loss(_steps(0.006), n_users=500)
    assert loss.quality.credible == 0.0 and loss.at(10.0) == 0.0
    # The same effect measured on 50,000 held-out rows is credible.
    fine = credible_loss(_steps(0.006, n_test=50_000), n_users=500)
    assert fine.at(10.0) == pytest.approx(10.0 * 350 * (0.006 - Z * accuracy_se(0.85, 50_000)))


def test_users_leaving_beyond_the_markets_noise_count_at_what_they_would_pay():
    n_users, users_on = 500, 350.0
    se_users = math.sqrt(n_users * 0.7 * 0.3)  # a share of 0.7 over 500 choices
    loss = credible_loss(_steps(0.0, users_lost=30.0, users_on=users_on), n_users=n_users)
    assert loss.quality.credible == 0.0
    assert loss.users.credible == pytest.approx(30.0 - Z * se_users)
    assert loss.at(10.0) == pytest.approx((30.0 - Z * se_users) * 10.0 * 0.85)
    few = credible_loss(_steps(0.0, users_lost=3.0, users_on=users_on), n_users=n_users)
    assert few.at(10.0) == 0.0  # three users: within the noise of the platform's market


def test_booked_costs_count_exactly_and_the_loss_is_linear_in_value_of_quality():
    loss = credible_loss(_steps(0.03, users_lost=30.0, booked=2.5), n_users=500)
    assert loss.intercept == pytest.approx(2.5)  # price 0: only the books are fixed
    values = [loss.at(v) for v in (0.0, 1.0, 2.0, 10.0)]
    assert values[0] == pytest.approx(2.5)
    assert np.allclose(np.diff(values[:3]), loss.slope) and values[3] == pytest.approx(
        2.5 + 10 * loss.slope
    )


# --- each verdict's range ---------------------------------------------------------------


@pytest.mark.parametrize("power", [0.0, 0.3, 0.5, 0.9])
@pytest.mark.parametrize("cost", [-3.0, 0.0, 2.0])
@pytest.mark.parametrize("demand", [0.0, 1.0, 5.0])
def test_the_verdict_flips_exactly_at_flip_value_of_quality(power, cost, demand):
    loss = credible_loss(_steps(0.03, users_lost=30.0, booked=-4.0), n_users=500)

    def concedes(v):
        pos = _position(platform_loss=loss.at(v), member_cost=cost, demand=demand, power=power)
        return nash_bargain(pos).response is PlatformResponse.CONCEDE

    pos = _position(platform_loss=loss.at(10.0), member_cost=cost, demand=demand, power=power)
    flip = flip_value_of_quality(loss, pos)
    if math.isnan(flip):  # no value_of_quality >= 0 changes the verdict
        assert len({concedes(v) for v in np.linspace(0.0, 1000.0, 101)}) == 1
    else:
        assert not concedes(flip - 1e-6) and concedes(flip + 1e-6)  # the loss grows with v


@pytest.mark.parametrize("loss", [2.0, 8.0, 40.0])
@pytest.mark.parametrize("cost", [-30.0, -3.0, 0.0, 5.0])
@pytest.mark.parametrize("demand", [1.0, 5.0])
def test_the_verdict_flips_exactly_at_flip_bargaining_power(loss, cost, demand):
    def concedes(power):
        pos = _position(platform_loss=loss, member_cost=cost, demand=demand, power=power)
        return nash_bargain(pos).response is PlatformResponse.CONCEDE

    flip = flip_bargaining_power(_position(platform_loss=loss, member_cost=cost, demand=demand))
    if math.isnan(flip):
        assert len({concedes(b) for b in np.linspace(0.0, 1.0, 101)}) == 1
    else:
        below, above = concedes(max(flip - 1e-6, 0.0)), concedes(min(flip + 1e-6, 1.0))
        assert below != above


def test_no_rights_no_range_to_state():
    loss = credible_loss(_steps(0.05), n_users=500)
    pos = _position(platform_loss=loss.at(10.0), rights=False)
    assert math.isnan(flip_value_of_quality(loss, pos)) and math.isnan(flip_bargaining_power(pos))
