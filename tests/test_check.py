"""Each reference scenario answers its own question: its check passes on 10 paired seeds.

A scenario's ``check`` declares its key outcome and the way it moves against the same
scenario with the lever switched off (``abm/check.py``). The slow tests run every
reference scenario's pair on 10 paired seeds and assert that the 95% t-interval of the
difference excludes 0 on the declared side; the fast ones pin the statistics and the
one-line errors of bad check blocks.
"""

from __future__ import annotations

import math
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from typer.testing import CliRunner

from abm.check import check_file, passes, run_check, summary_line, versus_scenario
from abm.cli import app
from abm.intervals import mean_ci
from abm.runner import spawn_seed
from abm.scenario import Direction, ScenarioError, load_scenario, validate

FOLDER = Path(__file__).resolve().parents[1] / "scenarios"
REFERENCE = sorted(FOLDER.glob("*.yaml"))
SEEDS = 10


# --------------------------------------------------------------------------- the library


def test_every_reference_scenario_declares_a_check() -> None:
    for path in REFERENCE:
        spec = load_scenario(path)
        assert spec.check is not None, f"{path.name} declares no check"
        assert spec.check.seeds == SEEDS


@pytest.fixture(scope="module")
def reference_checks() -> dict:
    """Every reference scenario's check, run once on two cores (240 small runs in all)."""
    workers = min(2, os.cpu_count() or 1)
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return dict(zip(REFERENCE, pool.map(check_file, REFERENCE), strict=True))


@pytest.mark.slow
@pytest.mark.parametrize("path", REFERENCE, ids=[p.stem for p in REFERENCE])
def test_reference_scenario_passes_its_check_on_10_paired_seeds(
    path: Path, reference_checks: dict
) -> None:
    result = reference_checks[path]
    line = summary_line(f"scenarios/{path.name}", result)
    print(line)  # with -s: the numbers docs/scenarios.md reports
    assert result.seeds == [spawn_seed(load_scenario(path).seed, r) for r in range(SEEDS)]
    assert len(result.seeds) == SEEDS
    assert result.passed, line
    if result.direction is Direction.LOWER:
        assert result.hi < 0, line
    else:
        assert result.lo > 0, line


# --------------------------------------------------------------------------- statistics


def test_paired_t_interval_matches_the_textbook_formula() -> None:
    diffs = np.array([-0.03, -0.01, -0.02, -0.04, -0.02])
    mean, lo, hi = mean_ci(diffs, 0.95)
    half = stats.t.ppf(0.975, 4) * diffs.std(ddof=1) / math.sqrt(5)
    assert mean == pytest.approx(-0.024)
    assert lo == pytest.approx(-0.024 - half)
    assert hi == pytest.approx(-0.024 + half)
    assert hi < 0


@pytest.mark.parametrize(
    ("lo", "hi", "direction", "expected"),
    [
        (-0.3, -0.1, "lower", True),
        (-0.3, 0.1, "lower", False),  # the interval holds 0
        (0.1, 0.3, "lower", False),  # the wrong side
        (0.1, 0.3, "higher", True),
        (-0.1, 0.3, "higher", False),
        (-0.3, -0.1, "higher", False),
        (-0.3, 0.0, "lower", False),  # touching 0 is not excluding it
        (math.nan, math.nan, "lower", False),  # fewer than two seeds: no interval
    ],
)
def test_passes_only_when_the_interval_excludes_zero_on_the_declared_side(
    lo, hi, direction, expected
) -> None:
    assert passes(lo, hi, direction) is expected


def test_the_pair_shares_each_seed_and_only_the_versus_fields_differ() -> None:
    spec = validate(
        {
            "name": "tiny",
            "seed": 3,
            "steps": 3,
            "population": {"n_users": 60, "samples_per_step": 1.0},
            "collectives": [{"name": "s", "target": "incumbent", "size": 0.5}],
            "measurement": {"valuation": False},
            "check": {
                "outcome": "final_quality[incumbent]",
                "versus": {"collectives.s.size": 0},
                "direction": "lower",
                "seeds": 2,
            },
        }
    )
    off = versus_scenario(spec)
    assert off.collectives[0].size == 0 and off.check is None
    assert off.model_dump(exclude={"collectives", "check"}) == spec.model_dump(
        exclude={"collectives", "check"}
    )
    result = run_check(spec, seeds=3)
    assert result.seeds == [spawn_seed(3, r) for r in range(3)]
    assert np.allclose(result.diffs, result.with_lever - result.without)
    assert result.mean == pytest.approx(float(result.diffs.mean()))


