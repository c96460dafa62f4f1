"""Viewer controls derived from the scenario schema, never retyped.

The assumption: the typed scenario schema (:mod:`abm.scenario`) is the one source of
truth for parameters. A slider's bounds are the field's ``ge``/``le`` constraints, its
starting value is the loaded scenario's current value and its label is the field's
meaning (its pydantic description) and unit (:data:`abm.scenario.UNITS`), prefixed with
the collective's name for per-collective fields; only the *list of field paths* to show
is chosen here. A slider's grid (minimum and step) always contains the scenario's value,
because the browser snaps a value onto the grid and reports the snapped value back: a
1,000-user scenario on a grid of 2, 12, ..., 1002 would silently become 1,002 users on
Reset. Where the schema allows
far more than a browser can draw in real time (``population.n_users`` up to five
million), a viewer cap narrows the slider's range; the cap never sets a value.

The page is not trusted to keep its sliders' ranges: a value comes back from the
browser over a websocket, so :func:`check_values` checks every value of a rebuild
against the very controls the page was given (a number of the slider's kind within its
minimum and maximum, a checkbox's boolean) and refuses the rest with a message.

Keys of the returned mapping are Mesa model parameters: field paths with ``__``
between the parts (``population__n_users``, ``collectives__strikers__size``), which
:class:`abm.model.LeverageModel` turns back into scenario overrides on Reset.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from mesa.visualization import Slider
from pydantic.fields import FieldInfo

from abm.scenario import UNITS, Scenario, paths

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
    """The pydantic field at a viewer path (``[*]`` or ``[name]`` for list items).

    Raises:
        KeyError: No such field in the schema.
    """
    return paths.schema_field(paths.from_brackets(path))


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
    return paths.get(scenario.model_dump(mode="json"), paths.from_brackets(path))


def expand(scenario: Scenario, fields: tuple[str, ...] | list[str]) -> list[str]:
    """Concrete paths: ``collectives[*].size`` becomes one path per collective by name."""
    out = []
    for path in fields:
        head, star, tail = path.partition("[*]")
        if not star:
            out.append(path)
            continue
        for item in current_value(scenario, head):
            out.append(f"{head}[{item['name']}]{tail}")
    return out


def label(path: str) -> str:
    """A control's label: the schema's meaning and unit of the field at ``path``.

    ``collectives[strikers].size`` -> ``strikers: Initial share of users who are
    members (share of users)``.
    """
    generic = _generic(path)
    meaning = (field_info(generic).description or path).rstrip(".")
    unit = UNITS.get(generic.replace("[*]", "[]"), "")
    # The unit is added unless the meaning already says it ("Number of users").
    said = unit in ("", "-") or unit.lower() in meaning.lower()
    text = meaning if said else f"{meaning} ({unit})"
    owner = [p.partition("[")[2].rstrip("]") for p in path.split(".") if "[" in p]
    return f"{owner[-1]}: {text}" if owner else text


def param_name(path: str) -> str:
    """The model keyword of a path: ``collectives[a].size`` -> ``collectives__a__size``."""
    return paths.to_keyword(paths.from_brackets(path))


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
            out[param_name(path)] = {"type": "Checkbox", "value": bool(value), "label": label(path)}
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
        out[param_name(path)] = _slider(label(path), kind, value, lo, hi)
    return out


def _slider(text: str, kind: type, value: float, lo: float, hi: float) -> Slider:
    """A slider whose grid ``min + i * step`` contains ``value`` exactly."""
    span = float(hi) - float(lo)
    if kind is int:
        step = max(1, 10 ** int(math.floor(math.log10(span / 100)))) if span > 1000 else 1
        start = int(value) - step * ((int(value) - int(lo)) // step)
        return Slider(text, value=int(value), min=start, max=int(hi), step=step, dtype=int)
    step = 10 ** math.floor(math.log10(span / 100)) if span > 0 else 0.01
    decimals = max(-math.floor(math.log10(step)), _decimals(value))
    step = 10.0**-decimals
    start = round(value - step * math.floor(round((value - lo) / step, 6)), decimals)
    return Slider(text, value=float(value), min=float(start), max=float(hi), step=step, dtype=float)


def _decimals(value: float, most: int = 6) -> int:
    """Decimal places needed to write ``value`` (at most ``most``)."""
    for d in range(most + 1):
        if abs(round(value, d) - value) < 1e-12:
            return d
    return most


def check_values(scenario: Scenario, values: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Values sent back by the page, checked against the controls built for ``scenario``.

    Args:
        scenario: The scenario whose controls (:func:`user_params`) the page shows.
        values: ``{param_name: value}`` as Mesa hands them to a rebuild.

    Returns:
        ``(accepted, refused)``: the values within their control's range (an integer
        slider's as ``int``), and one message per refused value naming the field, the
        range and, for a number, the value (never a string from the page).
    """
    controls = user_params(scenario)
    accepted: dict[str, Any] = {}
    refused: list[str] = []
    unknown = 0
    for name, value in values.items():
        control = controls.get(name)
        if control is None:
            unknown += 1
            continue
        problem, value = _check_value(control, value)
        if problem:
            refused.append(f"{paths.to_dotted(paths.from_keyword(name))}: {problem}")
        else:
            accepted[name] = value
    if unknown:
        refused.append(f"{unknown} value(s) for no control on this page")
    return accepted, refused


def _check_value(control: Slider | dict, value: Any) -> tuple[str, Any]:
    """``("", value)`` when ``value`` fits ``control``, else ``(what was expected, None)``."""
    if isinstance(control, dict):  # a checkbox
        return ("", value) if isinstance(value, bool) else ("true or false", None)
    lo, hi = control.min, control.max
    expected = f"a number from {_number(lo)} to {_number(hi)} (the slider's range)"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{expected}, got a {type(value).__name__}", None
    if not math.isfinite(value):
        return f"{expected}, got {value}", None
    tol = 1e-9 * max(1.0, abs(hi - lo))
    if not lo - tol <= value <= hi + tol:
        return f"{expected}, got {_number(value)}", None
    if not control.is_float_slider:
        if float(value) != round(value):
            return f"a whole {expected[2:]}, got {_number(value)}", None
        value = int(round(value))
    return "", value


def _number(x: float) -> str:
    return f"{int(x):,}" if float(x).is_integer() and abs(x) < 1e15 else f"{x:,.6g}"


def scenario_files(folder: str | Path) -> list[str]:
    """The scenario files of a folder, sorted, as paths."""
    return [str(p) for p in sorted(Path(folder).glob("*.yaml"))]


def _generic(path: str) -> str:
    parts = []
    for p in path.split("."):
        name, star, _ = p.partition("[")
        parts.append(f"{name}[*]" if star else name)
    return ".".join(parts)


def _scalar_type(info: FieldInfo) -> type:
    ann = info.annotation
    for cand in (ann, *getattr(ann, "__args__", ())):
        if cand in (bool, int, float):
            return cand
    raise TypeError(f"a slider needs an int, float or bool field, not {ann}")
