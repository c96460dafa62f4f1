"""``abm list`` stays light: it must not import the analysis stack it does not use."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "data_strike.yaml"

PROBE = """
import sys
from typer.testing import CliRunner
from abm.cli import app
result = CliRunner().invoke(app, ["list"])
assert result.exit_code == 0, result.output
assert "data_strike" in result.output, result.output
heavy = [m for m in ("scipy", "matplotlib", "pandas", "sklearn", "mesa") if m in sys.modules]
print(",".join(heavy))
"""


def test_abm_list_imports_no_analysis_stack() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "", f"abm list imported {out.stdout.strip()}"


# What a plain run never needs: sweeps (Dask, SALib), the viewer (Solara and the app),
# the analysis statistics (scipy.stats) and scikit-learn. ``--version`` needs none of
# the model's libraries either.
NOT_FOR_A_RUN = (
    "dask", "distributed", "SALib", "sklearn", "scipy.stats", "solara", "abm.viz.app",
    "abm.sweep", "abm.replications.registry",
)  # fmt: skip
NOT_FOR_VERSION = (*NOT_FOR_A_RUN, "matplotlib", "mesa", "pandas", "scipy", "abm.runner", "abm.viz")


def _imported(code: str, names: tuple[str, ...]) -> list[str]:
    """The ``names`` that running ``code`` in a fresh interpreter left in sys.modules."""
    probe = (
        f"{code}\nimport sys\nprint('LOADED:' + ','.join(m for m in {names!r} if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    loaded = out.stdout.rpartition("LOADED:")[2].strip()
    return [m for m in loaded.split(",") if m]


def test_importing_the_runner_loads_no_sweep_viewer_or_plotting_stack() -> None:
    assert _imported("import abm.runner", (*NOT_FOR_A_RUN, "matplotlib", "abm.viz")) == []


def test_abm_version_loads_no_model_libraries() -> None:
    code = (
        "import sys\nfrom abm.cli import main\nsys.argv = ['abm', '--version']\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code"
    )
    assert _imported(code, NOT_FOR_VERSION) == []


def test_abm_run_loads_only_what_a_run_uses(tmp_path) -> None:
    code = (
        "import sys\nfrom abm.cli import main\n"
        f"sys.argv = ['abm', 'run', {str(SCENARIO)!r}, '--steps', '2',"
        f" '--out', {str(tmp_path)!r}]\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code"
    )
    # It did run the model (mesa) and wrote its figures and report without matplotlib.
    assert _imported(code, ("mesa", "matplotlib", "PIL", *NOT_FOR_A_RUN)) == ["mesa"]
    (folder,) = tmp_path.iterdir()
    assert {"quality.svg", "market_share.svg", "report.html"} <= {p.name for p in folder.iterdir()}
