"""The search: scrambled Sobol points, then rounds of local refinement, by simulated moments.

Every candidate is a point in the box of the fitted parameters, run on the same
replicate seeds (common random numbers: ``Seeding.COMMON`` in every stage, one root
seed), so differences between candidates are the parameters' doing. A stage is an
ordinary sweep (:func:`abm.sweep.run_sweep`, its points given): it runs on the local
pool or Dask and is resumable, and its folder lives under the calibration's folder.

The objective is the method of simulated moments' chi-square,

    J(theta) = sum_k (mean_k(theta) - observed_k)^2 / (se_k^2 + s_k(theta)^2 / R),

with ``s_k`` the moment's standard deviation over the ``R`` seeds (simulation noise).
The **accepted set** is every candidate with ``J <= chi2_{level}(K)`` (``K`` targets):
the parameters the observations cannot reject at that level. A refinement round draws
new Sobol points in the box around the accepted set (or the best tenth of candidates
when none is accepted), padded by a fifth of the parameter's range, so the accepted
set's edges are sampled densely. Stage points depend only on the file and on earlier
stages' results, which depend only on seeds, so a rerun after a kill redraws the same
points and resumes every stage's sweep.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from abm.calibration.moments import Moments
from abm.calibration.spec import Calibration, Parameter
from abm.intervals import mean_ci
from abm.sweep import Design, ExecutorKind, Seeding, Sweep, run_sweep
from abm.sweep.design import Factor
from abm.sweep.spec import Range, SweepFile

REFINE_PAD = 0.2  # a refinement box reaches this share of each range beyond the accepted set
MIN_WIDTH = 0.05  # ... and is at least this share of each range wide
BEST_SHARE = 0.1  # with nothing accepted, refine around this share of the best candidates
PINNED_SHARE = 0.5  # accepted values spanning more of a range than this: not pinned down
PROFILE_BINS = 10  # bins of each range in the objective's profile


@dataclass
class Fit:
    """What the search found: every candidate, the accepted set and the per-run results."""

    calibration: Calibration
    candidates: pd.DataFrame  # one row per candidate: stage, params, moment means/sd/n, J
    runs: pd.DataFrame  # one row per run: stage, point, seed, params, every quantity
    threshold: float  # chi2_{level}(K)
    stages: list[str] = field(default_factory=list)  # stage folder names, in order
    failed: int = 0  # runs that failed (their candidates are left out)

    @property
    def accepted(self) -> pd.DataFrame:
        """Candidates within tolerance (J <= threshold)."""
        return self.candidates[self.candidates["accepted"]]

    @property
    def best(self) -> pd.Series | None:
        """The candidate with the lowest objective (None when no candidate is complete)."""
        complete = self.candidates.dropna(subset=["J"])
        return None if complete.empty else complete.loc[complete["J"].idxmin()]


def run_calibration(
    cal: Calibration,
    stages_root: Path,
    *,
    executor: ExecutorKind = ExecutorKind.LOCAL,
    jobs: int = 1,
    scheduler: str | None = None,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
) -> Fit:
    """Run every stage of the search (resuming finished runs) and score the candidates.

    Args:
        cal: The validated calibration.
        stages_root: Folder of the stages' sweep folders (inside the calibration's).
        executor: Where runs execute.
        jobs: Worker processes.
        scheduler: An existing Dask scheduler's address.
        progress: Show each stage's progress bar.
        log: Called with one line per stage.
    """
    threshold = float(stats.chi2.ppf(cal.search.level, len(cal.spec.targets)))
    fit = Fit(cal, pd.DataFrame(), pd.DataFrame(), threshold)
    box = [(p.low, p.high) for p in cal.parameters]
    run = dict(executor=executor, jobs=jobs, scheduler=scheduler, progress=progress)
    for stage in range(1 + cal.search.refine):
        n = cal.search.samples if stage == 0 else cal.search.refine_samples
        points = sobol_points(cal.parameters, box, n, cal.search.seed, stage)
        _run_stage(fit, stage, points, ["search"] * len(points), stages_root, run)
        if log:
            log(f"stage {stage}: {len(points)} candidates x {cal.search.seeds} seeds, "
                f"{len(fit.accepted)} accepted so far (J <= {threshold:.2f}), "
                f"best J {fit.candidates['J'].min():.3g}")  # fmt: skip
        box = refine_box(cal.parameters, fit.candidates)
    if cal.search.profile and fit.best is not None:
        points, kinds = slice_points(cal.parameters, fit.best, cal.search.profile)
        _run_stage(fit, 1 + cal.search.refine, points, kinds, stages_root, run)
        if log:
            log(f"slices: {len(points)} candidates through the best, one parameter at a time")
    return fit


def _run_stage(
    fit: Fit, stage: int, points: list[dict], kinds: list[str], root: Path, run: dict
) -> None:
    """Run one stage's sweep (resuming it) and add its scored candidates to ``fit``."""
    cal = fit.calibration
    report = run_sweep(stage_sweep(cal, stage, points), root, **run)
    fit.failed += report.failed
    results = pd.read_parquet(report.folder / "results.parquet").assign(stage=stage)
    fit.runs = pd.concat([fit.runs, results], ignore_index=True)
    scored = score(cal, results, points, stage).assign(kind=kinds)
    candidates = pd.concat([fit.candidates, scored], ignore_index=True)
    candidates["accepted"] = candidates["J"] <= fit.threshold
    fit.candidates = candidates
    fit.stages.append(report.folder.name)


