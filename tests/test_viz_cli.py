"""``abm viz``: bad input is one line and exit 2; good input serves the viewer."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from typer.testing import CliRunner

from abm.cli import app

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_viz_rejects_a_bad_scenario_with_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("population:\n  n_users: -3\n")
    result = CliRunner().invoke(app, ["viz", str(bad)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "bad.yaml" in lines[0] and "population.n_users" in lines[0]
    missing = CliRunner().invoke(app, ["viz", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 2 and "nope.yaml" in missing.output


def test_viz_prints_its_address_and_serves(tmp_path):
    port = free_port()
    abm = Path(sys.executable).with_name("abm")
    proc = subprocess.Popen(
        [str(abm), "viz", "scenarios/baseline.yaml", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        first = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/" in first
        deadline, status = time.monotonic() + 60, None
        while time.monotonic() < deadline and status is None:
            assert proc.poll() is None, proc.stdout.read()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                    status = r.status
            except OSError:
                time.sleep(0.3)
        assert status == 200
    finally:
        proc.terminate()  # abm viz passes SIGTERM on to its server
        proc.wait(timeout=15)
    time.sleep(0.5)
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
        still_up = True
    except OSError:
        still_up = False
    assert not still_up, "the solara server outlived abm viz"
