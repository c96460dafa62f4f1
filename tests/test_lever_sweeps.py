"""The leverage-curve sweeps: valid on the stream task, and clean refusal without MovieLens."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from abm.cli import app
from abm.scenario import ScenarioError, TaskName
from abm.sweep import load_sweep

SWEEPS = Path(__file__).resolve().parents[1] / "scenarios" / "sweeps"
STREAM = ["stream_strike_curve", "stream_boycott_cdc_curve", "stream_poison_signal_curve"]


@pytest.mark.parametrize("name", STREAM)
def test_stream_sweep_is_valid_and_spans_the_sizes(name: str) -> None:
    sweep = load_sweep(SWEEPS / f"{name}.yaml")
    assert sweep.base.task.name is TaskName.STREAM
    sizes = {p["collectives.collective.size"] for p in sweep.points}
    assert min(sizes) <= 0.1 and max(sizes) >= 0.5
    assert len({p["collectives.collective.lever"] for p in sweep.points}) >= 2


def _copy_movielens(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("")  # the project root the data path is inside
    folder = tmp_path / "scenarios" / "sweeps"
    folder.mkdir(parents=True)
    for name in ("movielens_curve.yaml", "movielens_strike_curve.yaml"):
        shutil.copy(SWEEPS / name, folder / name)
    return folder / "movielens_strike_curve.yaml"


def test_movielens_sweep_refuses_in_one_line_without_the_file(tmp_path: Path) -> None:
    sweep = _copy_movielens(tmp_path)
    with pytest.raises(ScenarioError) as err:
        load_sweep(sweep)
    assert err.value.field == "task.path"
    assert "grouplens.org" in str(err.value) and "\n" not in str(err.value)
    result = CliRunner().invoke(app, ["sweep", str(sweep), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_movielens_sweep_loads_once_the_file_is_in_place(tmp_path: Path) -> None:
    sweep = _copy_movielens(tmp_path)
    data = tmp_path / "data" / "ml-100k" / "u.data"
    data.parent.mkdir(parents=True)
    data.write_text(
        "".join(f"{u}\t{1 + u % 7}\t{1 + u % 5}\t{880000000 + u}\n" for u in range(1, 944))
    )
    loaded = load_sweep(sweep)
    assert loaded.base.task.name is TaskName.MOVIELENS
    assert Path(loaded.base.task.path) == data.resolve()
    assert loaded.n_runs == 50
