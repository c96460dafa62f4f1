"""The sweep folder: one Parquet file per finished run, a manifest, a combined table.

Layout of ``<out>/<sweep name>/``::

    manifest.yaml      sweep file resolved, root seed, version, identity hash, run ids
    sweep.yaml         the sweep file as validated;  base_scenario.yaml: the base resolved
    design.parquet     one row per point: point id and the value of every varied field
    runs/<id>.parquet  one row per finished run (every outcome, the point and the seed)
    failed/<id>.json   a run whose simulation raised, with the error
    results.parquet, results.csv, failures.csv   written on completion, sorted by run id

A run file is written to a temporary name and moved into place with ``os.replace``,
so a run file exists only when complete and a killed sweep loses no finished run. The
folder name depends only on the sweep, so rerunning resumes: finished runs are
skipped, failed ones are tried again. A folder made by an incompatible sweep file is
refused rather than mixed. An advisory lock stops two sweeps writing one folder.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

import abm
from abm.scenario import ScenarioError, dump_scenario
from abm.sweep.design import RunSpec, runs, sobol_problem
from abm.sweep.spec import Design, Sweep

BATCH = 2000  # run files read at a time when combining


class SweepStore:
    """The folder of one sweep."""

    def __init__(self, sweep: Sweep, out_root: str | Path):
        self.sweep = sweep
        self.folder = Path(out_root) / sweep.name
        self.runs_dir = self.folder / "runs"
        self.failed_dir = self.folder / "failed"
        self._lock: Any = None

    # ---------------------------------------------------------------- opening

    def check(self) -> None:
        """Refuse a folder made by an incompatible sweep file (writes nothing)."""
        path = self.folder / "manifest.yaml"
        if not path.exists():
            if any(self.runs_dir.glob("*.parquet")):
                raise ScenarioError(
                    self.folder, "manifest.yaml", "a sweep folder (it has files but no manifest)"
                )
            return
        old = yaml.safe_load(path.read_text()) or {}
        mine = self.sweep.identity()
        theirs = old.get("identity", {})
        if old.get("fingerprint") == self.sweep.fingerprint():
            return
        changed = _first_difference(theirs, mine) or "identity"
        raise ScenarioError(
            self.sweep.path,
            changed,
            f"the same value as when {self.folder} was created (the sweep changed; "
            "use another --out or remove that folder)",
        )

    def open(self) -> None:
        """Create (or reopen) the folder, take its lock, write the manifest and design."""
        self.check()
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock = open(self.folder / ".lock", "w")  # noqa: SIM115 - held until close()
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            self._lock = None
            raise ScenarioError(
                self.folder, ".lock", "a folder no other sweep is writing"
            ) from None
        self.runs_dir.mkdir(exist_ok=True)
        self.failed_dir.mkdir(exist_ok=True)
        for stale in self.runs_dir.glob(".*.tmp"):
            stale.unlink(missing_ok=True)  # left by a killed sweep
        sweep = self.sweep
        _write_text(
            self.folder / "sweep.yaml",
            yaml.safe_dump(sweep.spec.model_dump(mode="json", exclude_none=True), sort_keys=False),
        )
        _write_text(self.folder / "base_scenario.yaml", dump_scenario(sweep.base))
        design = self.folder / "design.parquet"
        if not design.exists():
            table = pd.DataFrame(sweep.points)
            table.insert(0, "point", range(len(sweep.points)))
            _write_parquet(table, design)
        self.write_manifest(status="running")

    def close(self) -> None:
        """Release the folder's lock."""
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def manifest(self, **extra: Any) -> dict[str, Any]:
        """The manifest: what this sweep is and which runs it has."""
        sweep = self.sweep
        out: dict[str, Any] = {
            "name": sweep.name,
            "sweep_file": str(sweep.path),
            "base": str(sweep.path.parent / sweep.spec.base),
            "abm_version": abm.__version__,
            "root_seed": sweep.spec.seed,
            "design": sweep.spec.design.value,
            "seeding": sweep.spec.seeding.value,
            "points": len(sweep.points),
            "replicates": sweep.spec.replicates,
            "steps": sweep.steps,
            "factors": [f.path for f in sweep.factors],
            "outcomes": sweep.outcomes,
            "fingerprint": sweep.fingerprint(),
            "updated": datetime.now(UTC).isoformat(timespec="seconds"),
            **extra,
        }
        if sweep.spec.design is Design.SOBOL:
            out["sobol_problem"] = sobol_problem(sweep.factors)
            out["second_order"] = sweep.spec.second_order
        out["identity"] = sweep.identity()
        out["run_ids"] = [r.run_id for r in self.runs()]
        return out

    def write_manifest(self, **extra: Any) -> None:
        """Write the manifest atomically."""
        _write_text(
            self.folder / "manifest.yaml", yaml.safe_dump(self.manifest(**extra), sort_keys=False)
        )

    # ---------------------------------------------------------------- runs

    def runs(self) -> Iterator[RunSpec]:
        """Every run of the sweep, in run-id order."""
        s = self.sweep.spec
        return runs(self.sweep.points, s.replicates, s.seed, s.seeding)

    def finished(self) -> set[str]:
        """Ids of the runs whose file is complete."""
        return {p.stem for p in self.runs_dir.glob("p*.parquet")}

    def pending(self) -> Iterator[RunSpec]:
        """The runs still to do."""
        done = self.finished()
        return (r for r in self.runs() if r.run_id not in done)

    def record(self, run: RunSpec, outcomes: dict[str, float]) -> None:
        """Store a finished run (atomically) and clear an earlier failure of it."""
        row = {
            "run_id": run.run_id,
            "point": run.point,
            "replicate": run.replicate,
            "seed": run.seed,
        }
        row.update(run.overrides)
        row.update(outcomes)
        _write_parquet(pd.DataFrame([row]), self.runs_dir / f"{run.run_id}.parquet")
        (self.failed_dir / f"{run.run_id}.json").unlink(missing_ok=True)

    def record_failure(self, run: RunSpec, error: str) -> None:
        """Store a failed run with its error."""
        data = {
            "run_id": run.run_id,
            "point": run.point,
            "replicate": run.replicate,
            "seed": run.seed,
            "error": error,
            "overrides": run.overrides,
        }
        _write_text(self.failed_dir / f"{run.run_id}.json", json.dumps(data, default=str))

    # ---------------------------------------------------------------- combining

    def combine(self) -> tuple[int, int]:
        """Write results.parquet/.csv and failures.csv, streaming; return (done, failed)."""
        keep = [
            "run_id",
            "point",
            "replicate",
            "seed",
            *(f.path for f in self.sweep.factors),
            *self.sweep.outcomes,
        ]
        tmp_parquet = self.folder / ".results.parquet.tmp"
        tmp_csv = self.folder / ".results.csv.tmp"
        writer = None
        done = 0
        try:
            for batch in _batches(self._finished_files(), BATCH):
                frame = pd.concat([pd.read_parquet(p) for p in batch], ignore_index=True)
                frame = frame.reindex(columns=keep)
                table = pa.Table.from_pandas(frame, preserve_index=False)
                if writer is None:
                    schema = table.schema
                    writer = pq.ParquetWriter(tmp_parquet, schema)
                writer.write_table(table.cast(schema))
                frame.to_csv(tmp_csv, mode="a", header=done == 0, index=False)
                done += len(frame)
        finally:
            if writer is not None:
                writer.close()
        if done == 0:
            _write_parquet(pd.DataFrame(columns=keep), tmp_parquet)
            pd.DataFrame(columns=keep).to_csv(tmp_csv, index=False)
        os.replace(tmp_parquet, self.folder / "results.parquet")
        os.replace(tmp_csv, self.folder / "results.csv")
        failures = self.failures()
        _write_text(self.folder / "failures.csv", failures.to_csv(index=False))
        return done, len(failures)

    def _finished_files(self) -> Iterator[Path]:
        for run in self.runs():
            path = self.runs_dir / f"{run.run_id}.parquet"
            if path.exists():
                yield path

    def failures(self) -> pd.DataFrame:
        """The failed runs of this sweep (not since rerun successfully), by run id."""
        ids = {r.run_id for r in self.runs()}
        rows = []
        for path in sorted(self.failed_dir.glob("p*.json")):
            data = json.loads(path.read_text())
            if data["run_id"] in ids:
                rows.append(
                    {**{k: v for k, v in data.items() if k != "overrides"}, **data["overrides"]}
                )
        cols = ["run_id", "point", "replicate", "seed", "error"]
        return pd.DataFrame(rows, columns=cols + [f.path for f in self.sweep.factors])


def _batches(items: Iterable[Path], size: int) -> Iterator[list[Path]]:
    batch: list[Path] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _first_difference(old: Any, new: Any, prefix: str = "") -> str | None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=str):
            where = f"{prefix}.{key}" if prefix else str(key)
            found = _first_difference(old.get(key), new.get(key), where)
            if found:
                return found
        return None
    return None if old == new else prefix or "(top level)"


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp")
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, path)
