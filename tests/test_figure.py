"""Sweep figures and summaries: short labels, intervals clipped only at declared bounds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from abm import intervals, metrics
from abm.runner import simulate
from abm.scenario import load_scenario
from abm.sweep import analysis, figure
from abm.sweep.analysis import bounds, clip_band, field_label, mean_ci, outcome_label, summarise

ROOT = Path(__file__).resolve().parents[1]


def test_labels_are_short_names_with_units() -> None:
    assert field_label("collectives.strikers.size") == "Size of strikers (share of users)"
    assert field_label("task.name") == "Task"  # not "Dataset: a bundled scikit-learn set, ..."
    assert field_label("population.threshold_mean") == "Threshold mean (share of peers)"
    assert field_label("network.mean_degree") == "Mean degree (neighbours)"
    assert field_label("platforms.incumbent.price") == "Price of incumbent (utility / step)"
    assert field_label("steps") == "Steps"  # the unit is the name: said once
    assert field_label("events.0.at") == "At of event 0 (step)"
    assert outcome_label("final_leverage[strikers]") == "Final leverage, strikers (share of gap)"
    assert outcome_label("data_received[incumbent]") == "Data received, incumbent (samples)"
    assert outcome_label("concession[union]") == "Concession, union (0/1)"


def test_signed_outcomes_are_open_and_bounded_ones_declare_their_range() -> None:
    for signed in ("final_leverage", "mean_leverage", "quality_effect", "revenue_effect",
                   "member_cost", "value", "lift", "quality_change", "mean_revenue"):  # fmt: skip
        assert bounds(f"{signed}[x]") == (None, None), signed
    assert bounds("peak_participation[s]") == (0.0, 1.0)
    assert bounds("share_change[incumbent]") == (-1.0, 1.0)
    assert bounds("share_effect[s]") == (-1.0, 1.0)
    assert bounds("data_received[incumbent]") == (0.0, None)
    assert bounds("final_quality[incumbent]") == (None, 1.0)
    assert bounds("not_an_outcome") == (None, None)


@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "scenarios").glob("*.yaml")))
def test_declared_bounds_hold_in_every_reference_scenario(name: str) -> None:
    # A bound is a promise the figure relies on: every outcome of a small run of each
    # reference scenario lies inside its declared range.
    overrides = ["population.n_users=150", "steps=16"]
    spec = load_scenario(ROOT / "scenarios" / f"{name}.yaml", overrides)
    for column, value in simulate(spec).outcomes.items():
        lo, hi = bounds(column)
        if np.isnan(value):  # undefined in this run (metrics.Outcome.empty says when)
            continue
        assert (lo is None or value >= lo) and (hi is None or value <= hi), (column, value)


def test_a_signed_outcome_keeps_its_whole_interval() -> None:
    # The case: leverage near zero, mean -0.0068; clipping at 0 drew the line
    # below its own band.
    values = np.array([-0.03, 0.01, -0.012, 0.0, 0.0])
    table = pd.DataFrame({"size": 0.15, "final_leverage[c]": values})
    row = mean_ci(table, "size", "final_leverage[c]").iloc[0]
    mean, low, high = intervals.mean_ci(values)
    assert row["mean"] == pytest.approx(-0.0064) and row["mean"] == pytest.approx(mean)
    assert (row["low"], row["high"]) == pytest.approx((low, high))
    assert row["low"] < row["mean"] < 0 < row["high"]


def test_a_bounded_outcome_is_clipped_at_its_bound_and_keeps_its_mean() -> None:
    rng = np.random.default_rng(0)
    sizes = np.repeat([0.1, 0.5, 0.9], 3)
    share = np.abs(rng.normal(0.01, 0.02, sizes.size))
    table = pd.DataFrame({"size": sizes, "peak_participation[s]": share})
    out = mean_ci(table, "size", "peak_participation[s]")
    raw = [intervals.mean_ci(share[sizes == s]) for s in (0.1, 0.5, 0.9)]
    assert any(lo < 0 for _, lo, _ in raw)  # the t interval crosses the bound
    assert (out["low"] >= 0).all() and (out["high"] <= 1).all()
    assert ((out["low"] <= out["mean"]) & (out["mean"] <= out["high"])).all()
    # A value outside a declared bound (a wrong declaration) widens the band to its
    # mean instead of hiding it.
    low, high = clip_band(np.array([1.2]), np.array([1.1]), np.array([1.3]), "final_share[p]")
    assert low[0] <= 1.2 <= high[0]


def test_summary_has_a_row_per_point_and_outcome_with_reasons_for_empty_intervals() -> None:
    design = pd.DataFrame({"point": [0, 1, 2], "collectives.s.size": [0.1, 0.5, 0.9]})
    table = pd.DataFrame(
        {
            "point": [0, 0, 0, 1],
            "final_leverage[s]": [0.1, -0.2, 0.05, 0.3],
            "final_share[p]": [0.5, 0.6, 0.55, 0.2],
        }
    )
    out = summarise(table, design, ["final_leverage[s]", "final_share[p]"])
    assert list(out.columns) == ["point", "collectives.s.size", *analysis.SUMMARY_COLUMNS]
    assert list(zip(out["point"], out["outcome"], strict=True)) == [
        (p, o) for p in (0, 1, 2) for o in ("final_leverage[s]", "final_share[p]")
    ]
    first = out.iloc[0]
    mean, low, high = intervals.mean_ci(np.array([0.1, -0.2, 0.05]))
    assert (first["n"], first["unit"]) == (3, "share of gap")
    assert (first["mean"], first["low"], first["high"]) == pytest.approx((mean, low, high))
    one = out[(out["point"] == 1)].iloc[0]
    assert one["n"] == 1 and np.isnan(one["low"]) and one["note"] == "one value: no interval"
    none = out[(out["point"] == 2)].iloc[0]
    assert none["n"] == 0 and np.isnan(none["mean"]) and none["note"] == "no finished run"


def test_undefined_values_are_left_out_and_the_note_says_why() -> None:
    design = pd.DataFrame({"point": [0, 1]})
    table = pd.DataFrame(
        {"point": [0, 0, 0, 1, 1], "final_leverage[s]": [0.1, np.nan, 0.3, np.nan, np.nan]}
    )
    out = summarise(table, design, ["final_leverage[s]"])
    first, second = out.iloc[0], out.iloc[1]
    assert first["n"] == 2 and first["mean"] == pytest.approx(0.2)
    assert first["note"].startswith("undefined in 1 of 3 runs (when the target's model")
    assert second["n"] == 0 and np.isnan(second["mean"]) and np.isnan(second["low"])
    assert second["note"].startswith("undefined in all 2 runs (when")


def test_title_counts_the_runs_it_averages_and_names_a_shrunk_sweep() -> None:
    table = pd.DataFrame({"point": [0, 0, 0, 1, 1, 1]})
    shrunk = {"name": "tiny-cli-0123abcd", "command_line": {"steps": 5, "set": ["seed=3"]}}
    assert figure._name(shrunk) == "tiny (--steps 5 --set seed=3)"
    assert figure._name({"name": "tiny", "command_line": {}}) == "tiny"
    assert figure.title("tiny", table, 0.95) == (
        "tiny\nmean and 95% CI, 6 runs (3 per point, 2 points)"
    )


def test_outcomes_declare_bounds_in_order() -> None:
    for o in metrics.OUTCOMES:
        lo, hi = o.bounds
        assert lo is None or hi is None or lo < hi, o.name