def slice_points(
    params: list[Parameter], best: pd.Series, n: int
) -> tuple[list[dict[str, Any]], list[str]]:
    """The objective's slices: each parameter at ``n`` even values of its range, others at best.

    A slice below the threshold over much of a range shows a parameter the targets do
    not pin down even with the others held at their best values (the accepted set's
    spread shows the trade-offs between parameters, which a slice cannot).
    """
    points, kinds = [], []
    for p in params:
        for u in np.linspace(0.0, 1.0, n):
            points.append({q.path: _plain(best[q.path]) for q in params} | {p.path: p.value(u)})
            kinds.append(f"slice:{p.path}")
    return points, kinds


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def sobol_points(
    params: list[Parameter], box: list[tuple[float, float]], n: int, root: int, stage: int
) -> list[dict[str, Any]]:
    """``n`` scrambled Sobol points in ``box``; the draws depend on (root, stage) only."""
    from scipy.stats import qmc

    rng = np.random.default_rng(np.random.SeedSequence([root, 1 + stage]))
    unit = qmc.Sobol(d=len(params), scramble=True, rng=rng).random_base2(int(math.log2(n)))
    points = []
    for u in unit:
        point = {}
        for p, (lo, hi), x in zip(params, box, u, strict=True):
            point[p.path] = p.value((lo + x * (hi - lo) - p.low) / (p.high - p.low))
        points.append(point)
    return points


def stage_sweep(cal: Calibration, stage: int, points: list[dict[str, Any]]) -> Sweep:
    """One stage as a sweep: the given points, the calibration's seeds, its moments."""
    moments = Moments(tuple(cal.quantities), tuple(sorted(cal.spec.twin.items())))
    text = json.dumps(
        [points, repr(moments), cal.fingerprint()], sort_keys=True, default=str
    ).encode()
    name = f"stage{stage}-{hashlib.sha256(text).hexdigest()[:10]}"
    spec = SweepFile(
        name=name,
        base=cal.spec.base,
        vary={p.path: Range(low=p.low, high=p.high) for p in cal.parameters},
        design=Design.RANDOM,  # the points are scrambled Sobol draws, given below
        samples=len(points),
        replicates=cal.search.seeds,
        seed=cal.search.seed,
        seeding=Seeding.COMMON,  # the same seeds for every candidate, in every stage
    )
    factors = [Factor(p.path, low=p.low, high=p.high, integer=p.integer) for p in cal.parameters]
    labels = [q.label for q in cal.quantities]
    return Sweep(cal.path, spec, cal.base, factors, points, labels, measure=moments)


