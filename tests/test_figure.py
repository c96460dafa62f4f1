"""analysis/figure.py: labels from the schema and outcome declarations, clipped bands."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def fig_mod():
    spec = importlib.util.spec_from_file_location("figure_script", ROOT / "analysis" / "figure.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_labels_come_from_schema_and_outcome_declarations(fig_mod) -> None:
    assert fig_mod.field_label("collectives.strikers.size") == (
        "strikers: Initial share of users who are members"
    )
    assert fig_mod.field_label("population.threshold_mean") == (
        "Mean participation threshold (share of acting peers) (share of peers)"
    )
    assert fig_mod.outcome_label("final_leverage[strikers]") == (
        "Leverage at the last step, strikers (share of gap)"
    )
    assert fig_mod.outcome_label("data_received[incumbent]") == (
        "Samples routed to it over the run, incumbent (samples)"
    )


def test_valid_ranges_follow_the_unit(fig_mod) -> None:
    assert fig_mod.valid_range("peak_participation[s]") == (0.0, 1.0)
    assert fig_mod.valid_range("share_change[incumbent]") == (-1.0, 1.0)
    assert fig_mod.valid_range("data_received[incumbent]") == (0.0, None)
    assert fig_mod.valid_range("value[s]") == (None, None)  # Shapley values can be negative


def test_band_is_clipped_and_title_counts_runs(fig_mod, tmp_path, monkeypatch) -> None:
    # Three runs per point of a share near zero: the t interval would dip below 0.
    rng = np.random.default_rng(0)
    sizes = np.repeat([0.1, 0.5, 0.9], 3)
    table = pd.DataFrame(
        {
            "collectives.strikers.size": sizes,
            "peak_participation[strikers]": np.abs(rng.normal(0.01, 0.02, sizes.size)),
        }
    )
    manifest = {"name": "tiny", "factors": ["collectives.strikers.size"]}
    monkeypatch.setattr(fig_mod, "read_results", lambda folder: (table, manifest))
    out = fig_mod.draw(
        tmp_path, "collectives.strikers.size", "peak_participation[strikers]", None,
        tmp_path / "f.png",
    )  # fmt: skip
    plotted = pd.read_csv(out.with_suffix(".csv"))
    assert (plotted["low"] >= 0).all() and (plotted["high"] <= 1).all()
    unclipped = fig_mod.mean_ci(table, "collectives.strikers.size", "peak_participation[strikers]")
    assert (unclipped["low"] < 0).any()  # the clipping did something
    assert fig_mod.title("tiny", plotted, 0.95) == (
        "tiny: mean and 95% CI, 9 runs (3 per point, 3 points)"
    )
