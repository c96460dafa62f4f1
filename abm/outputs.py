"""Run folders: every run or comparison writes a new folder that describes itself.

A folder's name derives from a sanitised name, so it always sits directly inside the
chosen output root; files are written into a hidden partial folder first and moved into
place only when complete, so nothing is ever overwritten and a failed or interrupted
write leaves earlier outputs untouched (what it wrote is kept in ``<name>.failed``).
Partial folders of killed processes are removed by the next command writing there.
"""

from __future__ import annotations

import os
import platform as pyplatform
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml

import abm
from abm.scenario import ScenarioError, dump_scenario

if TYPE_CHECKING:
    from abm.runner import RunResult


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


def prove_writable(out_root: str | Path, what: str = "--out") -> Path:
    """Prove ``out_root`` can be written, after every other check and before a run.

    Permission bits cannot say so (root passes them on ``/proc``, a read-only mount or a
    full disk), so an empty partial folder is made and removed at once, inside
    ``out_root`` or, while it does not exist yet, inside the folder that would hold it.
    Nothing is left behind: a run refused later, or failing on its data, leaves no
    empty ``--out``.
    """
    out_root = check_out_root(out_root, what)
    probe = out_root
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    try:
        made = tempfile.mkdtemp(prefix=f"{PARTIAL}{_host()}-{os.getpid()}-", dir=probe)
        os.rmdir(made)
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise ScenarioError(out_root, what, f"a folder this process can write ({reason})") from None
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
    """One run's files in ``folder``: scenario, manifest, tables and SVG plots."""
    from abm.viz import series, svg

    (folder / "scenario.yaml").write_text(dump_scenario(result.scenario))
    (folder / "manifest.yaml").write_text(yaml.safe_dump(manifest(result), sort_keys=False))
    result.model_table.to_parquet(folder / "model.parquet")
    result.model_table.to_csv(folder / "model.csv")
    result.agent_table.to_parquet(folder / "agents.parquet", index=False)
    result.agent_table.to_csv(folder / "agents.csv", index=False)
    pd.Series(result.outcomes, name="value").rename_axis("outcome").to_csv(folder / "outcomes.csv")
    result.bargaining.to_csv(folder / "bargaining.csv", index=False)
    result.groups.to_parquet(folder / "groups.parquet", index=False)
    for name in series.available(result.model_table):
        text = svg.series_svg(result.model_table, name)
        (folder / f"{name}.svg").write_text(text, encoding="utf-8")


def write_run(result: RunResult, out_root: str | Path, extra_files: dict | None = None) -> Path:
    """Write a run into a new folder under ``out_root`` and return its path.

    Contents: ``scenario.yaml`` (resolved), ``manifest.yaml``, ``model.parquet`` /
    ``model.csv`` (per step), ``agents.parquet`` / ``agents.csv``, ``outcomes.csv``,
    ``bargaining.csv``, and SVG plots.
    """

    def write(tmp: Path) -> None:
        write_tables(result, tmp)
        for name, writer in (extra_files or {}).items():
            writer(tmp / name)

    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    suffix = "-failed" if result.extra.get("failed") else ""
    return new_folder(out_root, f"{result.scenario.name}-{stamp}-seed{result.seed}{suffix}", write)


SEEDS_NOTE = (
    "replicate r ran with seed child r of numpy SeedSequence({root}) (the scenario's seed), "
    "the seeds abm compare and sweeps give replicate r; none runs with {root} itself"
)


def write_replicates(
    results: list[RunResult],
    summary: pd.DataFrame,
    out_root: str | Path,
    extra_files: dict | None = None,
) -> Path:
    """Write replicate runs into one new folder and return its path.

    Contents: ``scenario.yaml`` (resolved, with the scenario's own seed), ``manifest.yaml``
    (the scenario's seed as ``root_seed``, every replicate's seed, the summary),
    ``summary.csv`` (mean and 95% interval per outcome) and ``runs/seed<seed>/``, each
    a complete run folder.
    """
    first = results[0]
    root_seed = first.extra.get("root_seed", first.scenario.seed)
    seeds = [r.seed for r in results]

    def write(tmp: Path) -> None:
        # The scenario as run, with its own seed: rerunning it with --replicates N
        # spawns the same seeds again.
        root = first.scenario.model_copy(update={"seed": root_seed})
        (tmp / "scenario.yaml").write_text(dump_scenario(root))
        info = {
            "abm_version": abm.__version__,
            "scenario": first.scenario.name,
            "replicates": len(results),
            "root_seed": root_seed,
            "seeds": seeds,
            "seeds_note": SEEDS_NOTE.format(root=root_seed),
            **changed_from_file(first),
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
        **{k: result.extra[k] for k in ("root_seed", "replicate") if k in result.extra},
        "steps": result.scenario.steps,
        **changed_from_file(result),
        "git_commit": git_commit(),
        "python": pyplatform.python_version(),
        "started": result.started,
        "finished": result.finished,
        "seconds": round(result.seconds, 3),
        "outcomes": {k: (None if v != v else round(v, 6)) for k, v in result.outcomes.items()},
        **({"failed": True} if result.extra.get("failed") else {}),
    }


def changed_from_file(result: RunResult) -> dict[str, Any]:
    """``changed_from_file: {path: {file: x, run: y}}`` when overrides changed the run."""
    changes = result.extra.get("changes") or []
    if not changes:
        return {}
    return {"changed_from_file": {path: {"file": a, "run": b} for path, a, b in changes}}


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
