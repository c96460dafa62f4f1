"""The sweep file: which scenario fields vary, how they are sampled, how often repeated.

A sweep file is YAML validated by the pydantic models below, like a scenario file. It
names a base scenario (relative to the sweep file), the scenario field paths to vary
(the same dotted paths as ``abm run --set``), a design, the number of replicates, a
root seed and the outcomes to keep. Every point of the design is applied to the base
scenario with :func:`abm.scenario.with_overrides` before anything runs, so an unknown
field or an out-of-range level is reported as one line naming the sweep file, the
field and what was expected, and nothing is written.

Modelling assumption: a design point is a set of scenario overrides and nothing else;
the simulator sees an ordinary scenario, so any single run can be reproduced with
``abm run BASE --seed S --steps T --set path=value ...``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

import abm
from abm import metrics
from abm.scenario import (
    Scenario,
    ScenarioError,
    _loc,
    load_scenario,
    one_line_error,
    read_yaml,
    with_overrides,
)
from abm.scenario.load import extends_target, roots_for
from abm.scenario.paths import current as _current
from abm.scenario.schema import Name
from abm.sweep.design import (
    MAX_POINTS,
    Design,
    Factor,
    Seeding,
    layout_bytes,
    make_points,
    n_points,
)


class Range(BaseModel):
    """A continuous factor: sampled in [low, high], or ``num`` evenly spaced levels on a grid."""

    model_config = ConfigDict(extra="forbid")

    low: float = Field(..., description="Lowest value.")
    high: float = Field(..., description="Highest value.")
    num: int | None = Field(None, ge=2, le=100_000, description="Grid only: number of levels.")

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if not self.high > self.low:
            raise ValueError(f"high|a number > low ({self.low}), got {self.high}")
        return self


class SweepFile(BaseModel):
    """The contents of a sweep file."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = Field(None, description="Folder name (default: file stem).")
    base: str = Field(..., min_length=1, description="Base scenario file, relative to this file.")
    vary: dict[str, list[Any] | Range] = Field(
        ..., min_length=1, description="Scenario field path -> levels (list) or {low, high}."
    )
    design: Design = Field(Design.GRID, description="grid | random | latin_hypercube | sobol.")
    samples: int | None = Field(
        None, ge=1, le=10_000_000, description="Points (random, LHS) or base samples N (sobol)."
    )
    second_order: bool = Field(False, description="Sobol: also sample second-order indices.")
    replicates: int = Field(1, ge=1, le=100_000, description="Runs per point, each its own seed.")
    seed: int = Field(0, ge=0, description="Root seed of the design and of every replicate seed.")
    seeding: Seeding = Field(Seeding.COMMON, description="common | independent replicate seeds.")
    outcomes: list[str] | None = Field(None, description="Outcome columns to keep (default: all).")
    steps: int | None = Field(None, ge=1, le=100_000, description="Override the scenario's steps.")

    @model_validator(mode="after")
    def _consistent(self) -> SweepFile:
        for key, factor in self.vary.items():
            if isinstance(factor, list) and not factor:
                raise ValueError(f"vary.{key}|a non-empty list of levels")
            if isinstance(factor, Range):
                if self.design is Design.GRID and factor.num is None:
                    raise ValueError(f"vary.{key}.num|a number of levels for a range on a grid")
                if self.design is not Design.GRID and factor.num is not None:
                    raise ValueError(f"vary.{key}.num|no num (only a grid uses levels)")
        if self.design is Design.GRID and self.samples is not None:
            raise ValueError("samples|no samples for a grid (its size is the product of levels)")
        if self.design is not Design.GRID and self.samples is None:
            raise ValueError(f"samples|a number of samples for design {self.design.value}")
        if self.design is Design.SOBOL and self.samples & (self.samples - 1):
            raise ValueError(f"samples|a power of two for a Sobol design, got {self.samples}")
        return self


