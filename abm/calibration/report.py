"""The calibration folder: the best parameters, the fit of each moment, what survives.

Layout of ``<out>/<name>/`` (``<name>-fast`` in fast mode)::

    manifest.yaml        the file resolved, version, identity hash, stages, status
    calibration.yaml     the calibration file as validated; base_scenario.yaml: its base
    best.yaml            the best parameters, J, and the command that reruns them
    moments.csv          each fitted and held-out moment: observed, se, simulated mean with
                         its 95% interval over seeds, z, passed; its range over the set
    candidates.csv       every candidate: stage, parameters, moment means and sds, J, accepted
    accepted.csv         the accepted set (J <= chi-square threshold)
    conclusions.csv      each named conclusion at the best and its range over the set
    identifiability.csv  per parameter: the accepted set's range, spread, pinned, warning
    profiles.csv         per parameter and bin of its range: the lowest J (the profile)
    profiles.png         the same, with every candidate and the threshold
    report.md            all of it in words
    stages/<stage>/      each stage's sweep folder (resumable runs)

The folder's name depends only on the calibration, so rerunning resumes every stage.
A folder made by a different calibration is refused, never mixed. Each file is written
to a temporary name and moved into place, so a kill leaves the previous version whole.
"""

from __future__ import annotations

import json
import math
import os
import shlex
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

import abm
from abm.calibration.fit import Fit, conclusions, identifiability, moment_fit
from abm.calibration.spec import Calibration
from abm.outputs import check_out_root, folder_name
from abm.scenario import ScenarioError, dump_scenario, parse_yaml, read_limited

MANIFEST_BYTES = 1 << 20


def calibration_folder(cal: Calibration, out_root: str | Path) -> Path:
    """The calibration's folder, checked: absent, or made by this same calibration.

    Raises:
        ScenarioError: The folder is a link or a file, or another calibration's.
    """
    out_root = check_out_root(out_root)
    folder = out_root / folder_name(cal.name, cal.path)
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise ScenarioError(cal.path, "name", f"a calibration folder, got {folder}")
    if not folder.exists():
        return folder
    path = folder / "manifest.yaml"
    try:
        text = read_limited(path, MANIFEST_BYTES, path).decode("utf-8")
        old = parse_yaml(text, path) or {}
    except (ScenarioError, UnicodeDecodeError):
        old = None
    if not isinstance(old, dict) or "fingerprint" not in old:
        raise ScenarioError(
            cal.path,
            "name",
            f"a folder this calibration created ({folder} exists and is not a "
            "calibration's; use another --out or name)",
        )
    if old["fingerprint"] != cal.fingerprint():
        raise ScenarioError(
            cal.path,
            "(calibration)",
            f"the same file as when {folder} was created (it changed; use another --out "
            "or remove that folder)",
        )
    return folder


