"""Starting the viewer's web server: ``solara run`` of :mod:`abm.viz.app`, offline.

The assumption: the viewer is a local tool. The server listens on 127.0.0.1 unless told
otherwise, runs in Solara's production mode (no file watcher, which also avoids the
inotify limit), and makes no network calls of its own: the version check and the
usage telemetry Solara does by default are switched off. The scenario reaches the
app through the ``ABM_VIZ_SCENARIO`` environment variable.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

SCENARIO_ENV = "ABM_VIZ_SCENARIO"
APP = Path(__file__).resolve().with_name("app.py")


def viewer_command(host: str = "127.0.0.1", port: int = 8765) -> list[str]:
    """The ``solara run`` command line serving the viewer."""
    return [
        sys.executable,
        "-m",
        "solara",
        "run",
        str(APP),
        "--production",
        "--no-open",
        "--no-check-version",
        "--host",
        host,
        "--port",
        str(port),
    ]


def viewer_env(scenario: str | Path | None = None) -> dict[str, str]:
    """The environment for the server: the scenario, one BLAS thread, no telemetry."""
    env = dict(os.environ)
    env["OPENBLAS_NUM_THREADS"] = env.get("OPENBLAS_NUM_THREADS", "1")
    env["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] = "False"
    if scenario is not None:
        env[SCENARIO_ENV] = str(Path(scenario).resolve())
    return env


def address(host: str, port: int) -> str:
    """The URL the viewer is served at."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"
