"""One end-to-end test per user journey, asserting what the user reads, not only exit codes.

Each journey goes through the ``abm`` command as a user types it, on a tiny scenario
(a few dozen users, a few steps), and checks that the words printed and the files
written carry the run's own numbers.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from abm.cli import app
from abm.runner import spawn_seed

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
