"""``abm new``: a commented starter scenario, written from a reference one, that runs as is."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from abm.cli import app
from abm.scenario import load_scenario
from abm.scenario.starter import REFERENCE, starter_text

REFERENCE_FILES = sorted(REFERENCE.glob("*.yaml"))


@pytest.mark.parametrize("path", REFERENCE_FILES, ids=[p.stem for p in REFERENCE_FILES])
def test_a_starter_is_its_reference_scenario_under_a_new_name(path: Path, tmp_path) -> None:
    spec = load_scenario(path)
    mine = tmp_path / "mine.yaml"  # outside the project: it needs none of its files
    mine.write_text(starter_text(spec, "mine", path))
    again = load_scenario(mine)
    assert again.name == "mine"
    assert again.model_dump(exclude={"name"}) == spec.model_dump(exclude={"name"})


def test_abm_new_writes_a_commented_file_here_that_validates_and_runs(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["new", "my_strike", "--from", "data_strike"])
    assert result.exit_code == 0, result.output
    assert list(tmp_path.iterdir()) == [tmp_path / "my_strike.yaml"]  # nothing else written
    text = (tmp_path / "my_strike.yaml").read_text()
    assert text.startswith("# my_strike: a scenario of your own, started from data_strike")
    size = next(line for line in text.splitlines() if line.strip().startswith("size:"))
    assert "# Initial share of users who are members" in size  # each field says what it is
    assert "abm run my_strike.yaml --steps 10" in text  # the strike starts at step 5
    checked = CliRunner().invoke(app, ["validate", "my_strike.yaml"])
    assert checked.exit_code == 0 and checked.stdout.startswith("my_strike.yaml: ok")
    run = CliRunner().invoke(
        app, ["run", "my_strike.yaml", "--steps", "7", "--set", "population.n_users=80",
              "--out", "out", "--no-report"]
    )  # fmt: skip
    assert run.exit_code == 0, run.output
    (folder,) = (tmp_path / "out").iterdir()
    assert folder.name.startswith("my_strike-") and (folder / "outcomes.csv").exists()
    assert "The strike by strikers (30% of users at the start)" in run.stdout


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["new", "taken"], "a file name not taken"),
        (["new", "../up"], "a name of letters, digits"),
        (["new", "x.yaml"], "a name of letters, digits"),
        (["new", "fresh", "--from", "no_such_scenario"], "a reference scenario (ai_substitute"),
    ],
)
def test_abm_new_refuses_in_one_line_and_keeps_existing_files(
    tmp_path: Path, monkeypatch, args: list[str], words: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "taken.yaml").write_text("name: mine\n")
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert len(result.stderr.splitlines()) == 1 and words in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken.yaml"]
    assert (tmp_path / "taken.yaml").read_text() == "name: mine\n"
