"""One end-to-end test per user journey, asserting what the user reads, not only exit codes.

Each journey goes through the ``abm`` command as a user types it, on a tiny scenario
(a few dozen users, a few steps), and checks that the words printed and the files
written carry the run's own numbers.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from abm.cli import app
from abm.runner import spawn_seed

ROOT = Path(__file__).resolve().parents[1]

TINY_STRIKE = {
    "name": "tiny_strike",
    "question": "How much does a strike by 90% of users take from the incumbent?",
    "seed": 11,
    "steps": 5,
    "population": {"n_users": 80, "samples_per_step": 1.0, "threshold_mean": 0.0,
                   "threshold_sd": 0.0},
    "collectives": [{"name": "strikers", "target": "incumbent", "size": 0.9, "start": 0}],
    "measurement": {"valuation": False},
    "check": {"outcome": "final_quality[incumbent]",
              "versus": {"collectives.strikers.size": 0}, "direction": "lower", "seeds": 3},
}  # fmt: skip

VERDICT = re.compile(
    r"^(?P<file>\S+): (?P<outcome>\S+) lower than with collectives\.strikers\.size = 0: "
    r"diff (?P<diff>\S+) \[(?P<lo>\S+), (?P<hi>\S+)\] \(95%, 3 paired seeds\) "
    r"(?P<verdict>pass|FAIL)$"
)


@pytest.fixture
def strike_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny_strike.yaml"
    path.write_text(yaml.safe_dump(TINY_STRIKE))
    return path


def test_check_journey_verdict_matches_the_numbers_it_writes(strike_file, tmp_path) -> None:
    out = tmp_path / "checks"
    result = CliRunner().invoke(app, ["check", str(strike_file), "--out", str(out)])
    assert result.exit_code == 0, result.output
    line, wrote = result.stdout.splitlines()
    match = VERDICT.match(line)
    assert match, line
    assert "tiny_strike: seed 3/3" in result.stderr  # progress while it runs
    folder = Path(wrote.removeprefix("wrote "))
    assert folder.parent == out
    seeds = pd.read_csv(folder / "seeds.csv")
    assert list(seeds["seed"]) == [spawn_seed(11, r) for r in range(3)]
    assert seeds["diff"].to_numpy() == pytest.approx((seeds["with"] - seeds["without"]).to_numpy())
    row = pd.read_csv(folder / "checks.csv").iloc[0]
    # The printed verdict is the written numbers, rounded as printed.
    assert float(match["diff"]) == pytest.approx(seeds["diff"].mean(), rel=1e-3)
    assert float(match["diff"]) == pytest.approx(row["diff"], rel=1e-3)
    assert (float(match["lo"]), float(match["hi"])) == pytest.approx(
        (row["low"], row["high"]), rel=1e-3
    )
    assert match["verdict"] == row["verdict"] == "pass"  # a 90% strike lowers its quality
    assert row["high"] < 0


def test_check_journey_set_switches_the_lever_off_and_the_verdict_fails(strike_file) -> None:
    # --set reaches the checked scenario: with no members the pair is identical, so the
    # difference is exactly zero and the check fails (exit 1).
    result = CliRunner().invoke(
        app, ["check", str(strike_file), "--set", "collectives.strikers.size=0"]
    )
    assert result.exit_code == 1, result.output
    match = VERDICT.match(result.stdout.strip())
    assert match and match["verdict"] == "FAIL"
    assert float(match["diff"]) == 0.0 and float(match["lo"]) == float(match["hi"]) == 0.0


def _answers(page: str) -> list[str]:
    return [html.unescape(a) for a in re.findall(r"<p class=answer>(.*?)</p>", page, re.S)]


STRIKE_ANSWER = re.compile(
    r"^The strike by strikers \(90% of users at the start\) took (?P<quality>\S+) of the "
    r"incumbent's held-out quality score, (?P<leverage>\S+)% of its gap over a naive "
    r"baseline; it cost its members (?P<cost>\S+) utility over the run; it won no "
    r"dividend: no bargaining rights\.$"
)


def test_scenario_journey_report_answers_with_the_runs_own_numbers(strike_file, tmp_path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(strike_file), "--out", str(out)])
    assert result.exit_code == 0, result.output
    (folder,) = out.iterdir()
    outcomes = pd.read_csv(folder / "outcomes.csv", index_col=0)["value"]
    (sentence,) = _answers((folder / "report.html").read_text(encoding="utf-8"))
    assert sentence in result.stdout.splitlines()  # the terminal prints the same answer
    match = STRIKE_ANSWER.match(sentence)
    assert match, sentence
    # Each number is the run's own outcome, rounded to the three figures shown.
    assert float(match["quality"]) == pytest.approx(outcomes["quality_effect[strikers]"], rel=5e-3)
    assert float(match["leverage"]) / 100 == pytest.approx(
        outcomes["mean_leverage[strikers]"], rel=5e-3
    )
    assert float(match["cost"]) == pytest.approx(outcomes["member_cost_total[strikers]"], rel=5e-3)
    assert outcomes["quality_effect[strikers]"] > 0  # a 90% strike takes quality


def test_scenario_journey_with_replicates_answers_with_intervals(strike_file, tmp_path) -> None:
    out = tmp_path / "out"
    args = ["run", str(strike_file), "--out", str(out), "--replicates", "2"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    (folder,) = out.iterdir()
    assert folder.name.endswith("-seed11-x2")  # named by the scenario's seed
    summary = pd.read_csv(folder / "summary.csv").set_index("outcome")
    (sentence,) = _answers((folder / "report.html").read_text(encoding="utf-8"))
    took = re.search(r"took (\S+) \(95% interval (\S+) to (\S+)\) of the incumbent's", sentence)
    assert took, sentence
    row = summary.loc["quality_effect[strikers]"]
    for shown, value in zip(took.groups(), (row["mean"], row["low"], row["high"]), strict=True):
        assert float(shown) == pytest.approx(value, rel=5e-3, abs=5e-4)


def test_readme_first_screen_quotes_what_its_command_prints(tmp_path) -> None:
    # The README's example is a real run: its command prints exactly the quoted answer.
    # A change that moves these numbers updates the README in the same commit.
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```console\n\$ \.venv/bin/abm (run \S+)\n(.*?)```", readme, re.S)
    assert block and readme.index(block.group(0)) < readme.index("## Two commands")
    (run, file), printed = block.group(1).split(), block.group(2).splitlines()
    command = [run, str(ROOT / file)]
    quoted = [line for line in printed[1:] if not line.startswith("  ")]
    assert len(quoted) >= 2 and quoted[-1].startswith("How fast:")
    result = CliRunner().invoke(app, [*command, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    answered = [line for line in result.stdout.splitlines()[1:] if not line.startswith("  ")]
    assert answered == quoted
