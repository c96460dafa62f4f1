"""Where runs execute: in this process, on a local process pool, or on a Dask cluster.

Every back-end runs the same function, :func:`run_one`, which only calls
:func:`abm.runner.simulate` on the base scenario with the point's overrides and the
run's seed, and returns the outcomes or the error. Results therefore do not depend on
the back-end. Each worker uses one BLAS thread (parallelism is across runs, and
multi-threaded BLAS makes these small learners slower and erratic). At most
``window`` runs are in flight, so the parent's memory does not grow with the sweep.

Interrupts: SIGINT (Ctrl-C reaches the whole process group) and SIGTERM are handled by
the ``abm sweep`` process alone (:func:`stop_on_signals`). Worker processes are started
with SIGINT blocked, so a Ctrl-C never prints their tracebacks; when the sweep stops, its
workers are ended before it returns, so none is left behind.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import closing, contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from abm.scenario import Scenario
from abm.sweep.design import RunSpec


class ExecutorKind(StrEnum):
    """The back-ends."""

    LOCAL = "local"  # a process pool on this machine
    DASK = "dask"  # a Dask cluster: a LocalCluster, or an existing one (--scheduler)
    SERIAL = "serial"  # in this process, one run at a time (debugging)


@dataclass(frozen=True)
class Task:
    """What a worker needs for one run."""

    run: RunSpec
    base: Scenario
    steps: int | None
    # The model as a function (scenario, seed, steps) -> outcomes; None: simulate's outcomes.
    measure: Callable[[Scenario, int, int | None], dict[str, float]] | None = None


@dataclass(frozen=True)
class WorkerReply:
    """What a worker sends back: the outcomes, or the error."""

    run: RunSpec
    outcomes: dict[str, float] | None
    error: str | None = None


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped the sweep.

    A KeyboardInterrupt, so no run records it as a failure and a caller that does not
    catch it (a calibration's stages) stops as on Ctrl-C.
    """

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.finished: int | None = None  # runs kept, once the store has counted them


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Turn the first SIGINT or SIGTERM into :class:`Interrupted`; ignore any later one.

    Later signals are ignored until the block ends, so ending the workers and writing
    the manifest are not cut short. Outside the main thread (signals cannot be caught
    there) this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def handler(signum: int, frame: Any) -> None:
        if not caught:
            caught.append(signum)
            raise Interrupted(signum)

    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, previous in old.items():
            signal.signal(sig, previous)


@contextmanager
def _children_without_sigint() -> Iterator[None]:
    """Processes started inside this block inherit SIGINT blocked.

    A blocked signal stays blocked across fork and exec, so a spawned worker never
    sees the terminal's Ctrl-C (which goes to the whole process group) from its first
    instruction on; the parent unblocks it at once, and a SIGINT that arrived meanwhile
    is delivered to the parent then, not lost.
    """
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT in this whole process while the block runs; children inherit it.

    For a Dask LocalCluster, whose worker processes are started from the cluster's own
    threads (so a blocked mask in this thread does not reach them). An ignored SIGINT
    stays ignored across exec, and asyncio's runner in the worker then installs no
    handler of its own. A Ctrl-C during the cluster's start is lost: press it again.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


_LIMITED: Any = None


def _one_blas_thread() -> None:
    global _LIMITED
    if _LIMITED is None:
        os.environ["OPENBLAS_NUM_THREADS"] = "1"
        os.environ["OMP_NUM_THREADS"] = "1"
        from threadpoolctl import threadpool_limits

        _LIMITED = threadpool_limits(1)


def _die_with_parent(parent: int, poll: float = 0.5) -> None:
    """End this worker process when the process that started it dies (even by SIGKILL).

    A killed ``abm sweep`` cannot shut its pool down, and its workers would otherwise
    run on, holding the machine and the pool's resource tracker. A daemon thread
    watches the parent's pid: once the worker is re-parented, it exits at once. The
    parent passes its pid, so a parent killed while the worker was still starting is
    noticed too.
    """
    import time

    if os.getppid() != parent:
        os._exit(3)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll)
        os._exit(3)

    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()


def _worker_init(parent: int) -> None:
    _die_with_parent(parent)
    _one_blas_thread()


