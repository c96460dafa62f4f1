"""Experiment files: the typed description of a learning-curve replication.

Modelling assumption: a replication that needs no agents (a strike or contribution
curve, a signal-planting experiment, a valuation or unlearning check) is fully described
by the task, the learner, the grid of fractions, how many task splits and random subsets
are averaged, one root seed, the published numbers with the tolerance they are held to,
and, in words, what the paper found (``claim``) and when the check passes
(``criterion``). Replications that need the agent-based model are ordinary scenario
files instead (``abm run`` accepts them) and keep their published numbers in their
analysis function.

``--fast`` mode replaces a few fields with the file's ``fast`` block (fewer splits,
replicates, fractions), so the test suite runs the same code on a smaller grid.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from abm.scenario import one_line_error, read_yaml

__all__ = ["Experiment", "FastOverrides", "load_experiment"]

Scalar = float | int | bool | str
Param = Scalar | list[Scalar]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FastOverrides(_Strict):
    """Fields replaced in ``--fast`` mode (anything left out keeps its full value)."""

    splits: int | None = Field(None, ge=1, le=100, description="Task splits (seeds).")
    replicates: int | None = Field(None, ge=1, le=100, description="Random subsets per point.")
    fractions: list[float] | None = Field(None, description="Fractions evaluated.")
    params: dict[str, Param] = Field(default_factory=dict, description="Analysis parameters.")


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


class Experiment(_Strict):
    """A learning-curve replication: what is run, and what it is compared with."""

    name: str = Field(..., min_length=1, description="Replication name (summary row).")
    title: str = Field(..., min_length=1, description="One-line statement of the finding.")
    paper: str = Field(..., min_length=1, description="Where the published result comes from.")
    check: Literal["quantitative", "directional"] = Field(
        ..., description="Obtained vs published within a tolerance, or a direction only."
    )
    claim: str = Field(
        "", description="The published finding in words; {key} fields are filled (stated)."
    )
    task: Literal["digits", "breast_cancer", "wine", "synthetic", "ratings"] = Field(
        "breast_cancer", description="Bundled task (first task when `tasks` is given)."
    )
    tasks: list[Literal["digits", "breast_cancer", "wine", "synthetic", "ratings"]] = Field(
        default_factory=list, description="Several tasks, for cross-task replications."
    )
    standardise: bool = Field(False, description="Standardise features with training statistics.")
    test_size: float = Field(0.25, gt=0.0, lt=1.0, description="Held-out share.")
    learner: Literal["logistic", "knn", "mf"] = Field("logistic", description="Learner refitted.")
    fractions: list[float] = Field(..., min_length=1, description="Fractions evaluated.")
    splits: int = Field(4, ge=1, le=100, description="Task splits (independent seeds).")
    replicates: int = Field(5, ge=1, le=100, description="Random subsets per fraction per split.")
    seed: int = Field(0, ge=0, description="Root seed; splits and subsets are spawned from it.")
    published: dict[str, float] = Field(
        ..., min_length=1, description="Published numbers, keyed by fraction or label."
    )
    tolerance: float = Field(..., ge=0.0, description="Allowed deviation (see the analysis).")
    criterion: str = Field(
        "", description="When the check passes, in words; {key} fields are filled (stated)."
    )
    params: dict[str, Param] = Field(default_factory=dict, description="Analysis parameters.")
    fast: FastOverrides = Field(default_factory=FastOverrides, description="--fast overrides.")

    @field_validator("published", mode="before")
    @classmethod
    def _keys_as_text(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): v for k, v in value.items()}
        return value

    @field_validator("fractions")
    @classmethod
    def _fractions_in_unit_interval(cls, value: list[float]) -> list[float]:
        for f in value:
            if not 0.0 < f <= 1.0:
                raise ValueError(f"fractions in (0, 1], got {f}")
        return value

    def reduced(self, fast: bool) -> Experiment:
        """The experiment as run: unchanged, or with the ``fast`` block applied."""
        if not fast:
            return self
        update: dict[str, Any] = {
            k: v for k, v in self.fast.model_dump(exclude={"params"}).items() if v is not None
        }
        update["params"] = {**self.params, **self.fast.params}
        return self.model_copy(update=update)

    def _numbers(self) -> dict[str, Any]:
        return {**self.params, **self.published, "tolerance": self.tolerance}

    @model_validator(mode="after")
    def _placeholders_name_numbers(self) -> Experiment:
        known = self._numbers()
        for name in ("claim", "criterion"):
            unknown = sorted(set(_PLACEHOLDER.findall(getattr(self, name))) - set(known))
            if unknown:
                raise ValueError(f"{name}: {{{unknown[0]}}} names no param or published number")
        return self

    def stated(self, text: str) -> str:
        """``text`` (the claim or criterion) with ``{key}`` filled from the file's numbers.

        Keys are the analysis parameters, the published numbers and ``tolerance``; only
        plain ``{key}`` is replaced (no format mini-language: the text is data).
        """
        numbers = self._numbers()
        return _PLACEHOLDER.sub(lambda m: str(numbers[m.group(1)]), text)

    def param(self, key: str, default: Any = None) -> Any:
        """An analysis parameter, or ``default``."""
        return self.params.get(key, default)

    @property
    def all_tasks(self) -> list[str]:
        """The tasks the experiment runs on."""
        return list(self.tasks) or [self.task]


def load_experiment(path: str | Path) -> Experiment:
    """Read and validate an experiment file.

    Args:
        path: The YAML file.

    Returns:
        The experiment.

    Raises:
        ScenarioError: One line naming the file, the field and what was expected.
    """
    path = Path(path)
    raw = read_yaml(path, "experiment")
    try:
        return Experiment.model_validate(raw)
    except ValidationError as err:
        raise one_line_error(err, path, Experiment) from None
