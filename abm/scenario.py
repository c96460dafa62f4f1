"""The scenario file: the single, typed source of truth for every model parameter.

A scenario is a YAML file validated by the pydantic models below. Every field carries
its meaning, unit and range in its description; ``abm schema`` prints them and the
README's schema table is generated from the same models. CLI ``--set`` overrides,
sweep designs and the viewer's sliders are all derived from these models, never
retyped.

Loading is safe by construction: only ``yaml.safe_load`` is used, ``extends:`` chains
are resolved relative to the including file (cycles are an error), and data-file paths
must stay inside the scenario's folder or the working directory. Every problem becomes
a :class:`ScenarioError` whose message is one line naming the file, the field path and
what was expected.
"""

from __future__ import annotations

import copy
import difflib
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

# --------------------------------------------------------------------------- errors


class ScenarioError(ValueError):
    """A scenario or sweep file is invalid; ``str(err)`` is one line for the user."""

    def __init__(self, file: str | Path | None, field: str, expected: str):
        self.file = str(file) if file is not None else "<scenario>"
        self.field = field or "(top level)"
        self.expected = expected
        super().__init__(f"{self.file}: {self.field}: {expected}")


# --------------------------------------------------------------------------- enums


class GraphKind(StrEnum):
    """Social network generators."""

    WATTS_STROGATZ = "watts_strogatz"
    BARABASI_ALBERT = "barabasi_albert"
    ERDOS_RENYI = "erdos_renyi"
    SBM = "sbm"
    EDGELIST = "edgelist"


class Lever(StrEnum):
    """What a collective does with its members' data."""

    STRIKE = "strike"  # prospective: withhold new data from the target
    RETRO_STRIKE = "retro_strike"  # withhold and request deletion of past data
    BOYCOTT = "boycott"  # withhold and stop using the target
    CDC = "cdc"  # conscious data contribution: send data to `redirect_to` instead
    STRIKE_CDC = "strike_cdc"  # withhold from target and contribute to `redirect_to`
    POISON_LABELS = "poison_labels"  # contribute label-flipped data
    POISON_NOISE = "poison_noise"  # contribute feature-noised data
    PLANT_SIGNAL = "plant_signal"  # add a trigger and set the label to `signal.target`
    PLANT_FEATURE_ONLY = "plant_feature_only"  # add the trigger to members already labelled
    ERASE_SIGNAL = "erase_signal"  # remove the trigger from contributions


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


class Sampling(StrEnum):
    """How a user of a finite task hands over rows of its slice."""

    WITH_REPLACEMENT = "with_replacement"
    WITHOUT_REPLACEMENT = "without_replacement"


class EventAction(StrEnum):
    """What a scheduled event does."""

    LAUNCH = "launch"
    STOP = "stop"
    SET_POLICY = "set_policy"
    AI_SUBSTITUTE = "ai_substitute"
    CHANGE_TERMS = "change_terms"


# --------------------------------------------------------------------------- schema


