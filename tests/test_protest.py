"""Protest repertoires in the model: each protester acts, and its data goes, by its tactic."""

from __future__ import annotations

import numpy as np

from abm.behaviour import NO_PLATFORM, Action, Tactic
from abm.model import LeverageModel
from abm.runner import simulate
from tests.conftest import small

PROTEST = {"name": "p", "target": "incumbent", "lever": "protest", "size": 1.0, "start": 1,
           "protest": {"grievance": 1.0, "relief": 0.4}}  # fmt: skip


def _protest(steps: int = 4, **population) -> LeverageModel:
    """Everyone is a member and moved at once; a low rationality lets every tactic occur."""
    pop = {"threshold_mean": 0.0, "threshold_sd": 0.0, "rationality": 2.0, **population}
    return LeverageModel(scenario=small(steps=steps, population=pop, collectives=[PROTEST]))


def test_each_protester_acts_and_sends_its_data_by_its_tactic():
    model = _protest()
    for _ in range(3):
        model.step()
    c, u = model.collectives[0], model.users
    acting = u.actor == c.index
    tactic = np.where(acting, c.tactic, Tactic.STAY)
    assert {Tactic.STOP, Tactic.WITHHOLD, Tactic.SWITCH} <= set(tactic[acting].tolist())
    stop, withhold, switch = (acting & (tactic == t) for t in
                              (Tactic.STOP, Tactic.WITHHOLD, Tactic.SWITCH))  # fmt: skip
    assert (u.platform[stop] == NO_PLATFORM).all() and (u.action[stop] == Action.BOYCOTT).all()
    assert (u.platform[withhold] == c.target).all()
    assert (u.action[withhold] == Action.WITHHOLD).all()
    assert (u.platform[switch] == 1).all() and (u.action[switch] == Action.CONTRIBUTE).all()
    assert not (acting & (c.tactic == Tactic.STAY)).any()  # staying is not protesting
    # This step's rows: none from stoppers or withholders; switchers' reach the challenger.
    incumbent, challenger = model.platforms
    fresh = incumbent.pool.contributor[incumbent.pool.step == model.t]
    assert not np.isin(fresh, np.flatnonzero(stop | withhold)).any()
    moved = challenger.pool.contributor[challenger.pool.step == model.t]
    assert np.isin(moved, np.flatnonzero(switch)).any()
    # The series: the tactics' shares of all users add up to the share protesting.
    shares = c.tactic_share[[Tactic.STOP, Tactic.WITHHOLD, Tactic.SWITCH]]
    assert np.isclose(shares.sum(), c.participation)
    np.testing.assert_allclose(shares, [stop.mean(), withhold.mean(), switch.mean()])


def test_ties_on_the_target_hold_protesters_back_from_leaving():
    """At the campaign's first step, before anyone has left (later, leavers pull ties out)."""

    def leaving(weight: float) -> float:
        model = _protest(network_weight=weight)
        model.step()
        model.step()  # the campaign starts at step 1
        c = model.collectives[0]
        return float(c.tactic_share[Tactic.STOP] + c.tactic_share[Tactic.SWITCH])

    assert leaving(0.0) > leaving(1.5)


def test_without_an_alternative_nobody_switches():
    spec = small(
        steps=4, population={"threshold_mean": 0.0, "threshold_sd": 0.0, "rationality": 2.0},
        platforms=[{"name": "incumbent", "initial_share": 1.0}], collectives=[PROTEST],
    )  # fmt: skip
    table = simulate(spec).model_table
    assert table["switching[p]"].max() == 0.0 and table["stopping[p]"].max() > 0.0


def test_a_protest_in_both_worlds_keeps_the_other_collectives_twin_exact():
    """Tastes are drawn once from the seed: the protest acts alike in a twin."""
    empty = {"name": "empty", "target": "incumbent", "lever": "strike", "size": 0.0}
    spec = small(
        steps=5, population={"threshold_mean": 0.0, "threshold_sd": 0.0, "rationality": 2.0},
        collectives=[empty, PROTEST], measurement={"valuation": False},
    )  # fmt: skip
    model = LeverageModel(scenario=spec)
    twin = model.twins[0]
    assert [c.off for c in twin.collectives] == [True, False]
    while model.running:
        model.step()
        assert np.array_equal(model.users.platform, twin.users.platform)
        assert np.array_equal(model.users.action, twin.users.action)
        assert [p.quality for p in model.platforms] == [p.quality for p in twin.platforms]
        e = model.collectives[0].effects
        assert (e.quality_change, e.share, e.users, e.revenue, e.member_cost) == (0, 0, 0, 0, 0)
    assert model.collectives[1].participation > 0
