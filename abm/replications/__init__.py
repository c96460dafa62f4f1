"""Replications: the simulator against the numbers the research published.

Modelling assumption: each published finding in ``REFERENCES.md`` is reproduced by one
file in ``scenarios/replications/`` (an experiment file for learning-curve findings, a
scenario file for findings that need the agent-based model) and one short analysis
function in :mod:`abm.replications.analyses`. A run writes one figure and one CSV per
replication, ``summary.csv`` (name, published, obtained, tolerance, passed, check) and a
Markdown report; nothing is written outside the chosen folder, and a folder is filled
through a temporary sibling so a failed run leaves no partial output behind.
"""

from abm.replications.analyses import ANALYSES, Result
from abm.replications.report import (
    SUMMARY_COLUMNS,
    markdown_table,
    run_replications,
)
from abm.replications.spec import Experiment, load_experiment

__all__ = [
    "ANALYSES",
    "SUMMARY_COLUMNS",
    "Experiment",
    "Result",
    "load_experiment",
    "markdown_table",
    "run_replications",
]