def score(
    cal: Calibration, results: pd.DataFrame, points: list[dict[str, Any]], stage: int
) -> pd.DataFrame:
    """One row per candidate: its parameters, each moment's mean, sd and n over seeds, J.

    A candidate with a failed run or an undefined target moment gets no J (NaN) and a
    reason: it is left out of the fit rather than scored on part of its seeds.
    """
    rows = []
    for i, point in enumerate(points):
        mine = results[results["point"] == i]
        row: dict[str, Any] = {"stage": stage, "point": i, **point, "seeds": len(mine)}
        for q in cal.quantities:
            values = mine[q.label].to_numpy(float) if len(mine) else np.array([])
            row[f"{q.label}.mean"] = float(values.mean()) if values.size else math.nan
            row[f"{q.label}.sd"] = float(values.std(ddof=1)) if values.size > 1 else math.nan
        row["J"], row["why"] = _objective(cal, row, mine)
        rows.append(row)
    return pd.DataFrame(rows)


def _objective(cal: Calibration, row: dict[str, Any], runs: pd.DataFrame) -> tuple[float, str]:
    if row["seeds"] < cal.search.seeds:
        return math.nan, f"{cal.search.seeds - row['seeds']} of {cal.search.seeds} runs failed"
    total = 0.0
    for t in cal.spec.targets:
        if runs[t.label].isna().any():
            return math.nan, f"{t.label} undefined on some seed (a ratio to a twin value of 0)"
        total += z_score(t, row[f"{t.label}.mean"], row[f"{t.label}.sd"], row["seeds"]) ** 2
    return total, ""


def z_score(target: Any, mean: float, sd: float, n: int) -> float:
    """(simulated mean - observed) / sqrt(se^2 + sd^2 / n): observation and simulation noise."""
    sim = sd * sd / n if n > 1 and math.isfinite(sd) else 0.0
    return (mean - target.observed) / math.sqrt(target.se**2 + sim)


def refine_box(params: list[Parameter], candidates: pd.DataFrame) -> list[tuple[float, float]]:
    """The next round's box: around the accepted set (or the best), padded, within range."""
    chosen = candidates[candidates["accepted"]]
    if chosen.empty:
        complete = candidates.dropna(subset=["J"])
        if complete.empty:
            return [(p.low, p.high) for p in params]
        chosen = complete.nsmallest(max(2, math.ceil(BEST_SHARE * len(complete))), "J")
    box = []
    for p in params:
        width = p.high - p.low
        lo = float(chosen[p.path].min()) - REFINE_PAD * width
        hi = float(chosen[p.path].max()) + REFINE_PAD * width
        grow = max(0.0, MIN_WIDTH * width - (hi - lo)) / 2
        box.append((max(p.low, lo - grow), min(p.high, hi + grow)))
    return box


# ------------------------------------------------------------------ what the fit says


def moment_fit(fit: Fit) -> pd.DataFrame:
    """Each target and held-out moment at the best candidate, and over the accepted set.

    Columns: role (fitted / held out), observed, se, the best candidate's mean with its
    95% interval over seeds, z, whether |z| is within the level's normal quantile, and
    the range of the mean over the accepted set with the share of it that fits.
    """
    cal, best = fit.calibration, fit.best
    crit = float(stats.norm.ppf(0.5 + cal.search.level / 2))
    runs = _best_runs(fit)
    rows = []
    for role, targets in (("fitted", cal.spec.targets), ("held out", cal.spec.validate_)):
        for t in targets:
            row = {"moment": t.label, "role": role, "observed": t.observed, "se": t.se}
            row.update(_at_best(t.label, runs))
            if best is not None:
                z = z_score(t, best[f"{t.label}.mean"], best[f"{t.label}.sd"], best["seeds"])
                row.update(z=z, passed=bool(abs(z) <= crit))
            row.update(_over_accepted(fit, t, crit))
            row["source"] = t.source or ""
            rows.append(row)
    return pd.DataFrame(rows)


def conclusions(fit: Fit) -> pd.DataFrame:
    """Each named conclusion: its value at the best candidate, and its range over the set.

    A conclusion that survives is one whose range over the accepted set is narrow enough
    for the decision at hand; an empty accepted set leaves the range empty, with why.
    """
    runs = _best_runs(fit)
    acc = fit.accepted
    rows = []
    for q in fit.calibration.spec.conclusions:
        row = {"quantity": q.label, **_at_best(q.label, runs), "accepted": len(acc)}
        values = acc[f"{q.label}.mean"].dropna()
        row["accepted_min"] = float(values.min()) if len(values) else math.nan
        row["accepted_max"] = float(values.max()) if len(values) else math.nan
        row["note"] = "" if len(values) else "no candidate fits within tolerance"
        rows.append(row)
    return pd.DataFrame(rows)


