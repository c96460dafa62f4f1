"""The calibration file: a base scenario, the parameters to fit, and what was observed.

A calibration file is YAML validated by the pydantic models below, like a scenario or
sweep file, so a bad file is one line naming the file, the field and what was expected
(exit code 2), and nothing runs. It names a base scenario (relative to the file), fixed
settings of it (``set:``, the same paths as ``abm run --set``), the parameters to fit
(any numeric scenario field path with a range, checked through
:mod:`abm.scenario.paths`), the twin world (overrides that switch the cause off), the
**targets** (observed moments with their standard errors), held-out moments to
**validate** on, the **conclusions** whose range over the accepted parameters is
reported, and the search's budget.

A moment is a :class:`Quantity`: an end-of-run outcome (``final_quality[commons]``) or a
summary of a per-step series (its value at a step, or its mean over a window of steps),
taken in the real world alone, or as a ratio or difference to the twin world run on the
same seed.

Modelling assumption: the observed moments are independent, each with the standard
error the file states, and the model reproduces them at some parameters (the method of
simulated moments); candidates are ordinary scenarios (the base plus overrides), so any
one can be rerun with ``abm run BASE --seed S --set path=value ...``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, model_validator

import abm
from abm import metrics
from abm.preflight import preflight
from abm.scenario import (
    Scenario,
    ScenarioError,
    Strict,
    _loc,
    load_scenario,
    one_line_error,
    read_yaml,
    with_overrides,
)
from abm.scenario.load import extends_target, roots_for
from abm.scenario.paths import from_dotted, schema_field
from abm.scenario.schema import Name
from abm.words import plural


class VersusTwin(StrEnum):
    """How a moment is read against the twin world (the same seed, the cause switched off)."""

    NONE = "none"  # the real world's value alone
    RATIO = "ratio"  # real / twin (1 when the cause changes nothing)
    DIFFERENCE = "difference"  # real - twin (0 when the cause changes nothing)


class Quantity(Strict):
    """A number every candidate run yields: an outcome, or a series summary."""

    name: Name | None = Field(None, description="Column name (default: made from the fields).")
    outcome: str | None = Field(None, description="An end-of-run outcome, e.g. final_share[x].")
    series: str | None = Field(None, description="A per-step series column, e.g. new_data[x].")
    at: int | None = Field(None, ge=0, description="Series: its value at this step.")
    mean: tuple[int, int] | None = Field(
        None, description="Series: its mean over steps [first, last] (inclusive)."
    )
    vs_twin: VersusTwin = Field(VersusTwin.NONE, description="none | ratio | difference.")

    @model_validator(mode="after")
    def _one_kind(self) -> Quantity:
        if (self.outcome is None) == (self.series is None):
            raise ValueError("outcome|exactly one of outcome or series")
        if self.outcome is not None and (self.at is not None or self.mean is not None):
            raise ValueError("at|no at or mean for an outcome (a series takes one)")
        if self.series is not None and (self.at is None) == (self.mean is None):
            raise ValueError("at|exactly one of at (a step) or mean ([first, last]) for a series")
        if self.mean is not None and not 0 <= self.mean[0] <= self.mean[1]:
            raise ValueError(f"mean|steps [first, last] with 0 <= first <= last, got {self.mean}")
        return self

    @property
    def label(self) -> str:
        """The quantity's column name: its ``name``, or one made from its fields."""
        if self.name:
            return self.name
        if self.outcome is not None:
            text = self.outcome
        elif self.at is not None:
            text = f"{self.series}@{self.at}"
        else:
            text = f"{self.series}@{self.mean[0]}-{self.mean[1]}"
        return text if self.vs_twin is VersusTwin.NONE else f"{text}:{self.vs_twin.value}"

    @property
    def last_step(self) -> int:
        """The last step the quantity reads (0 for an outcome)."""
        return self.at if self.at is not None else (self.mean[1] if self.mean else 0)


