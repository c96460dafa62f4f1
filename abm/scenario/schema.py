"""The scenario schema: the single, typed source of truth for every model parameter.

A scenario is a YAML file validated by the pydantic models below. Every field carries
its meaning, unit and range in its description; ``abm schema`` prints them and the
README's schema table is generated from the same models (:mod:`abm.scenario.docs`).
CLI ``--set`` overrides, sweep designs and the viewer's sliders are all derived from
these models (through :mod:`abm.scenario.paths`), never retyped.

Every problem becomes a :class:`ScenarioError` whose message is one line naming the
file, the field path and what was expected.
"""

from __future__ import annotations

import difflib
import types
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from abm.learning.registry import TASKS, LearnerName, Sampling, TaskName
from abm.levers import LEVERS, Lever, lever_fits
from abm.messages import printable, shown

# --------------------------------------------------------------------------- errors


class ScenarioError(ValueError):
    """A scenario or sweep file is invalid; ``str(err)`` is one line for the user."""

    def __init__(self, file: str | Path | None, field: str, expected: str):
        # Every part can hold text from a file or the command line: shown printable.
        self.file = printable(file) if file is not None else "<scenario>"
        self.field = printable(field) if field else "(top level)"
        self.expected = printable(expected)
        super().__init__(f"{self.file}: {self.field}: {expected}")


# --------------------------------------------------------------------------- names

MAX_NAME = 64  # characters in a scenario, sweep, platform or collective name


def check_name(value: str) -> str:
    """A name is 1 to MAX_NAME printable characters: it reaches folder names and tables."""
    if not value:
        raise ValueError("a non-empty name")
    if len(value) > MAX_NAME:
        raise ValueError(f"a name of at most {MAX_NAME} characters, got {len(value)}")
    if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in value):
        raise ValueError("a name without control characters (newline, tab, ...)")
    return value


Name = Annotated[str, AfterValidator(check_name)]


# --------------------------------------------------------------------------- enums


class GraphKind(StrEnum):
    """Social network generators."""

    WATTS_STROGATZ = "watts_strogatz"
    BARABASI_ALBERT = "barabasi_albert"
    ERDOS_RENYI = "erdos_renyi"
    SBM = "sbm"
    EDGELIST = "edgelist"


class TwinMode(StrEnum):
    """Which twin worlds run beside the real one to measure leverage (abm/twins.py)."""

    PER_COLLECTIVE = "per_collective"  # one per collective (attribution), plus a joint one
    JOINT = "joint"  # one twin with every campaign off
    OFF = "off"  # none: no leverage, no bargaining


class Heterogeneity(StrEnum):
    """How one user's data differs from another's."""

    IID = "iid"
    CLASS = "class"
    GROUP = "group"


class EventAction(StrEnum):
    """What a scheduled event does."""

    LAUNCH = "launch"
    STOP = "stop"
    SET_POLICY = "set_policy"
    AI_SUBSTITUTE = "ai_substitute"
    CHANGE_TERMS = "change_terms"


class Direction(StrEnum):
    """Which way a scenario's key outcome should move when its lever is switched on."""

    LOWER = "lower"  # the outcome is lower with the lever than without it
    HIGHER = "higher"  # the outcome is higher with the lever than without it


class RetrainMode(StrEnum):
    """How a platform updates its model on the data it received."""

    INCREMENTAL = "incremental"  # warm-started update on the new data
    FULL = "full"  # refit on the whole pool every step


# --------------------------------------------------------------------------- schema


