"""Calibration: fit a scenario's parameters to observed moments, and say how well they are pinned.

define (:mod:`abm.calibration.spec`, the calibration file) -> measure
(:mod:`abm.calibration.moments`, a run and its twin world as moments) -> search
(:mod:`abm.calibration.fit`, Sobol points then local refinement, every stage a sweep
run through :mod:`abm.sweep`) -> report (:mod:`abm.calibration.report`, the folder).
The method and the worked calibration: docs/calibration.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from abm.calibration.fit import Fit, run_calibration
from abm.calibration.report import calibration_folder, open_folder, write_results
from abm.calibration.spec import Calibration, load_calibration
from abm.sweep import ExecutorKind

__all__ = ["Calibration", "CalibrationReport", "Fit", "calibrate", "load_calibration"]

DEFAULT_OUT = Path("outputs/calibrations")


@dataclass
class CalibrationReport:
    """What a calibration wrote: its folder, the fit and its tables."""

    folder: Path
    fit: Fit
    tables: dict[str, pd.DataFrame]


def calibrate(
    cal: Calibration,
    out_root: str | Path = DEFAULT_OUT,
    *,
    executor: ExecutorKind = ExecutorKind.LOCAL,
    jobs: int = 1,
    scheduler: str | None = None,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
) -> CalibrationReport:
    """Run (or resume) a calibration into ``out_root/<name>/`` and write its results.

    Args:
        cal: The validated calibration.
        out_root: Root of calibration folders.
        executor: Where runs execute (local pool, Dask, serial).
        jobs: Worker processes.
        scheduler: An existing Dask scheduler's address (implies Dask).
        progress: Show each stage's progress bar on stderr.
        log: Called with one line per stage.
    """
    folder = calibration_folder(cal, out_root)
    open_folder(cal, folder)
    fit = run_calibration(cal, folder / "stages", executor=executor, jobs=jobs,
                          scheduler=scheduler, progress=progress, log=log)  # fmt: skip
    tables = write_results(fit, folder)
    return CalibrationReport(folder, fit, tables)
