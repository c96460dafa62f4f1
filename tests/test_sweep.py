"""Sweeps: validation, designs and seeds, executors agree, failures, resume after SIGKILL,
refusing incompatible folders, and the two analysis scripts on tiny sweeps."""

from __future__ import annotations

import os
import runpy
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from abm.cli import app
from abm.scenario import ScenarioError
from abm.sweep import (
    ExecutorKind,
    Seeding,
    SweepStore,
    load_sweep,
    rerun_command,
    run_sweep,
    seed_for,
)
from abm.sweep.analysis import mean_ci, sobol_indices
from abm.sweep.executors import _windowed
from tests.conftest import TINY_SWEEP_BASE, write_sweep_file

ROOT = Path(__file__).resolve().parents[1]

# The shared tiny base, reading its data from a CSV whose second row fails a run.
BASE = TINY_SWEEP_BASE.replace(
    "task: {name: breast_cancer}",
    "task: {name: breast_cancer, path: broken.csv, label_column: nope}",
)
OUTCOMES = ["final_leverage[strikers]", "final_quality[incumbent]", "final_quality[challenger]"]


def write_sweep(folder: Path, **fields) -> Path:
    """A tiny base scenario and a sweep file over it (fields override the sweep's)."""
    # Its header passes the checks before a sweep; a cell that is no number fails the run.
    (folder / "broken.csv").write_text("a,nope\n1,0\nx,1\n")
    sweep = {
        "vary": {
            "collectives.strikers.size": [0.1, 0.6],
            "collectives.strikers.lever": ["strike", "strike_cdc"],
        },
        "replicates": 2,
        "seed": 11,
        "outcomes": OUTCOMES,
    }
    return write_sweep_file(folder, BASE, **{**sweep, **fields})


def results(folder: Path) -> pd.DataFrame:
    return pd.read_parquet(folder / "results.parquet")


# ------------------------------------------------------------------ validation

BAD = [
    (
        {"vary": {"collectives.strikers.sise": [0.1]}},
        "vary.collectives.strikers.sise",
        "no such field",
    ),
    ({"vary": {"populaton.n_users": [10]}}, "vary.populaton.n_users", "no such field"),
    ({"vary": {"collectives.strikers.size": [0.1, 1.5]}}, "vary.collectives.strikers.size", "<= 1"),
    (
        {"vary": {"task.name": {"low": 0, "high": 1}}, "design": "random", "samples": 4},
        "vary.task.name",
        "not a number",
    ),
    (
        {"vary": {"collectives.strikers.size": {"low": 0.1, "high": 0.5}}},
        "vary.collectives.strikers.size.num",
        "number of levels",
    ),
    ({"design": "sobol", "samples": 6}, "samples", "power of two"),
    ({"design": "latin_hypercube"}, "samples", "number of samples"),
    ({"design": "factorial"}, "design", "grid"),
    (
        {"outcomes": ["final_leverage[strikerz]"]},
        "outcomes[0]",
        "did you mean 'final_leverage[strikers]'",
    ),
    ({"replicates": 0}, "replicates", ">= 1"),
    ({"base": "missing.yaml"}, "base", "existing scenario file"),
    (
        {"vary": {"collectives.strikers.size": 0.3}},
        "vary.collectives.strikers.size",
        "list of levels",
    ),
    ({"varry": {}}, "varry", "no such field"),
]


@pytest.mark.parametrize(("fields", "field", "words"), BAD, ids=[b[1] for b in BAD])
def test_bad_sweep_file_is_one_line_exit_2_and_writes_nothing(tmp_path, fields, field, words):
    path = write_sweep(tmp_path, **fields)
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["sweep", str(path), "--out", str(out), "--executor", "serial"])
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert str(path) in lines[0] and f": {field}:" in lines[0] and words in lines[0], lines[0]
    assert not out.exists()


# ------------------------------------------------------------------ designs and seeds


def test_replicate_seeds_are_spawned_children_of_the_root():
    children = np.random.SeedSequence(5).spawn(3)
    for r, child in enumerate(children):
        hi, lo = child.generate_state(2, np.uint32)
        expected = ((int(hi) << 32) | int(lo)) & (2**63 - 1)
        assert seed_for(5, point=0, replicate=r, seeding=Seeding.COMMON) == expected
        assert seed_for(5, point=9, replicate=r, seeding=Seeding.COMMON) == expected
    independent = {seed_for(5, p, r, Seeding.INDEPENDENT) for p in range(20) for r in range(3)}
    assert len(independent) == 60
    assert seed_for(6, 0, 0, Seeding.COMMON) != seed_for(5, 0, 0, Seeding.COMMON)


