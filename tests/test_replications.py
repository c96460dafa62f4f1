"""Replications: the fast mode reproduces every published finding and writes its report.

The fast mode runs once per session (module fixture) through the CLI into tmp_path, and
once more with ``--ablate`` (every mechanism switched off), where every check must fail;
the other tests read what they wrote. Bad replication files and bad options fail with one line
and exit code 2, writing nothing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from abm.cli import app
from abm.replications import REPLICATIONS, SUMMARY_COLUMNS, load_experiment, markdown_table
from abm.replications.report import REPLICATIONS_DIR
from abm.scenario import ScenarioError, load_scenario

EXPECTED = {
    "strike_curve", "cdc_curve", "strike_vs_cdc", "normalisation", "larger_is_robust",
    "group_strike", "signal_planting", "conflicting_collectives", "coordination_noise",
    "knn_shapley", "tmc_vs_knn", "sisa", "ai_substitute", "backdoor", "strike_plus_cdc",
    "size_vs_homogeneity", "protest_users", "two_collectives", "recsys_promotion",
    "protest_repertoire",
}  # fmt: skip


@pytest.fixture(scope="module")
def fast_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("rep") / "replications"
    result = CliRunner().invoke(app, ["replicate", "--fast", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def ablated_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("abl") / "replications"
    result = CliRunner().invoke(app, ["replicate", "--fast", "--ablate", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_summary_has_every_replication_and_the_columns(fast_run):
    summary = pd.read_csv(fast_run / "summary.csv")
    assert list(summary.columns[:6]) == [
        "name", "published", "obtained", "obtained_low", "obtained_high", "seeds"
    ]  # fmt: skip
    assert list(summary.columns) == SUMMARY_COLUMNS
    assert set(summary.name) == EXPECTED and len(summary) == len(EXPECTED)
    assert set(summary.check) <= {"quantitative", "directional"}
    assert summary[["published", "obtained", "tolerance", "mechanism"]].notna().all().all()
    assert not summary.ablated.any()


def test_every_obtained_number_has_an_interval_over_seeds(fast_run):
    summary = pd.read_csv(fast_run / "summary.csv")
    assert (summary.seeds >= 3).all(), summary[["name", "seeds"]].to_string()
    assert summary[["obtained_low", "obtained_high"]].notna().all().all()
    assert (summary.obtained_low <= summary.obtained_high).all()


def test_every_check_fails_with_its_mechanism_switched_off(fast_run, ablated_run):
    """A check that passes without its mechanism would not be testing it."""
    ablated = pd.read_csv(ablated_run / "summary.csv")
    assert list(ablated.columns) == SUMMARY_COLUMNS and set(ablated.name) == EXPECTED
    assert ablated.ablated.all()
    passing = ablated[ablated.passed.astype(bool)]
    assert passing.empty, passing[["name", "obtained", "tolerance"]].to_string()
    normal = pd.read_csv(fast_run / "summary.csv").set_index("name")
    # the ablated run names what it switched off, which differs from the mechanism tested
    assert (ablated.set_index("name").mechanism != normal.mechanism).all()


def test_every_figure_and_table_exists(fast_run):
    for name in EXPECTED:
        png = fast_run / f"{name}.png"
        assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (fast_run / f"{name}.csv").stat().st_size > 0
    report = (fast_run / "report.md").read_text()
    assert all(f"{name}.png" in report for name in EXPECTED)
    assert not [p for p in fast_run.parent.iterdir() if p.name.startswith(".")]  # no temp left


# Replications whose check the fast mode's few seeds cannot decide (the full mode can;
# docs/replications.md says why): their fast verdict is not asserted, only that the
# comparison was made (and, under --ablate, that it fails).
UNDECIDED_FAST: dict[str, str] = {
    "strike_plus_cdc": "the strike adds 0.007 of the gap to CDC; resolving it against the "
    "~0.02 seed-to-seed noise of two separately run campaigns takes ~64 paired seeds (the "
    "full mode's), the fast mode runs 4",
}


def test_every_replication_passes_in_fast_mode(fast_run):
    summary = pd.read_csv(fast_run / "summary.csv")
    failed = summary[~summary.passed.astype(bool) & ~summary.name.isin(list(UNDECIDED_FAST))]
    assert failed.empty, failed[["name", "obtained", "tolerance"]].to_string()


def test_cdc_curve_uses_the_papers_normalisation(fast_run):
    cdc = pd.read_csv(fast_run / "cdc_curve.csv").set_index("fraction")
    published = {0.05: 0.868, 0.2: 0.934, 0.5: 0.954}
    for f, value in published.items():
        assert abs(cdc.obtained[f] - value) <= 0.04  # the accuracy curve itself matches
    row = pd.read_csv(fast_run / "summary.csv").set_index("name").loc["cdc_curve"]
    assert row.obtained.startswith("normalised") and "worst and best" in row.published


def test_summary_numbers_are_real_comparisons(fast_run):
    """The obtained numbers come from the runs, not from the published values."""
    s = pd.read_csv(fast_run / "summary.csv").set_index("name")
    curve = pd.read_csv(fast_run / "strike_curve.csv")
    assert ((curve.low - 0.04 <= curve.published) & (curve.published <= curve.high + 0.04)).all()
    assert (curve.obtained - curve.published).abs().max() <= 0.06  # fast mode: 4 splits
    assert not (curve.obtained == curve.published).all()
    sisa = pd.read_csv(fast_run / "sisa.csv")
    assert sisa.shards_retrained.iloc[0] == pytest.approx(1.0, abs=0.05)  # one shard: all of it
    assert sisa.expected.iloc[-1] < sisa.shards[sisa.index[-1]] / 2  # K deletions, few shards
    assert "no parameter tuned" in s.loc["ai_substitute", "obtained"]
    two = pd.read_csv(fast_run / "two_collectives.csv")
    # Acting together costs each collective some, never all, of its solo efficacy.
    assert (two.together < two.solo).all() and (two.rival_together < two.rival_solo).all()
    assert (two.together > 0).all()


def test_same_seed_same_summary(fast_run, tmp_path):
    again = tmp_path / "again"
    result = CliRunner().invoke(
        app, ["replicate", "--fast", "--only", "knn_shapley", "--only", "sisa", "--out", str(again)]
    )
    assert result.exit_code == 0, result.output
    first = pd.read_csv(fast_run / "summary.csv").set_index("name")
    second = pd.read_csv(again / "summary.csv").set_index("name")
    assert list(second.index) == ["knn_shapley", "sisa"]
    pd.testing.assert_frame_equal(first.loc[second.index], second)


def test_every_replication_file_is_valid():
    for name, entry in REPLICATIONS.items():
        assert entry.name == name and entry.mechanism and entry.ablation
        path = REPLICATIONS_DIR / entry.file
        text = path.read_text()
        if "question:" in text:  # an agent-based scenario, runnable with `abm run`
            assert load_scenario(path).name == name
        else:
            exp = load_experiment(path)
            assert exp.name == name
            assert exp.reduced(True).splits <= exp.splits


def test_unknown_name_is_one_line_and_writes_nothing(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["replicate", "--only", "nope", "--out", str(out)])
    assert result.exit_code == 2
    assert "--only" in result.output and "nope" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("name: x\ntitle: t\npaper: p\ncheck: maybe\nfractions: [0.1]\npublished: {a: 1}\n"
         "tolerance: 0.1\n", "check"),
        ("name: x\ntitle: t\npaper: p\ncheck: directional\nfractions: [1.5]\n"
         "published: {a: 1}\ntolerance: 0.1\n", "fractions"),
        ("name: x\ntitle: t\npaper: p\ncheck: directional\nfractions: [0.1]\n"
         "published: {a: 1}\ntolerance: 0.1\nreplicats: 3\n", "replicats"),
        ("name: x\ntitle: t\npaper: p\ncheck: directional\nfractions: [0.1]\n"
         "tolerance: 0.1\n", "published"),
        ("- just a list\n", "(top level)"),
    ],
)  # fmt: skip
def test_bad_experiment_file_is_one_line(tmp_path, text, field):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as err:
        load_experiment(path)
    message = str(err.value)
    assert str(path) in message and field in message and "\n" not in message


def test_markdown_table_escapes_and_marks_failures():
    summary = pd.DataFrame(
        [["a", "x | y", "1", 0.5, 1.5, 3, "<= 2", True, "quantitative", False, "m"],
         ["b", "p", "q", 0.1, 0.2, 3, "r", False, "directional", False, "m"]],
        columns=SUMMARY_COLUMNS,
    )  # fmt: skip
    table = markdown_table(summary, figures="fig")
    assert "x \\| y" in table and "**fail**" in table and "[a](fig/a.png)" in table
    assert "[0.5, 1.5]" in table
    assert len(table.strip().splitlines()) == 4


def test_protest_users_orderings_come_from_the_cost_of_leaving(fast_run, ablated_run):
    """Both orderings hold with the cost of leaving and reverse without it."""
    on = pd.read_csv(fast_run / "protest_users.csv")
    off = pd.read_csv(ablated_run / "protest_users.csv")
    low, high = on.columns[2], on.columns[-1]  # seed, no_alternative, then weights ascending
    assert (on[low] > on[high]).mean() >= 0.75 and (on["0.5"] > on.no_alternative).all()
    assert off[high].mean() >= off[low].mean() and off.no_alternative.mean() > off["0.5"].mean()


def test_protest_repertoire_matches_the_survey_and_needs_the_ties(fast_run, ablated_run):
    """The share within the survey's interval and stop > withhold > switch; without ties
    weighed, about twice as many protest, most by stopping."""
    from abm.replications.protest import SURVEY_N, SURVEY_SHARE, wilson_interval

    low, high = wilson_interval(SURVEY_SHARE, SURVEY_N)
    on = pd.read_csv(fast_run / "protest_repertoire.csv")
    off = pd.read_csv(ablated_run / "protest_repertoire.csv")
    assert low < on.share.mean() < high
    assert on.stopping.mean() > on.withholding.mean() > on.switching.mean()
    np.testing.assert_allclose(on.stopping + on.withholding + on.switching, on.share)
    assert off.share.mean() > high and off.stopping.mean() > 2 * on.stopping.mean()


def test_the_survey_interval_is_wilsons():
    from scipy.stats import binomtest

    from abm.replications.protest import wilson_interval

    ci = binomtest(139, 463).proportion_ci(method="wilson")
    np.testing.assert_allclose(wilson_interval(139 / 463, 463), (ci.low, ci.high))


def test_list_shows_every_replication_with_its_title():
    result = CliRunner().invoke(app, ["list", str(REPLICATIONS_DIR)])
    assert result.exit_code == 0
    lines = result.output.strip().splitlines()
    assert len(lines) == len(REPLICATIONS)
    assert not any("(invalid" in line for line in lines)
    assert any("Data strike on breast_cancer" in line for line in lines)


def test_a_claim_placeholder_that_names_no_number_is_one_line(tmp_path: Path) -> None:
    text = (REPLICATIONS_DIR / "strike_curve.yaml").read_text()
    good = tmp_path / "good.yaml"
    good.write_text(text)
    assert "within 0.04 of" in load_experiment(good).stated(load_experiment(good).criterion)
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("within {tolerance}", "within {tolerance.__class__}"))
    literal = load_experiment(bad)  # no format mini-language: the text is data
    assert "{tolerance.__class__}" in literal.stated(literal.criterion)
    bad.write_text(text.replace("within {tolerance}", "within {nope}"))
    with pytest.raises(ScenarioError, match=r"bad\.yaml.*criterion.*names no param"):
        load_experiment(bad)
