"""Campaigns in the running model: bargaining outcomes, signals, recruitment, stop rules."""

from __future__ import annotations

from abm.model import LeverageModel
from abm.runner import simulate
from tests.conftest import small

EVERYONE_ACTS = {"threshold_mean": 0.0, "threshold_sd": 0.0, "reconsider_rate": 0.0}


def union(value_of_quality: float):
    return small(
        steps=12,
        population={**EVERYONE_ACTS, "n_users": 200, "samples_per_step": 1.0},
        platforms=[{"name": "incumbent", "initial_share": 1.0, "seed_data": 20}],
        collectives=[{"name": "u", "target": "incumbent", "size": 0.8, "start": 1, "demand": 0.01}],
        policy={"bargaining_rights": True, "bargaining_power": 0.5,
                "value_of_quality": value_of_quality},
    )  # fmt: skip


def test_leverage_above_cost_wins_a_concession_below_does_not():
    strong = simulate(union(value_of_quality=50.0))
    weak = simulate(union(value_of_quality=0.01))
    # Same seeds: the campaigns inflict the same measured leverage ...
    felt_strong = strong.bargaining[strong.bargaining.leverage > 0]
    felt_weak = weak.bargaining[weak.bargaining.leverage > 0]
    assert felt_strong.leverage.iloc[0] == felt_weak.leverage.iloc[0]
    # ... but only where the platform's loss exceeds the members' cost does it pay.
    first_strong, first_weak = felt_strong.iloc[0], felt_weak.iloc[0]
    assert first_strong.platform_loss > first_strong.member_cost
    assert first_weak.platform_loss < first_weak.member_cost
    assert strong.outcomes["concession[u]"] == 1.0 and strong.outcomes["dividend[u]"] > 0
    assert weak.outcomes["concession[u]"] == 0.0 and weak.outcomes["dividend[u]"] == 0
    assert set(weak.bargaining.response) == {"ignore"}
    # A concession ends the campaign: the strong union stops acting.
    assert strong.model_table["active[u]"].iloc[-1] == 0
    assert weak.model_table["active[u]"].iloc[-1] == 1


def test_without_bargaining_rights_nothing_is_won():
    sc = union(value_of_quality=50.0).model_copy(deep=True)
    sc.policy.bargaining_rights = False
    result = simulate(sc)
    assert result.outcomes["dividend[u]"] == 0 and len(result.bargaining) > 0


def signal_success(size: float, rare: bool) -> float:
    sc = small(
        seed=3,
        steps=8,
        task={"name": "digits"},
        population={**EVERYONE_ACTS, "n_users": 400, "samples_per_step": 1.0},
        platforms=[{"name": "incumbent", "initial_share": 1.0, "retrain": "full"}],
        collectives=[{"name": "s", "target": "incumbent", "lever": "plant_signal", "size": size,
                      "signal": {"target": 0, "n_features": 4, "rare": rare}}],
        measurement={"valuation": False},
    )  # fmt: skip
    return simulate(sc).model_table["signal_success[s]"].iloc[-1]


def test_planted_signal_has_a_critical_mass_and_rare_triggers_need_less():
    assert signal_success(0.002, rare=False) < 0.2
    assert signal_success(0.3, rare=False) > 0.8
    assert signal_success(0.002, rare=True) > signal_success(0.002, rare=False) + 0.5


def test_recruitment_spreads_over_the_network_and_grievance_speeds_it():
    def members(grievance: float) -> float:
        sc = small(
            steps=8,
            population={"grievance": grievance, "threshold_mean": 0.3, "threshold_sd": 0.1},
            collectives=[{"name": "c", "target": "incumbent", "size": 0.1, "recruit_rate": 0.5}],
        )
        model = LeverageModel(scenario=sc)
        start = model.users.member[:, 0].mean()
        while model.running:
            model.step()
        return start, model.users.member[:, 0].mean()

    start, calm = members(0.0)
    _, angry = members(0.2)
    assert calm > start
    assert angry > calm


def test_fatigue_erodes_a_campaign():
    def final_turnout(fatigue: float) -> float:
        sc = small(
            steps=10,
            population=EVERYONE_ACTS,
            collectives=[{"name": "c", "target": "incumbent", "size": 0.5, "fatigue": fatigue}],
        )
        return simulate(sc).model_table["members[c]"].iloc[-1]

    assert final_turnout(0.3) < final_turnout(0.0) - 0.1


def test_member_dividends_are_split_by_the_value_of_their_data():
    sc = union(value_of_quality=50.0)
    result = simulate(sc)
    agents = result.agent_table
    members = agents[agents["member[u]"]]
    assert result.outcomes["dividend[u]"] > 0
    assert abs(members.dividend.sum() - result.outcomes["dividend_total[u]"]) < 1e-6
    assert (agents.loc[~agents["member[u]"], "dividend"] == 0).all()
    # More valuable data earns a larger share.
    valued = members[members.data_value > 0]
    assert valued.dividend.corr(valued.data_value) > 0.99


def test_poisoners_data_is_valued_below_honest_data():
    sc = small(
        steps=6,
        population={**EVERYONE_ACTS, "n_users": 200, "samples_per_step": 2.0},
        platforms=[{"name": "incumbent", "initial_share": 1.0}],
        collectives=[{"name": "p", "target": "incumbent", "lever": "poison_labels",
                      "size": 0.2, "rate": 1.0}],
    )  # fmt: skip
    agents = simulate(sc).agent_table
    poisoners = agents[agents["acting[p]"]].data_value.mean()
    honest = agents[~agents["member[p]"]].data_value.mean()
    assert poisoners < 0 < honest