# --------------------------------------------------------------------------- bad checks

BASE = """\
name: bad
steps: 3
population: {n_users: 50}
collectives:
  - {name: strikers, target: incumbent, size: 0.3}
"""

BAD_CHECKS = [
    (
        "unknown_outcome",
        "check: {outcome: 'final_qualty[incumbent]', versus: {collectives.strikers.size: 0},"
        " direction: lower}",
        "check.outcome",
        ["an outcome of this scenario", "did you mean 'final_quality[incumbent]'"],
    ),
    (
        "unknown_entity",
        "check: {outcome: 'final_quality[rival]', versus: {collectives.strikers.size: 0},"
        " direction: lower}",
        "check.outcome",
        ["an outcome of this scenario"],
    ),
    (
        "unknown_item",
        "check: {outcome: 'final_quality[incumbent]', versus: {collectives.strikrs.size: 0},"
        " direction: lower}",
        "check.versus.collectives.strikrs.size",
        ["a known item name", "did you mean 'strikers'"],
    ),
    (
        "unknown_field",
        "check: {outcome: 'final_quality[incumbent]', versus: {collectives.strikers.sise: 0},"
        " direction: lower}",
        "check.versus",
        ["no such field", "did you mean 'size'"],
    ),
    (
        "bad_value",
        "check: {outcome: 'final_quality[incumbent]', versus: {collectives.strikers.size: 2},"
        " direction: lower}",
        "check.versus",
        ["<= 1.0"],
    ),
    (
        "bad_direction",
        "check: {outcome: 'final_quality[incumbent]', versus: {collectives.strikers.size: 0},"
        " direction: down}",
        "check.direction",
        ["one of", "lower", "higher"],
    ),
    (
        "no_versus",
        "check: {outcome: 'final_quality[incumbent]', versus: {}, direction: lower}",
        "check.versus",
        [],
    ),
    (
        "one_seed",
        "check: {outcome: 'final_quality[incumbent]', versus: {collectives.strikers.size: 0},"
        " direction: lower, seeds: 1}",
        "check.seeds",
        [">= 2"],
    ),
    (
        "outcome_lost",
        "check: {outcome: 'mean_leverage[strikers]', versus: {measurement.twins: 'off'},"
        " direction: higher}",
        "check.versus",
        ["keep outcome 'mean_leverage[strikers]'"],
    ),
]


@pytest.mark.parametrize("case", BAD_CHECKS, ids=[c[0] for c in BAD_CHECKS])
def test_bad_check_block_is_one_line_and_exit_2(tmp_path: Path, case) -> None:
    name, block, field, words = case
    path = tmp_path / f"{name}.yaml"
    path.write_text(BASE + block + "\n")
    for command in ("check", "validate"):
        result = CliRunner().invoke(app, [command, str(path)])
        assert result.exit_code == 2, (command, result.exit_code, result.output)
        assert result.stdout == ""
        lines = result.stderr.splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith(f"abm: {path}: {field}"), lines[0]
        for w in words:
            assert w in lines[0], (w, lines[0])