@dataclass
class Sweep:
    """A validated sweep: the file's contents, its base scenario and its design points."""

    path: Path
    spec: SweepFile
    base: Scenario
    factors: list[Factor]
    points: list[dict[str, Any]]  # the design: one override mapping per point
    outcomes: list[str]
    # What the command line changed (--replicates, --steps, --set), recorded in the manifest.
    command_line: dict[str, Any] = field(default_factory=dict)
    # The model as a function (scenario, seed, steps) -> outcomes, for callers that measure
    # more than simulate's outcomes (a calibration's moments); None: simulate's outcomes.
    measure: Callable[[Scenario, int, int | None], dict[str, float]] | None = None

    @property
    def name(self) -> str:
        """The sweep's name (its folder name).

        A sweep shrunk with ``--steps`` or ``--set`` is a different sweep: its folder
        gets a suffix naming the change, so it never meets the full sweep's folder.
        ``--replicates`` alone keeps the folder (replicates may grow; seeds are kept).
        """
        name = self.spec.name or self.path.stem
        changed = {k: v for k, v in self.command_line.items() if k != "replicates"}
        if not changed:
            return name
        text = json.dumps(changed, sort_keys=True, default=str)
        return f"{name}-cli-{hashlib.sha256(text.encode()).hexdigest()[:8]}"

    @property
    def steps(self) -> int:
        """Steps every run takes."""
        return self.spec.steps or self.base.steps

    @property
    def n_runs(self) -> int:
        """Points times replicates."""
        return len(self.points) * self.spec.replicates

    def identity(self) -> dict[str, Any]:
        """What must not change for results in one folder to belong together.

        Replicates may grow (new runs are added; the existing ones keep their seeds)
        and the outcomes kept may change (run files store every outcome).
        """
        spec = self.spec.model_dump(mode="json", exclude={"replicates", "outcomes", "name"})
        spec.pop("base")
        identity = {
            "abm_version": abm.__version__,
            "sweep": spec,
            "base_scenario": self.base.model_dump(mode="json"),
        }
        if self.measure is not None:
            identity["measure"] = repr(self.measure)
        return identity

    def fingerprint(self) -> str:
        """A hash of :meth:`identity`."""
        text = json.dumps(self.identity(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_sweep(
    path: str | Path,
    extra_roots: list[str | Path] | tuple = (),
    *,
    replicates: int | None = None,
    steps: int | None = None,
    overrides: list[str] | None = None,
) -> Sweep:
    """Read and validate a sweep file and every point of its design.

    Args:
        path: The sweep YAML file.
        extra_roots: Folders ``--root`` adds to the sweep file's root; the base
            scenario and every file it names must be inside one of them.
        replicates: Overrides the file's ``replicates`` (``--replicates``).
        steps: Overrides the file's ``steps`` (``--steps``).
        overrides: ``path=value`` settings of the base scenario (``--set``); a field
            the sweep varies is refused, since the design would overwrite it.

    Returns:
        The validated sweep, with its design points generated.

    Raises:
        ScenarioError: One line naming the file, the field and what was expected.
    """
    path = Path(path)
    raw = read_yaml(path, "sweep")
    command_line: dict[str, Any] = {}
    if isinstance(raw, dict):
        if replicates is not None:
            raw = {**raw, "replicates": replicates}
            command_line["replicates"] = replicates
        if steps is not None:
            raw = {**raw, "steps": steps}
            command_line["steps"] = steps
    try:
        spec = SweepFile.model_validate(raw)
    except ValidationError as err:
        raise _one_line(err, path) from None
    for item in overrides or []:
        key = item.partition("=")[0].strip()
        if key in spec.vary:
            raise ScenarioError(path, f"--set {key}", "a field the sweep does not vary")
    if overrides:
        command_line["set"] = list(overrides)
    roots = roots_for(path, extra_roots)
    base_path = extends_target(spec.base, path, roots, "base")  # a file or a reference name
    base = load_scenario(base_path, overrides, roots=roots)
    wanted = len(spec.outcomes) if spec.outcomes is not None else len(metrics.outcome_names(base))
    check_size(path, spec, wanted)  # before any level is checked or point made
    factors = [_factor(path, base, key, value) for key, value in spec.vary.items()]
    outcomes = _outcomes(path, base, factors, spec.outcomes)
    points = make_points(factors, spec.design, spec.samples, spec.seed, spec.second_order)
    sweep = Sweep(path, spec, base, factors, points, outcomes, command_line)
    check_points(sweep)
    return sweep


def check_size(file: Path, spec: SweepFile, outcomes: int) -> None:
    """Refuse, before any point is made, a design too large to lay out in memory.

    Raises:
        ScenarioError: One line with the design's size and the memory it would need.
    """
    from abm.runner import memory_limit

    levels = [len(v) if isinstance(v, list) else (v.num or 0) for v in spec.vary.values()]
    points = n_points(levels, spec.design, spec.samples, spec.second_order)
    runs = points * spec.replicates
    shape = " x ".join(f"{n:,}" for n in levels) if spec.design is Design.GRID else spec.design
    size = f"{shape} = {_size(spec, points)}"
    if points > MAX_POINTS:
        raise ScenarioError(file, "vary", f"at most {MAX_POINTS:,} points, got {size}")
    need, have = layout_bytes(points, runs, len(levels), outcomes), memory_limit()
    if need > have // 2:  # the other half is for the runs themselves
        raise ScenarioError(
            file, "vary", f"a design that fits in memory: {size} needs about "
            f"{need / 2**30:,.1f} GiB besides the runs; this machine allows "
            f"{have / 2**30:,.1f} GiB, half of it for the sweep"
        )  # fmt: skip


def describe(path: str | Path) -> str | None:
    """One line saying what a sweep file runs, or None if the file is not a sweep file.

    Reads the file only (the base scenario is not loaded), for ``abm list``:
    ``sweep of leverage_curve.yaml: collectives.collective.size x task.name, grid,
    20 points x 10 replicates = 200 runs``.

    Raises:
        ScenarioError: A sweep file (it has ``base`` and ``vary``) that is not valid.
    """
    path = Path(path)
    raw = read_yaml(path, "sweep")
    if not {"base", "vary"} <= raw.keys():
        return None
    try:
        spec = SweepFile.model_validate(raw)
    except ValidationError as err:
        raise _one_line(err, path) from None
    levels = [len(v) if isinstance(v, list) else (v.num or 0) for v in spec.vary.values()]
    points = n_points(levels, spec.design, spec.samples, spec.second_order)
    return f"sweep of {spec.base}: {' x '.join(spec.vary)}, {spec.design}, {_size(spec, points)}"


def _size(spec: SweepFile, points: int) -> str:
    """``20 points x 10 replicates = 200 runs`` (singular where one)."""

    def count(n: int, word: str) -> str:
        return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"

    return (f"{count(points, 'point')} x {count(spec.replicates, 'replicate')} = "
            f"{count(points * spec.replicates, 'run')}")  # fmt: skip


def _one_line(err: ValidationError, file: Path) -> ScenarioError:
    first = err.errors()[0]
    if len(first["loc"]) > 2 and first["loc"][0] == "vary":
        key = first["loc"][1]
        if first["type"] == "extra_forbidden":
            return ScenarioError(file, _loc(first["loc"]), "no such field (known: low, high, num)")
        if first["type"] in ("list_type", "model_type", "dict_type"):
            # The union's error names one branch; say what either branch wants.
            return ScenarioError(file, f"vary.{key}", "a list of levels or a mapping {low, high}")
    return one_line_error(err, file, SweepFile)


def _factor(file: Path, base: Scenario, key: str, value: list[Any] | Range) -> Factor:
    if isinstance(value, list):
        for level in value:
            _apply(file, base, {key: level}, f"vary.{key}")
        current = _current(base, key)
        if not isinstance(current, bool) and any(isinstance(x, bool) for x in value):
            # The schema would read true as 1, but a results table needs one type a column.
            raise ScenarioError(
                file, f"vary.{key}", f"levels of the field's type ({current!r}), not true/false"
            )
        return Factor(key, levels=tuple(value))
    current = _current(base, key)
    if current is None:
        _apply(file, base, {key: value.low}, f"vary.{key}")  # an unknown path fails here
    if isinstance(current, bool) or not isinstance(current, int | float):
        raise ScenarioError(
            file, f"vary.{key}", f"levels (a list): the field is not a number, got {current!r}"
        )
    integer = isinstance(current, int)
    for end in (value.low, value.high):
        _apply(file, base, {key: int(round(end)) if integer else end}, f"vary.{key}")
    return Factor(
        key, low=value.low, high=value.high, integer=integer, levels=_grid(value, integer)
    )


def _grid(value: Range, integer: bool) -> tuple[Any, ...] | None:
    if value.num is None:
        return None
    import numpy as np

    levels = [round(float(x), 12) for x in np.linspace(value.low, value.high, value.num)]
    return tuple(dict.fromkeys(int(round(x)) for x in levels)) if integer else tuple(levels)


def _apply(file: Path, base: Scenario, overrides: dict[str, Any], field: str) -> Scenario:
    try:
        return with_overrides(base, overrides)
    except ScenarioError as err:
        shown = ", ".join(f"{k}={v!r}" for k, v in overrides.items())
        inner = "" if field.endswith(f".{err.field}") else f"{err.field}: "
        raise ScenarioError(file, field, f"{inner}{err.expected} (at {shown})") from None


def _outcomes(
    file: Path, base: Scenario, factors: list[Factor], wanted: list[str] | None
) -> list[str]:
    """The outcomes to store: by default the base's; named ones must exist somewhere.

    An outcome may exist at some design points only (``lift`` where a level of the lever
    redirects data): it is known if the base or the base with one level of a listed factor
    has it, and is empty in the runs where it does not exist.
    """
    known = metrics.outcome_names(base)
    if wanted is None:
        return known
    for factor in factors:
        if factor.low is None:  # a list of levels: levers, tasks, switches
            for level in factor.levels or ():
                scenario = _apply(file, base, {factor.path: level}, f"vary.{factor.path}")
                known += [n for n in metrics.outcome_names(scenario) if n not in known]
    import difflib

    for i, name in enumerate(wanted):
        if name not in known:
            hint = difflib.get_close_matches(name, known, n=1)
            extra = f"; did you mean '{hint[0]}'?" if hint else ""
            raise ScenarioError(
                file,
                f"outcomes[{i}]",
                f"an outcome of the base scenario or a level it varies, got '{name}'{extra}",
            )
    return list(wanted)


def check_points(sweep: Sweep) -> None:
    """Every design point passes the pre-run check (:func:`abm.preflight.preflight`).

    The first point any run would refuse is an error naming the point and its levels.
    """
    from abm.preflight import preflight

    for i, point in enumerate(sweep.points):
        field = f"vary (point {i})"
        scenario = _apply(sweep.path, sweep.base, point, field)
        shown = ", ".join(f"{k}={v!r}" for k, v in point.items())
        # An edge list or data file is read once per file (cached).
        preflight(scenario, sweep.path, under=field, at=f" (at {shown})")
