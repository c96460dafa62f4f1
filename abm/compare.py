"""Paired comparison of two scenarios: the same seeds through both, differences with CIs.

The modelling assumption is that of common random numbers: replicate ``i`` runs
scenario A and scenario B with the same seed, spawned from one root with numpy's
:class:`~numpy.random.SeedSequence`, so both runs draw the same network, the same data
split and the same users' thresholds wherever the two scenarios agree. The difference
``B - A`` of an outcome in one replicate is then mostly the effect of what the two
files change, and its mean over replicates gets a paired (Student t) 95% confidence
interval: ``mean +/- t_{0.975, n-1} * sd / sqrt(n)``.

:func:`compare` is pure (no I/O); :func:`write_comparison` writes a new folder with the
tables, a figure with one panel per unit (a quality score and a count of samples never
share an axis) and ``report.html``, a self-contained page like a run's report.

Outcomes that exist in only one of the scenarios (a collective only B has) have no
paired difference; they are kept apart, in ``Comparison.unpaired``, rather than shown
as difference rows with ``n = 0``.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import yaml
from matplotlib.figure import Figure

import abm
from abm.intervals import mean_ci
from abm.metrics import OUTCOMES
from abm.outputs import git_commit, new_folder
from abm.report import STYLE
from abm.runner import replicate_seeds
from abm.scenario import Scenario, dump_scenario

if TYPE_CHECKING:
    from abm.sweep.executors import ExecutorKind

TABLE_COLUMNS = ["outcome", "unit", "n", "mean_a", "mean_b", "diff", "ci_lo", "ci_hi"]
UNPAIRED_COLUMNS = ["outcome", "unit", "scenario", "n", "mean"]


@dataclass
class Comparison:
    """Two scenarios run on the same seeds, and their paired differences."""

    a: Scenario
    b: Scenario
    seeds: list[int]
    runs: pd.DataFrame  # long: replicate, seed, scenario ("A"/"B"), outcome, value
    table: pd.DataFrame  # one row per outcome both scenarios have: TABLE_COLUMNS
    confidence: float = 0.95
    unpaired: pd.DataFrame = field(  # outcomes of one scenario only: UNPAIRED_COLUMNS
        default_factory=lambda: pd.DataFrame(columns=UNPAIRED_COLUMNS)
    )


def run_pairs(
    a: Scenario,
    b: Scenario,
    seeds: list[int],
    steps: int | None = None,
    *,
    executor: ExecutorKind | None = None,
    jobs: int = 1,
    scheduler: str | None = None,
    progress: Callable[[], None] | None = None,
) -> pd.DataFrame:
    """Run both scenarios once per seed and collect every outcome.

    The pairs run through the sweep executors (:func:`abm.sweep.executors.run_paired`);
    rows come back in seed order, so the table is the same whatever ran them.

    Args:
        a: The reference scenario.
        b: The scenario compared with it.
        seeds: One seed per replicate, used for both scenarios.
        steps: Overrides both scenarios' ``steps``.
        executor: Where the runs execute (default: a local pool).
        jobs: Worker processes (1: in this process).
        scheduler: An existing Dask scheduler's address.
        progress: Called once per seed, when both of its runs are back.

    Returns:
        A long table with columns replicate, seed, scenario, outcome, value.
    """
    from abm.sweep.executors import ExecutorKind, run_paired

    pairs = run_paired([a, b], seeds, steps, kind=executor or ExecutorKind.LOCAL, jobs=jobs,
                       scheduler=scheduler, progress=progress)  # fmt: skip
    rows = []
    for i, (seed, pair) in enumerate(zip(seeds, pairs, strict=True)):
        for label, outcomes in zip(("A", "B"), pair, strict=True):
            for outcome, value in outcomes.items():
                rows.append((i, seed, label, outcome, value))
    return pd.DataFrame(rows, columns=["replicate", "seed", "scenario", "outcome", "value"])


def _unit(outcome: str) -> str:
    name = outcome.partition("[")[0]
    return next((o.unit for o in OUTCOMES if o.name == name), "")


def difference_table(runs: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Per outcome both scenarios have: means under A and B, and B - A with its CI.

    Outcomes present in only one scenario (a collective that exists only in B, say) have
    no pair to difference and are left out (see :func:`unpaired_table`).
    """
    wide = runs.pivot_table(
        index=["outcome", "replicate"], columns="scenario", values="value", dropna=False
    )
    wide = wide.reindex(columns=["A", "B"])
    order = list(dict.fromkeys(runs["outcome"]))
    rows = []
    for outcome in order:
        w = wide.loc[outcome]
        both = w.dropna()
        if both.empty:
            continue
        diff, lo, hi = mean_ci((both["B"] - both["A"]).to_numpy(float), confidence)
        rows.append(
            {
                "outcome": outcome,
                "unit": _unit(outcome),
                "n": len(both),
                "mean_a": float(w["A"].mean()),
                "mean_b": float(w["B"].mean()),
                "diff": diff,
                "ci_lo": lo,
                "ci_hi": hi,
            }
        )
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def unpaired_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Outcomes that only one scenario produced, with their mean over replicates."""
    seen = runs.dropna(subset=["value"]).groupby("outcome")["scenario"].agg(set)
    rows = []
    for outcome in dict.fromkeys(runs["outcome"]):
        where = seen.get(outcome, set())
        if len(where) == 1:
            (label,) = where
            values = runs[(runs["outcome"] == outcome) & (runs["scenario"] == label)]["value"]
            rows.append(
                {
                    "outcome": outcome,
                    "unit": _unit(outcome),
                    "scenario": label,
                    "n": int(values.notna().sum()),
                    "mean": float(values.mean()),
                }
            )
    return pd.DataFrame(rows, columns=UNPAIRED_COLUMNS)


def compare(
    a: Scenario,
    b: Scenario,
    replicates: int,
    *,
    steps: int | None = None,
    root_seed: int | None = None,
    confidence: float = 0.95,
    executor: ExecutorKind | None = None,
    jobs: int = 1,
    scheduler: str | None = None,
    progress: Callable[[], None] | None = None,
) -> Comparison:
    """Run ``replicates`` paired replicates of A and B and tabulate the differences.

    Args:
        a: The reference scenario.
        b: The scenario compared with it (differences are B - A).
        replicates: Number of seeds (at least 1; CIs need 2).
        steps: Overrides both scenarios' ``steps``.
        root_seed: Root of the spawned seeds (default: A's seed).
        confidence: Two-sided confidence level of the intervals.
        executor: Where the runs execute (default: a local pool).
        jobs: Worker processes (1: in this process).
        scheduler: An existing Dask scheduler's address.
        progress: Called once per seed, when both of its runs are back.

    Returns:
        The comparison: seeds, every run's outcomes, the difference table.
    """
    if replicates < 1:
        raise ValueError(f"--replicates: a number >= 1, got {replicates}")
    seeds = replicate_seeds(a.seed if root_seed is None else root_seed, replicates)
    runs = run_pairs(a, b, seeds, steps, executor=executor, jobs=jobs, scheduler=scheduler,
                     progress=progress)  # fmt: skip
    table = difference_table(runs, confidence)
    return Comparison(a, b, seeds, runs, table, confidence, unpaired_table(runs))


def format_table(table: pd.DataFrame) -> str:
    """The difference table as aligned text, for the terminal."""
    shown = table.copy()
    for col in ("mean_a", "mean_b", "diff", "ci_lo", "ci_hi"):
        shown[col] = shown[col].map(lambda v: "" if v != v else f"{v:.4g}")
    return shown.to_string(index=False)


def figure(comparison: Comparison) -> Figure:
    """A forest plot per unit: each outcome's mean difference B - A with its CI.

    One panel per unit (score, share, samples, utility, ...), each with its own x axis,
    so a difference of 300 samples and one of 0.01 in quality are both readable.
    """
    t = comparison.table[comparison.table["diff"].notna()]
    units = list(dict.fromkeys(t["unit"]))
    heights = [max((t["unit"] == u).sum(), 1) for u in units] or [1]
    fig = Figure(
        figsize=(7.5, 0.32 * sum(heights) + 1.0 * len(heights) + 0.6), layout="constrained"
    )
    axes = fig.subplots(len(heights), 1, gridspec_kw={"height_ratios": heights}, squeeze=False)
    level = round(comparison.confidence * 100)
    for ax, unit in zip(axes[:, 0], units, strict=False):
        part = t[t["unit"] == unit].iloc[::-1]
        y = np.arange(len(part))
        lo = (part["diff"] - part["ci_lo"]).fillna(0).clip(lower=0)
        hi = (part["ci_hi"] - part["diff"]).fillna(0).clip(lower=0)
        # An interval that excludes zero is drawn in a strong colour.
        clear = (part["ci_lo"] > 0) | (part["ci_hi"] < 0)
        colours = np.where(clear, "tab:red", "tab:blue")
        for yi, (d, below, above, c) in enumerate(zip(part["diff"], lo, hi, colours, strict=True)):
            ax.errorbar(d, yi, xerr=[[below], [above]], fmt="o", color=c, capsize=3, ms=4)
        ax.axvline(0, color="#888", lw=1)
        ax.set_yticks(y, part["outcome"], fontsize=8)
        ax.set_ylim(-0.7, len(part) - 0.3)
        ax.set_xlabel(f"B - A ({unit or 'no unit'})", fontsize=9)
        ax.tick_params(axis="x", labelsize=8)
        ax.grid(alpha=0.3, axis="x")
    if not units:
        axes[0, 0].text(0.5, 0.5, "no outcome to compare", ha="center", va="center")
        axes[0, 0].set_axis_off()
    fig.suptitle(
        f"{comparison.b.name} minus {comparison.a.name}: mean and {level}% CI (paired t, "
        f"{len(comparison.seeds)} seeds; red: interval excludes 0)",
        fontsize=10,
    )
    return fig


def _png_uri(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _num(value: float) -> str:
    return "—" if value != value else f"{value:.4g}"


def _html_table(frame: pd.DataFrame, numeric: list[str]) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for _, row in frame.iterrows():
        cells = "".join(
            f"<td class=num>{_num(float(row[c]))}</td>"
            if c in numeric
            else f"<td>{html.escape(str(row[c]))}</td>"
            for c in frame.columns
        )
        rows.append(f"<tr>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _finding(row: pd.Series, level: int) -> str:
    """One sentence for a difference whose interval excludes zero."""
    direction = "higher" if row["diff"] > 0 else "lower"
    unit = f" {row['unit']}" if row["unit"] and row["unit"] != "0/1" else ""
    return (
        f"<li><b>{html.escape(row['outcome'])}</b> is {_num(abs(row['diff']))}{html.escape(unit)} "
        f"{direction} in B ({level}% CI {_num(row['ci_lo'])} to {_num(row['ci_hi'])}; "
        f"A {_num(row['mean_a'])}, B {_num(row['mean_b'])}).</li>"
    )


# The run report's style, with images at full width (one panel per unit).
REPORT_STYLE = STYLE + "img{max-width:100%}\n"


def render_html(comparison: Comparison) -> str:
    """The comparison as a self-contained HTML page (embedded PNG, no script, no link)."""
    a, b, t = comparison.a, comparison.b, comparison.table
    level = round(comparison.confidence * 100)
    fig = figure(comparison)
    plot = _png_uri(fig)
    clear = t[(t["ci_lo"] > 0) | (t["ci_hi"] < 0)]
    findings = (
        "<ul>" + "".join(_finding(r, level) for _, r in clear.iterrows()) + "</ul>"
        if len(clear)
        else f"<p>No difference has a {level}% interval that excludes zero.</p>"
    )
    unpaired = (
        _html_table(comparison.unpaired, ["n", "mean"])
        if len(comparison.unpaired)
        else "<p class=muted>None: both scenarios have the same platforms and collectives.</p>"
    )
    seeds = ", ".join(str(s) for s in comparison.seeds)
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{html.escape(b.name)} vs {html.escape(a.name)}</title><style>{REPORT_STYLE}</style>
</head><body>
<h1>{html.escape(b.name)} (B) against {html.escape(a.name)} (A)</h1>
<p class=question><b>A asks.</b> {html.escape(a.question or "(none stated)")}<br>
<b>B asks.</b> {html.escape(b.question or "(none stated)")}</p>
<p class=muted>{len(comparison.seeds)} paired replicates: each seed runs both scenarios,
so the difference B - A of one replicate is mostly what the files change. Intervals are
{level}% paired-t intervals of the mean difference. Seeds: {html.escape(seeds)}.</p>
<h2>Differences whose interval excludes zero</h2>{findings}
<h2>Differences, one panel per unit</h2><img alt="differences" src="{plot}">
<h2>All paired differences</h2>
{_html_table(t, ["n", "mean_a", "mean_b", "diff", "ci_lo", "ci_hi"])}
<h2>Outcomes of one scenario only</h2>{unpaired}
<h2>Scenarios</h2>
<details><summary>A: the resolved scenario file</summary>
<pre>{html.escape(dump_scenario(a))}</pre></details>
<details><summary>B: the resolved scenario file</summary>
<pre>{html.escape(dump_scenario(b))}</pre></details>
</body></html>"""


def write_comparison(comparison: Comparison, out_root: str | Path) -> Path:
    """Write a comparison into a new folder under ``out_root`` and return its path.

    Contents: ``differences.csv`` (the paired table), ``unpaired.csv`` (outcomes of one
    scenario only), ``runs.csv`` (every run's outcomes), ``a.yaml`` and ``b.yaml``
    (resolved scenarios), ``manifest.yaml`` (seeds, versions), ``differences.png`` and
    ``report.html``. Written into a hidden temporary folder first and moved into
    place when complete, so nothing half-written is left behind.
    """

    def write(tmp: Path) -> None:
        comparison.table.to_csv(tmp / "differences.csv", index=False)
        comparison.unpaired.to_csv(tmp / "unpaired.csv", index=False)
        comparison.runs.to_csv(tmp / "runs.csv", index=False)
        (tmp / "a.yaml").write_text(dump_scenario(comparison.a))
        (tmp / "b.yaml").write_text(dump_scenario(comparison.b))
        manifest = {
            "abm_version": abm.__version__,
            "a": comparison.a.name,
            "b": comparison.b.name,
            "replicates": len(comparison.seeds),
            "seeds": comparison.seeds,
            "confidence": comparison.confidence,
            "git_commit": git_commit(),
            "written": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        (tmp / "manifest.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
        figure(comparison).savefig(tmp / "differences.png", dpi=110)
        (tmp / "report.html").write_text(render_html(comparison), encoding="utf-8")

    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return new_folder(
        out_root, f"compare-{comparison.a.name}-vs-{comparison.b.name}-{stamp}", write
    )