class Strict(BaseModel):
    """Base: unknown fields are errors, assignment is validated, scalars are strict.

    A number field takes a number, never ``true`` or a string (``steps: true`` would
    run one step, ``portability: "yes"`` would be 1.0); a boolean field takes only
    ``true`` or ``false`` (not 1, not "yes"); no number may be infinite or NaN.
    """

    model_config = ConfigDict(
        extra="forbid", validate_assignment=True, use_enum_values=False, allow_inf_nan=False
    )

    @field_validator("*", mode="before")
    @classmethod
    def _strict_scalars(cls, value: Any, info: ValidationInfo) -> Any:
        kind = _scalar_kind(cls.model_fields[info.field_name].annotation)
        if kind is None or value is None:
            return value
        if kind is bool and not isinstance(value, bool | np.bool_):
            raise ValueError(f"true or false, got {_yaml_shown(value)}")
        if kind is not bool and isinstance(value, bool | np.bool_ | str | bytes):
            want = "a whole number" if kind is int else "a number"
            raise ValueError(f"{want}, got {_yaml_shown(value)}")
        return value


def _scalar_kind(annotation: Any) -> type | None:
    """``bool``, ``int`` or ``float`` for a field of that type (or that type or None)."""
    args = [a for a in getattr(annotation, "__args__", ()) if a is not type(None)]
    if isinstance(annotation, types.UnionType) and len(args) == 1:
        annotation = args[0]
    return annotation if annotation in (bool, int, float) else None


def _yaml_shown(value: Any) -> str:
    """A value as the file spelled it: ``true``/``false`` for booleans."""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    return shown(value)


def _share(default: float, description: str) -> Any:
    """A field in [0, 1]: a share, a probability, or a weight between two things."""
    return Field(default, ge=0.0, le=1.0, description=description)


def _utility(default: float, description: str) -> Any:
    """A field in [0, 100]: an amount of utility (a cost, a price) or a weight on one."""
    return Field(default, ge=0.0, le=100.0, description=description)


class Population(Strict):
    """The users: how many, how they decide, how much data they make."""

    # No upper bound: memory is the ceiling (abm.runner.check_memory says how many fit).
    n_users: int = Field(500, ge=2, description="Number of users (agents).")
    samples_per_step: float = Field(
        0.5, ge=0.0, le=100.0, description="Mean data samples a user makes per step (Poisson)."
    )
    heterogeneity: Heterogeneity = Field(
        Heterogeneity.IID, description="How users' data slices differ: iid, class or group."
    )
    sampling: Sampling = Field(
        Sampling.WITH_REPLACEMENT,
        description="Finite tasks: redraw from a user's slice, or hand each row over once.",
    )
    rationality: float = Field(
        8.0, ge=0.0, le=1000.0, description="Logit sensitivity of platform choice to utility."
    )
    network_weight: float = _utility(
        0.5, "Utility weight of the share of neighbours on a platform."
    )
    switching_cost: float = _utility(0.3, "Utility cost of leaving the current platform.")
    reconsider_rate: float = _share(0.1, "Probability a user reconsiders its platform each step.")
    threshold_mean: float = _share(0.1, "Mean participation threshold (share of acting peers).")
    threshold_sd: float = _share(0.1, "Spread of participation thresholds (normal, clipped).")
    grievance: float = Field(
        0.0, ge=0.0, le=10.0, description="Baseline grievance toward every platform (utility)."
    )
    exit_cost_weight: float = _utility(
        1.0,
        "Weight of the cost of leaving (ties lost minus the best alternative) "
        "in a boycotter's threshold; 0: ignored.",
    )


class Network(Strict):
    """The social network the users sit on."""

    kind: GraphKind = Field(GraphKind.WATTS_STROGATZ, description="Graph generator.")
    mean_degree: int = Field(8, ge=1, le=1000, description="Mean number of neighbours.")
    rewire: float = _share(0.1, "Watts-Strogatz rewiring probability.")
    groups: int = Field(2, ge=1, le=1000, description="Number of groups (communities).")
    homophily: float = _share(0.9, "SBM: share of a user's edges inside its own group.")
    path: str | None = Field(
        None, description="Edge-list file (kind: edgelist), inside the project."
    )


