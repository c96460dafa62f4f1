"""The model as a function: ``simulate(scenario) -> RunResult``, and what to check first.

``simulate`` does no I/O, so sweeps, comparisons and tests call it directly and
parallelism stays in the sweep layer; replicates are paired seeds spawned from the
scenario's (:func:`replicate_seeds`) and summarised with intervals (:func:`summarise`).
Run folders are written by :mod:`abm.outputs`. Before a run, :func:`abm.preflight.preflight`
refuses in one line what cannot work (this module's :func:`check_memory` among its checks).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from abm import metrics, twins, valuation
from abm.bargaining import ROUND_COLUMNS
from abm.scenario import Scenario, ScenarioError, with_overrides

if TYPE_CHECKING:
    from abm.model import LeverageModel


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

    scenario = _with_seed_and_steps(scenario, seed, steps)
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    model = LeverageModel(scenario=scenario)
    snapshots = []
    every = scenario.measurement.agent_table_every
    try:
        with Progress(progress, scenario.steps, scenario.name) as advance:
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
        _value_data(model, scenario.name, progress)
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


def _with_seed_and_steps(scenario: Scenario, seed: int | None, steps: int | None) -> Scenario:
    """The scenario with ``seed`` and ``steps`` set where given.

    They go through the schema: ``--steps 0`` is refused like ``steps: 0`` in a file.
    """
    updates: dict[str, Any] = {}
    if seed is not None:
        updates["seed"] = seed
    if steps is not None:
        updates["steps"] = steps
    return with_overrides(scenario, updates) if updates else scenario


def _value_data(model: LeverageModel, name: str, progress: bool) -> None:
    """End-of-run Shapley values of users and of collectives (at a bounded cost)."""
    if progress and not _is_tty(sys.stderr):
        note(f"{name}: valuing data")
    valuation.value_users(model)
    say = (lambda line: note(f"{name}: {line}")) if progress else None
    valuation.value_collectives(model, say=say)


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


class Progress:
    """Progress on stderr: a rich bar on a terminal, plain lines when piped (``make run``).

    ``unit`` names what is counted (steps of a run, seeds of ``abm check``). Piped output
    gets ``NAME: step k/N (T s)`` at most every ``every`` seconds and at the
    last step, flushed, so a log or CI shows a long run is alive.
    """

    def __init__(
        self, enabled: bool, total: int, name: str, every: float = 5.0, unit: str = "step"
    ):
        self.enabled, self.total, self.name, self.every = enabled, total, name, every
        self.unit = unit
        self.bar = None
        self.done = 0
        self.t0 = self.last = 0.0

    def __enter__(self):
        if not self.enabled:
            return lambda: None
        if not _is_tty(sys.stderr):
            self.t0 = self.last = time.perf_counter()
            return self._line
        from rich.markup import escape
        from rich.progress import BarColumn, TimeRemainingColumn
        from rich.progress import Progress as Bar

        from abm.messages import printable

        self.bar = Bar(
            "[progress.description]{task.description}",
            BarColumn(),
            f"{{task.completed}}/{{task.total}} {self.unit}s",
            TimeRemainingColumn(),
            transient=True,
        )
        self.bar.__enter__()
        # A name comes from a file: shown as text, never as terminal codes or rich markup.
        task = self.bar.add_task(escape(printable(self.name)), total=self.total)
        return lambda: self.bar.advance(task)

    def _line(self) -> None:
        self.done += 1
        now = time.perf_counter()
        if now - self.last >= self.every or self.done >= self.total:
            self.last = now
            note(f"{self.name}: {self.unit} {self.done}/{self.total} ({now - self.t0:.0f} s)")

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
    """One progress line on stderr, flushed (a pipe would otherwise hold it back).

    The line names a scenario from a file, so it is shown printable (abm/messages.py).
    """
    from abm.messages import printable

    print(printable(line), file=sys.stderr, flush=True)


def spawn_seed(root: int, *key: int) -> int:
    """The seed of one replicate: a spawned child of ``root`` (a 63-bit integer).

    ``spawn_seed(root, r)`` is child ``r`` of ``numpy.random.SeedSequence(root)``, so
    sweeps and comparisons give replicate ``r`` the same seed, any single run can be
    rerun alone, and adding replicates keeps the earlier ones' seeds.
    """
    hi, lo = np.random.SeedSequence(root, spawn_key=key).generate_state(2, np.uint32)
    return int(((int(hi) << 32) | int(lo)) & (2**63 - 1))


# Memory a run needs, fitted to peak RSS of `abm bench`'s scenario on this code
# (docs/performance.md; 10k-10M users, degree 8 and 16, 3-23 steps, twins off and on),
# each value rounded down so the estimate stays under every measured peak: a fixed part
# (interpreter, libraries, data set); per user, the real world's arrays and each twin
# world's; per neighbour entry (CSR arrays); per row a world's data pools hold by the
# end (users x samples_per_step x steps). Users become Mesa agents only where something
# reads them (the viewer): MEMORY_PER_AGENT a user more.
MEMORY_FIXED = 220 * 2**20
MEMORY_PER_USER = 100
MEMORY_PER_TWIN_USER = 50
MEMORY_PER_EDGE = 34
MEMORY_PER_ROW = 50
MEMORY_PER_AGENT = 1200


def memory_estimate(scenario: Scenario, edges: int | None = None, *, agents: bool = False) -> int:
    """Bytes a run of ``scenario`` is expected to need at its peak (a lower bound).

    Args:
        scenario: The scenario.
        edges: Edges of its edge list, when it reads one (the mean degree is then
            ``2 * edges / n_users``, not ``network.mean_degree``).
        agents: The run reads its users as Mesa agents (the viewer does).
    """
    n = scenario.population.n_users
    if edges is not None:
        graph = 2 * edges * MEMORY_PER_EDGE
    else:
        graph = n * MEMORY_PER_EDGE * min(scenario.network.mean_degree, max(n - 1, 1))
    return MEMORY_FIXED + n * _per_user(scenario, agents) + graph + task_memory(scenario)


def _per_user(scenario: Scenario, agents: bool) -> int:
    """Bytes a user costs apart from its neighbours: arrays in every world, pooled rows."""
    worlds = twins.n_worlds(scenario)
    rows = scenario.population.samples_per_step * scenario.steps * worlds
    per_user = MEMORY_PER_USER + MEMORY_PER_TWIN_USER * (worlds - 1) + MEMORY_PER_ROW * rows
    return int(per_user) + (MEMORY_PER_AGENT if agents else 0)


# Bytes a data file's task takes once read, per byte of file: measured as peak RSS over
# the interpreter's with `/usr/bin/time -f %M` (docs/security.md): a 37 MB ratings.csv
# (1.5 M ratings) took 4.5 bytes a byte, a 119 MB numeric CSV (300k rows, 21 columns) 2.1.
MEMORY_PER_FILE_BYTE = {"movielens": 4, "csv": 2, "parquet": 2}


def task_memory(scenario: Scenario) -> int:
    """Bytes the task's own data takes (held-out set, starting rows, generator state).

    What the run adds as users contribute (pools growing with the steps) is not
    counted, so this stays a lower bound.
    """
    task, name = scenario.task, str(scenario.task.name)
    p = task.stream
    if name == "stream":
        # Class means per group and component (float32, built from float64 draws), then
        # the held-out set and the platforms' starting rows (float32).
        means = p.n_groups * p.n_classes * p.components * p.n_features
        return 20 * means + 4 * p.n_features * (p.n_test + task.n_samples)
    if name == "ratings_stream":
        return 16 * p.n_items * (p.rank + 2) + 24 * (p.n_test + task.n_samples)
    if name == "synthetic":
        return 3 * 8 * 20 * task.n_samples  # features, then the standardised split
    if name in MEMORY_PER_FILE_BYTE and task.path:
        try:
            return MEMORY_PER_FILE_BYTE[name] * Path(task.path).stat().st_size
        except OSError:
            return 0
    return 0


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


def check_memory(
    scenario: Scenario, file: str | Path | None = None, *, agents: bool = False
) -> None:
    """Refuse, before building anything, a run that cannot fit in this machine's memory.

    An edge list is read first (its edges set the degree); a task's data is counted;
    ``agents``: the run reads its users as Mesa agents (:func:`memory_estimate`).
    """
    from abm.network import read_edgelist
    from abm.scenario import GraphKind

    n, have, edges = scenario.population.n_users, memory_limit(), None
    if scenario.network.kind is GraphKind.EDGELIST and scenario.network.path:
        src, _, _ = read_edgelist(Path(scenario.network.path), n)
        edges = int(src.size)
        need = memory_estimate(scenario, edges, agents=agents)
        what = f"{n:,} users and an edge list of {edges:,} edges"
    else:
        need = memory_estimate(scenario, agents=agents)
        what = f"{n:,} users x {scenario.network.mean_degree} neighbours"
    data = task_memory(scenario)
    if data >= 2**30:
        what += f" and task {scenario.task.name} ({_gib(data)} of data)"
    if need > have:
        fit = users_that_fit(scenario, have, agents=agents)
        fit = f" (about {_round_down(fit):,} users fit)" if edges is None else ""
        raise ScenarioError(
            file,
            "population.n_users",
            f"a run that fits in memory: {what} needs about {_gib(need)},"
            f" this machine allows {_gib(have)}{fit}",
        )


def users_that_fit(scenario: Scenario, have: int | None = None, *, agents: bool = False) -> int:
    """The most users ``scenario`` could have and still fit in memory.

    By :func:`memory_estimate` with ``network.mean_degree`` neighbours, against ``have``
    bytes (this machine's limit if not given): memory, not a constant, is the ceiling.
    """
    have = memory_limit() if have is None else have
    per_user = _per_user(scenario, agents) + MEMORY_PER_EDGE * scenario.network.mean_degree
    return max(0, (have - MEMORY_FIXED - task_memory(scenario)) // per_user)


def _round_down(n: int) -> int:
    """``n`` rounded down to three significant digits (13,925,822 -> 13,900,000)."""
    scale = 10 ** max(len(str(n)) - 3, 0)
    return n // scale * scale


def _gib(n: int) -> str:
    return f"{n / 2**30:,.1f} GiB"


def replicate_seeds(root: int, n: int) -> list[int]:
    """The seeds of ``n`` replicates: children 0..n-1 of ``root`` (as sweeps and compare)."""
    return [spawn_seed(root, r) for r in range(n)]


def simulate_replicates(
    scenario: Scenario, n: int, *, steps: int | None = None, progress: bool = False
) -> list[RunResult]:
    """Run ``scenario`` on ``n`` replicate seeds spawned from its seed.

    Replicate ``r`` runs with ``spawn_seed(scenario.seed, r)``, never with the scenario's
    seed itself; each result's ``extra`` holds ``root_seed`` (the scenario's) and
    ``replicate`` (``r``). The seeds are those ``abm compare`` and sweeps give replicate
    ``r``, so a replicate here is paired with the same replicate of any other scenario
    run from the same root.
    """
    if n < 1:
        raise ValueError(f"--replicates: a number >= 1, got {n}")
    results = []
    for r, seed in enumerate(replicate_seeds(scenario.seed, n)):
        result = simulate(scenario, seed=seed, steps=steps, progress=progress)
        # Where the seed came from, for the folder, the manifest and the report.
        result.extra.update(root_seed=scenario.seed, replicate=r)
        results.append(result)
    return results


SUMMARY_COLUMNS = ["outcome", "unit", "n", "mean", "low", "high"]


def summarise(results: list[RunResult], confidence: float = 0.95) -> pd.DataFrame:
    """Each outcome over replicates: mean and Student t interval (NaN bounds below n=2)."""
    from abm.intervals import mean_ci  # scipy: imported when replicates are summarised

    units = {o.name: o.unit for o in metrics.OUTCOMES}
    rows = []
    for outcome in results[0].outcomes:
        values = np.array([r.outcomes[outcome] for r in results if outcome in r.outcomes])
        values = values[~np.isnan(values)]
        mean, low, high = mean_ci(values, confidence)
        unit = units.get(outcome.partition("[")[0], "")
        rows.append((outcome, unit, values.size, mean, low, high))
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
