"""Run folders: self-describing, never overwritten, never half-written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from abm.outputs import write_run
from abm.runner import simulate
from tests.conftest import STRIKE_ALL, small

ROOT = Path(__file__).resolve().parents[1]


def test_run_folder_contents(tmp_path):
    result = simulate(small(**STRIKE_ALL, steps=4))
    folder = write_run(result, tmp_path)
    names = {p.name for p in folder.iterdir()}
    assert {"scenario.yaml", "manifest.yaml", "model.parquet", "model.csv", "agents.parquet",
            "agents.csv", "outcomes.csv", "quality.svg", "market_share.svg",
            "participation.svg"} <= names  # fmt: skip
    manifest = yaml.safe_load((folder / "manifest.yaml").read_text())
    assert manifest["seed"] == 7 and manifest["abm_version"]
    assert manifest["started"] <= manifest["finished"]
    table = pd.read_parquet(folder / "model.parquet")
    pd.testing.assert_frame_equal(table, result.model_table)
    agents = pd.read_csv(folder / "agents.csv")
    assert len(agents) == 200 and "acting[all]" in agents
    # The resolved scenario reproduces the run.
    from abm.scenario import load_scenario

    again = simulate(load_scenario(folder / "scenario.yaml"))
    pd.testing.assert_frame_equal(again.model_table, result.model_table)


def test_runs_never_overwrite(tmp_path):
    result = simulate(small(steps=2))
    a, b = write_run(result, tmp_path), write_run(result, tmp_path)
    assert a != b and a.exists() and b.exists()


def test_failed_write_leaves_earlier_outputs_and_no_partial_folder(tmp_path):
    result = simulate(small(steps=2))
    first = write_run(result, tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())

    def broken(path):
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="kept in") as info:
        write_run(result, tmp_path, {"report.html": broken})
    kept = info.value.folder  # what was written before the failure, and said where
    assert kept.name.endswith(".failed") and (kept / "model.parquet").exists()
    after = sorted(p.name for p in tmp_path.iterdir() if p != kept)
    assert after == before and not list(tmp_path.glob(".partial-*"))
    assert (first / "model.parquet").exists()


def test_cli_run_and_python_m(tmp_path):
    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml.safe_dump(small(steps=3).model_dump(mode="json")))
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "abm", "run", str(scenario), "--seed", "3", "--steps", "2",
         "--out", str(out), "--set", "population.n_users=150"],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (folder,) = out.iterdir()
    manifest = yaml.safe_load((folder / "manifest.yaml").read_text())
    assert manifest["seed"] == 3 and manifest["steps"] == 2
    assert len(pd.read_csv(folder / "agents.csv")) == 150
    assert "<img" in (folder / "report.html").read_text()
    # Piped stderr (as under `make run`) gets plain progress lines, the last step included.
    assert "small: step 2/2 (" in proc.stderr
    assert "\x1b[" not in proc.stderr  # no terminal control codes in a log


def test_cli_bad_scenario_is_one_line_exit_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("population:\n  n_users: -5\n")
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "abm", "run", str(bad), "--out", str(out)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "bad.yaml" in lines[0] and "population.n_users" in lines[0]
    assert "Traceback" not in proc.stderr
    assert not out.exists()


def test_run_replicates_keeps_every_run_and_summarises(tmp_path):
    from typer.testing import CliRunner

    from abm.cli import app
    from abm.runner import spawn_seed

    scenario = tmp_path / "s.yaml"
    spec = small(steps=3, seed=5, **STRIKE_ALL).model_dump(mode="json")
    spec["population"]["n_users"] = 120
    scenario.write_text(yaml.safe_dump(spec))
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["run", str(scenario), "--replicates", "3", "--out", str(out)])
    assert res.exit_code == 0, res.output
    (folder,) = out.iterdir()
    seeds = [spawn_seed(5, r) for r in range(3)]  # paired with compare and sweeps
    manifest = yaml.safe_load((folder / "manifest.yaml").read_text())
    assert manifest["seeds"] == seeds and manifest["replicates"] == 3
    # The scenario's seed names the folder and is the root; no replicate runs with it.
    assert folder.name.endswith("-seed5-x3") and manifest["root_seed"] == 5
    assert 5 not in seeds and "SeedSequence(5)" in manifest["seeds_note"]
    assert yaml.safe_load((folder / "scenario.yaml").read_text())["seed"] == 5
    run0 = yaml.safe_load((folder / "runs" / f"seed{seeds[0]}" / "manifest.yaml").read_text())
    assert (run0["seed"], run0["root_seed"], run0["replicate"]) == (seeds[0], 5, 0)
    for s in seeds:
        assert (folder / "runs" / f"seed{s}" / "outcomes.csv").exists()
    summary = pd.read_csv(folder / "summary.csv")
    assert list(summary.columns) == ["outcome", "unit", "n", "mean", "low", "high"]
    row = summary.set_index("outcome").loc["quality_effect[all]"]
    values = [
        pd.read_csv(folder / "runs" / f"seed{s}" / "outcomes.csv", index_col=0).loc[
            "quality_effect[all]", "value"
        ]
        for s in seeds
    ]
    assert row["n"] == 3 and row["unit"] == "score"
    assert row["mean"] == pytest.approx(sum(values) / 3)
    assert row["low"] <= row["mean"] <= row["high"]
    page = (folder / "report.html").read_text()
    assert "95% interval" in page and "3 replicates of the scenario's seed 5" in page
    assert all(f"{r}: {seed}" in page for r, seed in enumerate(seeds))


def test_progress_lines_when_piped_are_throttled_and_end_at_the_last_step(capsys):
    from abm.runner import Progress

    with Progress(True, 4, "name", every=3600.0) as advance:  # pytest's stderr is no TTY
        for _ in range(4):
            advance()
    assert capsys.readouterr().err.splitlines() == ["name: step 4/4 (0 s)"]
    with Progress(True, 3, "name", every=0.0) as advance:
        for _ in range(3):
            advance()
    assert [line.split(" (")[0] for line in capsys.readouterr().err.splitlines()] == [
        "name: step 1/3", "name: step 2/3", "name: step 3/3"
    ]  # fmt: skip
    with Progress(True, 2, "data_strike", every=0.0, unit="seed") as advance:  # abm check
        advance()
    assert capsys.readouterr().err.startswith("data_strike: seed 1/2 (")