def run_one(task: Task) -> WorkerReply:
    """Simulate one run; an exception inside the simulation becomes its error message."""
    from abm.runner import simulate
    from abm.scenario import with_overrides

    _one_blas_thread()
    try:
        scenario = with_overrides(task.base, task.run.overrides)
        if task.measure is not None:
            outcomes = task.measure(scenario, task.run.seed, task.steps)
        else:
            outcomes = simulate(scenario, seed=task.run.seed, steps=task.steps).outcomes
    except Exception as err:  # noqa: BLE001 - a failed run is recorded, the sweep goes on
        last = traceback.extract_tb(err.__traceback__)[-1]
        where = f" ({os.path.basename(last.filename)}:{last.lineno})"
        return WorkerReply(task.run, None, f"{type(err).__name__}: {err}{where}".replace("\n", " "))
    return WorkerReply(task.run, outcomes)


def execute(
    tasks: Iterable[Task],
    kind: ExecutorKind,
    jobs: int,
    scheduler: str | None = None,
) -> Iterator[WorkerReply]:
    """Run tasks on a back-end and yield their outcomes as they finish (any order).

    Args:
        tasks: The runs to do (consumed lazily).
        kind: The back-end.
        jobs: Worker processes (local pool, LocalCluster).
        scheduler: Address of an existing Dask scheduler (``tcp://host:8786``).
    """
    if kind is ExecutorKind.SERIAL:
        yield from (run_one(t) for t in tasks)
    elif kind is ExecutorKind.LOCAL:
        yield from _local(tasks, jobs)
    else:
        yield from _dask(tasks, jobs, scheduler)


def _local(tasks: Iterable[Task], jobs: int) -> Iterator[WorkerReply]:
    import multiprocessing

    # spawn: fresh interpreters, safe with the parent's threads (the progress bar's).
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(
        jobs, mp_context=context, initializer=_worker_init, initargs=(os.getpid(),)
    )

    def submit(fn: Callable, task: Task) -> Any:
        with _children_without_sigint():  # the pool starts its workers inside submit()
            return pool.submit(fn, task)

    try:
        yield from _windowed(tasks, 2 * jobs, submit, _wait_futures)
    except BaseException:  # interrupted, or the consumer stopped: end the workers now
        workers = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for worker in workers:  # running runs would otherwise finish first
            worker.kill()
        for worker in workers:
            worker.join()
        raise
    pool.shutdown(wait=True)


def _wait_futures(pending: set) -> tuple[set, set]:
    return wait(pending, return_when=FIRST_COMPLETED)


def _windowed(
    tasks: Iterable[Task], window: int, submit: Callable, wait_some: Callable
) -> Iterator[WorkerReply]:
    pending: set = set()
    for task in tasks:
        pending.add(submit(run_one, task))
        while len(pending) >= window:
            done, pending = wait_some(pending)
            yield from (f.result() for f in done)
    while pending:
        done, pending = wait_some(pending)
        yield from (f.result() for f in done)


