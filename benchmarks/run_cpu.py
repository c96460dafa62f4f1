"""CPU seconds of ``abm run`` per reference scenario and of ``abm --version``, imports included.

Each command runs in a fresh interpreter, ``--repeat`` times; its CPU time (user + sys
of the child, from ``resource.getrusage(RUSAGE_CHILDREN)``) is reported as the minimum
and the median, since a shared machine only ever adds time. CPU, not wall: other jobs
on the machine lengthen the wall time, not the CPU a command needs. Targets (issue 26):
every run <= 1.5 s, ``--version`` <= 0.5 s.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/run_cpu.py --repeat 5
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cpu_seconds(args: list[str]) -> float:
    """User + sys CPU seconds of one child process running ``args``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(args: list[str], repeat: int) -> tuple[float, float]:
    """``(min, median)`` CPU seconds over ``repeat`` runs."""
    times = [cpu_seconds(args) for _ in range(repeat)]
    return min(times), statistics.median(times)


def main() -> None:
    """Print one line per command: minimum and median CPU seconds, and the target met."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("scenarios", nargs="*", help="default: scenarios/*.yaml")
    opts = parser.parse_args()
    files = [Path(f) for f in opts.scenarios] or sorted((ROOT / "scenarios").glob("*.yaml"))
    abm = [sys.executable, "-m", "abm"]
    env_note = os.environ.get("OPENBLAS_NUM_THREADS", "unset")
    print(
        f"CPU seconds (user+sys), min and median of {opts.repeat}; OPENBLAS_NUM_THREADS={env_note}"
    )
    lo, med = measure([*abm, "--version"], opts.repeat)
    print(f"{'abm --version':32s} {lo:6.2f} {med:6.2f}  {'ok' if lo <= 0.5 else 'OVER 0.5'}")
    with tempfile.TemporaryDirectory() as out:
        for f in files:
            lo, med = measure([*abm, "run", str(f), "--out", out], opts.repeat)
            flag = "ok" if lo <= 1.5 else "OVER 1.5"
            print(f"{'abm run ' + f.stem:32s} {lo:6.2f} {med:6.2f}  {flag}", flush=True)


if __name__ == "__main__":
    main()