class Target(Quantity):
    """An observed moment: a quantity, its observed value and standard error."""

    observed: float = Field(..., description="The observed value.")
    se: float = Field(..., gt=0, description="Its standard error (> 0).")
    source: str | None = Field(None, description="Where the number comes from.")


class Range(Strict):
    """A fitted parameter's range."""

    low: float = Field(..., description="Lowest value.")
    high: float = Field(..., description="Highest value.")

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if not self.high > self.low:
            raise ValueError(f"high|a number > low ({self.low}), got {self.high}")
        return self


class Search(Strict):
    """The search's budget: scrambled Sobol points, then rounds of local refinement."""

    samples: int = Field(64, ge=2, le=65_536, description="First stage: Sobol points (2^k).")
    refine: int = Field(2, ge=0, le=10, description="Rounds of local refinement.")
    refine_samples: int = Field(32, ge=2, le=65_536, description="Points per round (2^k).")
    seeds: int = Field(8, ge=2, le=1000, description="Seeds per candidate, the same for all.")
    seed: int = Field(0, ge=0, description="Root seed of the points and the replicate seeds.")
    level: float = Field(0.95, gt=0, lt=1, description="Chi-square level of the accepted set.")
    profile: int = Field(
        8, ge=0, le=1000, description="Slices: points per parameter through the best; 0: none."
    )

    @model_validator(mode="after")
    def _powers(self) -> Search:
        for key in ("samples", "refine_samples"):
            n = getattr(self, key)
            if n & (n - 1):
                raise ValueError(f"{key}|a power of two (a balanced Sobol design), got {n}")
        return self


class FastSearch(Strict):
    """``--fast``: a smaller search (any field left out keeps the full search's value)."""

    samples: int | None = Field(None, ge=2, le=65_536)
    refine: int | None = Field(None, ge=0, le=10)
    refine_samples: int | None = Field(None, ge=2, le=65_536)
    seeds: int | None = Field(None, ge=2, le=1000)
    profile: int | None = Field(None, ge=0, le=1000)


class CalibrationFile(Strict):
    """The contents of a calibration file."""

    name: Name | None = Field(None, description="Folder name (default: file stem).")
    question: str | None = Field(None, description="What the calibration is for.")
    base: str = Field(..., min_length=1, description="Base scenario file, relative to this file.")
    set: dict[str, Any] = Field(
        default_factory=dict, description="Fixed settings of the base: field path -> value."
    )
    parameters: dict[str, Range] = Field(
        ..., min_length=1, description="Fitted fields: scenario field path -> {low, high}."
    )
    twin: dict[str, Any] = Field(
        default_factory=dict, description="Overrides that switch the cause off (the twin world)."
    )
    targets: list[Target] = Field(..., min_length=1, description="Observed moments fitted.")
    validate_: list[Target] = Field(
        default_factory=list, alias="validate", description="Held-out moments, never fitted."
    )
    conclusions: list[Quantity] = Field(
        default_factory=list, description="Quantities whose range over the accepted set is shown."
    )
    search: Search = Field(default_factory=Search, description="The search's budget.")
    fast: FastSearch = Field(default_factory=FastSearch, description="--fast: a smaller search.")

    @model_validator(mode="after")
    def _unique(self) -> CalibrationFile:
        seen: set[str] = set()
        for where, items in (
            ("targets", self.targets),
            ("validate", self.validate_),
            ("conclusions", self.conclusions),
        ):
            for i, q in enumerate(items):
                if q.label in seen:
                    raise ValueError(f"{where}[{i}].name|a name not used twice, got '{q.label}'")
                seen.add(q.label)
        return self


