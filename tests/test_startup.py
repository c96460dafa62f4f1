"""``abm list`` stays light: it must not import the analysis stack it does not use."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
from typer.testing import CliRunner
from abm.cli import app
result = CliRunner().invoke(app, ["list"])
assert result.exit_code == 0, result.output
assert "data_strike" in result.output, result.output
heavy = [m for m in ("scipy.stats", "matplotlib", "pandas", "sklearn", "mesa") if m in sys.modules]
print(",".join(heavy))
"""


def test_abm_list_imports_no_analysis_stack() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "", f"abm list imported {out.stdout.strip()}"
