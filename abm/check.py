"""A scenario's own check: does its key outcome move the declared way when the lever is on?

Modelling assumption: common random numbers. Replicate ``i`` runs the scenario and the
same scenario with the lever switched off (its ``check.versus`` overrides, applied by
:func:`abm.scenario.with_overrides`, the one path walker) with the same seed
(``spawn_seed(scenario.seed, i)``), so both worlds share the network, the data split,
the users' thresholds and every draw the lever does not change. The difference
``scenario - versus`` of the key outcome in one replicate is then the lever's effect
plus little noise; its mean over replicates gets a paired Student t 95% interval
``mean +/- t_{0.975, n-1} * sd / sqrt(n)``. Unless the key outcome is a Shapley
``value[...]``, both runs skip the end-of-run valuation (``measurement.valuation``),
which changes no other outcome and is most of a small run's cost; without collectives,
they skip the twin without interventions too, which changes no outcome but its own.
The check passes when the interval excludes 0 on the declared side (``direction:
lower`` needs ``hi < 0``, ``higher`` needs ``lo > 0``).

:func:`run_check` is pure (no I/O); ``abm check`` prints :func:`summary_line` and, with
``--out``, writes the per-seed numbers with :func:`write_checks`.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from abm.metrics import outcome_names
from abm.runner import spawn_seed
from abm.scenario import Direction, Scenario, ScenarioError, with_overrides

if TYPE_CHECKING:
    from abm.sweep.executors import ExecutorKind

CONFIDENCE = 0.95


@dataclass(frozen=True)
class CheckResult:
    """The paired differences of one scenario's key outcome and their interval."""

    name: str
    outcome: str
    direction: Direction
    versus: dict[str, Any]  # check.versus: what "without" sets
    seeds: list[int]
    with_lever: np.ndarray  # the outcome per seed, lever on
    without: np.ndarray  # the outcome per seed, lever off (check.versus applied)
    mean: float
    lo: float
    hi: float

    @property
    def diffs(self) -> np.ndarray:
        """Per-seed difference, lever on minus lever off."""
        return self.with_lever - self.without

    @property
    def passed(self) -> bool:
        """The interval excludes 0 on the declared side."""
        return passes(self.lo, self.hi, self.direction)


def passes(lo: float, hi: float, direction: Direction | str) -> bool:
    """Whether the interval ``[lo, hi]`` lies strictly on ``direction``'s side of 0.

    NaN bounds (fewer than two seeds) never pass.
    """
    if math.isnan(lo) or math.isnan(hi):
        return False
    return hi < 0 if Direction(direction) is Direction.LOWER else lo > 0


def versus_scenario(scenario: Scenario) -> Scenario:
    """The same scenario with its lever switched off (``check.versus`` applied)."""
    if scenario.check is None:
        raise ScenarioError(None, "check", f"a check block (scenario '{scenario.name}' has none)")
    return with_overrides(scenario, {**scenario.check.versus, "check": None})


def validate_check(scenario: Scenario, file: str | Path | None = None) -> None:
    """The check's outcome is one the scenario and its lever-off version both produce.

    (Loading has already checked that ``versus`` names fields and gives a valid
    scenario; outcomes are declared in :mod:`abm.metrics`, which loading does not import.)

    Raises:
        ScenarioError: One line naming the file and ``check.outcome`` or ``check.versus``.
    """
    if scenario.check is None:
        return
    outcome = scenario.check.outcome
    known = outcome_names(scenario)
    if outcome not in known:
        hint = difflib.get_close_matches(outcome, known, n=1)
        extra = f"; did you mean '{hint[0]}'?" if hint else ""
        raise ScenarioError(
            file, "check.outcome", f"an outcome of this scenario, got '{outcome}'{extra}"
        )
    if outcome not in outcome_names(versus_scenario(scenario)):
        raise ScenarioError(file, "check.versus", f"overrides that keep outcome '{outcome}'")


def run_check(
    scenario: Scenario,
    seeds: int | None = None,
    steps: int | None = None,
    progress: Callable[[], None] | None = None,
    *,
    executor: ExecutorKind | None = None,
    jobs: int = 1,
    scheduler: str | None = None,
) -> CheckResult:
    """Run the scenario and its lever-off version on paired seeds.

    Args:
        scenario: A validated scenario with a ``check`` block.
        seeds: Number of paired seeds (default ``check.seeds``).
        steps: Overrides both runs' ``steps``.
        progress: Called after each seed's pair of runs.
        executor: Where the runs execute (default: a local pool).
        jobs: Worker processes (1: in this process).
        scheduler: An existing Dask scheduler's address.

    Returns:
        The per-seed outcomes and the mean difference with its 95% t-interval.
    """
    each = (lambda _file: progress()) if progress is not None else None
    return run_checks([scenario], seeds, steps, each, executor=executor, jobs=jobs,
                      scheduler=scheduler)[0]  # fmt: skip


