"""The scenario: typed schema, field paths, safe loading and the schema reference.

``from abm.scenario import X`` is the public entry point; the package is split by
concern so each has one home:

- :mod:`abm.scenario.schema`: the pydantic models, enums and one-line errors;
- :mod:`abm.scenario.paths`: the one field-path walker and its adapters (``--set``,
  sweeps, viewer brackets, Mesa ``__`` keywords);
- :mod:`abm.scenario.limited_yaml`: YAML with limits (size, nesting, aliases, booleans);
- :mod:`abm.scenario.load`: reading files, ``extends:``, overrides, validation, data paths;
- :mod:`abm.scenario.docs`: units and the Markdown reference table.
"""

from abm.scenario.docs import UNITS, schema_markdown, schema_rows
from abm.scenario.limited_yaml import parse_yaml
from abm.scenario.load import (
    dump_scenario,
    load_scenario,
    merge,
    read_limited,
    read_yaml,
    roots_for,
    safe_file,
    scenario_root,
    validate,
    with_overrides,
)
from abm.scenario.paths import apply_override
from abm.scenario.schema import (
    Check,
    Collective,
    Direction,
    Event,
    EventAction,
    GraphKind,
    Heterogeneity,
    LearnerName,
    Lever,
    Measurement,
    Network,
    Platform,
    Policy,
    Population,
    RetrainMode,
    Sampling,
    Scenario,
    ScenarioError,
    Signal,
    Strict,
    Task,
    TaskName,
    TwinMode,
    _loc,
    one_line_error,
)

__all__ = [
    "UNITS",
    "Check",
    "Collective",
    "Direction",
    "Event",
    "EventAction",
    "GraphKind",
    "Heterogeneity",
    "Sampling",
    "TwinMode",
    "LearnerName",
    "Lever",
    "Measurement",
    "Network",
    "Platform",
    "Policy",
    "Population",
    "RetrainMode",
    "Scenario",
    "ScenarioError",
    "Signal",
    "Strict",
    "Task",
    "TaskName",
    "_loc",
    "apply_override",
    "dump_scenario",
    "load_scenario",
    "merge",
    "one_line_error",
    "parse_yaml",
    "read_limited",
    "read_yaml",
    "roots_for",
    "safe_file",
    "scenario_root",
    "schema_markdown",
    "schema_rows",
    "validate",
    "with_overrides",
]
