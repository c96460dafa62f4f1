"""The poison filter as a countermeasure: its collateral against a twin with it off."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from abm.model import LeverageModel
from abm.runner import simulate
from abm.scenario import load_scenario, with_overrides

ROOT = Path(__file__).resolve().parents[1]
POISONING = load_scenario(ROOT / "scenarios" / "poisoning.yaml")


def poisoning(size: float, filtering: bool, **platform):
    updates = {"collectives.poisoners.size": size, "platforms.incumbent.filter_poison": filtering}
    updates |= {f"platforms.incumbent.{k}": v for k, v in platform.items()}
    return with_overrides(POISONING, updates)


@pytest.fixture(scope="module")
def runs():
    return {(size, f): simulate(poisoning(size, f)) for size in (0.0, 0.2) for f in (False, True)}


def _final(result) -> float:
    return result.outcomes["final_quality[incumbent]"]


def test_without_poisoners_the_filter_costs_at_most_a_point_and_says_so(runs):
    on, off = runs[0.0, True], runs[0.0, False]
    assert abs(_final(on) - _final(off)) <= 0.01
    cost = on.outcomes["filter_quality_cost[incumbent]"]
    assert cost == _final(off) - _final(on)  # its twin is the run without the filter
    assert on.outcomes["data_filtered[incumbent]"] < 0.02 * on.outcomes[
        "data_received[incumbent]"]  # fmt: skip
    assert "filter_quality_cost[incumbent]" not in off.outcomes


def test_with_a_fifth_poisoning_the_filter_leaves_quality_higher(runs):
    on, off = runs[0.2, True], runs[0.2, False]
    assert _final(on) > _final(off) + 0.02
    assert on.outcomes["filter_quality_cost[incumbent]"] == _final(off) - _final(on) < 0
    assert on.outcomes["data_filtered[incumbent]"] > 50


def test_the_unfiltered_twin_is_the_run_without_the_filter_step_by_step():
    model = LeverageModel(scenario=poisoning(0.2, True, filter_drop=0.05))
    twin = model.unfiltered[0]
    plain = LeverageModel(scenario=poisoning(0.2, False))
    assert twin.platforms[0].filter is None and model.platforms[0].filter is not None
    while model.running:
        model.step()
        plain.step()
        assert twin.platforms[0].quality == plain.platforms[0].quality
        assert np.array_equal(twin.users.platform, plain.users.platform)
        assert model.platforms[0].filter_quality_cost == (
            plain.platforms[0].quality - model.platforms[0].quality
        )
    assert model.platforms[0].filtered > 0


def test_a_filter_that_drops_nothing_costs_exactly_nothing():
    run = simulate(poisoning(0.2, True, filter_drop=0.0))
    assert run.outcomes["data_filtered[incumbent]"] == 0
    assert (run.model_table["filter_quality_cost[incumbent]"] == 0).all()
    assert run.outcomes["countermeasure_cost[incumbent]"] > 0  # it still paid to look
