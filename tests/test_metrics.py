from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from abm.bargaining import Effects
from abm.metrics import MEASURED, OUTCOMES, RANKED, SERIES, outcome_names, reference_markdown
from abm.runner import simulate
from abm.scenario import validate
from tests.conftest import small

ROOT = Path(__file__).resolve().parents[1]


def test_docs_outputs_md_is_generated_from_the_declarations() -> None:
    text = (ROOT / "docs" / "outputs.md").read_text()
    assert text == reference_markdown() + "\n", "regenerate with: abm outputs > docs/outputs.md"
    for d in (*SERIES, *OUTCOMES):
        assert f"| `{d.name}` | {d.per} | {d.unit} | {d.applies.label} |" in text


def test_an_outcome_exists_exactly_where_its_declaration_says() -> None:
    base = {
        "platforms": [{"name": "a"}, {"name": "b"}],
        "collectives": [{"name": "c", "target": "a", "lever": "strike", "size": 0.2}],
    }
    classification = validate(base, file="x.yaml")
    off = validate({**base, "measurement": {"twins": "off"}}, file="x.yaml")
    ratings = validate({**base, "task": {"name": "ratings"}}, file="x.yaml")
    assert "mean_leverage[c]" in outcome_names(classification)
    assert "mean_leverage[c]" not in outcome_names(off)
    assert "final_hit_rate[a]" in outcome_names(ratings)
    assert "final_hit_rate[a]" not in outcome_names(classification)
    assert RANKED(ratings, ratings.platforms[0]) and not RANKED(classification, None)
    assert MEASURED(classification, None) and not MEASURED(off, None)


# ------------------------------------------------- time basis, signs, absent series
OUTCOME = {o.name: o for o in OUTCOMES}


def _table(active: list[int], values: list[float], series: str = "leverage") -> pd.DataFrame:
    return pd.DataFrame({"active[c]": active, f"{series}[c]": values})


class _C:
    name = "c"

    def __init__(self, groups=()):
        self.effects = Effects(groups=np.asarray(groups, float))


def test_worst_group_effect_is_signed_and_empty_without_groups() -> None:
    worst = OUTCOME["worst_group_effect"].compute
    assert worst(None, _C([-0.03, -0.01, -0.02]), None) == -0.01  # every group gained
    assert worst(None, _C([-0.03, 0.05]), None) == 0.05
    assert np.isnan(worst(None, _C([]), None))


def test_an_undefined_series_gives_an_empty_outcome_not_zero() -> None:
    mean, last = OUTCOME["mean_leverage"].compute, OUTCOME["final_leverage"].compute
    undefined = _table([0, 1, 1], [np.nan, np.nan, np.nan])
    assert np.isnan(mean(None, _C(), undefined)) and np.isnan(last(None, _C(), undefined))
    assert OUTCOME["mean_leverage"].empty and OUTCOME["final_leverage"].empty
    # The last step's value, not an earlier defined one.
    assert np.isnan(last(None, _C(), _table([0, 1, 1], [np.nan, 0.4, np.nan])))
    # Defined at some of the steps it ran: the mean over those.
    assert mean(None, _C(), _table([0, 1, 1, 0], [9.0, 0.2, np.nan, 9.0])) == 0.2
    # Never ran: the twin is the real world, every effect exactly 0.
    assert mean(None, _C(), _table([0, 0], [np.nan, np.nan])) == 0.0


def test_collective_outcomes_are_per_step_and_totals_say_so() -> None:
    for o in OUTCOMES:
        if o.per == "collective" and o.unit in ("utility", "samples"):
            assert o.name.endswith("_total"), o.name  # a cumulative amount
        if o.name.endswith("_total"):
            assert f"{o.name.removesuffix('_total')}" in OUTCOME, o.name
            assert OUTCOME[o.name.removesuffix("_total")].unit == f"{o.unit} / step"