class Strict(BaseModel):
    """Base: unknown fields are errors, assignment is validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, use_enum_values=False)


class Population(Strict):
    """The users: how many, how they decide, how much data they make."""

    n_users: int = Field(500, ge=2, le=5_000_000, description="Number of users (agents).")
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
    network_weight: float = Field(
        0.5,
        ge=0.0,
        le=100.0,
        description="Utility weight of the share of neighbours on a platform.",
    )
    switching_cost: float = Field(
        0.3, ge=0.0, le=100.0, description="Utility cost of leaving the current platform."
    )
    reconsider_rate: float = Field(
        0.1, ge=0.0, le=1.0, description="Probability a user reconsiders its platform each step."
    )
    threshold_mean: float = Field(
        0.1, ge=0.0, le=1.0, description="Mean participation threshold (share of acting peers)."
    )
    threshold_sd: float = Field(
        0.1, ge=0.0, le=1.0, description="Spread of participation thresholds (normal, clipped)."
    )
    grievance: float = Field(
        0.0, ge=0.0, le=10.0, description="Baseline grievance toward every platform (utility)."
    )


class Network(Strict):
    """The social network the users sit on."""

    kind: GraphKind = Field(GraphKind.WATTS_STROGATZ, description="Graph generator.")
    mean_degree: int = Field(8, ge=1, le=1000, description="Mean number of neighbours.")
    rewire: float = Field(0.1, ge=0.0, le=1.0, description="Watts-Strogatz rewiring probability.")
    groups: int = Field(2, ge=1, le=1000, description="Number of groups (communities).")
    homophily: float = Field(
        0.9, ge=0.0, le=1.0, description="SBM: share of a user's edges inside its own group."
    )
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
    label_noise: float = Field(0.0, ge=0.0, le=1.0, description="Share of random labels.")
    n_test: int = Field(5000, ge=10, le=1_000_000, description="Size of the held-out set.")
    n_items: int = Field(1000, ge=10, le=10_000_000, description="ratings_stream: catalogue size.")
    rank: int = Field(4, ge=1, le=256, description="ratings_stream: dimension of tastes.")


class Task(Strict):
    """The learning task every platform's model solves."""

    name: Literal[
        "digits",
        "breast_cancer",
        "wine",
        "synthetic",
        "ratings",
        "csv",
        "parquet",
        "stream",
        "ratings_stream",
        "movielens",
    ] = Field("digits", description="Dataset: a bundled scikit-learn set, a generator, or a file.")
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

    name: str = Field(..., min_length=1, description="Unique platform name.")
    learner: Literal["logistic", "knn", "mf", "majority", "item_mean"] = Field(
        "logistic", description="The embedded learning model."
    )
    initial_share: float = Field(0.5, ge=0.0, le=1.0, description="Share of users at step 0.")
    price: float = Field(0.0, ge=0.0, le=100.0, description="Utility cost of using it.")
    retrain: Literal["incremental", "full"] = Field(
        "incremental", description="Warm-started update on new data, or full refit each step."
    )
    retention: int | None = Field(None, ge=1, description="Steps a sample is kept (none: forever).")
    shards: int = Field(1, ge=1, le=256, description="SISA shards (1: no sharding).")
    filter_poison: bool = Field(False, description="Pay to filter suspected poisoned data.")
    filter_cost: float = Field(0.05, ge=0.0, le=100.0, description="Cost per step of filtering.")
    incentive: float = Field(
        0.0, ge=0.0, le=100.0, description="Price cut offered to users while a campaign targets it."
    )
    seed_data: int = Field(
        50, ge=0, le=10_000_000, description="Samples the platform starts with (its own data)."
    )


class Signal(Strict):
    """A planted signal: a trigger on some features paired with a target label."""

    target: int = Field(0, ge=0, description="Label the collective wants triggered points to get.")
    n_features: int = Field(4, ge=1, le=1000, description="Number of trigger features (pixels).")
    rare: bool = Field(True, description="Use features rarely 'on' in natural data.")
    noise: float = Field(0.0, ge=0.0, le=1.0, description="Coordination noise (misapplied share).")


class Collective(Strict):
    """A collective: members, a lever, a target, launch and stop rules, a demand."""

    name: str = Field(..., min_length=1, description="Unique collective name.")
    target: str = Field(..., description="Platform the collective acts on.")
    lever: Lever = Field(Lever.STRIKE, description="What members do with their data.")
    redirect_to: str | None = Field(None, description="Platform receiving CDC data.")
    size: float = Field(0.2, ge=0.0, le=1.0, description="Initial share of users who are members.")
    group: int | None = Field(None, ge=0, description="Recruit initial members from this group.")
    recruit_rate: float = Field(
        0.0, ge=0.0, le=1.0, description="Per-step join probability once peers pass threshold."
    )
    start: int = Field(0, ge=0, description="Step the campaign launches (events may override).")
    stop: int | None = Field(None, ge=0, description="Step the campaign stops at the latest.")
    critical_mass: float = Field(
        0.0, ge=0.0, le=1.0, description="Share of users who must be members to launch."
    )
    fatigue: float = Field(
        0.0, ge=0.0, le=1.0, description="Per-step probability an acting member drops out."
    )
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
    rate: float = Field(1.0, ge=0.0, le=1.0, description="Share of a member's data altered.")
    signal: Signal = Field(default_factory=Signal, description="Trigger for signal levers.")
    turnout_weight: float = Field(
        0.5, ge=0.0, le=1.0, description="Weight of collective turnout vs acting neighbours."
    )


