"""Running the replications and writing their figures, summary and report.

The output folder holds ``<name>.png`` and ``<name>.csv`` per replication,
``summary.csv`` and ``report.md``. Files go to a hidden temporary folder beside the
target first and are moved in when every replication has run, so a crash leaves any
earlier results untouched. An existing folder's replication files are replaced (the
command is meant to be rerun); other files in it are left alone.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from abm.replications.common import Result
from abm.replications.registry import REPLICATIONS

__all__ = ["SUMMARY_COLUMNS", "markdown_table", "run_replications"]

SUMMARY_COLUMNS = [
    "name", "published", "obtained", "obtained_low", "obtained_high", "seeds", "tolerance",
    "passed", "check", "ablated", "mechanism",
]  # fmt: skip
REPLICATIONS_DIR = Path("scenarios/replications")


def run_replications(
    out: Path,
    *,
    fast: bool = False,
    only: list[str] | None = None,
    folder: Path = REPLICATIONS_DIR,
    log: Callable[[str], None] | None = None,
    ablate: bool = False,
) -> pd.DataFrame:
    """Run replications and write their outputs into ``out``.

    Args:
        out: Output folder (created; replication files in it are replaced).
        fast: Reduced grids (fewer splits, replicates, fractions, seeds).
        only: Names to run (default: all, in registry order).
        folder: Where the replication files live.
        log: Called with one line per finished replication.
        ablate: Rerun each replication with its mechanism switched off (every check
            should then fail; ``mechanism`` in the summary says what was switched off).

    Returns:
        The summary table (one row per replication run).

    Raises:
        ValueError: An unknown name in ``only``.
    """
    names = list(REPLICATIONS) if not only else list(only)
    unknown = [n for n in names if n not in REPLICATIONS]
    if unknown:
        # The name first: a long list of choices is cut short when the line is shown.
        raise ValueError(
            f"--only: a replication name, got '{unknown[0]}' (one of {', '.join(REPLICATIONS)})"
        )
    for name in names:  # every file exists before anything runs
        path = folder / REPLICATIONS[name].file
        if not path.is_file():
            raise FileNotFoundError(f"{path}: an existing replication file (not found)")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        rows = []
        for name in names:
            t0 = time.perf_counter()
            result = REPLICATIONS[name].run(folder, fast, ablate)
            _write_result(result, tmp)
            rows.append({c: getattr(result, c) for c in SUMMARY_COLUMNS})
            if log:
                verdict = "pass" if result.passed else "FAIL"
                log(f"{verdict}  {name:24s} {time.perf_counter() - t0:6.1f}s  {result.obtained}")
        summary = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
        summary.to_csv(tmp / "summary.csv", index=False)
        (tmp / "report.md").write_text(_report(summary, fast, ablate), encoding="utf-8")
        out.mkdir(exist_ok=True)
        for item in tmp.iterdir():
            item.replace(out / item.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return summary


def _write_result(result: Result, folder: Path) -> None:
    if result.figure is not None:
        result.figure.tight_layout()
        result.figure.savefig(folder / f"{result.name}.png", dpi=110)
        plt.close(result.figure)
    result.table.to_csv(folder / f"{result.name}.csv", index=False)


def markdown_table(summary: pd.DataFrame, figures: str | None = None) -> str:
    """The summary as a Markdown table (``|`` in cells escaped).

    Args:
        summary: Rows of ``summary.csv``.
        figures: Folder prefix for a figure link per row, or None for no links.

    Returns:
        The table, one line per row.
    """
    cols = ["name", "check", "published", "obtained", "95% interval", "seeds", "tolerance",
            "passed"]  # fmt: skip
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, row in summary.iterrows():
        cells = []
        for c in cols:
            if c == "95% interval":
                value = f"[{float(row.obtained_low):.3g}, {float(row.obtained_high):.3g}]"
            else:
                value = row[c]
            if c == "passed":
                value = "pass" if str(value).lower() == "true" else "**fail**"
            if c == "name" and figures is not None:
                value = f"[{value}]({figures}/{value}.png)"
            cells.append(str(value).replace("|", "\\|"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _report(summary: pd.DataFrame, fast: bool, ablate: bool = False) -> str:
    mode = "fast (reduced grids)" if fast else "full"
    if ablate:
        mode += ", ablated (each replication's mechanism switched off: every check should fail)"
    passed = int(summary.passed.sum())
    head = [
        "# Replications",
        "",
        f"Mode: {mode}. {passed} of {len(summary)} passed. "
        "Obtained numbers are means over seeds with a 95% interval (the first number of "
        "`obtained`). `quantitative`: the published number within the tolerance of the "
        "interval; `directional`: the published ordering holds at 95%. "
        "See docs/replications.md for what each replication assumes.",
        "",
        markdown_table(summary, figures="."),
    ]
    figs = [f"## {n}\n\n![{n}]({n}.png)\n" for n in summary.name]
    return "\n".join(head + figs)
