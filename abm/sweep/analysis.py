"""A sweep's table, analysed: means with confidence intervals, labels, Sobol indices.

Intervals are Student t intervals of the mean (:mod:`abm.intervals`) over every run
that shares the grouped fields' values (replicates, and any other varied field, which
is averaged over). An interval is clipped only where the outcome's declared range is
bounded (:class:`abm.metrics.Outcome` ``bounds``: a share stays in [0, 1]); a signed
outcome (leverage, an effect, a change) keeps its whole interval, and a clipped band
always contains its mean. Sobol indices follow Saltelli's estimators (SALib) on the
per-point mean over replicates, in the design's point order, so they need a complete
Sobol sweep. Reading a folder back (its rows proved) is :mod:`abm.sweep.store`'s
(``read_results``); this module only computes on tables.

Labels are short: a varied field's name in the schema with its unit
(``collectives.strikers.size`` -> ``Size of strikers (share of users)``), an outcome's
declared name with its entity and unit (``Final leverage, strikers (share of gap)``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from abm import intervals, metrics
from abm.scenario import UNITS, paths

SUMMARY_COLUMNS = ["outcome", "unit", "n", "mean", "low", "high", "note"]
LISTS = ("platforms", "collectives", "events")  # schema lists: items are named or indexed


# ------------------------------------------------------------------ outcomes and bounds


def outcome_of(column: str) -> metrics.Outcome | None:
    """The declared outcome of a column such as ``final_leverage[strikers]`` (or None)."""
    name = column.partition("[")[0]
    return next((o for o in metrics.OUTCOMES if o.name == name), None)


def bounds(column: str) -> tuple[float | None, float | None]:
    """The values an outcome column can take (``None``: open on that side)."""
    o = outcome_of(column)
    return o.bounds if o is not None else (None, None)


def clip_band(mean: np.ndarray, low: np.ndarray, high: np.ndarray, column: str) -> tuple:
    """An interval clipped to the outcome's declared bounds, never leaving out its mean.

    A t interval of a bounded outcome can cross the bound (a share near 0 with a wide
    spread); clipping there is honest because the true mean lies inside the bounds.
    The band is then widened to its mean, so a value outside the declared bounds (a
    wrong declaration) shows instead of being hidden. Open sides are not touched.
    """
    lo, hi = bounds(column)
    low = np.asarray(low, dtype=float).copy()
    high = np.asarray(high, dtype=float).copy()
    mean = np.asarray(mean, dtype=float)
    if lo is not None:
        low = np.where(np.isnan(low), low, np.fmin(np.maximum(low, lo), mean))
        high = np.where(np.isnan(high), high, np.maximum(high, lo))
    if hi is not None:
        high = np.where(np.isnan(high), high, np.fmax(np.minimum(high, hi), mean))
        low = np.where(np.isnan(low), low, np.minimum(low, hi))
    return low, high


def group_stats(
    table: pd.DataFrame, keys: list[str], column: str, level: float = 0.95
) -> pd.DataFrame:
    """Per group of ``keys``: ``n, mean, low, high`` of ``column`` and a note if incomplete.

    Undefined values (NaN: an outcome a run leaves undefined, such as leverage when the
    twin's model never beat the naive baseline) are left out of ``n``, the mean and the
    interval, and ``note`` says how many and why; the interval is the Student t interval
    (empty below two values, with the reason), clipped to the column's declared bounds.
    """
    values = table[column].astype(float)
    values = values.where(np.isfinite(values))
    grouped = values.groupby([table[k] for k in keys], sort=True, dropna=False)
    agg = grouped.agg(["size", "count", "mean", "std"])
    n = agg["count"].to_numpy(dtype=float)
    half = intervals.t_half_width(agg["std"], n, level)
    mean = agg["mean"].to_numpy(dtype=float)
    low, high = clip_band(mean, mean - half, mean + half, column)
    out = agg.index.to_frame(index=False)
    out["n"] = n.astype(int)
    out["mean"], out["low"], out["high"] = mean, low, high
    out["note"] = [_note(int(r), int(k), column) for r, k in zip(agg["size"], n, strict=True)]
    return out


def _note(runs: int, n: int, column: str) -> str:
    """Why a group's mean or interval is empty or rests on fewer runs than it has."""
    o = outcome_of(column)
    why = f" ({o.empty})" if o is not None and o.empty else ""
    if runs == 0:
        return "no finished run"
    if n == 0:
        return f"undefined in all {runs} runs{why}"
    parts = ["one value: no interval"] if n == 1 else []
    if n < runs:
        parts.append(f"undefined in {runs - n} of {runs} runs{why}")
    return "; ".join(parts)


def mean_ci(
    table: pd.DataFrame, x: str, y: str, hue: str | None = None, level: float = 0.95
) -> pd.DataFrame:
    """Mean of ``y`` with a ``level`` confidence interval, per value of ``x`` (and ``hue``).

    Returns:
        Columns ``[hue], x, n, mean, low, high, note`` sorted by ``[hue], x``; the
        interval is NaN (and ``note`` says why) where fewer than two finite values exist,
        and clipped only at ``y``'s declared bounds.
    """
    for name, col in (("x", x), ("y", y), ("hue", hue)):
        if col is not None and col not in table.columns:
            raise ValueError(
                f"--{name}: a column of the results ({', '.join(table.columns)}), got '{col}'"
            )
    return group_stats(table, [hue, x] if hue else [x], y, level)


def summarise(
    table: pd.DataFrame, design: pd.DataFrame, outcomes: list[str], level: float = 0.95
) -> pd.DataFrame:
    """One row per design point and outcome: the point's fields, mean, interval and n.

    Args:
        table: The combined results (one row per finished run).
        design: One row per point: ``point`` and each varied field.
        outcomes: Outcome columns, in the order they are listed.
        level: Confidence level.

    Returns:
        Columns ``point``, the varied fields, then :data:`SUMMARY_COLUMNS`; a point with
        no finished run (every run failed) has n = 0 and an empty mean, with its reason.
    """
    parts = []
    for outcome in outcomes:
        column = table[outcome] if outcome in table.columns else np.nan
        stats_ = group_stats(pd.DataFrame({"point": table["point"], outcome: column}),
                             ["point"], outcome, level)  # fmt: skip
        stats_ = design[["point"]].merge(stats_, on="point", how="left")
        stats_["n"] = stats_["n"].fillna(0).astype(int)
        stats_["note"] = stats_["note"].fillna(_note(0, 0, outcome))
        o = outcome_of(outcome)
        stats_.insert(1, "outcome", outcome)
        stats_.insert(2, "unit", o.unit if o else "")
        parts.append(stats_)
    if not parts:
        return pd.DataFrame(columns=[*design.columns, *SUMMARY_COLUMNS])
    # Parts are in outcome order, so a stable sort by point keeps it within each point.
    long = pd.concat(parts, ignore_index=True).sort_values("point", kind="stable")
    out = design.merge(long, on="point", how="right")
    return out[[*design.columns, *SUMMARY_COLUMNS]].reset_index(drop=True)


# ------------------------------------------------------------------ labels


def field_label(path: str) -> str:
    """A varied field's short name from the schema, with its unit.

    ``collectives.strikers.size`` -> ``Size of strikers (share of users)``;
    ``task.name`` -> ``Task``; ``network.mean_degree`` -> ``Mean degree (neighbours)``.
    """
    parts = paths.from_dotted(path)
    try:
        paths.schema_field(parts)
    except KeyError:
        return path
    generic, owner = [], None
    for i, part in enumerate(parts):
        if i > 0 and parts[i - 1] in LISTS:
            owner = part if not part.isdigit() else f"{parts[i - 1].rstrip('s')} {part}"
            generic[-1] += "[]"
        else:
            generic.append(part)
    key = generic[-1]
    words = generic[-2].removesuffix("[]").rstrip("s") if key == "name" else key
    words = words.replace("_", " ")
    if owner and key != "name":
        words = f"{words} of {owner}"
    unit = UNITS.get(".".join(generic), "")
    said = unit in ("", "-") or unit.lower() == key.replace("_", " ")
    text = words[:1].upper() + words[1:]
    return text if said else f"{text} ({unit})"


def outcome_label(column: str) -> str:
    """``Final leverage, strikers (share of gap)`` for ``final_leverage[strikers]``."""
    o = outcome_of(column)
    name, _, entity = column.partition("[")
    text = name.replace("_", " ")
    text = text[:1].upper() + text[1:]
    entity = entity.rstrip("]")
    text = f"{text}, {entity}" if entity else text
    return f"{text} ({o.unit})" if o is not None and o.unit not in ("", "-") else text


# ------------------------------------------------------------------ Sobol


def sobol_indices(
    table: pd.DataFrame, manifest: dict[str, Any], outcome: str, seed: int = 0
) -> pd.DataFrame:
    """First- and total-order Sobol indices of one outcome from a Sobol sweep.

    Args:
        table: The combined results (one row per run).
        manifest: The sweep's manifest (holds SALib's problem definition).
        outcome: Outcome column.
        seed: Seed of SALib's bootstrap confidence intervals.

    Returns:
        One row per varied field: ``S1, S1_conf, ST, ST_conf``.
    """
    from SALib.analyze import sobol

    problem = manifest.get("sobol_problem")
    if problem is None:
        raise ValueError(f"design: a sobol sweep, got {manifest.get('design')}")
    if outcome not in table.columns:
        raise ValueError(f"--outcome: a column of the results, got '{outcome}'")
    y = table.groupby("point")[outcome].mean().reindex(range(manifest["points"]))
    missing = y.index[~np.isfinite(y.to_numpy(dtype=float))]
    if len(missing):
        raise ValueError(
            f"{outcome}: a finite value at every point (missing or NaN at {len(missing)} "
            f"points, e.g. point {int(missing[0])})"
        )
    problem = {**problem, "bounds": [list(b) for b in problem["bounds"]]}
    res = sobol.analyze(
        problem,
        y.to_numpy(dtype=float),
        calc_second_order=bool(manifest.get("second_order")),
        seed=seed,
    )
    return pd.DataFrame(
        {
            "parameter": problem["names"],
            "S1": res["S1"],
            "S1_conf": res["S1_conf"],
            "ST": res["ST"],
            "ST_conf": res["ST_conf"],
        }
    )