class Stream(Strict):
    """A generative task: every contribution is fresh (task.name: stream, ratings_stream)."""

    n_features: int = Field(64, ge=1, le=10_000, description="Dimension of the features.")
    n_classes: int = Field(20, ge=2, le=1000, description="Number of classes.")
    components: int = Field(1, ge=1, le=100, description="Gaussian components per class.")
    separation: float = Field(3.5, ge=0.0, le=100.0, description="Typical norm of a class mean.")
    noise: float = Field(1.0, gt=0.0, le=100.0, description="Within-component noise (sd).")
    shift: float = Field(0.5, ge=0.0, le=100.0, description="Between-group shift of class means.")
    n_groups: int = Field(4, ge=1, le=10_000, description="Data groups users are spread over.")
    label_noise: float = _share(0.0, "Share of random labels.")
    n_test: int = Field(5000, ge=10, le=1_000_000, description="Size of the held-out set.")
    n_items: int = Field(1000, ge=10, le=10_000_000, description="ratings_stream: catalogue size.")
    rank: int = Field(4, ge=1, le=256, description="ratings_stream: dimension of tastes.")


class Task(Strict):
    """The learning task every platform's model solves."""

    name: TaskName = Field(
        TaskName.DIGITS, description="Dataset: a bundled scikit-learn set, a generator, or a file."
    )
    test_size: float = Field(0.25, gt=0.0, lt=1.0, description="Share held out for evaluation.")
    path: str | None = Field(
        None, description="Data file for csv/parquet/movielens, inside the project."
    )
    feature_columns: list[str] | None = Field(None, description="Feature columns of a data file.")
    label_column: str | None = Field(None, description="Label column of a data file.")
    n_samples: int = Field(2000, ge=10, le=10_000_000, description="Size of a generated task.")
    stream: Stream = Field(default_factory=Stream, description="Parameters of task stream.")


class Platform(Strict):
    """A platform: a learner, a data pool and terms."""

    name: Name = Field(..., description="Unique platform name.")
    learner: LearnerName = Field(LearnerName.LOGISTIC, description="The embedded learning model.")
    initial_share: float = _share(0.5, "Share of users at step 0.")
    price: float = _utility(0.0, "Utility cost of using it.")
    retrain: RetrainMode = Field(
        RetrainMode.INCREMENTAL,
        description="Warm-started update on new data, or full refit each step.",
    )
    retention: int | None = Field(None, ge=1, description="Steps a sample is kept (none: forever).")
    shards: int = Field(1, ge=1, le=256, description="SISA shards (1: no sharding).")
    filter_poison: bool = Field(
        False, description="Pay to filter suspected poison: drop rows of high loss (docs/model.md)."
    )
    filter_cost: float = _utility(0.05, "Cost per step of filtering.")
    filter_drop: float = Field(
        0.01, ge=0.0, le=0.5,
        description="Share of clean rows the poison filter may drop (its threshold's level).",
    )  # fmt: skip
    filter_calibration: int = Field(
        200, ge=0, le=100_000,
        description="Trusted rows of its own the poison filter calibrates on (never trained on).",
    )  # fmt: skip
    incentive: float = _utility(0.0, "Price cut offered to users while a campaign targets it.")
    seed_data: int = Field(
        50, ge=0, le=10_000_000, description="Samples the platform starts with (its own data)."
    )


class Signal(Strict):
    """A planted signal: a trigger on some features paired with a target label."""

    target: int = Field(
        0, ge=0, le=9999, description="Label the collective wants triggered points to get."
    )
    n_features: int = Field(4, ge=1, le=1000, description="Number of trigger features (pixels).")
    rare: bool = Field(True, description="Use features rarely 'on' in natural data.")
    noise: float = _share(0.0, "Coordination noise (misapplied share).")


class Protest(Strict):
    """A protest's repertoire (lever protest): what members weigh (docs/model.md)."""

    grievance: float = Field(
        1.0, ge=0.0, le=10.0,
        description="Grievance toward the target that protesting answers (utility per step).",
    )  # fmt: skip
    relief: float = _share(0.5, "Share of the grievance withholding data (still using) answers.")


