"""``abm compare``: paired seeds, the sign of a strike's effect, ordered CIs, the folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from abm.cli import app
from abm.compare import compare, difference_table, replicate_seeds
from abm.intervals import mean_ci

A = """\
name: calm
seed: 3
steps: 8
population: {n_users: 150, samples_per_step: 1.0, threshold_mean: 0.0, threshold_sd: 0.0}

"""
B = """\
extends: calm.yaml
name: strike_all
collectives:
  - {name: everyone, target: incumbent, lever: strike, size: 1.0, start: 1}
"""


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("pair")
    (folder / "calm.yaml").write_text(A)
    (folder / "strike.yaml").write_text(B)
    return folder / "calm.yaml", folder / "strike.yaml"


@pytest.fixture(scope="module")
def comparison(pair):
    from abm.scenario import load_scenario

    return compare(load_scenario(pair[0]), load_scenario(pair[1]), replicates=3)


def test_seeds_are_spawned_from_one_root_and_distinct() -> None:
    seeds = replicate_seeds(11, 5)
    assert seeds == replicate_seeds(11, 5)
    assert len(set(seeds)) == 5
    assert seeds != replicate_seeds(12, 5)


def test_both_scenarios_run_on_the_same_seeds(comparison) -> None:
    runs = comparison.runs
    by = runs.groupby("scenario")["seed"].apply(lambda s: sorted(set(s)))
    assert by["A"] == by["B"] == sorted(comparison.seeds)
    assert comparison.seeds == replicate_seeds(3, 3)  # root: A's seed


def test_a_full_strike_lowers_the_targets_final_quality(comparison) -> None:
    row = comparison.table.set_index("outcome").loc["final_quality[incumbent]"]
    assert row["n"] == 3
    assert row["diff"] < 0
    assert row["mean_b"] < row["mean_a"]
    # Data received by the target falls too: the strikers' data never arrives.
    data = comparison.table.set_index("outcome").loc["data_received[incumbent]"]
    assert data["diff"] < 0


def test_ci_columns_are_ordered(comparison) -> None:
    t = comparison.table.dropna(subset=["ci_lo", "ci_hi"])
    assert len(t) > 5
    assert (t["ci_lo"] <= t["diff"] + 1e-12).all()
    assert (t["diff"] <= t["ci_hi"] + 1e-12).all()


def test_outcomes_only_in_b_are_kept_apart_with_their_mean(comparison) -> None:
    assert "peak_participation[everyone]" not in set(comparison.table["outcome"])
    assert (comparison.table["n"] > 0).all()  # no difference rows without a pair
    row = comparison.unpaired.set_index("outcome").loc["peak_participation[everyone]"]
    assert row["scenario"] == "B" and row["n"] == 3
    assert row["mean"] > 0.5


def test_figure_has_one_panel_per_unit_including_samples(comparison) -> None:
    from abm.compare import figure

    fig = figure(comparison)
    units = list(dict.fromkeys(comparison.table["unit"]))
    assert len(fig.axes) == len(units) and "samples" in units
    by_unit = {ax.get_xlabel(): [t.get_text() for t in ax.get_yticklabels()] for ax in fig.axes}
    assert "data_received[incumbent]" in by_unit["B - A (samples)"]
    assert "final_quality[incumbent]" in by_unit["B - A (score)"]
    assert "final_quality[incumbent]" not in by_unit["B - A (samples)"]


def test_html_report_states_the_clear_differences_and_reads_offline(comparison) -> None:
    from abm.compare import render_html

    page = render_html(comparison)
    assert page.startswith("<!doctype html>")
    assert "data:image/png;base64," in page
    assert "http://" not in page and "https://" not in page and "<script" not in page
    # The strike's clearest effect, samples received by the target, is stated in words.
    findings = page.split("Differences whose interval excludes zero")[1].split("<h2>")[0]
    assert "data_received[incumbent]</b> is" in findings and "lower in B" in findings


def test_mean_ci_matches_the_t_formula() -> None:
    d = np.array([1.0, 2.0, 4.0])
    mean, lo, hi = mean_ci(d)
    half = 4.302652729911275 * d.std(ddof=1) / np.sqrt(3)  # t_{0.975, 2}
    assert mean == pytest.approx(7 / 3)
    assert (lo, hi) == pytest.approx((mean - half, mean + half))
    assert np.isnan(mean_ci(np.array([1.0]))[1])


def test_difference_table_is_b_minus_a() -> None:
    runs = pd.DataFrame(
        [
            (r, r, s, "x[p]", v)
            for r, (a, b) in enumerate([(1, 3), (2, 5)])
            for s, v in (("A", a), ("B", b))
        ],
        columns=["replicate", "seed", "scenario", "outcome", "value"],
    )
    row = difference_table(runs).iloc[0]
    assert row["diff"] == pytest.approx(2.5)
    assert row["mean_a"] == pytest.approx(1.5) and row["mean_b"] == pytest.approx(4.0)


def test_cli_writes_a_new_folder_and_prints_the_table(pair, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["compare", str(pair[0]), str(pair[1]), "--replicates", "2", "--steps", "4"]
    result = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "final_quality[incumbent]" in result.stdout
    folders = list(out.iterdir())
    assert len(folders) == 1 and folders[0].name.startswith("compare-calm-vs-strike_all-")
    names = {p.name for p in folders[0].iterdir()}
    assert {"differences.csv", "runs.csv", "a.yaml", "b.yaml", "manifest.yaml"} <= names
    assert {"differences.png", "report.html", "unpaired.csv"} <= names
    table = pd.read_csv(folders[0] / "differences.csv")
    assert list(table.columns[:3]) == ["outcome", "unit", "n"]
    # A second comparison never overwrites the first.
    again = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert again.exit_code == 0
    assert len(list(out.iterdir())) == 2


@pytest.mark.parametrize("n", ["0", "1"])
def test_cli_refuses_fewer_than_two_replicates(pair, tmp_path: Path, n: str) -> None:
    # One seed has no interval: refused before anything runs, not empty interval columns.
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["compare", str(pair[0]), str(pair[1]), "--replicates", n, "--out", str(out)]
    )
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"abm: --replicates: at least 2 paired seeds (a 95% interval needs two), got {n}"
    ]
    assert not out.exists()


def test_set_b_changes_only_b(pair, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["compare", str(pair[1]), str(pair[1]), "--replicates", "2", "--steps", "4"]
    result = CliRunner().invoke(
        app, [*args, "--set-b", "collectives.everyone.size=0", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(next(out.iterdir()) / "differences.csv").set_index("outcome")
    # B's strike has no members, so the target receives more data than under A.
    assert table.loc["data_received[incumbent]", "diff"] > 0
    assert table.loc["peak_participation[everyone]", "mean_b"] == 0


def test_tables_are_identical_whatever_the_number_of_workers(pair, tmp_path: Path) -> None:
    # -j 1 runs in this process, -j 2 on a process pool whose runs finish in any order:
    # the seeds are put back in order, so every table is the same to the last bit.
    args = ["compare", str(pair[0]), str(pair[1]), "--replicates", "3", "--steps", "3"]
    tables = []
    for jobs in ("1", "2"):
        out = tmp_path / f"j{jobs}"
        result = CliRunner().invoke(app, [*args, "-j", jobs, "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert "strike_all vs calm: seed 3/3" in result.stderr  # progress per paired seed
        folder = next(out.iterdir())
        tables.append({n: pd.read_csv(folder / n) for n in ("differences.csv", "runs.csv")})
    for name in ("differences.csv", "runs.csv"):
        pd.testing.assert_frame_equal(tables[0][name], tables[1][name], check_exact=True)
    assert list(tables[1]["runs.csv"]["replicate"]) == sorted(tables[1]["runs.csv"]["replicate"])
