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
            "agents.csv", "outcomes.csv", "quality.png", "market_share.png",
            "participation.png"} <= names  # fmt: skip
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