def _rate_meaning() -> str:
    """What ``rate`` means, for the levers that read it (their registry entries say)."""
    meanings: dict[str, list[str]] = {}
    for r in LEVERS.values():
        if r.rate:
            meanings.setdefault(r.rate, []).append(r.id)
    said = [f"{', '.join(ids)}: {meaning}" for meaning, ids in meanings.items()]
    return "Read by some levers (" + "; ".join(said) + ")."


class Collective(Strict):
    """A collective: members, a lever, a target, launch and stop rules, a demand."""

    name: Name = Field(..., description="Unique collective name.")
    target: str = Field(..., description="Platform the collective acts on.")
    lever: Lever = Field(Lever.STRIKE, description="What members do with their data.")
    redirect_to: str | None = Field(None, description="Platform receiving CDC data.")
    size: float = _share(0.2, "Initial share of users who are members.")
    group: int | None = Field(None, ge=0, description="Recruit initial members from this group.")
    recruit_rate: float = _share(0.0, "Per-step join probability once peers pass threshold.")
    start: int = Field(0, ge=0, description="Step the campaign launches (events may override).")
    stop: int | None = Field(None, ge=0, description="Step the campaign stops at the latest.")
    critical_mass: float = _share(0.0, "Share of users who must be members to launch.")
    fatigue: float = _share(0.0, "Per-step probability an acting member drops out.")
    demand: float = Field(
        0.1, ge=0.0, le=10.0, description="Dividend per member per step the collective asks for."
    )
    patience: int = Field(
        3,
        ge=1,
        le=1000,
        description="Refused rounds in a row, acting costing members more than the platform, "
        "before the collective stops.",
    )
    rate: float = _share(1.0, _rate_meaning())
    signal: Signal = Field(default_factory=Signal, description="Trigger for signal levers.")
    protest: Protest = Field(default_factory=Protest, description="Lever protest: its tactics.")
    item: int = Field(
        0, ge=0, le=10_000_000, description="promote_item: the item the collective promotes."
    )
    turnout_weight: float = _share(0.5, "Weight of collective turnout vs acting neighbours.")


class Policy(Strict):
    """Policy levers set by the scenario (and changed by events)."""

    right_to_delete: bool = Field(False, description="Users may have past data deleted.")
    portability: float = _share(0.0, "Share of the switching cost a portability mandate removes.")
    bargaining_rights: bool = Field(False, description="Collectives may bargain collectively.")
    bargaining_power: float = _share(0.5, "Collective's Nash bargaining power when it has rights.")
    value_of_quality: float = Field(
        10.0,
        ge=0.0,
        le=1e6,
        description="Platform revenue per user per step per unit of model quality.",
    )
    bargaining_every: int = Field(
        5, ge=0, le=10_000, description="Steps between bargaining rounds; 0: never bargain."
    )


class Event(Strict):
    """Something that happens at a step: a campaign starts or stops, a policy or a shock."""

    at: int = Field(..., ge=0, description="Step at which the event fires.")
    action: EventAction = Field(..., description="What happens.")
    collective: str | None = Field(None, description="Collective concerned (launch, stop).")
    platform: str | None = Field(None, description="Platform concerned (shock, terms).")
    policy: dict[str, Any] | None = Field(None, description="Policy fields to set (set_policy).")
    quality: float = _share(
        0.8, "ai_substitute: the substitute's quality, compared with the platform's."
    )
    reach: float = _share(
        1.0, "ai_substitute: share of would-be contributors who use the substitute (adoption)."
    )
    price: float | None = Field(None, ge=0.0, description="change_terms: the new price.")


class Measurement(Strict):
    """How often costly measurements run."""

    twins: TwinMode = Field(
        TwinMode.PER_COLLECTIVE,
        description="Twin worlds measuring leverage: per_collective (attribution), joint, off.",
    )
    agent_table_every: int = Field(
        0, ge=0, description="Steps between agent-table snapshots; 0: only at the end."
    )
    valuation: bool = Field(
        True, description="Shapley values of the users' and collectives' data at the end."
    )