def open_folder(cal: Calibration, folder: Path) -> None:
    """Create the folder (or reopen it to resume) and record what is being calibrated."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "stages").mkdir(exist_ok=True)
    spec = cal.spec.model_dump(mode="json", by_alias=True, exclude_none=True)
    write_text(folder / "calibration.yaml", yaml.safe_dump(spec, sort_keys=False))
    write_text(folder / "base_scenario.yaml", dump_scenario(cal.base))
    write_manifest(cal, folder, status="running")


def write_manifest(cal: Calibration, folder: Path, **extra: Any) -> None:
    """The manifest: what this calibration is, its identity hash and its state."""
    data = {
        "name": cal.name,
        "calibration_file": str(cal.path),
        "base": str(cal.path.parent / cal.spec.base),
        "abm_version": abm.__version__,
        "fast": cal.fast,
        "search": cal.search.model_dump(mode="json"),
        "method": "scrambled Sobol points (scipy.stats.qmc), then local refinement rounds; "
        "method of simulated moments, common random numbers across candidates",
        "fingerprint": cal.fingerprint(),
        "updated": datetime.now(UTC).isoformat(timespec="seconds"),
        **extra,
        "identity": cal.identity(),
    }
    write_text(folder / "manifest.yaml", yaml.safe_dump(data, sort_keys=False))


def write_results(fit: Fit, folder: Path) -> dict[str, pd.DataFrame]:
    """Write every table, the figure and the report; return the tables by file stem."""
    cal = fit.calibration
    ident, profile = identifiability(fit)
    tables = {
        "moments": moment_fit(fit),
        "candidates": fit.candidates,
        "accepted": fit.accepted,
        "conclusions": conclusions(fit),
        "identifiability": ident,
        "profiles": profile,
    }
    for stem, table in tables.items():
        write_text(folder / f"{stem}.csv", table.to_csv(index=False))
    write_text(folder / "best.yaml", yaml.safe_dump(best_record(fit), sort_keys=False))
    _profile_figure(fit, profile, folder / "profiles.png")
    write_text(folder / "report.md", report_markdown(fit, tables))
    write_manifest(cal, folder, status="complete", stages=fit.stages, failed_runs=fit.failed)
    return tables


def best_record(fit: Fit) -> dict[str, Any]:
    """The best candidate: its parameters, J, and the command that reruns one of its seeds."""
    cal, best = fit.calibration, fit.best
    if best is None:
        return {"best": None, "why": "no candidate completed all its seeds"}
    params = {p.path: _plain(best[p.path]) for p in cal.parameters}
    runs = fit.runs
    mine = runs[(runs["stage"] == best["stage"]) & (runs["point"] == best["point"])]
    seed = int(mine.sort_values("replicate")["seed"].iloc[0])
    parts = ["abm", "run", os.path.normpath(cal.path.parent / cal.spec.base), "--seed", str(seed)]
    for key, value in {**cal.spec.set, **params}.items():
        parts += ["--set", f"{key}={_as_yaml(value)}"]
    return {
        "parameters": params,
        "J": float(best["J"]),
        "threshold": fit.threshold,
        "accepted": bool(best["accepted"]),
        "accepted_candidates": len(fit.accepted),
        "candidates": len(fit.candidates),
        "seeds": cal.search.seeds,
        "rerun": shlex.join(parts),
    }


def report_markdown(fit: Fit, tables: dict[str, pd.DataFrame]) -> str:
    """The calibration in words: fit, held-out check, what survives, identifiability."""
    cal, best = fit.calibration, fit.best
    lines = [f"# Calibration: {cal.name}", ""]
    if cal.spec.question:
        lines += [cal.spec.question.strip(), ""]
    k, p = len(cal.spec.targets), len(cal.parameters)
    lines += [
        f"{len(fit.candidates)} candidates x {cal.search.seeds} seeds (the same seeds for "
        f"every candidate); {k} fitted moments, {p} parameters; accepted: J <= "
        f"{fit.threshold:.2f} (chi-square, {k} df, level {cal.search.level}): "
        f"{len(fit.accepted)} candidates.",
        "",
    ]
    if fit.failed:
        lines += [
            f"{fit.failed} runs failed; their candidates are left out (stages/*/failures.csv).",
            "",
        ]
    if best is None:
        return "\n".join([*lines, "No candidate completed: nothing to report.", ""])
    lines += ["## Best parameters", ""]
    lines += [f"- `{q}` = {_fmt(best[q])}" for q in (x.path for x in cal.parameters)]
    lines += [f"- J = {best['J']:.3g}", "", "## Moments", "", _md(tables["moments"]), ""]
    held = tables["moments"][tables["moments"]["role"] == "held out"]
    for row in held.itertuples():
        verdict = "PASS" if row.passed else "FAIL"
        sim = f"{_fmt(row.best_mean)} [{_fmt(row.best_low)}, {_fmt(row.best_high)}]"
        lines.append(
            f"Held-out `{row.moment}`: observed {_fmt(row.observed)} (se {_fmt(row.se)}), "
            f"simulated {sim}, z = {row.z:.2f}: **{verdict}**."
        )
    lines += ["", "## Conclusions over the accepted set", "", _md(tables["conclusions"]), ""]
    lines += ["## Identifiability", "", _md(tables["identifiability"]), ""]
    if k < p:
        lines.append(
            f"Warning: {k} fitted moments for {p} parameters: at most {k} combinations "
            "of them can be pinned down."
        )
    lines += [
        f"Warning: `{r.parameter}` {r.warning}."
        for r in tables["identifiability"].itertuples()
        if r.warning
    ]
    return "\n".join([*lines, "", "Profiles: profiles.png, profiles.csv.", ""])


def summary_lines(fit: Fit, tables: dict[str, pd.DataFrame]) -> list[str]:
    """A few lines for the terminal: the best parameters, each moment's fit, the warnings."""
    best = fit.best
    if best is None:
        return ["no candidate completed all its seeds: nothing was fitted"]
    params = ", ".join(f"{p.path}={_fmt(best[p.path])}" for p in fit.calibration.parameters)
    lines = [
        f"best: {params} (J {best['J']:.3g}; {len(fit.accepted)} of "
        f"{len(fit.candidates)} candidates accepted, J <= {fit.threshold:.2f})"
    ]
    for r in tables["moments"].itertuples():
        lines.append(
            f"  {r.role:9s} {r.moment:28s} observed {_fmt(r.observed)}, simulated "
            f"{_fmt(r.best_mean)} [{_fmt(r.best_low)}, {_fmt(r.best_high)}], "
            f"z {r.z:+.2f}: {'pass' if r.passed else 'FAIL'}"
        )
    for r in tables["conclusions"].itertuples():
        lines.append(
            f"  conclusion {r.quantity:26s} best {_fmt(r.best_mean)}, over the "
            f"accepted set [{_fmt(r.accepted_min)}, {_fmt(r.accepted_max)}]"
        )
    lines += [
        f"  warning: {r.parameter} {r.warning}"
        for r in tables["identifiability"].itertuples()
        if r.warning
    ]
    return lines