def test_designs(tmp_path):
    grid = load_sweep(write_sweep(tmp_path))
    assert grid.points == [
        {"collectives.strikers.size": s, "collectives.strikers.lever": lev}
        for s in (0.1, 0.6)
        for lev in ("strike", "strike_cdc")
    ]
    ranged = load_sweep(
        write_sweep(
            tmp_path, vary={"collectives.strikers.size": {"low": 0.05, "high": 0.95, "num": 10}}
        )
    )
    assert [p["collectives.strikers.size"] for p in ranged.points] == pytest.approx(
        np.linspace(0.05, 0.95, 10)
    )
    vary = {
        "collectives.strikers.size": {"low": 0.1, "high": 0.9},
        "population.n_users": {"low": 50, "high": 150},
        "task.name": ["breast_cancer", "digits"],
    }
    lhs = load_sweep(write_sweep(tmp_path, vary=vary, design="latin_hypercube", samples=8))
    sizes = np.array([p["collectives.strikers.size"] for p in lhs.points])
    # one point in each of the 8 strata of the range
    assert sorted(np.floor((sizes - 0.1) / 0.8 * 8).astype(int)) == list(range(8))
    users = [p["population.n_users"] for p in lhs.points]
    assert all(isinstance(u, int) and 50 <= u <= 150 for u in users)
    assert {p["task.name"] for p in lhs.points} == {"breast_cancer", "digits"}
    again = load_sweep(write_sweep(tmp_path, vary=vary, design="latin_hypercube", samples=8))
    assert again.points == lhs.points
    other = load_sweep(
        write_sweep(tmp_path, vary=vary, design="latin_hypercube", samples=8, seed=12)
    )
    assert other.points != lhs.points
    rnd = load_sweep(write_sweep(tmp_path, vary=vary, design="random", samples=5))
    assert len(rnd.points) == 5
    sobol = load_sweep(write_sweep(tmp_path, vary=vary, design="sobol", samples=4))
    assert len(sobol.points) == 4 * (3 + 2)  # Saltelli without second order: N (D + 2)


def test_window_bounds_runs_in_flight():
    class Done:
        def __init__(self, value):
            self.value = value

        def result(self):
            return self.value

    in_flight, peak = set(), [0]

    def submit(fn, task):
        f = Done(task)
        in_flight.add(f)
        peak[0] = max(peak[0], len(in_flight))
        return f

    def wait_some(pending):
        f = min(pending, key=lambda x: x.value)
        in_flight.discard(f)
        return {f}, pending - {f}

    out = list(_windowed(iter(range(1000)), 4, submit, wait_some))
    assert sorted(out) == list(range(1000)) and peak[0] == 4


# ------------------------------------------------------------------ running


def test_executors_agree_failures_are_recorded_and_a_row_reruns_alone(tmp_path):
    vary = {"collectives.strikers.size": [0.1, 0.6], "task.name": ["breast_cancer", "csv"]}
    sweep = load_sweep(write_sweep(tmp_path, vary=vary))
    tables = {}
    for kind, jobs in ((ExecutorKind.SERIAL, 1), (ExecutorKind.LOCAL, 2), (ExecutorKind.DASK, 2)):
        report = run_sweep(sweep, tmp_path / kind.value, executor=kind, jobs=jobs)
        assert (report.total, report.done, report.failed) == (8, 4, 4)
        tables[kind] = results(report.folder)
        failures = pd.read_csv(report.folder / "failures.csv")
        assert len(failures) == 4 and set(failures["task.name"]) == {"csv"}
        assert failures["error"].str.contains("numbers in the feature columns").all()
    serial = tables[ExecutorKind.SERIAL]
    assert list(serial.columns) == ["run_id", "point", "replicate", "seed", *vary, *OUTCOMES]
    assert serial["run_id"].is_monotonic_increasing and len(serial) == 4
    pd.testing.assert_frame_equal(tables[ExecutorKind.LOCAL], serial)
    pd.testing.assert_frame_equal(tables[ExecutorKind.DASK], serial)
    # replicates differ, and common random numbers share seeds across points
    assert serial.groupby("replicate")["seed"].nunique().eq(1).all()
    assert serial["seed"].nunique() == 2

    # any row reruns alone through `abm run` and gives the same outcomes
    row = serial.iloc[3].to_dict()
    cmd = rerun_command(sweep, row).split()
    assert cmd[:2] == ["abm", "run"]
    res = CliRunner().invoke(app, [*cmd[1:], "--out", str(tmp_path / "single"), "--no-report"])
    assert res.exit_code == 0, res.output
    (single,) = (tmp_path / "single").iterdir()
    rerun = pd.read_csv(single / "outcomes.csv", index_col=0)["value"]
    for name in OUTCOMES:
        assert rerun[name] == pytest.approx(row[name], rel=1e-12, nan_ok=True)