class Check(Strict):
    """The scenario's key outcome and the way it should move against the lever switched off.

    ``abm check`` runs the scenario and the same scenario with ``versus`` applied (the
    lever off) on ``seeds`` paired seeds, and passes when the 95% t-interval of the
    difference (scenario minus versus) excludes 0 in ``direction``.
    """

    outcome: str = Field(..., description="Key outcome, e.g. final_quality[incumbent].")
    versus: dict[str, Any] = Field(
        ...,
        min_length=1,
        description="Overrides switching the lever off, e.g. collectives.strikers.size: 0.",
    )
    direction: Direction = Field(..., description="Sign of scenario minus versus: lower, higher.")
    seeds: int = Field(10, ge=2, le=1000, description="Paired seeds the check runs.")


class Scenario(Strict):
    """A whole scenario: the question, the world, and what happens in it."""

    name: Name = Field("scenario", description="Short name used for the output folder.")
    question: str = Field("", description="The question this scenario answers.")
    seed: int = Field(0, ge=0, description="Root seed of every random choice.")
    steps: int = Field(30, ge=1, le=100_000, description="Number of steps to run.")
    population: Population = Field(default_factory=Population)
    network: Network = Field(default_factory=Network)
    task: Task = Field(default_factory=Task)
    platforms: list[Platform] = Field(
        default_factory=lambda: [
            Platform(name="incumbent", initial_share=0.7),
            Platform(name="challenger", initial_share=0.3),
        ],
        min_length=1,
    )
    collectives: list[Collective] = Field(default_factory=list)
    policy: Policy = Field(default_factory=Policy)
    events: list[Event] = Field(default_factory=list)
    measurement: Measurement = Field(default_factory=Measurement)
    check: Check | None = Field(None, description="Key outcome and its expected direction.")

    @model_validator(mode="after")
    def _check_references(self) -> Scenario:
        platforms = [p.name for p in self.platforms]
        collectives = [c.name for c in self.collectives]
        _unique(platforms, "platforms", "name")
        _unique(collectives, "collectives", "name")
        for i, c in enumerate(self.collectives):
            _check_collective(f"collectives[{i}]", c, platforms)
        for i, c in enumerate(self.collectives):
            self._check_reach(f"collectives[{i}]", c)
        for i, e in enumerate(self.events):
            self._check_event(f"events[{i}]", e, platforms, collectives)
        if sum(p.initial_share for p in self.platforms) <= 0:
            raise ValueError("platforms|at least one platform with initial_share > 0")
        self._check_files()
        return self

    def _check_reach(self, where: str, c: Collective) -> None:
        """The collective's group and signal target exist in this network and task."""
        if c.group is not None and c.group >= self.network.groups:
            raise ValueError(
                f"{where}.group|a group index < network.groups"
                f" ({self.network.groups}), got {c.group}"
            )
        classes = self.task_classes()
        if classes is not None and c.signal.target >= classes:
            raise ValueError(f"{where}.signal.target|{self._label_expected(c, classes)}")
        reason = lever_fits(c.lever, self.task.name)
        if reason is not None:
            raise ValueError(f"{where}.lever|a lever for task {self.task.name} ({reason})")
        if c.lever is Lever.PROMOTE_ITEM:
            items = self.task_items()
            if items is not None and c.item >= items:
                raise ValueError(f"{where}.item|{self._item_expected(c, items)}")

    def _check_event(
        self, where: str, e: Event, platforms: list[str], collectives: list[str]
    ) -> None:
        """The event fires within the run and names what its action needs."""
        if e.at >= self.steps:
            raise ValueError(
                f"{where}.at|a step the run reaches (0 to steps - 1 = {self.steps - 1}), got {e.at}"
            )
        if e.action in (EventAction.LAUNCH, EventAction.STOP):
            if e.collective is None:
                raise ValueError(f"{where}.collective|a collective name for {e.action}")
            _known(e.collective, collectives, f"{where}.collective", "collective")
        if e.action in (EventAction.AI_SUBSTITUTE, EventAction.CHANGE_TERMS):
            if e.platform is None:
                raise ValueError(f"{where}.platform|a platform name for {e.action}")
            _known(e.platform, platforms, f"{where}.platform", "platform")
        if e.action is EventAction.SET_POLICY:
            if not e.policy:
                raise ValueError(f"{where}.policy|a mapping of policy fields")
            try:
                Policy.model_validate({**self.policy.model_dump(), **e.policy})
            except ValidationError as err:
                first = err.errors()[0]
                loc = ".".join(str(p) for p in first["loc"])
                if first["type"] == "extra_forbidden":
                    expected = _no_such_field(str(first["loc"][-1]), list(Policy.model_fields))
                else:
                    expected = _expected(first)
                raise ValueError(f"{where}.policy.{loc}|{expected}") from None

    def _check_files(self) -> None:
        """Tasks and networks read from files name them; a label is never a feature."""
        task = self.task
        if TASKS[task.name].needs_path and not task.path:
            raise ValueError(f"task.path|a data file for task {task.name}")
        if task.label_column is not None and task.label_column in (task.feature_columns or []):
            i = task.feature_columns.index(task.label_column)
            raise ValueError(
                f"task.feature_columns[{i}]|columns other than the label column"
                f" '{task.label_column}' (a label used as a feature gives a perfect model)"
            )
        if self.network.kind is GraphKind.EDGELIST and not self.network.path:
            raise ValueError("network.path|an edge-list file for kind edgelist")

    def task_classes(self) -> int | None:
        """Classes of the task, when known before its data is read (None: from a file)."""
        if self.task.name is TaskName.STREAM:
            return self.task.stream.n_classes
        return TASKS[self.task.name].classes

    def task_items(self) -> int | None:
        """Items of a ratings task, when known before its data is read (None: from a file)."""
        if self.task.name is TaskName.RATINGS_STREAM:
            return self.task.stream.n_items
        return TASKS[self.task.name].items

    def check_items(self, items: int, file: str | Path | None = None) -> None:
        """Every promoted item is an item of the task, once a file's items are known."""
        for i, c in enumerate(self.collectives):
            if c.lever is Lever.PROMOTE_ITEM and c.item >= items:
                raise ScenarioError(file, f"collectives[{i}].item", self._item_expected(c, items))

    def _item_expected(self, c: Collective, items: int) -> str:
        return f"an item of task {self.task.name} (0 to {items - 1}), got {c.item}"

    def check_labels(self, classes: int, file: str | Path | None = None) -> None:
        """Every signal target is a label of the task, once its classes are known.

        A task read from a file (csv, parquet) knows its classes only when read: the
        model calls this then, so a target beyond them is one line, not a failed run.
        """
        for i, c in enumerate(self.collectives):
            if c.signal.target >= classes:
                where = f"collectives[{i}].signal.target"
                raise ScenarioError(file, where, self._label_expected(c, classes))

    def _label_expected(self, c: Collective, classes: int) -> str:
        return f"a label of task {self.task.name} (0 to {classes - 1}), got {c.signal.target}"

    def platform_index(self, name: str) -> int:
        """Position of the platform called ``name``."""
        return [p.name for p in self.platforms].index(name)


