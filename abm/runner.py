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
import re
import shutil
import subprocess
import sys
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
from abm.scenario import Scenario, ScenarioError, dump_scenario, with_overrides


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
        progress: Show progress on stderr (a bar on a terminal, lines when piped).

    Returns:
        The run's tables and outcomes.
    """
    from abm.model import LeverageModel  # deferred: keeps `abm validate` light

    updates: dict[str, Any] = {}
    if seed is not None:
        updates["seed"] = seed
    if steps is not None:
        updates["steps"] = steps
    if updates:  # through the schema: --steps 0 is refused like steps: 0 in a file
        scenario = with_overrides(scenario, updates)
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    model = LeverageModel(scenario=scenario)
    snapshots = []
    every = scenario.measurement.agent_table_every
    try:
        with _progress(progress, scenario.steps, scenario.name) as advance:
            while model.running:
                model.step()
                if every and model.steps % every == 0 and model.running:
                    snapshots.append(metrics.agent_table(model).assign(step=model.steps))
                advance()
    except Exception as err:  # a late failure keeps the steps computed so far
        raise RunFailed(_partial(model, scenario, started, t0), err) from err
    table = model.datacollector.get_model_vars_dataframe()
    table.index.name = "step"
    if scenario.measurement.valuation:
        if progress and not _is_tty(sys.stderr):
            note(f"{scenario.name}: valuing data")
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


class RunFailed(RuntimeError):
    """A run failed part-way; ``result`` holds the per-step table up to the failure."""

    def __init__(self, result: RunResult, error: BaseException):
        self.result = result
        self.error = error
        self.step = len(result.model_table) - 1
        detail = " ".join(str(error).split())[:200]
        super().__init__(
            f"the run failed after step {self.step} ({type(error).__name__}: {detail})"
        )


def _partial(model: Any, scenario: Scenario, started: datetime, t0: float) -> RunResult:
    """What a failed run computed: the recorded steps and the bargaining log, no outcomes."""
    try:
        table = model.datacollector.get_model_vars_dataframe()
        table.index.name = "step"
    except Exception:  # noqa: BLE001 - nothing recorded is still a result
        table = pd.DataFrame()
    return RunResult(
        scenario=scenario,
        seed=scenario.seed,
        model_table=table,
        agent_table=pd.DataFrame(),
        outcomes={},
        bargaining=pd.DataFrame(getattr(model, "bargaining_log", [])),
        groups=pd.DataFrame(),
        started=started.isoformat(timespec="seconds"),
        finished=datetime.now(UTC).isoformat(timespec="seconds"),
        seconds=time.perf_counter() - t0,
        extra={"failed": True},
    )


class _progress:
    """Progress on stderr: a rich bar on a terminal, plain lines when piped (``make run``).

    Piped output gets ``NAME: step k/N (T s)`` at most every ``every`` seconds and at the
    last step, flushed, so a log or CI shows a long run is alive.
    """

    def __init__(self, enabled: bool, total: int, name: str, every: float = 5.0):
        self.enabled, self.total, self.name, self.every = enabled, total, name, every
        self.bar = None
        self.done = 0
        self.t0 = self.last = 0.0

    def __enter__(self):
        if not self.enabled:
            return lambda: None
        if not _is_tty(sys.stderr):
            self.t0 = self.last = time.perf_counter()
            return self._line
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

    def _line(self) -> None:
        self.done += 1
        now = time.perf_counter()
        if now - self.last >= self.every or self.done >= self.total:
            self.last = now
            note(f"{self.name}: step {self.done}/{self.total} ({now - self.t0:.0f} s)")

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.__exit__(*exc)
        return False


def _is_tty(stream: Any) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def note(line: str) -> None:
    """One progress line on stderr, flushed (a pipe would otherwise hold it back)."""
    print(line, file=sys.stderr, flush=True)


def spawn_seed(root: int, *key: int) -> int:
    """The seed of one replicate: a spawned child of ``root`` (a 63-bit integer).

    ``spawn_seed(root, r)`` is child ``r`` of ``numpy.random.SeedSequence(root)``, so
    sweeps and comparisons give replicate ``r`` the same seed, any single run can be
    rerun alone, and adding replicates keeps the earlier ones' seeds.
    """
    hi, lo = np.random.SeedSequence(root, spawn_key=key).generate_state(2, np.uint32)
    return int(((int(hi) << 32) | int(lo)) & (2**63 - 1))


PARTIAL = ".partial-"  # prefix of a folder being written (hidden until complete)
LEGACY_PARTIAL_AGE = 3600.0  # seconds after which a partial without an owner is stale
MAX_FOLDER = 120  # characters in a folder name (a name, a time stamp and a seed)


def folder_name(name: str, file: str | Path | None = None, field: str = "name") -> str:
    """A name made safe for one path component: letters, digits, ``.``, ``_``, ``-``.

    Anything else (``/``, spaces, ``..`` runs at the ends) becomes ``-`` or is dropped,
    so the folder always sits directly inside the output root.

    Raises:
        ScenarioError: Nothing usable is left (``..``, ``///``).
    """
    safe = re.sub(r"[^\w.-]+", "-", str(name)).strip(".-")[:MAX_FOLDER].strip(".-")
    if not safe:
        raise ScenarioError(
            file, field, "a name with a letter or digit (it names the output folder)"
        )
    return safe


def check_out_root(out_root: str | Path, what: str = "--out") -> Path:
    """Check, before anything runs, that ``out_root`` is (or can become) a writable folder."""
    out_root = Path(out_root)
    probe = out_root
    while not probe.exists():
        if probe.is_symlink():
            raise ScenarioError(out_root, what, "a folder, got a dangling link")
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise ScenarioError(out_root, what, f"a folder, got the file '{probe}'")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ScenarioError(out_root, what, f"a folder you can write, got '{probe}'")
    return out_root


def clean_partials(out_root: str | Path) -> list[Path]:
    """Remove partial folders whose writer is gone (killed); return what was removed.

    A partial is ``.partial-<host>-<pid>-<random>``: it is stale when its process on
    this host no longer runs. Older partials without an owner are stale after an hour.
    """
    removed = []
    root = Path(out_root)
    if not root.is_dir():
        return removed
    host = _host()
    for path in root.glob(f"{PARTIAL}*"):
        if path.is_symlink() or not path.is_dir():
            continue
        parts = path.name[len(PARTIAL) :].rsplit("-", 2)
        if len(parts) == 3 and parts[1].isdigit():
            stale = parts[0] == host and not _alive(int(parts[1]))
        else:
            try:
                stale = time.time() - path.stat().st_mtime > LEGACY_PARTIAL_AGE
            except OSError:
                stale = False
        if stale:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _host() -> str:
    return re.sub(r"[^\w]+", "_", pyplatform.node() or "host")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# Memory a run needs, fitted to peak RSS of `abm run` on this code (docs/security.md):
# a fixed part (interpreter, libraries, data set), then per user (agent, cell, arrays)
# and per neighbour entry (CSR arrays and the Mesa cell's connection dict).
MEMORY_FIXED = 200 * 2**20
MEMORY_PER_USER = 1200
MEMORY_PER_EDGE = 75


def memory_estimate(scenario: Scenario) -> int:
    """Bytes a run of ``scenario`` is expected to need at its peak (a lower bound)."""
    n = scenario.population.n_users
    k = min(scenario.network.mean_degree, max(n - 1, 1))
    return MEMORY_FIXED + n * (MEMORY_PER_USER + MEMORY_PER_EDGE * k)


def memory_limit() -> int:
    """The memory this process may use: the cgroup limit, else the machine's memory."""
    limits = []
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 2**60:
            limits.append(int(text))
    try:
        limits.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        pass
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        limits.append(soft)
    return min(limits) if limits else 2**63


def check_memory(scenario: Scenario, file: str | Path | None = None) -> None:
    """Refuse, before building anything, a run that cannot fit in this machine's memory."""
    need, have = memory_estimate(scenario), memory_limit()
    if need > have:
        raise ScenarioError(
            file,
            "population.n_users",
            f"a run that fits in memory: {scenario.population.n_users:,} users x"
            f" {scenario.network.mean_degree} neighbours needs about {_gib(need)},"
            f" this machine allows {_gib(have)}",
        )


def _gib(n: int) -> str:
    return f"{n / 2**30:,.1f} GiB"


def check_files(scenario: Scenario, file: str | Path | None = None) -> None:
    """Read and check the data files a run will need (an edge list), before it starts."""
    from abm.network import read_edgelist
    from abm.scenario import GraphKind

    if scenario.network.kind is GraphKind.EDGELIST and scenario.network.path:
        read_edgelist(Path(scenario.network.path), scenario.population.n_users)


def new_folder(out_root: str | Path, name: str, write: Callable[[Path], None]) -> Path:
    """Fill a new folder ``out_root/name`` (or ``name-2``, ...) and return its path.

    ``name`` is made safe with :func:`folder_name`, so the folder is always directly
    inside ``out_root``. ``write`` fills a hidden partial folder, which is moved into
    place only when complete, so no folder is ever overwritten. If ``write`` fails,
    what it wrote is kept in ``<name>.failed`` and the error says where; partials of
    killed processes are removed by the next command writing to ``out_root``.
    """
    out_root = check_out_root(out_root)
    out_root.mkdir(parents=True, exist_ok=True)
    clean_partials(out_root)
    safe = folder_name(name)
    tmp = Path(tempfile.mkdtemp(prefix=f"{PARTIAL}{_host()}-{os.getpid()}-", dir=out_root))
    try:
        write(tmp)
        final = _fresh_name(out_root, safe)
        if final.resolve().parent != out_root.resolve():  # folder_name makes this impossible
            raise ScenarioError(None, "name", f"a folder inside {out_root}")
        os.rename(tmp, final)
        return final
    except KeyboardInterrupt:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    except BaseException as err:
        kept = _fresh_name(out_root, f"{safe}.failed")
        try:
            os.rename(tmp, kept)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            raise err from None
        raise WriteFailed(kept, err) from err


class WriteFailed(RuntimeError):
    """Writing a run folder failed; what was written is kept in ``folder``."""

    def __init__(self, folder: Path, error: BaseException):
        self.folder = folder
        self.error = error
        detail = str(error).splitlines()[0][:200] if str(error) else ""
        super().__init__(
            f"writing the run failed ({type(error).__name__}: {detail}); "
            f"what was written is kept in {folder}"
        )


def write_tables(result: RunResult, folder: Path) -> None:
    """One run's files in ``folder``: scenario, manifest, tables and PNG plots."""
    from abm.viz import plots

    (folder / "scenario.yaml").write_text(dump_scenario(result.scenario))
    (folder / "manifest.yaml").write_text(yaml.safe_dump(manifest(result), sort_keys=False))
    result.model_table.to_parquet(folder / "model.parquet")
    result.model_table.to_csv(folder / "model.csv")
    result.agent_table.to_parquet(folder / "agents.parquet", index=False)
    result.agent_table.to_csv(folder / "agents.csv", index=False)
    pd.Series(result.outcomes, name="value").rename_axis("outcome").to_csv(folder / "outcomes.csv")
    result.bargaining.to_csv(folder / "bargaining.csv", index=False)
    result.groups.to_parquet(folder / "groups.parquet", index=False)
    for name in plots.available(result.model_table):
        fig = plots.series_figure(result.model_table, name)
        fig.savefig(folder / f"{name}.png", dpi=110)
        plots.close(fig)


def write_run(result: RunResult, out_root: str | Path, extra_files: dict | None = None) -> Path:
    """Write a run into a new folder under ``out_root`` and return its path.

    Contents: ``scenario.yaml`` (resolved), ``manifest.yaml``, ``model.parquet`` /
    ``model.csv`` (per step), ``agents.parquet`` / ``agents.csv``, ``outcomes.csv``,
    ``bargaining.csv``, and PNG plots.
    """

    def write(tmp: Path) -> None:
        write_tables(result, tmp)
        for name, writer in (extra_files or {}).items():
            writer(tmp / name)

    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    suffix = "-failed" if result.extra.get("failed") else ""
    return new_folder(out_root, f"{result.scenario.name}-{stamp}-seed{result.seed}{suffix}", write)


def replicate_seeds(root: int, n: int) -> list[int]:
    """The seeds of ``n`` replicates: children 0..n-1 of ``root`` (as sweeps and compare)."""
    return [spawn_seed(root, r) for r in range(n)]


def simulate_replicates(
    scenario: Scenario, n: int, *, steps: int | None = None, progress: bool = False
) -> list[RunResult]:
    """Run ``scenario`` on ``n`` replicate seeds spawned from its seed.

    The seeds are those ``abm compare`` and sweeps give replicate ``r``, so a replicate
    here is paired with the same replicate of any other scenario run from the same root.
    """
    if n < 1:
        raise ValueError(f"--replicates: a number >= 1, got {n}")
    return [
        simulate(scenario, seed=seed, steps=steps, progress=progress)
        for seed in replicate_seeds(scenario.seed, n)
    ]


SUMMARY_COLUMNS = ["outcome", "unit", "n", "mean", "low", "high"]


def summarise(results: list[RunResult], confidence: float = 0.95) -> pd.DataFrame:
    """Each outcome over replicates: mean and Student t interval (NaN bounds below n=2)."""
    from scipy import stats

    units = {o.name: o.unit for o in metrics.OUTCOMES}
    rows = []
    for outcome in results[0].outcomes:
        values = np.array([r.outcomes[outcome] for r in results if outcome in r.outcomes])
        values = values[~np.isnan(values)]
        n = values.size
        mean = float(values.mean()) if n else float("nan")
        if n >= 2:
            half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * values.std(ddof=1)
                         / np.sqrt(n))  # fmt: skip
        else:
            half = float("nan")
        rows.append((outcome, units.get(outcome.partition("[")[0], ""), n, mean,
                     mean - half, mean + half))  # fmt: skip
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def write_replicates(
    results: list[RunResult],
    summary: pd.DataFrame,
    out_root: str | Path,
    extra_files: dict | None = None,
) -> Path:
    """Write replicate runs into one new folder and return its path.

    Contents: ``scenario.yaml`` (replicate 0's, resolved), ``manifest.yaml`` (root seed,
    every replicate's seed, the summary), ``summary.csv`` (mean and 95% interval per
    outcome) and ``runs/seed<seed>/``, each a complete run folder.
    """
    first = results[0]
    root_seed = first.scenario.seed
    seeds = [r.seed for r in results]

    def write(tmp: Path) -> None:
        (tmp / "scenario.yaml").write_text(dump_scenario(first.scenario))
        info = {
            "abm_version": abm.__version__,
            "scenario": first.scenario.name,
            "replicates": len(results),
            "root_seed": root_seed,
            "seeds": seeds,
            "steps": first.scenario.steps,
            "git_commit": git_commit(),
            "python": pyplatform.python_version(),
            "started": first.started,
            "finished": results[-1].finished,
            "seconds": round(sum(r.seconds for r in results), 3),
            "summary": {
                row.outcome: {k: (None if getattr(row, k) != getattr(row, k)
                                  else round(float(getattr(row, k)), 6))
                              for k in ("mean", "low", "high")}
                for row in summary.itertuples()
            },
        }  # fmt: skip
        (tmp / "manifest.yaml").write_text(yaml.safe_dump(info, sort_keys=False))
        summary.to_csv(tmp / "summary.csv", index=False)
        for r in results:
            run = tmp / "runs" / f"seed{r.seed}"
            run.mkdir(parents=True)
            write_tables(r, run)
        for name, writer in (extra_files or {}).items():
            writer(tmp / name)

    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    name = f"{first.scenario.name}-{stamp}-seed{root_seed}-x{len(results)}"
    return new_folder(out_root, name, write)


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
        **({"failed": True} if result.extra.get("failed") else {}),
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