class Policy(Strict):
    """Policy levers set by the scenario (and changed by events)."""

    right_to_delete: bool = Field(False, description="Users may have past data deleted.")
    portability: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="Share of the switching cost a portability mandate removes.",
    )
    bargaining_rights: bool = Field(False, description="Collectives may bargain collectively.")
    bargaining_power: float = Field(
        0.5, ge=0.0, le=1.0, description="Collective's Nash bargaining power when it has rights."
    )
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
    quality: float = Field(
        0.8,
        ge=0.0,
        le=1.0,
        description="ai_substitute: the substitute's quality, compared with the platform's.",
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
        True, description="Shapley value of each collective's data at the end (<= 5 collectives)."
    )


class Scenario(Strict):
    """A whole scenario: the question, the world, and what happens in it."""

    name: str = Field("scenario", description="Short name used for the output folder.")
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

    @model_validator(mode="after")
    def _check_references(self) -> Scenario:
        platforms = [p.name for p in self.platforms]
        collectives = [c.name for c in self.collectives]
        _unique(platforms, "platforms", "name")
        _unique(collectives, "collectives", "name")
        for i, c in enumerate(self.collectives):
            _known(c.target, platforms, f"collectives[{i}].target", "platform")
            if c.lever in (Lever.CDC, Lever.STRIKE_CDC):
                if c.redirect_to is None:
                    raise ValueError(
                        f"collectives[{i}].redirect_to|a platform name for lever {c.lever}"
                    )
                _known(c.redirect_to, platforms, f"collectives[{i}].redirect_to", "platform")
                if c.redirect_to == c.target:
                    raise ValueError(
                        f"collectives[{i}].redirect_to|a platform other than the target"
                    )
            elif c.redirect_to is not None:
                _known(c.redirect_to, platforms, f"collectives[{i}].redirect_to", "platform")
            if c.stop is not None and c.stop <= c.start:
                raise ValueError(f"collectives[{i}].stop|a step after start ({c.start})")
        for i, c in enumerate(self.collectives):
            if c.group is not None and c.group >= self.network.groups:
                raise ValueError(
                    f"collectives[{i}].group|a group index < network.groups"
                    f" ({self.network.groups}), got {c.group}"
                )
            classes = TASK_CLASSES.get(self.task.name)
            if classes is not None and c.signal.target >= classes:
                raise ValueError(
                    f"collectives[{i}].signal.target|a label of task {self.task.name}"
                    f" (0 to {classes - 1}), got {c.signal.target}"
                )
        for i, e in enumerate(self.events):
            if e.at >= self.steps:
                raise ValueError(
                    f"events[{i}].at|a step the run reaches (0 to steps - 1 = {self.steps - 1}),"
                    f" got {e.at}"
                )
            if e.action in (EventAction.LAUNCH, EventAction.STOP):
                if e.collective is None:
                    raise ValueError(f"events[{i}].collective|a collective name for {e.action}")
                _known(e.collective, collectives, f"events[{i}].collective", "collective")
            if e.action in (EventAction.AI_SUBSTITUTE, EventAction.CHANGE_TERMS):
                if e.platform is None:
                    raise ValueError(f"events[{i}].platform|a platform name for {e.action}")
                _known(e.platform, platforms, f"events[{i}].platform", "platform")
            if e.action is EventAction.SET_POLICY:
                if not e.policy:
                    raise ValueError(f"events[{i}].policy|a mapping of policy fields")
                try:
                    Policy.model_validate({**self.policy.model_dump(), **e.policy})
                except ValidationError as err:
                    first = err.errors()[0]
                    loc = ".".join(str(p) for p in first["loc"])
                    if first["type"] == "extra_forbidden":
                        expected = _no_such_field(str(first["loc"][-1]), list(Policy.model_fields))
                    else:
                        expected = _expected(first)
                    raise ValueError(f"events[{i}].policy.{loc}|{expected}") from None
        if sum(p.initial_share for p in self.platforms) <= 0:
            raise ValueError("platforms|at least one platform with initial_share > 0")
        if self.task.name in ("csv", "parquet", "movielens") and not self.task.path:
            raise ValueError(f"task.path|a data file for task {self.task.name}")
        if self.network.kind is GraphKind.EDGELIST and not self.network.path:
            raise ValueError("network.path|an edge-list file for kind edgelist")
        return self

    def platform_index(self, name: str) -> int:
        """Position of the platform called ``name``."""
        return [p.name for p in self.platforms].index(name)


# Number of classes of the bundled tasks, to check signal targets before a run.
TASK_CLASSES = {"digits": 10, "breast_cancer": 2, "wine": 3}


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


# --------------------------------------------------------------------------- loading

PROJECT_ROOT = Path.cwd


