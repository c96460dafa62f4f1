"""Viewer controls derived from the scenario schema, never retyped.

The assumption: the typed scenario schema (:mod:`abm.scenario`) is the one source of
truth for parameters. A slider's bounds are the field's ``ge``/``le`` constraints, its
starting value is the loaded scenario's current value and its label is the field
path; only the *list of field paths* to show is chosen here. Where the schema allows
far more than a browser can draw in real time (``population.n_users`` up to five
million), a viewer cap narrows the slider's range; the cap never sets a value.

Keys of the returned mapping are Mesa model parameters: field paths with ``__``
between the parts (``population__n_users``, ``collectives__strikers__size``), which
:class:`abm.model.LeverageModel` turns back into scenario overrides on Reset.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from mesa.visualization import Slider
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from abm.scenario import Scenario

# The fields shown as controls. ``collectives[*]`` expands to one control per collective.
VIEWER_FIELDS: tuple[str, ...] = (
    "seed",
    "steps",
    "population.n_users",
    "population.samples_per_step",
    "population.reconsider_rate",
    "population.switching_cost",
    "population.network_weight",
    "population.threshold_mean",
    "population.threshold_sd",
    "network.mean_degree",
    "network.rewire",
    "collectives[*].size",
    "collectives[*].start",
    "collectives[*].recruit_rate",
    "collectives[*].fatigue",
    "policy.portability",
    "policy.bargaining_rights",
    "policy.bargaining_power",
)

# Upper ends of slider ranges where the schema's bound is far beyond what the viewer can
# draw interactively or is open. They narrow a range; values always come from the scenario.
VIEWER_CAPS: dict[str, float] = {
    "seed": 1000,
    "steps": 500,
    "population.n_users": 5000,
    "population.samples_per_step": 10.0,
    "population.switching_cost": 5.0,
    "population.network_weight": 5.0,
    "network.mean_degree": 50,
}


def field_info(path: str) -> FieldInfo:
    """The pydantic field at a dotted schema path (``[*]`` or ``[name]`` for list items).

    Raises:
        KeyError: No such field in the schema.
    """
    model: type[BaseModel] = Scenario
    info: FieldInfo | None = None
    for part in _parts(path):
        if info is not None:
            model = _submodel(info)
        if part not in model.model_fields:
            raise KeyError(f"{path}: no field '{part}' in {model.__name__}")
        info = model.model_fields[part]
    assert info is not None
    return info


def bounds(path: str) -> tuple[float | None, float | None]:
    """The field's ``(lower, upper)`` constraints from the schema (``None``: unbounded)."""
    lo = hi = None
    for m in field_info(path).metadata:
        lo = getattr(m, "ge", None) if getattr(m, "ge", None) is not None else lo
        lo = getattr(m, "gt", None) if getattr(m, "gt", None) is not None else lo
        hi = getattr(m, "le", None) if getattr(m, "le", None) is not None else hi
        hi = getattr(m, "lt", None) if getattr(m, "lt", None) is not None else hi
    return lo, hi


def current_value(scenario: Scenario, path: str) -> Any:
    """The scenario's value at a concrete path (``collectives[strikers].size``)."""
    node: Any = scenario
    for part in path.split("."):
        name, _, item = part.partition("[")
        node = getattr(node, name)
        if item:
            key = item.rstrip("]")
            node = next(x for i, x in enumerate(node) if x.name == key or str(i) == key)
    return node


def expand(scenario: Scenario, fields: tuple[str, ...] | list[str]) -> list[str]:
    """Concrete paths: ``collectives[*].size`` becomes one path per collective by name."""
    out = []
    for path in fields:
        head, star, tail = path.partition("[*]")
        if not star:
            out.append(path)
            continue
        for item in current_value(scenario, head):
            out.append(f"{head}[{item.name}]{tail}")
    return out


def param_name(path: str) -> str:
    """The model keyword of a path: ``collectives[a].size`` -> ``collectives__a__size``."""
    return path.replace("[", ".").replace("]", "").replace(".", "__")


def user_params(
    scenario: Scenario,
    fields: tuple[str, ...] | list[str] = VIEWER_FIELDS,
    caps: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Mesa ``model_params`` controls for the chosen fields, from schema and scenario.

    Args:
        scenario: The loaded scenario: gives each control its starting value.
        fields: Dotted schema paths; ``[*]`` expands over the scenario's list items.
        caps: Upper ends narrowing open or huge schema ranges (default ``VIEWER_CAPS``).

    Returns:
        ``{param_name: Slider | {"type": "Checkbox", ...}}`` in the order of ``fields``.
    """
    caps = VIEWER_CAPS if caps is None else caps
    out: dict[str, Any] = {}
    for path in expand(scenario, fields):
        generic = _generic(path)
        info = field_info(generic)
        value = current_value(scenario, path)
        kind = _scalar_type(info)
        if kind is bool:
            out[param_name(path)] = {"type": "Checkbox", "value": bool(value), "label": path}
            continue
        lo, hi = bounds(generic)
        if lo is None:
            lo = 0
        cap = caps.get(generic)
        if path.endswith(".start") or path.endswith(".stop"):
            cap = scenario.steps - 1  # a campaign step must fall inside the run
        if cap is not None:
            hi = cap if hi is None else min(hi, cap)
        if hi is None:
            hi = max(lo, value) * 10 or 1
        hi = max(hi, value)  # a scenario value beyond the cap stays reachable
        out[param_name(path)] = _slider(path, kind, value, lo, hi)
    return out


def _slider(path: str, kind: type, value: float, lo: float, hi: float) -> Slider:
    span = float(hi) - float(lo)
    if kind is int:
        step = max(1, 10 ** int(math.floor(math.log10(span / 100)))) if span > 1000 else 1
        return Slider(path, value=int(value), min=int(lo), max=int(hi), step=step, dtype=int)
    step = 10 ** math.floor(math.log10(span / 100)) if span > 0 else 0.01
    return Slider(
        path, value=float(value), min=float(lo), max=float(hi), step=float(step), dtype=float
    )


def scenario_files(folder: str | Path) -> list[str]:
    """The scenario files of a folder, sorted, as paths."""
    return [str(p) for p in sorted(Path(folder).glob("*.yaml"))]


def _parts(path: str) -> list[str]:
    return [p.partition("[")[0] for p in path.split(".")]


def _generic(path: str) -> str:
    parts = []
    for p in path.split("."):
        name, star, _ = p.partition("[")
        parts.append(f"{name}[*]" if star else name)
    return ".".join(parts)


def _submodel(info: FieldInfo) -> type[BaseModel]:
    ann = info.annotation
    for cand in (ann, *getattr(ann, "__args__", ())):
        if isinstance(cand, type) and issubclass(cand, BaseModel):
            return cand
    raise KeyError(f"field of type {ann} has no sub-fields")


def _scalar_type(info: FieldInfo) -> type:
    ann = info.annotation
    for cand in (ann, *getattr(ann, "__args__", ())):
        if cand in (bool, int, float):
            return cand
    raise TypeError(f"a slider needs an int, float or bool field, not {ann}")
