"""The one pre-run check (abm/preflight.py): what a run would refuse, validation refuses.

Each known run-time refusal is fed to ``abm validate`` and to ``preflight``: one line on
stderr naming the file and the field, exit 2. The same scenario loaded without the
check is then run, and must indeed fail, so the list stays a list of real refusals.
Every command that takes scenarios refuses an ``mf`` learner on ``digits`` before
running anything and writes nothing to its output folder.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from abm.cli import app
from abm.learning import LEARNERS, TASKS, TaskKind, fits, load_task, make_learner
from abm.learning.task import split, split_problem
from abm.learning.tasks import BUNDLED_ROWS
from abm.preflight import preflight
from abm.runner import simulate
from abm.scenario import ScenarioError, load_scenario

BASE = {
    "name": "pre",
    "steps": 2,
    "population": {"n_users": 30},
    "network": {"mean_degree": 4},
    "measurement": {"valuation": False, "twins": "off"},
}
MF_ON_DIGITS = {"platforms": [{"name": "a", "learner": "mf"}], "task": {"name": "digits"}}
RATINGS = {"name": "ratings", "n_samples": 300}
ONE_MF = [{"name": "a", "learner": "mf"}]


def _csv(folder: Path) -> str:
    """Six rows, two classes: a 10% test share holds one row, fewer than the classes."""
    rows = "\n".join(f"{i},{i % 3},{i % 2}" for i in range(6))
    (folder / "table.csv").write_text(f"x,z,label\n{rows}\n")
    return "table.csv"


def _udata(folder: Path) -> str:
    """Three raters, five items."""
    lines = [f"{r}\t{i}\t{1 + (r + i) % 5}\t{880000000 + 10 * r + i}" for r in range(1, 4)
             for i in range(1, 6)]  # fmt: skip
    (folder / "u.data").write_text("\n".join(lines) + "\n")
    return "u.data"


def _edges(folder: Path) -> str:
    (folder / "edges.txt").write_text("0 1\n1 2\n2 3\n3 4\n")
    return "edges.txt"


# (id, scenario fields (a callable given the folder, for files), field named, runs?)
# `runs`: the scenario loaded without the pre-run check fails when simulated (False
# where the run cannot be reached that way: memory, the check block's own runs).
CASES = [
    ("mf_on_digits", MF_ON_DIGITS, "platforms[0].learner", True),
    ("item_mean_on_wine", {"platforms": [{"name": "a", "learner": "item_mean"}],
                           "task": {"name": "wine"}}, "platforms[0].learner", True),
    ("logistic_on_ratings", {"task": RATINGS}, "platforms[0].learner", True),
    ("knn_on_ratings_stream", {"task": {"name": "ratings_stream",
                                        "stream": {"n_items": 50, "n_test": 100}},
                               "platforms": [{"name": "a", "learner": "knn"}]},
     "platforms[0].learner", True),
    ("split_leaves_a_class_out_of_training", {"task": {"name": "wine", "test_size": 0.99}},
     "task.test_size", True),
    ("split_leaves_a_class_out_of_test", {"task": {"name": "digits", "test_size": 0.001}},
     "task.test_size", True),
    ("synthetic_split_leaves_no_training", {"task": {"name": "synthetic", "n_samples": 10,
                                                     "test_size": 0.99}}, "task.test_size", True),
    ("ratings_split_leaves_no_training", {"task": {**RATINGS, "n_samples": 10,
                                                   "test_size": 0.99}, "platforms": ONE_MF},
     "task.test_size", True),
    ("csv_split_leaves_a_class_out", lambda d: {"task": {
        "name": "csv", "path": _csv(d), "label_column": "label", "test_size": 0.1}},
     "task.test_size", True),
    ("csv_signal_target_beyond_classes", lambda d: {
        "task": {"name": "csv", "path": _csv(d), "label_column": "label"},
        "platforms": [{"name": "a"}, {"name": "b"}],
        "collectives": [{"name": "c", "target": "a", "lever": "plant_signal",
                         "signal": {"target": 5}}]}, "collectives[0].signal.target", True),
    ("movielens_more_users_than_raters", lambda d: {
        "task": {"name": "movielens", "path": _udata(d)}, "platforms": ONE_MF},
     "population.n_users", True),
    ("movielens_item_it_lacks", lambda d: {
        "task": {"name": "movielens", "path": _udata(d)}, "population": {"n_users": 3},
        "platforms": [{"name": "a", "learner": "mf"}, {"name": "b", "learner": "mf"}],
        "collectives": [{"name": "c", "target": "a", "lever": "promote_item", "item": 9}]},
     "collectives[0].item", True),
    ("edge_list_nodes", lambda d: {"network": {"kind": "edgelist", "path": _edges(d)}},
     "nodes", True),
    ("out_of_memory", {"population": {"n_users": 10**13}}, "population.n_users", False),
    ("check_outcome_unknown", {"check": {"outcome": "no_such_outcome", "direction": "lower",
                                         "versus": {"seed": 1}}}, "check.outcome", False),
    ("check_versus_learner", {"check": {"outcome": "final_quality[incumbent]",
                                        "direction": "lower",
                                        "versus": {"platforms.incumbent.learner": "mf"}}},
     "check.versus", False),
]  # fmt: skip


def write(folder: Path, fields) -> Path:
    """The scenario file of a case, in its own folder (the folder is its root)."""
    folder.mkdir(parents=True, exist_ok=True)
    fields = fields(folder) if callable(fields) else fields
    path = folder / "case.yaml"
    path.write_text(yaml.safe_dump({**BASE, **fields}, sort_keys=False))
    return path


def cli(*args) -> object:
    return CliRunner().invoke(app, [str(a) for a in args])


def refused(result, path: Path, field: str) -> str:
    """Exit 2, one line on stderr naming the file and the field, no traceback."""
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("abm: "), result.stderr[:2000]
    assert "Traceback" not in result.output and "<" not in lines[0], lines[0]  # no enum repr
    assert f"{path.name}: {field}: " in lines[0], (field, lines[0])
    return lines[0]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_every_run_time_refusal_is_refused_by_validate(tmp_path, case):
    name, fields, field, runs = case
    path = write(tmp_path / name, fields)
    named = path if field != "nodes" else path.parent / "edges.txt"
    refused(cli("validate", path), named, field)
    spec = load_scenario(path)  # loading alone does not refuse it: the pre-run check does
    with pytest.raises(ScenarioError) as err:
        preflight(spec, path)
    assert err.value.field == field
    if runs:  # ... and the run would have refused it, later and less clearly
        with pytest.raises((ValueError, IndexError)):
            simulate(spec)


def test_mf_on_digits_in_the_words_of_the_issue(tmp_path):
    line = refused(cli("validate", write(tmp_path, MF_ON_DIGITS)), tmp_path / "case.yaml",
                   "platforms[0].learner")  # fmt: skip
    assert "mf needs a ratings task; digits is a classification task" in line
    assert "logistic, knn, majority and centroid" in line


def _calibration(folder: Path, base: Path) -> Path:
    spec = {
        "name": "cal",
        "base": base.name,
        "parameters": {"population.samples_per_step": {"low": 0.2, "high": 1.0}},
        "twin": {"steps": 2},
        "targets": [{"name": "q", "outcome": "final_quality[a]", "observed": 0.5, "se": 0.1}],
    }
    path = folder / "cal.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def _sweep(folder: Path, base: Path) -> Path:
    path = folder / "sweep.yaml"
    spec = {"name": "sw", "base": base.name, "replicates": 1,
            "vary": {"population.samples_per_step": [0.5, 1.0]}}  # fmt: skip
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def test_every_command_refuses_mf_on_digits_before_running_and_writes_nothing(
    tmp_path, monkeypatch
):
    bad = write(tmp_path, MF_ON_DIGITS)
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump({**BASE, "name": "good"}))
    checked = tmp_path / "checked.yaml"
    check = {"outcome": "final_quality[a]", "direction": "lower", "versus": {"seed": 1}}
    checked.write_text(yaml.safe_dump({**BASE, **MF_ON_DIGITS, "check": check}))
    out = tmp_path / "out"

    def no_server(*args, **kwargs):
        raise AssertionError("the viewer started on a scenario it should refuse")

    monkeypatch.setattr(subprocess, "Popen", no_server)
    field = "platforms[0].learner"
    refused(cli("run", bad, "--out", out), bad, field)
    refused(cli("run", bad, "--out", out, "--replicates", "2"), bad, field)
    refused(cli("compare", good, bad, "--out", out, "-j", "1"), bad, field)
    refused(cli("check", checked, "--out", out, "-j", "1"), checked, field)
    refused(cli("viz", bad), bad, field)
    sweep = _sweep(tmp_path, bad)
    line = refused(cli("sweep", sweep, "--out", out, "-j", "1"), sweep, "vary (point 0)")
    assert field in line and "mf needs a ratings task" in line
    cal = _calibration(tmp_path, bad)
    line = refused(cli("calibrate", cal, "--out", out, "-j", "1"), cal, "base")
    assert field in line
    assert not out.exists() or not any(out.rglob("*")), sorted(out.rglob("*"))


def test_a_sweep_level_the_run_would_refuse_names_the_point(tmp_path):
    base = write(tmp_path, {})
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({"name": "sw", "base": base.name, "replicates": 1,
                                    "vary": {"task.test_size": [0.25, 0.999]}}))  # fmt: skip
    line = refused(cli("sweep", path, "--out", tmp_path / "out"), path, "vary (point 1)")
    assert "task.test_size: a share leaving both sides" in line and "0.999" in line
    assert not (tmp_path / "out").exists()


def test_fits_is_what_make_learner_accepts():
    rng = np.random.default_rng(0)
    tasks = {
        "wine": load_task("wine", rng=rng),
        "ratings": load_task("ratings", rng=rng, n_samples=300),
    }
    assert {TASKS[n].kind for n in tasks} == set(TaskKind)
    for learner in LEARNERS:
        for name, task in tasks.items():
            reason = fits(learner, name)
            assert fits(learner, task) == reason  # by name (validation) or loaded task
            if reason is None:
                make_learner(learner, task)
            else:
                with pytest.raises(ValueError, match=f"learner {learner}: {reason}"):
                    make_learner(learner, task)


@pytest.mark.parametrize("n", [10, 50, 178])
@pytest.mark.parametrize("classes", [None, 2, 3])
def test_split_problem_says_exactly_when_split_fails(n, classes):
    rng = np.random.default_rng(1)
    y = None if classes is None else np.arange(n) % classes
    for test_size in (0.001, 0.01, 0.05, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999):
        problem = split_problem(n, test_size, classes)
        try:
            train, test = split(n, y, test_size, rng)
            failed = len(train) == 0 or len(test) == 0
        except ValueError:
            failed = True
        assert failed == (problem is not None), (n, classes, test_size, problem)


def test_bundled_rows_are_the_loaders():
    from sklearn import datasets

    for name, rows in BUNDLED_ROWS.items():
        assert getattr(datasets, f"load_{name}")().data.shape[0] == rows


def test_a_stream_step_in_which_nobody_makes_a_row_runs_on():
    """It used to fail with an IndexError on the next step's lookup of the rows made."""
    from abm.scenario import validate

    raw = {**BASE, "steps": 6, "population": {"n_users": 4, "samples_per_step": 0.05},
           "network": {"mean_degree": 2},
           "task": {"name": "stream", "stream": {"n_features": 4, "n_classes": 3, "n_test": 50}},
           "platforms": [{"name": "a", "seed_data": 10}]}  # fmt: skip
    result = simulate(validate(raw))
    assert len(result.model_table) == 7