def _profile_figure(fit: Fit, profile: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    params = fit.calibration.parameters
    fig, axes = plt.subplots(1, len(params), figsize=(4.2 * len(params), 3.4), squeeze=False)
    cands = fit.candidates.dropna(subset=["J"])
    for ax, p in zip(axes[0], params, strict=True):
        ax.scatter(cands[p.path], cands["J"], s=8, color="0.6", label="candidates")
        acc = cands[cands["accepted"]]
        ax.scatter(acc[p.path], acc["J"], s=12, color="tab:blue", label="accepted")
        mine = profile[profile["parameter"] == p.path]
        bins = mine[mine["kind"] == "lowest J in bin"]
        cut = mine[mine["kind"] == "slice through best"]
        middle = (bins["x_low"] + bins["x_high"]) / 2
        ax.plot(middle, bins["J"], "k-", lw=1, label="profile (lowest J in bin)")
        ax.plot(cut["x_low"], cut["J"], "o--", color="tab:orange", ms=3, lw=1, label="slice")
        ax.axhline(fit.threshold, color="tab:red", lw=0.8, ls="--", label="threshold")
        ax.set(xlabel=p.path, ylabel="J (chi-square)", yscale="symlog")
        ax.set_ylim(bottom=0)  # J >= 0; symlog keeps J = 0 on the axis
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)


def _md(table: pd.DataFrame) -> str:
    cols = list(table.columns)
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in table.itertuples(index=False):
        out.append("| " + " | ".join(_fmt(v) for v in row) + " |")
    return "\n".join(out)


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def _as_yaml(value: Any) -> str:
    """A value as ``--set`` reads it back (YAML): ``off`` stays the string ``off``."""
    text = str(value).lower() if isinstance(value, bool) else str(value)
    try:
        same = yaml.safe_load(text) == value
    except yaml.YAMLError:
        same = False
    return text if same else json.dumps(value)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def write_text(path: Path, text: str) -> None:
    """Write a file atomically (a temporary name, then ``os.replace``)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
