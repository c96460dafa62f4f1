"""Credible threats in running models: a platform bargains only on what it can measure.

The round's numbers are recomputed here from model.csv's series with the formula of
docs/model.md ("A credible loss"), so a round's step is model.csv's step and its loss is
what the documented bound gives. The statistical checks run on 3-4 seeds (fast) and
on 10 in the tests marked slow (about 20 s together).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from abm.model import LeverageModel
from abm.runner import RunResult, replicate_seeds, simulate
from abm.scenario import load_scenario, with_overrides
from tests.conftest import small

ROOT = Path(__file__).resolve().parents[1]
Z = 1.645


def _neff(x: np.ndarray) -> float:
    dev = x - x.mean()
    ss = float(dev @ dev)
    rho = float(dev[1:] @ dev[:-1]) / ss if ss > 0 else 0.0
    rho = min(max(rho, 0.0), 1 - 1e-9)
    return max(len(x) * (1 - rho) / (1 + rho), 1.0)


def _beyond(x: np.ndarray, se: float) -> float:
    h = Z * math.sqrt(se**2 + x.std(ddof=1) ** 2 / _neff(x))
    return math.copysign(max(abs(x.mean()) - h, 0.0), x.mean())


def documented_loss(result: RunResult, name: str, step: int, first: int) -> float:
    """The credible loss of the round over model.csv rows ``first..step`` (docs/model.md)."""
    s = result.scenario
    c = next(c for c in s.collectives if c.name == name)
    t = result.model_table.loc[first:step]
    n_users, n_test = s.population.n_users, s.task.stream.n_test
    q = t[f"quality[{c.target}]"].to_numpy()
    users = t[f"users[{c.target}]"].to_numpy()
    se_q = math.sqrt(np.mean(q * (1 - q) / n_test))
    share = users.mean() / n_users
    v = s.policy.value_of_quality
    quality = _beyond(t[f"quality_effect[{name}]"].to_numpy(), se_q)
    lost = t[f"share_effect[{name}]"].to_numpy() * n_users
    users_lost = _beyond(lost, math.sqrt(n_users * share * (1 - share)))
    twin_q = t[f"twin_quality[{name}]"].to_numpy().mean()
    price = next(p for p in s.platforms if p.name == c.target).price
    return v * users.mean() * quality + users_lost * (price + v * twin_q)  # nothing booked


def _rounds(result: RunResult, name: str) -> pd.DataFrame:
    """Each round with the first model.csv row it covers (after the last round, active)."""
    log = result.bargaining[result.bargaining.collective == name].copy()
    active = result.model_table[f"active[{name}]"]
    launched = int(active[active > 0].index[0])
    log["first"] = [launched, *[int(s) + 1 for s in log.step.iloc[:-1]]]
    return log


def _runs(path: str, seeds: int, **overrides) -> list[RunResult]:
    sc = with_overrides(load_scenario(ROOT / "scenarios" / path),
                        {"measurement.valuation": False, **overrides})  # fmt: skip
    return [simulate(sc, seed=seed) for seed in replicate_seeds(sc.seed, seeds)]


def _wins(results: list[RunResult], name: str) -> int:
    return sum(int(r.outcomes[f"concession[{name}]"]) for r in results)


# --- a round's numbers are model.csv's --------------------------------------------------


def test_a_rounds_loss_is_the_documented_bound_over_model_csvs_steps():
    result = _runs("union_dividend.yaml", 1, **{"collectives.union.size": 0.3})[0]
    rounds = _rounds(result, "union")
    assert len(rounds) >= 2
    for r in rounds.itertuples():
        rows = result.model_table.loc[r.first : r.step]
        # The round's mean effects are model.csv's over the rows the round closes.
        assert r.quality_effect == pytest.approx(rows["quality_effect[union]"].mean())
        assert r.platform_loss == pytest.approx(documented_loss(result, "union", r.step, r.first))


def test_the_loss_by_channel_adds_up_to_the_revenue_effect_every_step():
    # A price cut while targeted (booked) and users leaving (a boycott) and quality.
    sc = small(
        steps=10,
        population={"threshold_mean": 0.0, "threshold_sd": 0.0, "reconsider_rate": 0.3},
        platforms=[{"name": "incumbent", "initial_share": 0.6, "incentive": 0.2, "price": 0.1},
                   {"name": "challenger", "initial_share": 0.4}],
        collectives=[{"name": "b", "target": "incumbent", "lever": "boycott", "size": 0.4,
                      "start": 2}],
        measurement={"valuation": False},
    )  # fmt: skip
    model = LeverageModel(scenario=sc)
    v, booked = sc.policy.value_of_quality, []
    while model.running:
        model.step()
        e = model.collectives[0].effects
        channels = v * e.users_on * e.quality_change + e.users * (e.twin_price + v * e.twin_quality)
        assert channels + e.booked == pytest.approx(e.revenue, abs=1e-9)
        booked.append(e.booked)
    assert any(b > 0 for b in booked)  # the price cut is on the books: paid once, counted


# --- credible threats: noise wins nothing, real leverage still does ----------------------


def _tiny_union_wins(seeds: int) -> int:
    results = _runs("union_dividend.yaml", seeds, **{"collectives.union.size": 0.02})
    assert all(len(r.bargaining) for r in results)  # it did bargain, every seed
    return _wins(results, "union")


def _union_of_30_wins(seeds: int) -> int:
    return _wins(_runs("union_dividend.yaml", seeds, **{"collectives.union.size": 0.3}), "union")


def test_a_union_within_noise_wins_nothing_and_a_30_percent_union_wins():
    assert _tiny_union_wins(3) == 0
    assert _union_of_30_wins(3) >= 2


@pytest.mark.slow
def test_over_10_seeds_a_2_percent_union_wins_0_and_a_30_percent_union_at_least_8():
    assert _tiny_union_wins(10) == 0
    assert _union_of_30_wins(10) >= 8


def _cdc(seeds: int) -> list[RunResult]:
    c = "collectives.contributors"
    overrides = {"policy.bargaining_rights": True, f"{c}.size": 0.3, f"{c}.demand": 0.01}
    return _runs("cdc_challenger.yaml", seeds, **overrides)


def _cdc_sides(results: list[RunResult]) -> tuple[int, int]:
    """Rounds won, and rounds whose raw revenue effect met the demand but were not credible."""
    won = lost_in_noise = 0
    for result in results:
        for r in _rounds(result, "contributors").itertuples():
            bound = documented_loss(result, "contributors", r.step, r.first)
            assert r.platform_loss == pytest.approx(bound, abs=1e-9)
            raw = result.model_table.loc[r.first : r.step, "revenue_effect[contributors]"].mean()
            if r.response == "concede":
                assert bound >= r.demand  # the lower bound of its revenue effect exceeds it
                won += 1
            elif raw >= r.demand > bound:
                lost_in_noise += 1
    return won, lost_in_noise


def test_a_cdc_campaign_wins_only_where_its_revenue_effects_lower_bound_exceeds_its_demand():
    won, lost_in_noise = _cdc_sides(_cdc(4))
    assert won >= 1 and lost_in_noise >= 1  # both sides of the line


@pytest.mark.slow
def test_over_10_seeds_cdc_wins_only_beyond_noise():
    won, lost_in_noise = _cdc_sides(_cdc(10))
    assert won >= 1 and lost_in_noise >= 1


def test_a_campaign_lasts_by_what_it_measurably_does_not_by_what_the_platform_concedes():
    # Held out on 300 rows, no quality effect is credible: nothing is conceded, yet the
    # union's measured damage exceeds its members' cost, so it goes on to the end ...
    unseen = _runs("union_dividend.yaml", 1, **{"collectives.union.size": 0.3,
                   "task.stream.n_test": 300})[0]  # fmt: skip
    assert (unseen.bargaining.platform_loss == 0).all() and len(unseen.bargaining) >= 4
    assert unseen.model_table["active[union]"].iloc[-1] == 1
    # ... while a campaign that costs the platform nothing (quality earns it nothing, the
    # service is free) stops after `patience` refusals.
    futile = _runs("union_dividend.yaml", 1, **{"collectives.union.size": 0.3,
                   "policy.value_of_quality": 0.0})[0]  # fmt: skip
    assert len(futile.bargaining) == 3 and futile.model_table["active[union]"].iloc[-1] == 0
