"""abm calibrate: synthetic truth recovered, identifiability warned, bad files, resume."""

from __future__ import annotations

import math
import os
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

from abm.calibration import calibrate, load_calibration
from abm.calibration.moments import Moments
from abm.calibration.spec import Quantity
from abm.cli import app
from abm.runner import simulate, spawn_seed
from abm.scenario import with_overrides
from abm.sweep import ExecutorKind

ROOT = Path(__file__).resolve().parents[1]
WORKED = ROOT / "scenarios" / "calibrations" / "ai_substitute.yaml"

# A small commons with an AI substitute released at step 4 (the worked example, shrunk).
BASE = {
    "name": "tiny_substitute",
    "seed": 3,
    "steps": 10,
    "population": {"n_users": 100, "samples_per_step": 0.5},
    "task": {"name": "stream", "stream": {"n_test": 300}},
    "platforms": [
        {"name": "commons", "initial_share": 0.7, "seed_data": 20},
        {"name": "rival", "initial_share": 0.3, "seed_data": 20},
    ],
    "events": [{"at": 4, "action": "ai_substitute", "platform": "commons", "quality": 0.6}],
    "measurement": {"valuation": False, "twins": "off"},  # the calibration runs its twin
}
LEVEL = {"series": "new_data[commons]", "mean": [1, 4]}  # contributions before the release
AFTER = {"series": "new_data[commons]", "mean": [5, 10]}  # ... and after it
FALL = {**AFTER, "vs_twin": "ratio"}  # ... against the twin without the substitute


def write_calibration(folder: Path, **fields) -> Path:
    """A calibration of the tiny base: samples_per_step and the substitute's quality."""
    (folder / "base.yaml").write_text(yaml.safe_dump(BASE))
    spec = {
        "name": "tiny",
        "base": "base.yaml",
        "parameters": {
            "population.samples_per_step": {"low": 0.2, "high": 1.0},
            "events.0.quality": {"low": 0.3, "high": 0.9},
        },
        "twin": {"events": []},
        "targets": [
            {"name": "level", **LEVEL, "observed": 40.0, "se": 3.0},
            {"name": "fall", **FALL, "observed": 0.8, "se": 0.03},
        ],
        "search": {"samples": 8, "refine": 1, "refine_samples": 8, "seeds": 2, "seed": 11},
        **fields,
    }
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def observe(truth: dict, n: int = 4) -> dict[str, tuple[float, float]]:
    """The truth's moments on seeds the calibration never uses: mean and standard error."""
    from abm.scenario import Scenario

    base = with_overrides(Scenario.model_validate(BASE), truth)
    moments = Moments((Quantity(name="level", **LEVEL), Quantity(name="after", **AFTER)), ())
    rows = pd.DataFrame([moments(base, spawn_seed(999, r), None) for r in range(n)])
    return {k: (float(rows[k].mean()), float(rows[k].std(ddof=1) / math.sqrt(n))) for k in rows}


def test_synthetic_truth_is_recovered_within_the_reported_intervals(tmp_path):
    truth = {"population.samples_per_step": 0.55, "events.0.quality": 0.62}
    seen = observe(truth)
    targets = [{"name": k, **spec, "observed": seen[k][0], "se": seen[k][1]}
               for k, spec in (("level", LEVEL), ("after", AFTER))]  # fmt: skip
    parameters = {
        "population.samples_per_step": {"low": 0.2, "high": 1.0},
        "events.0.quality": {"low": 0.3, "high": 0.9},
        "population.threshold_mean": {"low": 0.0, "high": 1.0},  # inert without collectives
    }
    search = {"samples": 16, "refine": 2, "refine_samples": 8, "seeds": 2, "seed": 5, "profile": 5}
    path = write_calibration(tmp_path, targets=targets, parameters=parameters, search=search)
    report = calibrate(load_calibration(path), tmp_path / "out", executor=ExecutorKind.SERIAL)
    ident = report.tables["identifiability"].set_index("parameter")
    for key, value in truth.items():
        row = ident.loc[key]
        assert row.accepted_min <= value <= row.accepted_max, (key, value, row.to_dict())
        assert row.pinned and row.spread < 0.5, row.to_dict()  # an informative interval
    inert = ident.loc["population.threshold_mean"]
    assert not inert.pinned and "not pinned down" in inert.warning
    assert report.fit.best["J"] <= report.fit.threshold
    assert report.tables["moments"]["passed"].all()
    for name in ("best.yaml", "candidates.csv", "accepted.csv", "profiles.png", "report.md"):
        assert (report.folder / name).exists()
    # The same seeds for every candidate, in every stage (common random numbers).
    seeds = report.fit.runs.groupby(["stage", "point"])["seed"].apply(tuple)
    assert seeds.nunique() == 1


def test_an_empty_cause_gives_exactly_ratio_one_and_difference_zero():
    from abm.scenario import Scenario

    base = Scenario.model_validate(BASE)
    quantities = (
        Quantity(series="new_data[commons]", mean=(2, 10), vs_twin="ratio"),
        Quantity(series="quality[commons]", at=10, vs_twin="difference"),
        Quantity(outcome="final_share[commons]", vs_twin="ratio"),
    )
    same = Moments(quantities, ())(base, 5, None)  # the twin changes nothing
    assert list(same.values()) == [1.0, 0.0, 1.0]
    cause = Moments(quantities, (("events", []),))(base, 5, None)
    assert cause["new_data[commons]@2-10:ratio"] < 1.0  # the substitute draws questions away
    real = simulate(base, seed=5)
    assert same["new_data[commons]@2-10:ratio"] == 1.0
    assert real.model_table["new_data[commons]"].loc[2:10].mean() > 0