def load_scenario(path: str | Path, overrides: list[str] | None = None) -> Scenario:
    """Read, merge (``extends``), override (``--set``) and validate a scenario file.

    Args:
        path: The YAML file.
        overrides: ``field.path=value`` strings; lists are addressed by item name.

    Returns:
        The validated scenario, with data paths resolved to absolute paths.

    Raises:
        ScenarioError: One line naming the file, the field and what was expected.
    """
    path = Path(path)
    raw = _read_with_extends(path, chain=())
    for item in overrides or []:
        apply_override(raw, item, file=path)
    scenario = validate(raw, file=path)
    return _resolve_paths(scenario, path)


def validate(raw: Any, file: str | Path | None = None) -> Scenario:
    """Validate a plain mapping into a :class:`Scenario`, with one-line errors."""
    if not isinstance(raw, dict):
        raise ScenarioError(file, "", f"a mapping of scenario fields, got {type(raw).__name__}")
    try:
        return Scenario.model_validate(raw)
    except ValidationError as err:
        raise one_line_error(err, file) from None


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
        # ("field|expected").
        field, _, expected = msg.rpartition("|")
        return ScenarioError(file, field or loc, expected)
    if first["type"] == "extra_forbidden":
        model = _model_at(first["loc"][:-1], root or Scenario)
        fields = list(model.model_fields) if model else []
        return ScenarioError(file, loc, _no_such_field(str(first["loc"][-1]), fields))
    return ScenarioError(file, loc, _expected(first))


def _expected(e: dict) -> str:
    kind, ctx, got = e["type"], e.get("ctx", {}), e.get("input")
    shown = repr(got) if not isinstance(got, dict) else "a mapping"
    if kind == "missing":
        return "a value (this field is required)"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        op = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<="}.get(
            kind, "<"
        )
        return f"a number {op} {next(iter(ctx.values()))}, got {shown}"
    if kind == "int_from_float":
        return f"a whole number, got {shown}"
    if kind == "bool_parsing" or kind == "bool_type":
        return f"true or false, got {shown}"
    if kind in ("enum", "literal_error"):
        return f"one of {ctx.get('expected')}, got {shown}"
    if kind.endswith("_type") or kind.endswith("_parsing"):
        want = kind.split("_")[0]
        return f"a value of type {want}, got {shown}"
    return f"{e.get('msg', 'a valid value')}, got {shown}"


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


def read_yaml(path: Path, what: str = "scenario") -> dict:
    """Read a YAML mapping safely (``yaml.safe_load``), with one-line errors.

    Args:
        path: The file.
        what: What the file holds ("scenario", "sweep", ...), for the error message.

    Raises:
        ScenarioError: The file is missing, unreadable, not YAML or not a mapping.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(path, "", "an existing file (not found)") from None
    except IsADirectoryError:
        raise ScenarioError(path, "", "a YAML file, got a directory") from None
    except UnicodeDecodeError:
        raise ScenarioError(path, "", "a UTF-8 text file (YAML), got binary data") from None
    except OSError as err:
        raise ScenarioError(path, "", f"a readable file ({err.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.reader.ReaderError as err:
        raise ScenarioError(
            path, f"character {err.position}", f"YAML text ({err.reason})"
        ) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(parse)"
        problem = getattr(err, "problem", None) or "invalid YAML"
        raise ScenarioError(path, where, f"valid YAML ({problem})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ScenarioError(path, "", f"a mapping of {what} fields, got {type(data).__name__}")
    return data


def _read_with_extends(path: Path, chain: tuple[Path, ...]) -> dict:
    resolved = path.resolve()
    if resolved in chain:
        cycle = " -> ".join(p.name for p in (*chain, resolved))
        raise ScenarioError(path, "extends", f"no cycle of extends ({cycle})")
    data = read_yaml(path)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ScenarioError(path, "extends", f"a file name, got {parent!r}")
    parent_path = path.parent / parent
    if not parent_path.is_file():
        raise ScenarioError(
            path, "extends", f"an existing scenario file, got '{parent}' (not found)"
        )
    base = _read_with_extends(parent_path, (*chain, resolved))
    return merge(base, data)


def merge(base: Any, over: Any) -> Any:
    """Deep-merge ``over`` into ``base``; lists of named items merge by name."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = merge(base[k], v) if k in base else copy.deepcopy(v)
        return out
    if _named_list(base) and _named_list(over):
        out = [copy.deepcopy(x) for x in base]
        names = [x["name"] for x in out]
        for item in over:
            if item["name"] in names:
                i = names.index(item["name"])
                out[i] = merge(out[i], item)
            else:
                out.append(copy.deepcopy(item))
        return out
    return copy.deepcopy(over)