def test_dask_workers_run_without_dasks_malloc_trim_threshold():
    # Dask sets MALLOC_TRIM_THRESHOLD_ in the workers it spawns, which turns off glibc's
    # adaptive mmap threshold: every large temporary array of a step is then mapped and
    # unmapped afresh, and a run took 1.4-1.7x as long as in a local pool's worker.
    from abm.scenario import validate
    from abm.sweep.executors import ExecutorKind, RunSpec, Task, execute

    def trims(scenario, seed, steps):
        import os

        return {"trim": float("MALLOC_TRIM_THRESHOLD_" in os.environ), "pid": float(os.getpid())}

    base = validate(yaml.safe_load(TINY_SWEEP_BASE), file="<test>")
    task = Task(RunSpec("r0", 0, 0, 1, {}), base, 1, measure=trims)
    (reply,) = execute([task], ExecutorKind.DASK, 1)
    assert reply.error is None and reply.outcomes["trim"] == 0.0
    assert reply.outcomes["pid"] != os.getpid()  # it ran in a worker process


def test_failed_runs_exit_1_via_cli_and_a_rerun_retries_only_them(tmp_path):
    path = write_sweep(tmp_path, vary={"task.name": ["breast_cancer", "csv"]}, replicates=1)
    out = tmp_path / "out"
    args = ["sweep", str(path), "--out", str(out), "--executor", "serial"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 1 and "1 runs failed" in res.stderr
    folder = out / "tiny"
    manifest = yaml.safe_load((folder / "manifest.yaml").read_text())
    assert manifest["failed"] == 1 and manifest["runs"] == 2
    before = (folder / "runs" / "p0000000-r00000.parquet").stat().st_mtime_ns
    res = CliRunner().invoke(app, args)
    assert "1 of 2 runs (1 resumed, 1 failed)" in res.output
    assert (folder / "runs" / "p0000000-r00000.parquet").stat().st_mtime_ns == before


def test_sigkill_midway_loses_no_finished_run_and_resume_equals_uninterrupted(tmp_path):
    vary = {
        "collectives.strikers.size": [0.1, 0.3, 0.5, 0.7, 0.9],
        "collectives.strikers.lever": ["strike", "strike_cdc"],
    }
    path = write_sweep(tmp_path, vary=vary, replicates=3, steps=5)
    total = 30
    killed_out, clean_out = tmp_path / "killed", tmp_path / "clean"
    cmd = [sys.executable, "-m", "abm", "sweep", str(path), "-j", "1", "--out", str(killed_out)]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    runs = killed_out / "tiny" / "runs"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(runs.glob("p*.parquet"))) < 3:
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    survived = sorted(p.name for p in runs.glob("p*.parquet"))
    assert 3 <= len(survived) < total, "the sweep must be interrupted midway"
    assert not (killed_out / "tiny" / "results.parquet").exists()
    for name in survived:  # every file present is a complete run
        assert len(pd.read_parquet(runs / name)) == 1

    sweep = load_sweep(path)
    resumed = run_sweep(sweep, killed_out, executor=ExecutorKind.SERIAL)
    assert resumed.skipped == len(survived) and resumed.done == total
    clean = run_sweep(sweep, clean_out, executor=ExecutorKind.SERIAL)
    pd.testing.assert_frame_equal(results(resumed.folder), results(clean.folder))
    assert (resumed.folder / "results.csv").read_bytes() == (
        clean.folder / "results.csv"
    ).read_bytes()
    assert not list(runs.glob(".*"))  # no temporary files left behind