def _check_collective(where: str, c: Collective, platforms: list[str]) -> None:
    """The collective's target and redirect are platforms; it stops after it starts."""
    _known(c.target, platforms, f"{where}.target", "platform")
    if LEVERS[c.lever].redirects:
        if c.redirect_to is None:
            raise ValueError(f"{where}.redirect_to|a platform name for lever {c.lever}")
        _known(c.redirect_to, platforms, f"{where}.redirect_to", "platform")
        if c.redirect_to == c.target:
            raise ValueError(f"{where}.redirect_to|a platform other than the target")
    elif c.redirect_to is not None:
        _known(c.redirect_to, platforms, f"{where}.redirect_to", "platform")
    if c.stop is not None and c.stop <= c.start:
        raise ValueError(f"{where}.stop|a step after start ({c.start})")


def _no_such_field(bad: str, fields: list[str]) -> str:
    hint = difflib.get_close_matches(bad, fields, n=1)
    extra = f"; did you mean '{hint[0]}'?" if hint else ""
    return f"no such field (known: {', '.join(fields)}){extra}"


def _unique(names: list[str], where: str, field: str) -> None:
    seen = set()
    for i, n in enumerate(names):
        if n in seen:
            raise ValueError(f"{where}[{i}].{field}|a unique name ('{n}' is repeated)")
        seen.add(n)