def test_check_refuses_one_seed_and_reads_every_file_before_running(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(
        BASE + "check: {outcome: 'final_quality[incumbent]',"
        " versus: {collectives.strikers.size: 0}, direction: lower}\n"
    )
    result = CliRunner().invoke(app, ["check", str(good), "--seeds", "1"])
    assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1
    assert "--seeds" in result.stderr
    missing = tmp_path / "missing.yaml"
    result = CliRunner().invoke(app, ["check", str(good), str(missing)])
    assert result.exit_code == 2 and result.stdout == ""  # nothing ran


def test_check_prints_one_line_per_file_and_exits_1_on_failure(tmp_path: Path) -> None:
    # A strike by nobody against nobody: the difference is exactly 0, so the check fails.
    path = tmp_path / "null.yaml"
    path.write_text(
        BASE.replace("size: 0.3", "size: 0.0")
        + "measurement: {valuation: false}\n"
        + "check: {outcome: 'final_quality[incumbent]',"
        " versus: {collectives.strikers.size: 0}, direction: lower, seeds: 2}\n"
    )
    plain = tmp_path / "plain.yaml"
    plain.write_text(BASE)
    result = CliRunner().invoke(app, ["check", str(path), str(plain), "--steps", "2"])
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{path}: final_quality[incumbent] lower")
    assert "diff +0 [" in lines[0] and lines[0].endswith("FAIL")
    assert lines[1] == f"{plain}: no check block, skipped"


def test_a_files_check_replaces_its_parents_whole(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(
        BASE + "check: {outcome: 'final_quality[incumbent]',"
        " versus: {population.samples_per_step: 0}, direction: higher}\n"
    )
    (tmp_path / "child.yaml").write_text(
        "extends: base.yaml\ncheck: {outcome: 'final_quality[incumbent]',"
        " versus: {collectives.strikers.size: 0}, direction: lower}\n"
    )
    child = load_scenario(tmp_path / "child.yaml")
    assert child.check.versus == {"collectives.strikers.size": 0}
    assert child.check.direction is Direction.LOWER


def test_versus_scenario_needs_a_check() -> None:
    with pytest.raises(ScenarioError, match="a check block"):
        versus_scenario(validate({"name": "x"}))


# --------------------------------------------------------------------------- executors

TINY_CHECK = (
    BASE + "measurement: {valuation: false}\n" + "check: {outcome: 'final_quality[incumbent]',"
    " versus: {collectives.strikers.size: 0}, direction: lower, seeds: 3}\n"
)


def _seed_table(tmp_path: Path, name: str, options: list[str]):
    import pandas as pd

    files = [tmp_path / "tiny.yaml", tmp_path / "tiny2.yaml"]
    files[0].write_text(TINY_CHECK)
    other = TINY_CHECK.replace("size: 0.3", "size: 0.6").replace("seeds: 3", "seeds: 2")
    files[1].write_text(other)
    out = tmp_path / name
    result = CliRunner().invoke(app, ["check", *map(str, files), "--out", str(out), *options])
    assert result.exit_code in (0, 1), result.output
    assert "2 checks: seed 5/5" in result.stderr  # progress per paired seed, both files
    folder = next(out.iterdir())
    return result.stdout.splitlines()[:2], pd.read_csv(folder / "seeds.csv")


def test_check_numbers_are_identical_whatever_the_number_of_workers(tmp_path: Path) -> None:
    import pandas as pd

    lines_1, seeds_1 = _seed_table(tmp_path, "j1", ["-j", "1"])  # in this process
    lines_2, seeds_2 = _seed_table(tmp_path, "j2", ["-j", "2"])  # one pool for both files
    assert lines_1 == lines_2
    assert [line.split(":")[0] for line in lines_2] == [str(tmp_path / "tiny.yaml"),
                                                       str(tmp_path / "tiny2.yaml")]  # fmt: skip
    pd.testing.assert_frame_equal(seeds_1, seeds_2, check_exact=True)
    root = load_scenario(tmp_path / "tiny.yaml").seed
    assert list(seeds_2["seed"]) == [spawn_seed(root, r) for r in (0, 1, 2, 0, 1)]
    assert (seeds_2["diff"] != 0).any()  # the pairs differ: a real comparison, not zeros


def test_check_on_a_dask_local_cluster_gives_the_same_numbers(tmp_path: Path) -> None:
    import pandas as pd

    lines_1, seeds_1 = _seed_table(tmp_path, "serial", ["-j", "1"])
    lines_d, seeds_d = _seed_table(tmp_path, "dask", ["-j", "2", "--executor", "dask"])
    assert lines_1 == lines_d
    pd.testing.assert_frame_equal(seeds_1, seeds_d, check_exact=True)


def test_a_check_that_runs_out_of_memory_says_so_in_one_line(tmp_path, monkeypatch) -> None:
    import abm.runner

    def exhausted(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(abm.runner, "simulate", exhausted)  # run_one reads it at call time
    (tmp_path / "tiny.yaml").write_text(TINY_CHECK)
    result = CliRunner().invoke(app, ["check", str(tmp_path / "tiny.yaml"), "-j", "1"])
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [result.stderr.strip()]  # one line
    assert result.stderr.startswith("abm: out of memory"), result.stderr