def test_incompatible_change_is_refused_compatible_ones_resume(tmp_path):
    path = write_sweep(tmp_path, vary={"collectives.strikers.size": [0.2]}, replicates=1)
    out = tmp_path / "out"
    args = ["sweep", str(path), "--out", str(out), "--executor", "serial"]
    assert CliRunner().invoke(app, args).exit_code == 0
    folder = out / "tiny"
    first = (folder / "runs" / "p0000000-r00000.parquet").stat().st_mtime_ns
    manifest = (folder / "manifest.yaml").read_text()

    write_sweep(tmp_path, vary={"collectives.strikers.size": [0.4]}, replicates=1)
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2
    assert (
        "sweep.vary.collectives.strikers.size" in res.stderr and "remove that folder" in res.stderr
    )
    assert len(res.stderr.strip().splitlines()) == 1
    assert (folder / "manifest.yaml").read_text() == manifest

    # more replicates and other outcomes: the finished run is kept, one is added
    write_sweep(
        tmp_path,
        vary={"collectives.strikers.size": [0.2]},
        replicates=2,
        outcomes=["final_share[incumbent]"],
    )
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0 and "2 of 2 runs (1 resumed, 0 failed)" in res.output
    assert (folder / "runs" / "p0000000-r00000.parquet").stat().st_mtime_ns == first
    assert list(results(folder).columns)[-1] == "final_share[incumbent]"


def test_a_folder_in_use_is_refused(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path, replicates=1))
    holder = SweepStore(sweep, tmp_path / "out")
    holder.open()
    try:
        with pytest.raises(ValueError, match="no other sweep is writing"):
            run_sweep(sweep, tmp_path / "out", executor=ExecutorKind.SERIAL)
    finally:
        holder.close()


# ------------------------------------------------------------------ analysis


def test_mean_ci_is_the_student_t_interval():
    table = pd.DataFrame(
        {"x": [1, 1, 1, 2, 2, 2], "h": ["a"] * 6, "y": [1.0, 2.0, 3.0, 5.0, 5.0, np.nan]}
    )
    out = mean_ci(table, "x", "y", "h")
    first = out.iloc[0]
    assert first["mean"] == 2.0 and first["n"] == 3
    assert first["high"] - 2.0 == pytest.approx(4.302652729911275 * 1.0 / np.sqrt(3))
    assert out.iloc[1]["mean"] == 5.0 and out.iloc[1]["n"] == 2 and out.iloc[1]["low"] == 5.0


def test_sobol_indices_recover_a_known_function(tmp_path):
    vary = {
        "collectives.strikers.size": {"low": 0.0, "high": 1.0},
        "population.threshold_mean": {"low": 0.0, "high": 1.0},
    }
    path = write_sweep(tmp_path, vary=vary, design="sobol", samples=256, replicates=1)
    sweep = load_sweep(path)
    store = SweepStore(sweep, tmp_path / "out")
    x = pd.DataFrame(sweep.points)
    table = pd.DataFrame(
        {
            "point": range(len(x)),
            "y": 5 * x["collectives.strikers.size"] + 0.5 * x["population.threshold_mean"],
        }
    )
    idx = sobol_indices(table, store.manifest(), "y").set_index("parameter")
    assert idx.loc["collectives.strikers.size", "S1"] == pytest.approx(0.99, abs=0.05)
    assert idx.loc["population.threshold_mean", "ST"] == pytest.approx(0.01, abs=0.03)


def test_figure_flags_and_the_sensitivity_script_on_tiny_sweeps(tmp_path, capsys):
    grid = write_sweep(
        tmp_path,
        vary={
            "collectives.strikers.size": [0.2, 0.8],
            "collectives.strikers.lever": ["strike", "strike_cdc"],
        },
    )
    report = run_sweep(load_sweep(grid), tmp_path / "out", executor=ExecutorKind.SERIAL)
    png = tmp_path / "fig" / "curve.png"
    args = ["figure", str(report.folder), "--x", "collectives.strikers.size",
            "--y", "final_quality[incumbent]", "--hue", "collectives.strikers.lever",
            "--out", str(png)]  # fmt: skip
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert png.stat().st_size > 5000
    plotted = pd.read_csv(png.with_suffix(".csv"))
    table = results(report.folder)
    expected = (
        table.groupby(["collectives.strikers.lever", "collectives.strikers.size"])[
            "final_quality[incumbent]"
        ]
        .mean()
        .to_numpy()
    )
    assert plotted["mean"].to_numpy() == pytest.approx(expected)
    assert (plotted["n"] == 2).all() and (plotted["low"] <= plotted["high"]).all()
    for flag, value, words in (
        ("--x", "seed", "--x: a varied field"),
        ("--y", "final_quality[nobody]", "--y: an outcome of the sweep"),
        ("--out", str(tmp_path / "f.docx"), "--out: a figure file"),
    ):
        res = CliRunner().invoke(app, ["figure", str(report.folder), flag, value])
        assert res.exit_code == 2 and words in res.stderr, res.output
        assert len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "f.docx").exists()

    sobol = tmp_path / "sobol"
    sobol.mkdir()
    vary = {
        "collectives.strikers.size": {"low": 0.05, "high": 0.95},
        "population.samples_per_step": {"low": 0.5, "high": 2.0},
    }
    path = write_sweep(sobol, vary=vary, design="sobol", samples=4, replicates=1, name="sens")
    done = run_sweep(load_sweep(path), sobol / "out", executor=ExecutorKind.SERIAL)
    assert done.done == 16
    sens = runpy.run_path(str(ROOT / "analysis" / "sensitivity.py"))
    csv = tmp_path / "sens" / "indices.csv"
    args = [str(done.folder), "--outcome", "final_quality[incumbent]", "--out", str(csv)]
    assert sens["main"](args) == 0
    indices = pd.read_csv(csv)
    assert list(indices["parameter"]) == list(vary)
    assert np.isfinite(indices[["S1", "ST"]].to_numpy()).all()
    assert csv.with_suffix(".png").stat().st_size > 5000
    assert (
        sens["main"](
            [
                str(report.folder),
                "--outcome",
                "final_quality[incumbent]",
                "--out",
                str(tmp_path / "no.csv"),
            ]
        )
        == 2
    )