def _known(name: str, known: list[str], where: str, what: str) -> None:
    if name not in known:
        hint = difflib.get_close_matches(name, known, n=1)
        extra = f"; did you mean '{hint[0]}'?" if hint else ""
        raise ValueError(f"{where}|a known {what} (one of {', '.join(known)}), got '{name}'{extra}")


def one_line_error(
    err: ValidationError, file: str | Path | None, root: type[BaseModel] | None = None
) -> ScenarioError:
    """The first problem of a pydantic validation error as one line for the user.

    Args:
        err: The validation error.
        file: The file that was validated.
        root: The model validated (default :class:`Scenario`), to name the fields an
            unknown field could have meant.
    """
    first = err.errors()[0]
    loc = _loc(first["loc"])
    msg = first.get("msg", "").removeprefix("Value error, ")
    if first["type"] == "value_error":
        # Our own checks say what they expect; cross-field ones name the field first
        # ("field|expected"). A field path holds no '|'; the value shown after it may.
        field, sep, expected = msg.partition("|")
        return ScenarioError(file, field if sep else loc, expected if sep else msg)
    if first["type"] == "extra_forbidden":
        model = _model_at(first["loc"][:-1], root or Scenario)
        fields = list(model.model_fields) if model else []
        return ScenarioError(file, loc, _no_such_field(str(first["loc"][-1]), fields))
    return ScenarioError(file, loc, _expected(first))


def _expected(e: dict) -> str:
    kind, ctx, got = e["type"], e.get("ctx", {}), e.get("input")
    got_shown = shown(got)
    if kind == "missing":
        return "a value (this field is required)"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        op = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<="}.get(
            kind, "<"
        )
        return f"a number {op} {next(iter(ctx.values()))}, got {got_shown}"
    if kind == "value_error":  # a check of ours: it says what it expects
        return str(e.get("msg", "")).removeprefix("Value error, ").rpartition("|")[2]
    if kind == "finite_number":
        return f"a finite number, got {got_shown}"
    if kind == "int_from_float":
        return f"a whole number, got {got_shown}"
    if kind == "bool_parsing" or kind == "bool_type":
        return f"true or false, got {got_shown}"
    if kind in ("enum", "literal_error"):
        return f"one of {ctx.get('expected')}, got {got_shown}"
    if kind.endswith("_type") or kind.endswith("_parsing"):
        want = kind.split("_")[0]
        return f"a value of type {want}, got {got_shown}"
    return f"{e.get('msg', 'a valid value')}, got {got_shown}"


def _loc(parts: tuple) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _model_at(loc: tuple, root: type[BaseModel]) -> type[BaseModel] | None:
    model: Any = root
    for p in loc:
        if isinstance(p, int):
            continue
        field = model.model_fields.get(p)
        if field is None:
            return None
        ann = field.annotation
        args = getattr(ann, "__args__", ())
        candidates = [ann, *args]
        model = next(
            (c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None
        )
        if model is None:
            return None
    return model
