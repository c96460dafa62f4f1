"""The model as a function: ``simulate(scenario) -> RunResult``, and writing a run folder.

``simulate`` does no I/O, so sweeps, comparisons and tests call it directly and
parallelism stays in the sweep layer. ``write_run`` gives every run its own new folder
under the chosen output root and never overwrites: files are written into a hidden
temporary folder first and moved into place only when complete, so a failed or
interrupted run leaves earlier outputs untouched and no half-written folder behind.
"""

from __future__ import annotations

import os
import platform as pyplatform
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

import abm
from abm import metrics, valuation
from abm.bargaining import ROUND_COLUMNS
from abm.scenario import Scenario, dump_scenario


@dataclass
class RunResult:
    """Everything a run produced, in memory."""

    scenario: Scenario
    seed: int
    model_table: pd.DataFrame  # one row per step (0 = initial state), columns series[entity]
    agent_table: pd.DataFrame  # one row per user (and snapshot step), at the chosen cadence
    outcomes: dict[str, float]  # declared end-of-run outcomes, "name[entity]" -> value
    bargaining: pd.DataFrame  # one row per bargaining round
    groups: pd.DataFrame  # quality per step, platform and user group
    started: str = ""
    finished: str = ""
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def simulate(
    scenario: Scenario,
    *,
    seed: int | None = None,
    steps: int | None = None,
    progress: bool = False,
) -> RunResult:
    """Run one scenario to the end and collect its tables.

    Args:
        scenario: The validated scenario.
        seed: Overrides ``scenario.seed``.
        steps: Overrides ``scenario.steps``.
        progress: Show a progress bar on stderr.

    Returns:
        The run's tables and outcomes.
    """
    from abm.model import LeverageModel  # deferred: keeps `abm validate` light

    updates: dict[str, Any] = {}
    if seed is not None:
        updates["seed"] = seed
    if steps is not None:
        updates["steps"] = steps
    if updates:
        scenario = scenario.model_copy(update=updates)
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    model = LeverageModel(scenario=scenario)
    snapshots = []
    every = scenario.measurement.agent_table_every
    with _progress(progress, scenario.steps, scenario.name) as advance:
        while model.running:
            model.step()
            if every and model.steps % every == 0 and model.running:
                snapshots.append(metrics.agent_table(model).assign(step=model.steps))
            advance()
    table = model.datacollector.get_model_vars_dataframe()
    table.index.name = "step"
    if scenario.measurement.valuation:
        valuation.value_users(model)
        if 0 < len(model.collectives) <= 5:
            valuation.value_collectives(model)
    snapshots.append(metrics.agent_table(model).assign(step=model.steps))
    return RunResult(
        scenario=scenario,
        seed=scenario.seed,
        model_table=table,
        agent_table=pd.concat(snapshots, ignore_index=True),
        outcomes=metrics.outcomes(model, table),
        bargaining=pd.DataFrame(model.bargaining_log, columns=list(ROUND_COLUMNS)),
        groups=model.datacollector.get_table_dataframe(metrics.GROUP_TABLE),
        started=started.isoformat(timespec="seconds"),
        finished=datetime.now(UTC).isoformat(timespec="seconds"),
        seconds=time.perf_counter() - t0,
    )


class _progress:
    """A rich progress bar on long interactive runs; a no-op otherwise."""

    def __init__(self, enabled: bool, total: int, name: str):
        self.enabled, self.total, self.name = enabled, total, name
        self.bar = None

    def __enter__(self):
        if not self.enabled:
            return lambda: None
        from rich.progress import BarColumn, Progress, TimeRemainingColumn

        self.bar = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            "{task.completed}/{task.total} steps",
            TimeRemainingColumn(),
            transient=True,
        )
        self.bar.__enter__()
        task = self.bar.add_task(self.name, total=self.total)
        return lambda: self.bar.advance(task)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.__exit__(*exc)
        return False


def spawn_seed(root: int, *key: int) -> int:
    """The seed of one replicate: a spawned child of ``root`` (a 63-bit integer).

    ``spawn_seed(root, r)`` is child ``r`` of ``numpy.random.SeedSequence(root)``, so
    sweeps and comparisons give replicate ``r`` the same seed, any single run can be
    rerun alone, and adding replicates keeps the earlier ones' seeds.
    """
    hi, lo = np.random.SeedSequence(root, spawn_key=key).generate_state(2, np.uint32)
    return int(((int(hi) << 32) | int(lo)) & (2**63 - 1))


def new_folder(out_root: str | Path, name: str, write: Callable[[Path], None]) -> Path:
    """Fill a new folder ``out_root/name`` (or ``name-2``, ...) and return its path.

    ``write`` fills a hidden temporary folder, which is moved into place only when
    complete: a failure or an interruption leaves earlier outputs untouched and no
    half-written folder behind, and no folder is ever overwritten.
    """
    out_root = Path(out_root)
    out_root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".partial-", dir=out_root))
    try:
        write(tmp)
        final = _fresh_name(out_root, name)
        os.rename(tmp, final)
        return final
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_run(result: RunResult, out_root: str | Path, extra_files: dict | None = None) -> Path:
    """Write a run into a new folder under ``out_root`` and return its path.

    Contents: ``scenario.yaml`` (resolved), ``manifest.yaml``, ``model.parquet`` /
    ``model.csv`` (per step), ``agents.parquet`` / ``agents.csv``, ``outcomes.csv``,
    ``bargaining.csv``, and PNG plots.
    """
    from abm.viz import plots

    def write(tmp: Path) -> None:
        (tmp / "scenario.yaml").write_text(dump_scenario(result.scenario))
        (tmp / "manifest.yaml").write_text(yaml.safe_dump(manifest(result), sort_keys=False))
        result.model_table.to_parquet(tmp / "model.parquet")
        result.model_table.to_csv(tmp / "model.csv")
        result.agent_table.to_parquet(tmp / "agents.parquet", index=False)
        result.agent_table.to_csv(tmp / "agents.csv", index=False)
        pd.Series(result.outcomes, name="value").rename_axis("outcome").to_csv(tmp / "outcomes.csv")
        result.bargaining.to_csv(tmp / "bargaining.csv", index=False)
        result.groups.to_parquet(tmp / "groups.parquet", index=False)
        for name in plots.available(result.model_table):
            fig = plots.series_figure(result.model_table, name)
            fig.savefig(tmp / f"{name}.png", dpi=110)
            plots.close(fig)
        for name, writer in (extra_files or {}).items():
            writer(tmp / name)

    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return new_folder(out_root, f"{result.scenario.name}-{stamp}-seed{result.seed}", write)


def _fresh_name(root: Path, base: str) -> Path:
    candidate, i = root / base, 1
    while candidate.exists():
        i += 1
        candidate = root / f"{base}-{i}"
    return candidate


def manifest(result: RunResult) -> dict[str, Any]:
    """What made this run: versions, seed, commit, times."""
    return {
        "abm_version": abm.__version__,
        "scenario": result.scenario.name,
        "seed": result.seed,
        "steps": result.scenario.steps,
        "git_commit": git_commit(),
        "python": pyplatform.python_version(),
        "started": result.started,
        "finished": result.finished,
        "seconds": round(result.seconds, 3),
        "outcomes": {k: (None if v != v else round(v, 6)) for k, v in result.outcomes.items()},
    }


def git_commit() -> str | None:
    """The source tree's git commit, if it is a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(abm.__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None