def identifiability(fit: Fit) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per parameter: how well the targets pin it down; and the objective's profiles.

    Two views, and a parameter is pinned down only when both agree: the accepted set's
    spread (the share of its range the accepted values span: trade-offs between
    parameters show here), and the slice through the best (the share of its range where
    J stays within the threshold with the others at their best). The profile table
    holds, per bin of each range, the lowest J of any candidate in it (others free), and
    the slice's J at each of its points.
    """
    rows, profile = [], []
    for p in fit.calibration.parameters:
        rows.append(_pinned(fit, p))
        edges = np.linspace(p.low, p.high, PROFILE_BINS + 1)
        for a, b in zip(edges[:-1], edges[1:], strict=True):
            inside = fit.candidates[(fit.candidates[p.path] >= a) & (fit.candidates[p.path] <= b)]
            j = inside["J"].dropna()
            profile.append({"parameter": p.path, "kind": "lowest J in bin", "x_low": a,
                            "x_high": b, "candidates": len(j),
                            "J": float(j.min()) if len(j) else math.nan})  # fmt: skip
        for r in _slice(fit, p).itertuples():
            x = fit.candidates.loc[r.Index, p.path]
            profile.append({"parameter": p.path, "kind": "slice through best", "x_low": x,
                            "x_high": x, "candidates": 1, "J": r.J})  # fmt: skip
    return pd.DataFrame(rows), pd.DataFrame(profile)


def _slice(fit: Fit, p: Parameter) -> pd.DataFrame:
    kind = fit.candidates.get("kind", pd.Series(dtype=str))
    return fit.candidates[kind == f"slice:{p.path}"].sort_values(p.path)


def _pinned(fit: Fit, p: Parameter) -> dict[str, Any]:
    best, acc = fit.best, fit.accepted
    row: dict[str, Any] = {"parameter": p.path, "low": p.low, "high": p.high}
    row["best"] = best[p.path] if best is not None else math.nan
    sl = _slice(fit, p).dropna(subset=["J"])
    flat = float((sl["J"] <= fit.threshold).mean()) if len(sl) else math.nan
    row["slice_within"] = flat  # share of the slice's points within the threshold
    if acc.empty:
        row.update(accepted_min=math.nan, accepted_max=math.nan, spread=math.nan, pinned=False)
        row["warning"] = "no candidate fits within tolerance: no interval"
        return row
    lo, hi = float(acc[p.path].min()), float(acc[p.path].max())
    spread = (hi - lo) / (p.high - p.low)
    why = []
    if spread > PINNED_SHARE:
        why.append(f"accepted values span {spread:.0%} of its range")
    if flat > PINNED_SHARE:
        why.append(f"J stays within the threshold over {flat:.0%} of its slice")
    row.update(accepted_min=lo, accepted_max=hi, spread=spread, pinned=not why)
    row["warning"] = f"not pinned down by the targets: {'; '.join(why)}" if why else ""
    return row


def _best_runs(fit: Fit) -> pd.DataFrame:
    best = fit.best
    if best is None:
        return fit.runs.iloc[0:0]
    return fit.runs[(fit.runs["stage"] == best["stage"]) & (fit.runs["point"] == best["point"])]


def _at_best(label: str, runs: pd.DataFrame) -> dict[str, float]:
    mean, lo, hi = mean_ci(runs[label].dropna().to_numpy(float))
    return {"best_mean": mean, "best_low": lo, "best_high": hi}


def _over_accepted(fit: Fit, t: Any, crit: float) -> dict[str, Any]:
    acc = fit.accepted
    if acc.empty:
        return {"accepted_min": math.nan, "accepted_max": math.nan, "accepted_fit": math.nan}
    means = acc[f"{t.label}.mean"]
    z = [
        z_score(t, r[f"{t.label}.mean"], r[f"{t.label}.sd"], r["seeds"]) for _, r in acc.iterrows()
    ]
    return {
        "accepted_min": float(means.min()),
        "accepted_max": float(means.max()),
        "accepted_fit": float(np.mean(np.abs(z) <= crit)),  # share of the set fitting it
    }
