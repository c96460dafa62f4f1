"""Replications: the simulator against the numbers the research published.

Modelling assumption: each published finding in ``docs/references.md`` is reproduced by one
file in ``scenarios/replications/`` (an experiment file for learning-curve findings, a
scenario file for findings that need the agent-based model) and one short analysis
function in the module of its family (``curves``, ``leverage``, ``signals``,
``recommenders``, ``poisoning``, ``shapley``, ``unlearning``, ``substitutes``,
``protest``), listed once in :mod:`abm.replications.registry`. A run writes one figure
and one CSV per replication, ``summary.csv`` (name, published, obtained, tolerance,
passed, check) and a Markdown report; nothing is written outside the chosen folder, and a
folder is filled through a temporary sibling so a failed run leaves no partial output
behind.
"""

from importlib import import_module
from typing import Any

# Names resolved on first use (PEP 562): ``abm list`` reads experiment titles through
# ``abm.replications.spec`` and must not pay for the analyses' scipy.stats and
# matplotlib imports (about 2 s) just because the package is imported first.
_HOMES = {
    "REPLICATIONS": "registry",
    "Replication": "registry",
    "Result": "common",
    "SUMMARY_COLUMNS": "report",
    "markdown_table": "report",
    "run_replications": "report",
    "Experiment": "spec",
    "load_experiment": "spec",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(import_module(f"abm.replications.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'abm.replications' has no attribute {name!r}")


__all__ = [
    "REPLICATIONS",
    "SUMMARY_COLUMNS",
    "Experiment",
    "Replication",
    "Result",
    "load_experiment",
    "markdown_table",
    "run_replications",
]