def _named_list(x: Any) -> bool:
    return isinstance(x, list) and all(isinstance(i, dict) and "name" in i for i in x)


def apply_override(raw: dict, item: str, file: str | Path | None = None) -> None:
    """Apply one ``path.to.field=value`` override in place (value parsed as YAML scalar).

    Items of ``platforms``, ``collectives`` and ``events`` are addressed by name or index.
    """
    if "=" not in item:
        raise ScenarioError(file, f"--set {item}", "an override of the form path.to.field=value")
    key, _, text = item.partition("=")
    if not key.strip():
        raise ScenarioError(file, f"--set {item}", "a field path before '='")
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        value = text
    try:
        _set_path(raw, key, value, file)
    except ScenarioError as err:
        raise ScenarioError(file, f"--set {err.field}", err.expected) from None


def _child(node: Any, part: str, where: str, file: Any, create: bool) -> Any:
    if isinstance(node, list):
        for i, x in enumerate(node):
            if (isinstance(x, dict) and x.get("name") == part) or part == str(i):
                return x
        names = [str(x.get("name")) for x in node if isinstance(x, dict)]
        hint = difflib.get_close_matches(part, names, n=1)
        extra = f"; did you mean '{hint[0]}'?" if hint else ""
        known = ", ".join(names) if names else "none defined"
        raise ScenarioError(file, where, f"a known item name or index (one of {known}){extra}")
    if part not in node:
        defaults = Scenario().model_dump(mode="json")
        probe = _lookup(defaults, where.split("."))
        if probe is None and not create:
            raise ScenarioError(file, where, "a known field")
        node[part] = copy.deepcopy(probe) if probe is not None else {}
    return node[part]


def _lookup(data: Any, parts: list[str]) -> Any:
    for p in parts:
        if isinstance(data, dict) and p in data:
            data = data[p]
        elif isinstance(data, list):
            data = next((x for x in data if isinstance(x, dict) and x.get("name") == p), None)
        else:
            return None
    return data


def _resolve_paths(scenario: Scenario, file: Path) -> Scenario:
    """Resolve data paths against the scenario's folder; refuse paths outside the project."""
    for section, field in (("task", "path"), ("network", "path")):
        obj = getattr(scenario, section)
        value = getattr(obj, field)
        if value is None:
            continue
        candidate = (file.parent / value).resolve()
        roots = [file.parent.resolve(), PROJECT_ROOT().resolve()]
        if not any(candidate.is_relative_to(r) for r in roots):
            raise ScenarioError(
                file, f"{section}.{field}", f"a path inside the project, got '{value}'"
            )
        if not candidate.exists():
            raise ScenarioError(file, f"{section}.{field}", f"an existing file, got '{value}'")
        setattr(obj, field, str(candidate))
    return scenario


def with_overrides(scenario: Scenario, overrides: dict[str, Any]) -> Scenario:
    """A copy of ``scenario`` with ``{"path.to.field": value}`` overrides applied."""
    raw = scenario.model_dump(mode="json")
    for key, value in overrides.items():
        _set_path(raw, key, value)
    return validate(raw)


def _set_path(raw: dict, key: str, value: Any, file: str | Path | None = None) -> None:
    parts = key.strip().split(".")
    node: Any = raw
    for depth, part in enumerate(parts[:-1]):
        node = _child(node, part, ".".join(parts[: depth + 1]), file, create=True)
    if isinstance(node, list):
        raise ScenarioError(file, key, "a field name after a list item")
    node[parts[-1]] = value


def dump_scenario(scenario: Scenario) -> str:
    """The resolved scenario as YAML (written into every output folder)."""
    return yaml.safe_dump(scenario.model_dump(mode="json"), sort_keys=False)


# --------------------------------------------------------------------------- reference


