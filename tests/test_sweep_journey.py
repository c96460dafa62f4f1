"""The sweep journey end to end (sweep -> summary.csv and figure), and clean interrupts:
a real `abm sweep` process stopped by a real SIGINT or SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from abm import intervals
from abm.cli import app
from abm.sweep import ExecutorKind, load_sweep, run_sweep
from tests.conftest import write_sweep_file

ROOT = Path(__file__).resolve().parents[1]
OUTCOMES = ["final_leverage[strikers]", "peak_participation[strikers]", "final_quality[incumbent]"]


def write_sweep(folder: Path, **fields) -> Path:
    sweep = {
        "vary": {
            "collectives.strikers.size": [0.1, 0.5, 0.9],
            "collectives.strikers.lever": ["strike", "strike_cdc"],
        },
        "replicates": 3,
        "seed": 3,
        "outcomes": OUTCOMES,
    }
    return write_sweep_file(folder, **{**sweep, **fields})


def test_sweep_to_summary_and_figure(tmp_path):
    path, out = write_sweep(tmp_path), tmp_path / "out"
    res = CliRunner().invoke(app, ["sweep", str(path), "--out", str(out), "--executor", "serial"])
    assert res.exit_code == 0, res.output
    folder = out / "tiny"
    assert f"figure: abm figure {folder}" in res.output

    # summary.csv: a row per design point and outcome, mean and 95% interval over its runs
    summary = pd.read_csv(folder / "summary.csv")
    results = pd.read_parquet(folder / "results.parquet")
    assert len(summary) == 6 * len(OUTCOMES) and (summary["n"] == 3).all()
    for row in summary.itertuples():
        values = results.loc[results["point"] == row.point, row.outcome].to_numpy()
        mean, low, high = intervals.mean_ci(values)
        assert row.mean == pytest.approx(mean) and row.low <= row.mean <= row.high
        if row.outcome == "final_leverage[strikers]":  # signed: the whole t interval
            assert (row.low, row.high) == pytest.approx((low, high))
        else:  # bounded: clipped to its range only
            assert row.low == pytest.approx(max(low, 0.0) if "peak" in row.outcome else low)
    leverage = summary[summary["outcome"] == "final_leverage[strikers]"]
    assert (leverage["low"] < 0).any()  # intervals do cross zero here, and are kept

    # `abm figure FOLDER` with no other argument: a panel per outcome, x the first
    # varied field, a line per level of the second, bands that contain their means
    res = CliRunner().invoke(app, ["figure", str(folder)])
    assert res.exit_code == 0, res.output
    assert (folder / "figure.png").stat().st_size > 20_000
    plotted = pd.read_csv(folder / "figure.csv")
    assert set(plotted["outcome"]) == set(OUTCOMES)
    assert set(plotted["collectives.strikers.lever"]) == {"strike", "strike_cdc"}
    assert ((plotted["low"] <= plotted["mean"]) & (plotted["mean"] <= plotted["high"])).all()
    expected = results.groupby(["collectives.strikers.lever", "collectives.strikers.size"])[
        OUTCOMES[0]
    ].mean()
    got = plotted[plotted["outcome"] == OUTCOMES[0]]["mean"].to_numpy()
    assert got == pytest.approx(expected.to_numpy())

    # A shrunk sweep lives in <name>-cli-<hash>; the README's command still draws it.
    small = tmp_path / "small"
    res = CliRunner().invoke(app, ["sweep", str(path), "--out", str(small), "--executor",
                                   "serial", "--steps", "2", "--replicates", "2"])  # fmt: skip
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(app, ["figure", str(small / "tiny")])
    assert res.exit_code == 0, res.output
    (shrunk,) = small.glob("tiny-cli-*")
    assert f"drawing {shrunk}" in res.stderr and (shrunk / "figure.png").exists()
    assert (pd.read_csv(shrunk / "summary.csv")["n"] == 2).all()


def _session(sid: int) -> list[str]:
    """Live processes in a session: what a stopped sweep left running.

    A zombie, or a process whose memory is already gone (an empty command line: it is
    exiting, and runs no more code), is not left running.
    """
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        fields = text.rpartition(")")[2].split()
        if int(fields[3]) == sid and fields[0] not in "ZX" and cmdline:
            alive.append(f"{text.partition(' ')[0]}: {cmdline[:120]!r}")
    return alive


# Ctrl-C: the terminal signals the whole process group, workers included. SIGTERM
# (kill PID) takes the same path in the sweep's process: tested in-process below.
CASES = [("local", signal.SIGINT, True), ("dask", signal.SIGINT, True)]


@pytest.mark.parametrize(
    ("executor", "sig", "group"), CASES, ids=[f"{e}-{s.name}" for e, s, _ in CASES]
)
def test_a_signal_stops_a_sweep_in_one_line_keeps_runs_and_leaves_no_worker(
    tmp_path, executor, sig, group
):
    path = write_sweep(tmp_path, replicates=4)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "abm", "sweep", str(path), "-j", "2", "--executor", executor,
           "--out", str(out)]  # fmt: skip
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    runs = out / "tiny" / "runs"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(runs.glob("p*.parquet"))) < 2:
        time.sleep(0.02)
    (os.killpg if group else os.kill)(proc.pid, sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, err
    assert _session(proc.pid) == []  # no worker left behind
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    messages = [line for line in err.splitlines() if line.startswith("abm:")]
    assert messages == [err.strip().splitlines()[-1]], err  # one line, the last
    kept = sorted(runs.glob("p*.parquet"))
    assert f"stopped by {sig.name}: {len(kept)} of 24 runs are kept" in messages[0]
    assert 2 <= len(kept) < 24 and all(len(pd.read_parquet(p)) == 1 for p in kept)
    manifest = yaml.safe_load((out / "tiny" / "manifest.yaml").read_text())
    assert manifest["status"] == "interrupted" and manifest["finished"] == len(kept)
    assert not (out / "tiny" / "results.parquet").exists()
    if executor == "local" and group:  # resuming finishes it, keeping what was done
        report = run_sweep(load_sweep(path), out, executor=ExecutorKind.SERIAL)
        assert (report.skipped, report.done) == (len(kept), 24)
        assert np.isfinite(pd.read_csv(out / "tiny" / "summary.csv")["mean"]).all()


def test_sigterm_stops_a_sweep_between_runs_and_the_manifest_says_so(tmp_path, monkeypatch):
    from abm.sweep import Interrupted, SweepStore

    sweep = load_sweep(write_sweep(tmp_path, replicates=1))
    record = SweepStore.record

    def record_then_terminate(self, run, outcomes):
        record(self, run, outcomes)
        if run.point == 1:
            os.kill(os.getpid(), signal.SIGTERM)  # as `kill PID` would, mid-sweep

    monkeypatch.setattr(SweepStore, "record", record_then_terminate)
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Interrupted) as stop:
        run_sweep(sweep, tmp_path / "out", executor=ExecutorKind.SERIAL)
    assert stop.value.signum == signal.SIGTERM and stop.value.finished == 2
    assert signal.getsignal(signal.SIGTERM) is before  # the handler is put back
    manifest = yaml.safe_load((tmp_path / "out" / "tiny" / "manifest.yaml").read_text())
    assert manifest["status"] == "interrupted" and manifest["finished"] == 2