@dataclass(frozen=True)
class Parameter:
    """A fitted field: its path, range and whether it holds whole numbers."""

    path: str
    low: float
    high: float
    integer: bool

    def value(self, u: float) -> float | int:
        """The value at ``u`` in [0, 1] of the range (rounded for a whole-number field)."""
        x = self.low + float(u) * (self.high - self.low)
        if self.integer:
            return int(min(max(round(x), -(-self.low // 1)), self.high // 1))
        return float(min(max(x, self.low), self.high))


@dataclass
class Calibration:
    """A validated calibration: the file, its base scenario, parameters and moments."""

    path: Path
    spec: CalibrationFile
    base: Scenario  # the base scenario with ``set:`` applied
    parameters: list[Parameter]
    search: Search  # the budget in force (``--fast`` applied)
    fast: bool = False

    @property
    def name(self) -> str:
        """The folder name: the file's name (or stem), ``-fast`` in fast mode."""
        name = self.spec.name or self.path.stem
        return f"{name}-fast" if self.fast else name

    @property
    def quantities(self) -> list[Quantity]:
        """Every quantity a candidate run measures: targets, held-out moments, conclusions."""
        return [*self.spec.targets, *self.spec.validate_, *self.spec.conclusions]

    def identity(self) -> dict[str, Any]:
        """What must not change for results in one folder to belong together."""
        return {
            "abm_version": abm.__version__,
            # The search in force stands for the file's search and fast blocks.
            "calibration": self.spec.model_dump(
                mode="json", by_alias=True, exclude={"name", "search", "fast"}
            ),
            "search": self.search.model_dump(mode="json"),
            "base_scenario": self.base.model_dump(mode="json"),
        }

    def fingerprint(self) -> str:
        """A hash of :meth:`identity`."""
        text = json.dumps(self.identity(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_calibration(
    path: str | Path, extra_roots: list[str | Path] | tuple = (), *, fast: bool = False
) -> Calibration:
    """Read and validate a calibration file, its base scenario and every path it names.

    Args:
        path: The calibration YAML file.
        extra_roots: Folders ``--root`` adds to the file's root.
        fast: Use the file's ``fast:`` budget (what the tests run).

    Returns:
        The validated calibration.

    Raises:
        ScenarioError: One line naming the file, the field and what was expected.
    """
    path = Path(path)
    raw = read_yaml(path, "calibration")
    try:
        spec = CalibrationFile.model_validate(raw)
    except ValidationError as err:
        raise _one_line(err, path) from None
    roots = roots_for(path, extra_roots)
    base_path = extends_target(spec.base, path, roots, "base")  # a file or a reference name
    base = load_scenario(base_path, roots=roots)
    base = _apply(path, base, spec.set, "set")
    preflight(base, path, under="base")
    parameters = [_parameter(path, base, key, r) for key, r in spec.parameters.items()]
    preflight(twin_scenario(base, spec.twin, path), path, under="twin")
    for where, items in (
        ("targets", spec.targets),
        ("validate", spec.validate_),
        ("conclusions", spec.conclusions),
    ):
        for i, q in enumerate(items):
            _check_quantity(path, base, q, f"{where}[{i}]")
    search = spec.search
    if fast:
        search = search.model_copy(update=spec.fast.model_dump(exclude_none=True))
        try:
            search = Search.model_validate(search.model_dump())
        except ValidationError as err:
            raise _one_line(err, path, "fast") from None
    return Calibration(path, spec, base, parameters, search, fast)


def describe(path: str | Path) -> str | None:
    """One line saying what a calibration file fits, or None if it is not one (``abm list``).

    Reads the file only: ``calibration of ../ai_substitute.yaml: events.0.quality,
    platforms.commons.retention to 1 target (1 held out)``.

    Raises:
        ScenarioError: A calibration file (``base``, ``parameters``, ``targets``) not valid.
    """
    path = Path(path)
    raw = read_yaml(path, "calibration")
    if not {"base", "parameters", "targets"} <= raw.keys():
        return None
    try:
        spec = CalibrationFile.model_validate(raw)
    except ValidationError as err:
        raise _one_line(err, path) from None
    targets = plural(len(spec.targets), "target")
    return (f"calibration of {spec.base}: {', '.join(spec.parameters)} to {targets} "
            f"({len(spec.validate_)} held out)")  # fmt: skip


def twin_scenario(
    scenario: Scenario, twin: dict[str, Any], file: str | Path | None = None
) -> Scenario:
    """The twin world of a candidate: its scenario with the cause switched off.

    The base's ``check:`` block is dropped first: it names fields (an event's quality)
    that switching the cause off may remove, and no run reads it.
    """
    try:
        return with_overrides(scenario, {"check": None, **twin})
    except ScenarioError as err:
        raise ScenarioError(file, "twin", f"{err.field}: {err.expected}") from None


def _one_line(err: ValidationError, file: Path, prefix: str = "") -> ScenarioError:
    first = err.errors()[0]
    loc = first["loc"]
    if len(loc) > 2 and loc[0] == "parameters" and first["type"] == "extra_forbidden":
        return ScenarioError(
            file, f"parameters.{loc[1]}.{loc[2]}", "no such field (known: low, high)"
        )
    if len(loc) == 2 and loc[0] == "parameters" and first["type"] == "model_type":
        return ScenarioError(file, f"parameters.{loc[1]}", "a mapping {low, high}")
    line = one_line_error(err, file, CalibrationFile)
    if first["type"] == "value_error" and loc and "|" in first.get("msg", ""):
        # A nested model's own check names its field; say where that model sits.
        line = ScenarioError(file, f"{_loc(loc)}.{line.field}", line.expected)
    if prefix:
        return ScenarioError(file, f"{prefix}.{line.field}", line.expected)
    return line


def _apply(file: Any, base: Scenario, overrides: dict[str, Any], field: str) -> Scenario:
    """``base`` with ``overrides``; a bad one is named under ``field`` of the calibration."""
    try:
        return with_overrides(base, overrides)
    except ScenarioError as err:
        if len(overrides) == 1:  # the field is the override's own path, as the file spells it
            key, value = next(iter(overrides.items()))
            raise ScenarioError(file, f"{field}.{key}", f"{err.expected} (at {value!r})") from None
        raise ScenarioError(file, f"{field}.{err.field}", err.expected) from None


def _parameter(file: Path, base: Scenario, key: str, r: Range) -> Parameter:
    """A fitted field, checked: a numeric field of the schema whose ends both validate."""
    where = f"parameters.{key}"
    try:
        info = schema_field(from_dotted(key))
    except KeyError:
        info = None
    kinds = set(getattr(info.annotation, "__args__", (info.annotation,))) if info else set()
    if info is None:  # the one walker says which part of the path is wrong
        _apply(file, base, {key: r.low}, "parameters")
    if bool in kinds or not kinds & {int, float}:
        raise ScenarioError(file, where, "a numeric scenario field (a number to fit)")
    integer = float not in kinds
    if integer and int(r.high // 1) < r.low:
        raise ScenarioError(file, where, f"a range holding a whole number, got [{r.low}, {r.high}]")
    param = Parameter(key, r.low, r.high, integer)
    for u in (0.0, 1.0):
        value = param.value(u)
        scenario = _apply(file, base, {key: value}, "parameters")
        preflight(scenario, file, under=where, at=f" (at {value!r})")
    return param


def _check_quantity(file: Path, base: Scenario, q: Quantity, where: str) -> None:
    if q.outcome is not None:
        known = metrics.outcome_names(base)
        if q.outcome not in known:
            raise ScenarioError(file, f"{where}.outcome", _known("an outcome", q.outcome, known))
        return
    known = metrics.series_names(base)
    if q.series not in known:
        raise ScenarioError(file, f"{where}.series", _known("a series", q.series, known))
    if q.last_step > base.steps:
        field = "at" if q.at is not None else "mean"
        raise ScenarioError(
            file, f"{where}.{field}", f"steps within the run (0 to {base.steps}), got {q.last_step}"
        )


def _known(what: str, got: str, known: list[str]) -> str:
    import difflib

    hint = difflib.get_close_matches(got, known, n=1)
    extra = f"; did you mean '{hint[0]}'?" if hint else ""
    shown = ascii(got)[1:-1]  # no control character reaches the terminal
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return f"{what} of the base scenario, got '{shown}'{extra}"