def _run(lever: str, twins: str = "per_collective", **collective):
    spec = small(
        steps=6,
        population={"n_users": 120, "threshold_mean": 0.0, "threshold_sd": 0.0},
        collectives=[{"name": "c", "target": "incumbent", "lever": lever, "size": 0.4,
                      "start": 1, "critical_mass": 0.0, **collective}],
        measurement={"twins": twins, "valuation": False},
    )  # fmt: skip
    return simulate(spec)


def test_series_that_do_not_exist_for_a_run_are_absent_from_model_csv() -> None:
    off = _run("plant_signal", twins="off")
    columns = set(off.model_table.columns)
    for name in ("twin_quality", "quality_effect", "leverage", "share_effect",
                 "revenue_effect", "member_cost", "lift", "natural_success"):  # fmt: skip
        assert f"{name}[c]" not in columns, name
    # The real world's own signal success needs no twin: measured, not NaN.
    assert off.model_table["signal_success[c]"].iloc[1:].notna().all()  # 0: before any step
    on = _run("plant_signal")
    assert {"quality_effect[c]", "natural_success[c]"} <= set(on.model_table.columns)
    assert "signal_success[c]" not in _run("strike").model_table.columns


def test_lift_exists_where_data_is_redirected_and_only_there() -> None:
    strike = _run("strike", redirect_to="challenger")  # names a platform, sends it nothing
    assert "lift[c]" not in strike.model_table.columns and "lift[c]" not in strike.outcomes
    cdc = _run("strike_cdc", redirect_to="challenger")
    assert np.isfinite(cdc.outcomes["lift[c]"])
    assert (cdc.model_table["lift[c]"] != 0).any()  # the challenger's model moved


def test_member_cost_per_step_times_steps_is_the_total() -> None:
    run = _run("boycott")
    active = int(run.model_table["active[c]"].sum())
    per_step, total = run.outcomes["member_cost[c]"], run.outcomes["member_cost_total[c]"]
    assert active == 5 and total > 0
    assert per_step * active == pytest.approx(total)  # the twin was the real world before


def test_signal_outcomes_are_net_of_chance_and_an_empty_planting_is_zero() -> None:
    planted = _run("plant_signal", signal={"target": 0, "n_features": 4, "rare": False})
    t = planted.model_table
    lift = t["signal_lift[c]"]
    assert np.allclose(lift.iloc[1:], (t["signal_success[c]"] - t["natural_success[c]"]).iloc[1:])
    o = planted.outcomes
    assert o["final_signal_lift[c]"] == pytest.approx(lift.iloc[-5:].mean())
    ran = t["active[c]"] > 0
    assert o["mean_signal_lift[c]"] == pytest.approx(lift[ran].mean())
    assert t["natural_success[c]"].iloc[1:].max() > 0  # chance is not zero...
    assert o["mean_signal_lift[c]"] < o["mean_signal_success[c]"]  # ...and is taken off
    empty = _run("plant_signal", size=0.0).outcomes
    assert empty["mean_signal_lift[c]"] == 0.0 and empty["final_signal_lift[c]"] == 0.0


def test_an_undefined_leverage_is_empty_in_outcomes_csv_and_the_report_says_why(tmp_path):
    from abm.outputs import write_run
    from abm.report import render

    # Nobody contributes and platforms start empty: no model beats the majority class.
    spec = small(
        steps=4,
        population={"n_users": 120, "samples_per_step": 0.0},
        platforms=[{"name": "incumbent", "seed_data": 0}, {"name": "challenger", "seed_data": 0}],
        collectives=[{"name": "c", "target": "incumbent", "lever": "strike", "size": 0.5}],
        measurement={"valuation": False},
    )
    run = simulate(spec)
    assert np.isnan(run.outcomes["mean_leverage[c]"])
    assert run.outcomes["quality_effect[c]"] == 0.0  # defined: nothing was taken
    folder = write_run(run, tmp_path)
    rows = (folder / "outcomes.csv").read_text().splitlines()
    assert "mean_leverage[c]," in rows  # an empty cell, not 0
    assert "never beat the naive baseline" in render(run)