BAD = [
    ({"parameters": {"population.n_userz": {"low": 1, "high": 2}}}, "parameters.population",
     "n_userz"),
    ({"parameters": {"population.heterogeneity": {"low": 0, "high": 1}}},
     "parameters.population.heterogeneity", "numeric scenario field"),
    ({"parameters": {"events.0.quality": {"low": 0.5, "high": 1.5}}}, "parameters.events.0.quality",
     "<= 1"),
    ({"parameters": {"events.0.quality": {"low": 0.5, "high": 0.4}}},
     "parameters.events.0.quality.high", "> low"),
    ({"targets": [{**FALL, "observed": 0.8, "se": 0}]}, "targets[0].se", "> 0"),
    ({"targets": [{**FALL, "observed": 0.8}]}, "targets[0].se", "required"),
    ({"targets": [{"series": "new_data[comons]", "at": 3, "observed": 1, "se": 1}]},
     "targets[0].series", "did you mean 'new_data[commons]'"),
    ({"targets": [{"series": "new_data[commons]", "at": 40, "observed": 1, "se": 1}]},
     "targets[0].at", "0 to 10"),
    ({"targets": [{"outcome": "final_share[commons]", "at": 3, "observed": 1, "se": 1}]},
     "targets[0].at", "no at or mean"),
    ({"twin": {"events.0.quality": 2}}, "twin", "events[0].quality: a number <= 1"),
    ({"search": {"samples": 10}}, "search.samples", "power of two"),
    ({"taregts": []}, "taregts", "no such field"),
    ({"base": "missing.yaml"}, "base", "existing scenario file"),
]  # fmt: skip


@pytest.mark.parametrize(("fields", "field", "words"), BAD, ids=[b[1] for b in BAD])
def test_bad_calibration_file_is_one_line_exit_2_and_writes_nothing(tmp_path, fields, field, words):
    path = write_calibration(tmp_path, **fields)
    out = tmp_path / "out"
    args = ["calibrate", str(path), "--out", str(out), "--executor", "serial"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert str(path) in lines[0] and f": {field}" in lines[0] and words in lines[0], lines[0]
    assert not out.exists()


def test_a_changed_calibration_is_refused_in_its_old_folder(tmp_path):
    path = write_calibration(tmp_path, search={"samples": 2, "refine": 0, "seeds": 2, "profile": 0})
    out = tmp_path / "out"
    assert CliRunner().invoke(app, ["calibrate", str(path), "--out", str(out),
                                    "--executor", "serial"]).exit_code == 0  # fmt: skip
    write_calibration(tmp_path, search={"samples": 4, "refine": 0, "seeds": 2, "profile": 0})
    res = CliRunner().invoke(app, ["calibrate", str(path), "--out", str(out)])
    assert res.exit_code == 2 and "it changed" in res.stderr, res.output


def test_killed_midway_resumes_to_the_uninterrupted_result(tmp_path):
    path = write_calibration(tmp_path, search={"samples": 4, "refine": 1, "refine_samples": 4,
                                               "seeds": 2, "profile": 2})  # fmt: skip
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    cmd = [sys.executable, "-m", "abm", "calibrate", str(path), "-j", "2"]
    proc = subprocess.Popen([*cmd, "--out", str(killed)], cwd=ROOT, start_new_session=True,
                            env={**os.environ, "OPENBLAS_NUM_THREADS": "1"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    stages = killed / "tiny" / "stages"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(stages.glob("*/runs/p*.parquet"))) < 3:
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    survived = len(list(stages.glob("*/runs/p*.parquet")))
    assert 3 <= survived < 24 and not (killed / "tiny" / "best.yaml").exists()

    resumed = CliRunner().invoke(app, [*cmd[3:], "--out", str(killed), "--executor", "serial"])
    assert resumed.exit_code == 0, resumed.output
    fresh = CliRunner().invoke(app, [*cmd[3:], "--out", str(clean), "--executor", "serial"])
    assert fresh.exit_code == 0, fresh.output
    for name in ("candidates.csv", "moments.csv", "identifiability.csv", "profiles.csv"):
        a = (killed / "tiny" / name).read_text()
        assert a == (clean / "tiny" / name).read_text(), name
    assert not list(killed.rglob(".*.tmp"))  # no temporary file left behind


def test_worked_calibration_is_valid_and_its_fast_mode_runs(tmp_path):
    full = load_calibration(WORKED)
    assert full.search.seeds >= 8 and full.spec.validate_  # a held-out check exists
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["calibrate", str(WORKED), "--fast", "--executor", "serial",
                                   "--out", str(out)])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "held out" in res.stdout and "fall_weeks_22_26" in res.stdout
    best = yaml.safe_load((out / "ai_substitute-fast" / "best.yaml").read_text())
    assert set(best["parameters"]) == {"events.0.quality", "platforms.commons.retention"}
    held = pd.read_csv(out / "ai_substitute-fast" / "moments.csv").set_index("role")
    assert np.isfinite(held.loc["held out", "z"])


def test_list_shows_calibration_files_as_calibrations():
    folder = Path(__file__).resolve().parents[1] / "scenarios" / "calibrations"
    res = CliRunner().invoke(app, ["list", str(folder)])
    assert res.exit_code == 0, res.output
    line = next(x for x in res.output.splitlines() if x.startswith("ai_substitute "))
    assert "invalid" not in line
    assert "calibration of ../ai_substitute.yaml: events.0.quality, " in line
    assert "to 1 target (1 held out)" in line
