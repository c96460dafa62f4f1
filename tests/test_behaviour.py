"""Decision rules pinned with numbers."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from abm import behaviour
from abm.behaviour import NO_PLATFORM, Tactic


def test_neighbour_mean_on_a_path():
    # 0 - 1 - 2
    adj = sp.csr_array(np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], float))
    deg = np.asarray(adj.sum(axis=1)).ravel()
    share = behaviour.neighbour_mean(adj, deg, np.array([1.0, 0.0, 0.0]))
    np.testing.assert_allclose(share, [0.0, 0.5, 0.0])


def test_neighbour_share_counts_only_the_listed_rows():
    # 0 - 1 - 2 - 3, platforms 0, 1, none, 1
    adj = sp.csr_array(np.diag(np.ones(3), 1) + np.diag(np.ones(3), -1))
    deg = np.asarray(adj.sum(axis=1)).ravel()
    rows = np.array([2, 1])
    platform = np.array([0, 1, NO_PLATFORM, 1])
    share = behaviour.neighbour_share(adj, deg, rows, platform, 2)
    np.testing.assert_allclose(share, [[0.0, 1.0], [0.5, 0.0]])
    acting = np.array([True, False, False, True])
    np.testing.assert_allclose(behaviour.neighbour_share(adj, deg, rows, acting), [0.5, 0.5])
    full = behaviour.neighbour_mean(adj, deg, acting.astype(float))
    np.testing.assert_allclose(behaviour.neighbour_share(adj, deg, np.arange(4), acting), full)


def test_logit_choice_follows_utility_and_switching_cost():
    n = 20000
    utility = np.tile([1.0, 0.0], (n, 1))
    current = np.ones(n, int)  # everyone on platform 1 (worse)
    uniforms = np.random.default_rng(0).random(n)
    free = behaviour.choose_platform(
        utility, current, rationality=2.0, switching_cost=0.0, uniforms=uniforms
    )
    expected = np.exp(2.0) / (np.exp(2.0) + 1.0)
    assert abs((free == 0).mean() - expected) < 0.01
    sticky = behaviour.choose_platform(
        utility, current, rationality=2.0, switching_cost=1.0, uniforms=uniforms
    )
    assert abs((sticky == 0).mean() - 0.5) < 0.015  # cost exactly offsets the advantage
    newcomers = behaviour.choose_platform(
        utility, np.full(n, NO_PLATFORM), rationality=2.0, switching_cost=1.0, uniforms=uniforms
    )
    assert abs((newcomers == 0).mean() - expected) < 0.01  # no platform: nothing to leave


def test_threshold_rule_and_fatigue():
    member = np.array([True, True, True, False])
    pressure = np.array([0.5, 0.5, 0.1, 0.9])
    threshold = np.array([0.4, 0.4, 0.2, 0.0])
    was = np.array([True, False, False, False])
    draws = np.array([0.01, 0.01, 0.5, 0.5])
    acting = behaviour.will_act(member, pressure, threshold, was, draws, fatigue=0.05)
    assert acting.tolist() == [False, True, False, False]


def test_leaving_cost_is_ties_lost_minus_the_best_alternative():
    # Two users, three platforms; both leave platform 0.
    share = np.array([[0.8, 0.2, 0.0], [0.5, 0.5, 0.0]])
    quality, price = np.array([0.9, 0.3, 0.1]), np.zeros(3)
    utility = behaviour.platform_utility(quality, price, np.zeros((2, 3)), share, 1.0)
    cost = behaviour.leaving_cost(utility, share, 0, 1.0)
    # user 0: ties 0.8, best alternative 0.3 + 0.2 = 0.5; user 1: 0.5 - (0.3 + 0.5) < 0 -> 0
    np.testing.assert_allclose(cost, [0.3, 0.0])
    # No other platform: the alternative is no platform (utility 0), so the cost is the ties.
    alone = behaviour.leaving_cost(utility[:, :1], share[:, :1], 0, 1.0)
    np.testing.assert_allclose(alone, [0.8, 0.5])
    # Ties weigh more at a higher network weight.
    heavy = behaviour.platform_utility(quality, price, np.zeros((2, 3)), share, 3.0)
    assert behaviour.leaving_cost(heavy, share, 0, 3.0)[0] > cost[0]


def test_recruitment_needs_peers_above_threshold():
    member = np.array([True, False, False])
    joined = behaviour.recruit(
        member, np.array([0.0, 0.6, 0.1]), np.array([0.5, 0.5, 0.5]), np.zeros(3), 1.0
    )
    assert joined.tolist() == [True, True, False]
    assert behaviour.participation_pressure(np.array([1.0]), 0.0, 0.25)[0] == 0.75


def test_tactic_values_weigh_ties_grievance_and_the_alternative():
    # Two members, platforms 0 (target) and 1; member 0's neighbours are all on the
    # target, member 1's all on platform 1.
    share = np.array([[1.0, 0.0], [0.0, 1.0]])
    quality, price = np.array([0.8, 0.4]), np.zeros(2)
    utility = behaviour.platform_utility(quality, price, np.zeros((2, 2)), share, 0.5)
    values, alternative = behaviour.tactic_values(
        utility, 0, 1.0, relief=0.5, withhold_cost=0.2, switching_cost=0.3
    )
    # stay = u_target - G; withhold = stay + relief G - cost; switch = u_alt - cost; stop = 0
    np.testing.assert_allclose(values[0], [1.3 - 1.0, 0.3 + 0.5 - 0.2, 0.4 - 0.3, 0.0])
    np.testing.assert_allclose(values[1], [0.8 - 1.0, -0.2 + 0.5 - 0.2, 0.9 - 0.3, 0.0])
    assert alternative.tolist() == [1, 1]
    # Ties on the target favour staying and withholding; ties elsewhere, switching.
    assert values[0].argmax() == Tactic.WITHHOLD and values[1].argmax() == Tactic.SWITCH
    # A member-by-member grievance: more grievance, less value in staying, none in stopping.
    more, _ = behaviour.tactic_values(
        utility, 0, np.array([1.0, 2.0]), relief=0.5, withhold_cost=0.2, switching_cost=0.3
    )
    assert more[1, Tactic.STAY] == values[1, Tactic.STAY] - 1.0
    assert more[1, Tactic.STOP] == 0.0 and more[1, Tactic.SWITCH] == values[1, Tactic.SWITCH]
    # No other platform: switching is impossible and there is no alternative.
    alone, none = behaviour.tactic_values(
        utility[:, :1], 0, 1.0, relief=0.5, withhold_cost=0.2, switching_cost=0.3
    )
    assert np.isneginf(alone[:, Tactic.SWITCH]).all() and (none == NO_PLATFORM).all()


def test_tactic_choice_is_the_logit_of_the_values():
    n = 40000
    values = np.tile([0.2, 0.0, -np.inf, 0.1], (n, 1))
    taste = np.random.default_rng(1).random((n, 4))
    pick = behaviour.choose_tactic(values, 4.0, taste)
    expected = np.exp(4.0 * np.array([0.2, 0.0, 0.1]))
    expected /= expected.sum()
    got = np.bincount(pick, minlength=4) / n
    assert got[Tactic.SWITCH] == 0.0  # impossible options are never chosen
    np.testing.assert_allclose(got[[0, 1, 3]], expected, atol=0.01)
    # Rationality 0: uniform over the possible options.
    flat = np.bincount(behaviour.choose_tactic(values, 0.0, taste), minlength=4) / n
    np.testing.assert_allclose(flat[[0, 1, 3]], 1 / 3, atol=0.01)
    # The same tastes and values give the same choices; a higher value draws members
    # to an option and never away from it.
    again = behaviour.choose_tactic(values, 4.0, taste)
    assert (again == pick).all()
    raised = values.copy()
    raised[:, Tactic.STOP] += 0.1
    moved = behaviour.choose_tactic(raised, 4.0, taste)
    assert ((moved == Tactic.STOP) | (moved == pick)).all()
    assert (moved == Tactic.STOP).sum() > (pick == Tactic.STOP).sum()