@pytest.mark.parametrize("name", ["strike_curve", "cdc_curve", "leverage_sensitivity"])
def test_example_sweep_files_are_valid(name):
    sweep = load_sweep(ROOT / "scenarios" / "sweeps" / f"{name}.yaml")
    assert sweep.n_runs >= 200
    sizes = {p.get("collectives.collective.size") for p in sweep.points}
    assert min(sizes) == pytest.approx(0.05, abs=0.02) and max(sizes) == pytest.approx(
        0.95, abs=0.02
    )


def test_command_line_shrinks_a_sweep_and_is_recorded(tmp_path):
    path = write_sweep(tmp_path, vary={"collectives.strikers.size": [0.2, 0.4]}, replicates=3)
    out = tmp_path / "out"
    args = ["sweep", str(path), "--out", str(out), "--executor", "serial"]
    small = [*args, "--replicates", "1", "--steps", "2", "--set", "population.n_users=60"]
    res = CliRunner().invoke(app, small)
    assert res.exit_code == 0, res.output
    assert "2 of 2 runs" in res.output
    (folder,) = out.iterdir()
    assert folder.name.startswith("tiny-cli-")  # a different sweep from the file's own
    manifest = yaml.safe_load((folder / "manifest.yaml").read_text())
    assert manifest["command_line"] == {
        "replicates": 1, "steps": 2, "set": ["population.n_users=60"]
    }  # fmt: skip
    assert manifest["steps"] == 2 and manifest["replicates"] == 1
    assert manifest["identity"]["base_scenario"]["population"]["n_users"] == 60
    shrunk = load_sweep(path, replicates=1, steps=2, overrides=["population.n_users=60"])
    row = results(folder).iloc[0].to_dict()
    assert "--set population.n_users=60" in rerun_command(shrunk, row)

    # Rerunning the same command resumes it; other settings are another folder.
    again = CliRunner().invoke(app, small)
    assert again.exit_code == 0 and "(2 resumed, 0 failed)" in again.output
    other = CliRunner().invoke(app, [*args, "--replicates", "1", "--steps", "3"])
    assert other.exit_code == 0, other.output
    assert len(list(out.iterdir())) == 2

    # --replicates alone keeps the file's folder; a changed identity there is refused.
    assert CliRunner().invoke(app, [*args, "--replicates", "1"]).exit_code == 0
    assert (out / "tiny").is_dir()
    loaded = load_sweep(path, replicates=1, steps=2)
    loaded.command_line.clear()  # as if --steps went unrecorded: same folder, other steps
    with pytest.raises(ScenarioError, match="remove that folder"):
        SweepStore(loaded, out).check()

    # A varied field cannot be set: the design would overwrite it.
    res = CliRunner().invoke(app, [*args, "--set", "collectives.strikers.size=0.9"])
    assert res.exit_code == 2 and "does not vary" in res.stderr


def test_a_boolean_level_of_a_numeric_field_is_refused_in_one_line(tmp_path):
    # Found by the fuzz test: [3, true] validated (the schema reads true as 1), then the
    # results table could not hold one column of ints and bools.
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "base.yaml").write_text("name: b\nsteps: 2\npopulation: {n_users: 50}\n")
    sweep = tmp_path / "s.yaml"
    sweep.write_text(
        "name: s\nbase: base.yaml\nvary:\n  policy.value_of_quality: [3, true]\nreplicates: 1\n"
    )
    result = CliRunner().invoke(app, ["sweep", str(sweep), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "vary.policy.value_of_quality" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