# The unit of every numeric field, by schema path (``abm schema`` prints it; a test
# checks that no numeric field is missing here). "-" marks a pure number.
UNITS: dict[str, str] = {
    "seed": "-",
    "steps": "steps",
    "population.n_users": "users",
    "population.samples_per_step": "samples / user / step",
    "population.rationality": "1 / utility",
    "population.network_weight": "utility",
    "population.switching_cost": "utility",
    "population.reconsider_rate": "probability / step",
    "population.threshold_mean": "share of peers",
    "population.threshold_sd": "share of peers",
    "population.grievance": "utility",
    "network.mean_degree": "neighbours",
    "network.rewire": "probability",
    "network.groups": "groups",
    "network.homophily": "share of edges",
    "task.test_size": "share of samples",
    "task.n_samples": "samples",
    "task.stream.n_features": "features",
    "task.stream.n_classes": "classes",
    "task.stream.components": "components / class",
    "task.stream.separation": "feature sd",
    "task.stream.noise": "feature sd (stars for ratings_stream)",
    "task.stream.shift": "feature sd",
    "task.stream.n_groups": "groups",
    "task.stream.label_noise": "probability",
    "task.stream.n_test": "samples",
    "task.stream.n_items": "items",
    "task.stream.rank": "latent dimensions",
    "platforms[].initial_share": "share of users",
    "platforms[].price": "utility / step",
    "platforms[].retention": "steps",
    "platforms[].shards": "shards",
    "platforms[].filter_cost": "utility / step",
    "platforms[].incentive": "utility / step",
    "platforms[].seed_data": "samples",
    "collectives[].size": "share of users",
    "collectives[].group": "group index",
    "collectives[].recruit_rate": "probability / step",
    "collectives[].start": "step",
    "collectives[].stop": "step",
    "collectives[].critical_mass": "share of users",
    "collectives[].fatigue": "probability / step",
    "collectives[].demand": "utility / member / step",
    "collectives[].patience": "rounds",
    "collectives[].rate": "share of samples",
    "collectives[].signal.target": "class label",
    "collectives[].signal.n_features": "features",
    "collectives[].signal.noise": "share of samples",
    "collectives[].turnout_weight": "weight (0-1)",
    "policy.portability": "share of switching cost",
    "policy.bargaining_power": "weight (0-1)",
    "policy.value_of_quality": "utility / user / step / quality",
    "events[].at": "step",
    "events[].quality": "score",
    "events[].price": "utility / step",
    "policy.bargaining_every": "steps",
    "measurement.agent_table_every": "steps",
}


def schema_rows(model: type[BaseModel] = Scenario, prefix: str = "") -> list[dict[str, str]]:
    """Every field of the schema as rows: path, type, unit, default, range, meaning."""
    rows = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        ann = field.annotation
        sub = _submodel(ann)
        if sub is not None:
            is_list = getattr(ann, "__origin__", None) is list
            rows += schema_rows(sub, f"{path}[]." if is_list else f"{path}.")
            continue
        bounds = []
        for m in field.metadata:
            for attr, sym in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
                if getattr(m, attr, None) is not None:
                    bounds.append(f"{sym} {getattr(m, attr)}")
        default = (
            "required"
            if field.is_required()
            else _show(field.get_default(call_default_factory=True))
        )
        rows.append(
            {
                "field": path,
                "type": _type_name(ann),
                "unit": UNITS.get(path, ""),
                "default": default,
                "range": ", ".join(bounds),
                "meaning": field.description or "",
            }
        )
    return rows


def _submodel(ann: Any) -> type[BaseModel] | None:
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    for a in getattr(ann, "__args__", ()):
        if isinstance(a, type) and issubclass(a, BaseModel):
            return a
    return None


def _type_name(ann: Any) -> str:
    if isinstance(ann, type) and issubclass(ann, StrEnum):
        return " | ".join(m.value for m in ann)
    if getattr(ann, "__origin__", None) is Literal:
        return " | ".join(str(a) for a in ann.__args__)
    text = getattr(ann, "__name__", None) or str(ann)
    return text.replace("typing.", "").replace("NoneType", "null")


def _show(value: Any) -> str:
    if isinstance(value, StrEnum):
        return value.value
    return "null" if value is None else str(value)


def schema_markdown() -> str:
    """The schema reference as a Markdown table (printed by ``abm schema``, in the README)."""
    lines = [
        "<!-- generated by `abm schema > docs/schema.md`; do not edit by hand -->",
        "",
        "| field | type | unit | default | range | meaning |",
        "|---|---|---|---|---|---|",
    ]
    for r in schema_rows():
        cells = [f"`{r['field']}`", r["type"].replace("|", "\\|"), r["unit"], r["default"]]
        cells += [r["range"], r["meaning"].replace("|", "\\|")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
