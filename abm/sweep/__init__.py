"""Parameter sweeps: designs x replicates, run anywhere, stored resumably as Parquet.

define (:mod:`abm.sweep.spec`) -> sample (:mod:`abm.sweep.design`) -> run
(:mod:`abm.sweep.executors`) -> store (:mod:`abm.sweep.store`) -> analyse
(:mod:`abm.sweep.analysis`, :mod:`abm.sweep.figure`). The sweep layer treats the model
as a function from a scenario to outcomes (:func:`abm.runner.simulate`) and never
reaches into agents; parallelism lives here only.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from abm.messages import printable
from abm.sweep.design import Design, RunSpec, Seeding, run_id, seed_for
from abm.sweep.executors import ExecutorKind, Interrupted, Task, execute, stop_on_signals
from abm.sweep.spec import Sweep, load_sweep
from abm.sweep.store import SweepStore

__all__ = [
    "Design",
    "ExecutorKind",
    "Interrupted",
    "RunSpec",
    "Seeding",
    "Sweep",
    "SweepReport",
    "SweepStore",
    "load_sweep",
    "rerun_command",
    "run_id",
    "run_sweep",
    "seed_for",
]

DEFAULT_OUT = Path("outputs/sweeps")


@dataclass
class SweepReport:
    """What a sweep did."""

    folder: Path
    total: int  # runs in the sweep
    skipped: int  # already finished when it started
    done: int  # finished runs in the folder at the end
    failed: int  # failed runs at the end


def run_sweep(
    sweep: Sweep,
    out_root: str | Path = DEFAULT_OUT,
    *,
    executor: ExecutorKind = ExecutorKind.LOCAL,
    jobs: int = 1,
    scheduler: str | None = None,
    progress: bool = False,
) -> SweepReport:
    """Run every unfinished run of a sweep and write the combined tables.

    SIGINT and SIGTERM stop it (:class:`Interrupted`): workers are ended, finished runs
    are kept and the manifest says "interrupted"; rerunning resumes.

    Args:
        sweep: The validated sweep.
        out_root: The sweep's folder is ``out_root / sweep.name``.
        executor: Where runs execute.
        jobs: Worker processes for the local pool or a Dask LocalCluster.
        scheduler: An existing Dask scheduler's address (implies the Dask executor).
        progress: Show a progress bar (runs done, failures, ETA) on stderr.

    Returns:
        Counts of runs and the folder.
    """
    store = SweepStore(sweep, out_root)
    with stop_on_signals():  # a second signal is ignored while this one is handled
        try:
            store.open()
            finished = len(store.finished())
            with _Bar(progress, sweep.name, sweep.n_runs, finished) as bar:
                _execute(store, bar, executor, jobs, scheduler)
                if _missing(store):  # a run file vanished meanwhile (deleted): run it again
                    _execute(store, bar, executor, jobs, scheduler)
            done, failed = store.combine()
            store.write_manifest(status=_status(sweep.n_runs, done, failed),
                                 finished=done, failed=failed)  # fmt: skip
        except Interrupted as stop:
            if store.is_open:
                stop.finished = len(store.finished())
                store.write_manifest(status="interrupted", finished=stop.finished)
            raise
        finally:
            store.close()
    return SweepReport(store.folder, sweep.n_runs, finished, done, failed)


def _execute(
    store: SweepStore, bar: _Bar, executor: ExecutorKind, jobs: int, scheduler: str | None
) -> None:
    """Run the store's pending runs and record each outcome as it arrives."""
    base, steps = store.sweep.base, store.sweep.spec.steps
    tasks = (Task(run, base, steps, store.sweep.measure) for run in store.pending())
    with closing(execute(tasks, executor, jobs, scheduler)) as outcomes:
        for outcome in outcomes:
            if outcome.error is None:
                store.record(outcome.run, outcome.outcomes)
            else:
                store.record_failure(outcome.run, outcome.error)
            bar.advance(failed=outcome.error is not None)


def _missing(store: SweepStore) -> bool:
    """Whether a run has neither a run file nor a recorded failure."""
    failed = {p.stem for p in store.failed_dir.glob("p*.json")}
    return any(r.run_id not in failed for r in store.pending())


def _status(total: int, rows: int, failed: int) -> str:
    """The manifest's status, from the rows the combined table actually holds."""
    if rows == total:
        return "complete"
    if rows + failed == total:
        return "complete with failures"
    return f"incomplete: {total - rows - failed} runs missing (rerun to resume)"


def rerun_command(sweep: Sweep, row: dict) -> str:
    """The ``abm run`` command that reproduces one row of a sweep's results."""
    import shlex

    base = sweep.path.parent / sweep.spec.base
    parts = ["abm", "run", str(base), "--seed", str(int(row["seed"])), "--steps", str(sweep.steps)]
    for item in sweep.command_line.get("set", []):  # the base as the command line shrank it
        parts += ["--set", item]
    for f in sweep.factors:
        parts += [
            "--set",
            f"{f.path}={row[f.path]!r}"
            if isinstance(row[f.path], float)
            else f"{f.path}={row[f.path]}",
        ]
    return shlex.join(parts)


class _Bar:
    """A rich progress bar: runs done of total, failures, elapsed and time remaining."""

    def __init__(self, enabled: bool, name: str, total: int, completed: int):
        self.enabled, self.name, self.total, self.completed = enabled, name, total, completed
        self.failed = 0

    def __enter__(self) -> _Bar:
        if self.enabled:
            from rich.console import Console
            from rich.markup import escape
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("runs  [red]{task.fields[failed]} failed"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=Console(stderr=True),
            )
            self.bar.__enter__()
            self.task = self.bar.add_task(  # the name as text: no terminal codes, no markup
                escape(printable(self.name)), total=self.total, completed=self.completed, failed=0
            )
        return self

    def advance(self, failed: bool) -> None:
        self.failed += failed
        if self.enabled:
            self.bar.update(self.task, advance=1, failed=self.failed)

    def __exit__(self, *exc: object) -> bool:
        if self.enabled:
            self.bar.__exit__(*exc)
        return False