def run_checks(
    scenarios: list[Scenario],
    seeds: int | None = None,
    steps: int | None = None,
    progress: Callable[[int], None] | None = None,
    *,
    executor: ExecutorKind | None = None,
    jobs: int = 1,
    scheduler: str | None = None,
) -> list[CheckResult]:
    """Run several scenarios' checks, every pair of runs on one pool of workers.

    The pairs run through the sweep executors (:func:`abm.sweep.executors.run_groups`),
    so the results are the same whatever the back-end and the number of workers.

    Args:
        scenarios: Validated scenarios, each with a ``check`` block.
        seeds: Number of paired seeds (default: each ``check.seeds``).
        steps: Overrides every run's ``steps``.
        progress: Called with the scenario's index after each of its seeds' pair of runs.
        executor: Where the runs execute (default: a local pool).
        jobs: Worker processes (1: in this process).
        scheduler: An existing Dask scheduler's address.

    Returns:
        One result per scenario, in order.
    """
    from abm.sweep.executors import ExecutorKind, run_groups

    groups = [_pair(scenario, seeds) for scenario in scenarios]
    pairs = run_groups(groups, steps, kind=executor or ExecutorKind.LOCAL, jobs=jobs,
                       scheduler=scheduler, progress=progress)  # fmt: skip
    return [_result(sc, se, p) for (sc, se), p in zip(groups, pairs, strict=True)]


def _pair(scenario: Scenario, seeds: int | None) -> tuple[list[Scenario], list[int]]:
    """The scenario as run (costs it does not need skipped), its lever-off twin, the seeds."""
    validate_check(scenario)
    check = scenario.check
    if not check.outcome.startswith("value["):
        # Valuation runs after the last step and feeds no other outcome: skip its cost.
        scenario = with_overrides(scenario, {"measurement.valuation": False})
    if not scenario.collectives and not check.outcome.startswith("intervention_"):
        # Without collectives a twin only measures interventions; it never changes the
        # run (nobody bargains), so a check of another outcome skips its cost too.
        scenario = with_overrides(scenario, {"measurement.twins": "off"})
    n = check.seeds if seeds is None else seeds
    if n < 2:
        raise ScenarioError(None, "--seeds", f"at least 2 paired seeds, got {n}")
    seed_list = [spawn_seed(scenario.seed, r) for r in range(n)]
    return [scenario, versus_scenario(scenario)], seed_list


def _result(
    scenarios: list[Scenario], seed_list: list[int], pairs: list[list[dict[str, float]]]
) -> CheckResult:
    """The paired differences of one check and their interval."""
    check = scenarios[0].check
    on = np.asarray([pair[0][check.outcome] for pair in pairs], float)
    off = np.asarray([pair[1][check.outcome] for pair in pairs], float)
    from abm.intervals import mean_ci  # scipy.stats: only when a check has run

    mean, lo, hi = mean_ci(on - off, CONFIDENCE)
    return CheckResult(
        name=scenarios[0].name,
        outcome=check.outcome,
        direction=check.direction,
        versus=dict(check.versus),
        seeds=seed_list,
        with_lever=on,
        without=off,
        mean=mean,
        lo=lo,
        hi=hi,
    )


def check_file(path: str | Path) -> CheckResult:
    """Load a scenario file and run its check with its own settings (for worker pools)."""
    from abm.scenario import load_scenario

    return run_check(load_scenario(path))


def versus_words(versus: dict[str, Any]) -> str:
    """``check.versus`` as read in a verdict: ``collectives.strikers.size = 0``."""
    return ", ".join(f"{k} = {v}" for k, v in versus.items())


def summary_line(file: str, result: CheckResult) -> str:
    """One line: file, outcome, expected direction, difference, interval, pass or fail.

    The comparison names what ``check.versus`` sets (a lever, a policy switch, a
    shock), so the line says what the outcome was compared with.
    """
    verdict = "pass" if result.passed else "FAIL"
    return (
        f"{file}: {result.outcome} {result.direction.value} than with "
        f"{versus_words(result.versus)}: diff {result.mean:+.4g} "
        f"[{result.lo:+.4g}, {result.hi:+.4g}] (95%, {len(result.seeds)} paired seeds) {verdict}"
    )


CHECK_COLUMNS = ["file", "scenario", "outcome", "direction", "versus", "n", "diff", "low",
                 "high", "verdict"]  # fmt: skip
SEED_COLUMNS = ["file", "replicate", "seed", "with", "without", "diff"]


def write_checks(checked: list[tuple[str, CheckResult]], out_root: str | Path) -> Path:
    """Write a new folder ``check-<time>`` under ``out_root`` and return its path.

    Contents: ``checks.csv`` (one row per file: the verdict line's numbers),
    ``seeds.csv`` (one row per file and paired seed: the outcome with and without, and
    their difference) and ``manifest.yaml`` (version, commit, time).
    """
    import pandas as pd
    import yaml

    import abm
    from abm.outputs import git_commit, new_folder

    rows, per_seed = [], []
    for file, r in checked:
        verdict = "pass" if r.passed else "FAIL"
        rows.append((file, r.name, r.outcome, r.direction.value, versus_words(r.versus),
                     len(r.seeds), r.mean, r.lo, r.hi, verdict))  # fmt: skip
        for i, seed in enumerate(r.seeds):
            per_seed.append((file, i, seed, r.with_lever[i], r.without[i], r.diffs[i]))
    info = {"abm_version": abm.__version__, "git_commit": git_commit(),
            "written": datetime.now(UTC).isoformat(timespec="seconds"),
            "files": [file for file, _ in checked]}  # fmt: skip

    def write(tmp: Path) -> None:
        pd.DataFrame(rows, columns=CHECK_COLUMNS).to_csv(tmp / "checks.csv", index=False)
        pd.DataFrame(per_seed, columns=SEED_COLUMNS).to_csv(tmp / "seeds.csv", index=False)
        (tmp / "manifest.yaml").write_text(yaml.safe_dump(info, sort_keys=False))

    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return new_folder(out_root, f"check-{stamp}", write)