def _dask(tasks: Iterable[Task], jobs: int, scheduler: str | None) -> Iterator[WorkerReply]:
    import dask
    from distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler is None:
        # Dask sets MALLOC_TRIM_THRESHOLD_ in the workers it spawns, which turns off glibc's
        # adaptive mmap threshold: each large temporary array of a step is then mapped and
        # unmapped afresh, and a run took 1.4-1.7x as long (docs/performance.md, "Sweep
        # scaling"). None unsets it (Dask's own way; its other settings are kept).
        no_trim = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}
        with _sigint_ignored(), dask.config.set(no_trim):
            cluster = LocalCluster(
                n_workers=jobs,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.CRITICAL,  # a stopped sweep's cancelled tasks are no news
                env={"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"},
            )
        client = Client(cluster)
    else:
        client = Client(scheduler, timeout="30s")
    try:
        threads = sum(client.nthreads().values()) or jobs
        window = max(2, 2 * threads)
        running = as_completed()
        which: dict[str, RunSpec] = {}

        def results() -> Iterator[WorkerReply]:
            future = next(running)
            run = which.pop(future.key)
            try:
                yield future.result()
            except Exception as err:  # noqa: BLE001 - e.g. a worker died (KilledWorker)
                yield WorkerReply(run, None, f"{type(err).__name__}: {err}".replace("\n", " "))
            future.release()

        for task in tasks:
            future = client.submit(run_one, task, pure=False)
            which[future.key] = task.run
            running.add(future)
            while running.count() >= window:
                yield from results()
        while running.count():
            yield from results()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run_paired(
    scenarios: list[Scenario],
    seeds: list[int],
    steps: int | None = None,
    *,
    kind: ExecutorKind = ExecutorKind.LOCAL,
    jobs: int = 1,
    scheduler: str | None = None,
    progress: Callable[[], None] | None = None,
) -> list[list[dict[str, float]]]:
    """Every scenario on every seed (common random numbers), on any back-end.

    The paired runs of ``abm compare`` (and of one ``abm check``): one group of
    :func:`run_groups`.

    Returns:
        ``outcomes[i][j]``: the outcomes of ``scenarios[j]`` on ``seeds[i]``.
    """
    each = (lambda _group: progress()) if progress is not None else None
    return run_groups([(scenarios, seeds)], steps, kind=kind, jobs=jobs, scheduler=scheduler,
                      progress=each)[0]  # fmt: skip


def run_groups(
    groups: list[tuple[list[Scenario], list[int]]],
    steps: int | None = None,
    *,
    kind: ExecutorKind = ExecutorKind.LOCAL,
    jobs: int = 1,
    scheduler: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[list[list[dict[str, float]]]]:
    """Each group's scenarios on each of its seeds, all groups on one pool.

    A group is the paired runs of one ``abm check`` file (``[on, off]``) or of one
    ``abm compare`` (``[A, B]``). Every run is :func:`run_one`, as in a sweep, so the
    outcomes do not depend on the back-end or on ``jobs``; they are put back in order
    whatever order they finish in. One pool serves every group, so ``abm check *.yaml``
    starts its workers once. A local pool of one worker runs in this process instead
    (no pool to start, the same function).

    Args:
        groups: ``(scenarios, seeds)`` per group.
        steps: Overrides every run's ``steps``.
        kind: The back-end.
        jobs: Worker processes (local pool, LocalCluster); capped at the number of runs.
        scheduler: Address of an existing Dask scheduler.
        progress: Called with the group's index once all runs of one of its seeds are back.

    Returns:
        ``outcomes[g][i][j]``: the outcomes of group ``g``'s ``scenarios[j]`` on its
        ``seeds[i]``.

    Raises:
        RuntimeError: A run failed; the message names the scenario, the seed and the error.
        MemoryError: A run ran out of memory (the same message).
    """
    jobs = max(1, min(jobs, sum(len(sc) * len(se) for sc, se in groups)))
    if kind is ExecutorKind.LOCAL and jobs == 1:
        kind = ExecutorKind.SERIAL
    out = [[[None] * len(sc) for _ in se] for sc, se in groups]
    where: dict[str, tuple[int, int, int]] = {}

    def tasks() -> Iterator[Task]:
        for g, (scenarios, seeds) in enumerate(groups):
            for i, seed in enumerate(seeds):
                for j, scenario in enumerate(scenarios):
                    run_id = f"g{g}-s{i}-{j}"
                    where[run_id] = (g, i, j)
                    yield Task(RunSpec(run_id, j, i, seed, {}), scenario, steps)

    with closing(execute(tasks(), kind, jobs, scheduler)) as outcomes:
        for outcome in outcomes:
            g, i, j = where[outcome.run.run_id]
            if outcome.error is not None:
                raise _failure(groups[g][0][j].name, outcome.run.seed, outcome.error)
            out[g][i][j] = outcome.outcomes
            if progress is not None and all(o is not None for o in out[g][i]):
                progress(g)
    return out  # type: ignore[return-value]  # every slot is filled once execute ends


def _failure(name: str, seed: int, error: str) -> Exception:
    """The exception for a failed paired run (out of memory stays out of memory)."""
    kind = MemoryError if error.startswith("MemoryError") else RuntimeError
    return kind(f"the run of '{name}' with seed {seed} failed ({error})")
