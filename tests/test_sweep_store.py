"""A sweep store that proves its rows, counts them before "complete", reruns lost runs;
designs too large to lay out are refused before anything is computed; `abm list` of
sweep files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from abm.cli import app
from abm.sweep import ExecutorKind, SweepStore, load_sweep, run_sweep
from abm.sweep import spec as sweep_spec
from tests.conftest import write_sweep_file

ROOT = Path(__file__).resolve().parents[1]


def write_sweep(folder: Path, **fields) -> Path:
    sweep = {
        "vary": {"collectives.strikers.size": [0.2, 0.6]},
        "replicates": 2,
        "seed": 5,
        "outcomes": ["final_leverage[strikers]", "final_quality[incumbent]"],
    }
    return write_sweep_file(folder, **{**sweep, **fields})


def sweep_cli(path: Path, out: Path, *extra: str):
    return CliRunner().invoke(
        app, ["sweep", str(path), "--out", str(out), "--executor", "serial", *extra]
    )


def one_line(res, *words: str) -> str:
    lines = res.stderr.strip().splitlines()
    assert res.exit_code == 2 and len(lines) == 1, res.output
    assert "Traceback" not in res.output and all(w in lines[0] for w in words), lines[0]
    return lines[0]


@pytest.fixture
def done(tmp_path) -> tuple[Path, Path]:
    """A completed tiny sweep: (sweep file, its folder)."""
    path = write_sweep(tmp_path)
    assert sweep_cli(path, tmp_path / "out").exit_code == 0
    return path, tmp_path / "out" / "tiny"


@pytest.mark.parametrize("statistics", [True, False], ids=["footer", "columns"])
def test_a_run_file_with_a_strangers_seed_is_refused_before_anything_runs(done, statistics):
    # Run files are proved from their footer's statistics, or their columns without them.
    path, folder = done
    run = folder / "runs" / "p0000001-r00000.parquet"
    row = pd.read_parquet(run)
    row["seed"] = 12345
    row.to_parquet(run, index=False, write_statistics=statistics)
    before = (folder / "results.parquet").read_bytes()
    res = sweep_cli(path, folder.parent)
    one_line(res, str(run), "seed:", "the design's seed of run p0000001-r00000", "got 12345")
    assert (folder / "results.parquet").read_bytes() == before


@pytest.mark.parametrize("tamper", ["copied", "two_rows", "outside"])
def test_duplicated_or_foreign_run_files_are_refused(done, tamper):
    path, folder = done
    runs = folder / "runs"
    first = runs / "p0000000-r00000.parquet"
    if tamper == "copied":  # another run's file under this run's name: a duplicate row
        bad = runs / "p0000001-r00000.parquet"
        shutil.copy(first, bad)
        words = ("run_id:", "the run named by the file (p0000001-r00000)")
    elif tamper == "two_rows":
        bad = first
        row = pd.read_parquet(first)
        pd.concat([row, row]).to_parquet(first, index=False)
        words = ("run_id:", "one row", "got 2")
    else:  # a point the design does not have
        bad = runs / "p0000009-r00000.parquet"
        row = pd.read_parquet(first).assign(run_id="p0000009-r00000", point=9)
        row.to_parquet(bad, index=False)
        words = ("run_id:", "a run of the design", "p0000009-r00000")
    one_line(sweep_cli(path, folder.parent), str(bad), *words)


def test_a_results_table_with_a_strangers_or_duplicated_row_is_refused(done):
    _, folder = done
    results = folder / "results.parquet"
    table = pd.read_parquet(results)
    pd.concat([table, table.iloc[[0]]]).to_parquet(results, index=False)
    res = CliRunner().invoke(app, ["figure", str(folder)])
    one_line(res, str(results), "run_id:", "each run once", "p0000000-r00000")
    table.assign(seed=table["seed"] + 1).to_parquet(results, index=False)
    one_line(CliRunner().invoke(app, ["figure", str(folder)]), str(results), "seed:")


def test_a_run_file_deleted_mid_sweep_is_rerun_and_rows_are_counted(tmp_path, monkeypatch):
    path = write_sweep(tmp_path)
    sweep = load_sweep(path)
    record = SweepStore.record
    seen = []

    def record_then_lose_the_first(self, run, outcomes):
        record(self, run, outcomes)
        seen.append(run.run_id)
        if len(seen) == sweep.n_runs:  # the last run lands; someone deletes the first
            (self.runs_dir / f"{seen[0]}.parquet").unlink()

    monkeypatch.setattr(SweepStore, "record", record_then_lose_the_first)
    report = run_sweep(sweep, tmp_path / "out", executor=ExecutorKind.SERIAL)
    assert seen.count("p0000000-r00000") == 2  # it was run again
    manifest = yaml.safe_load((report.folder / "manifest.yaml").read_text())
    assert len(pd.read_parquet(report.folder / "results.parquet")) == sweep.n_runs
    assert manifest["status"] == "complete" and manifest["finished"] == sweep.n_runs

    # A run file lost after completion is rerun on resume, and only that one.
    monkeypatch.setattr(SweepStore, "record", record)
    (report.folder / "runs" / "p0000001-r00001.parquet").unlink()
    res = sweep_cli(path, tmp_path / "out")
    assert res.exit_code == 0 and "4 of 4 runs (3 resumed, 0 failed)" in res.output


def test_status_counts_the_rows_it_holds():
    from abm.sweep import _status

    assert _status(8, 8, 0) == "complete"
    assert _status(8, 6, 2) == "complete with failures"
    assert _status(8, 7, 0) == "incomplete: 1 runs missing (rerun to resume)"


def test_a_huge_design_is_refused_by_its_size_before_any_point_is_made(tmp_path, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("points were made")

    monkeypatch.setattr(sweep_spec, "make_points", never)
    rng = {"low": 0.0, "high": 1.0, "num": 100_000}
    vary = {"collectives.strikers.size": rng, "population.threshold_mean": rng}
    res = sweep_cli(write_sweep(tmp_path, vary=vary), tmp_path / "out")
    one_line(res, "sweep.yaml: vary:", "at most 10,000,000 points", "10,000,000,000 points")
    # Within the point limit, but more than half the memory this machine allows.
    monkeypatch.setattr("abm.runner.memory_limit", lambda: 2**30)
    vary = {"collectives.strikers.size": {**rng, "num": 1000}, "population.threshold_mean":
            {**rng, "num": 1000}}  # fmt: skip
    res = sweep_cli(write_sweep(tmp_path, vary=vary), tmp_path / "out")
    one_line(res, "vary: a design that fits in memory", "1,000 x 1,000 = 1,000,000 points",
             "GiB")  # fmt: skip
    assert not (tmp_path / "out").exists()


def test_list_shows_sweep_files_as_sweeps():
    res = CliRunner().invoke(app, ["list", str(ROOT / "scenarios" / "sweeps")])
    assert res.exit_code == 0
    lines = {line.split()[0]: line for line in res.output.splitlines()}
    sweeps = [p.stem for p in (ROOT / "scenarios" / "sweeps").glob("*.yaml")
              if "vary" in yaml.safe_load(p.read_text())]  # fmt: skip
    assert len(sweeps) >= 8
    for name in sweeps:
        assert "sweep of" in lines[name] and "invalid" not in lines[name], lines[name]
    assert (
        "sweep of leverage_curve.yaml: collectives.collective.size x task.name, grid, "
        "20 points x 10 replicates = 200 runs" in lines["strike_curve"]
    )
    assert "sweep" not in lines["leverage_curve"]  # a base scenario stays a scenario
