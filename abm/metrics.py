"""Per-step series and end-of-run outcomes, each declared once by name, unit and meaning.

Series are recorded every step by Mesa's DataCollector, one column per entity, named
``series[entity]`` (``quality[incumbent]``, ``participation[union]``). Outcomes are
scalars computed once at the end of a run from the model and its series table; sweeps,
reports and comparisons read them by name. Reporters read the model's arrays and the
few platform and collective agents only: no per-user Python runs on the hot path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import mesa
import numpy as np
import pandas as pd

from abm import twins
from abm.bargaining import ROUND_TABLE
from abm.behaviour import Action, Tactic
from abm.learning.registry import TaskKind, tasks_of
from abm.levers import LEVERS

if TYPE_CHECKING:
    from abm.agents import World

Per = Literal["platform", "collective"]


@dataclass(frozen=True)
class Where:
    """Where a series or outcome exists: a test on (scenario, entity spec), with a label."""

    label: str
    test: Callable[[Any, Any], bool]

    def __call__(self, scenario: Any, entity: Any) -> bool:
        """Whether it exists for ``entity`` (a platform or collective spec) of ``scenario``."""
        return self.test(scenario, entity)


# Ratings tasks: each has a held-out ranking probe, so platforms have a hit rate at k.
RANKED_TASKS = frozenset(tasks_of({TaskKind.RATINGS}))


def _twins_on(scenario: Any) -> bool:
    return scenario.measurement.twins != "off"


def _redirects(collective: Any) -> bool:
    """Whether the collective's lever sends data to ``redirect_to`` (not merely names it)."""
    return LEVERS[collective.lever].redirects and collective.redirect_to is not None


ALWAYS = Where("every run", lambda s, e: True)
RANKED = Where("ratings tasks", lambda s, e: s.task.name in RANKED_TASKS)
MEASURED = Where("twins on", lambda s, c: _twins_on(s))
MEASURED_RANKED = Where("twins on, ratings tasks", lambda s, c: _twins_on(s) and RANKED(s, c))
# User groups' quality is per-class recall weighted by each group's classes.
MEASURED_GROUPS = Where(
    "twins on, classification tasks", lambda s, c: _twins_on(s) and s.task.name not in RANKED_TASKS
)
REDIRECTS = Where(
    "twins on, levers that redirect data", lambda s, c: _twins_on(s) and _redirects(c)
)
SIGNALS = Where("signal levers", lambda s, c: LEVERS[c.lever].signal)
INTERVENED = Where(
    "no collectives, interventions, twins on",
    lambda s, p: twins.measures_interventions(s),
)
PROMOTES = Where("promote_item", lambda s, c: LEVERS[c.lever].promote)
MEASURED_PROMOTES = Where("twins on, promote_item", lambda s, c: _twins_on(s) and PROMOTES(s, c))
MEASURED_SIGNALS = Where("twins on, signal levers", lambda s, c: _twins_on(s) and SIGNALS(s, c))
FILTERS = Where("platforms that filter poison", lambda s, p: p.filter_poison)
MEASURED_FILTERS = Where(
    "twins on, platforms that filter poison", lambda s, p: _twins_on(s) and p.filter_poison
)
PROTESTS = Where("lever protest", lambda s, c: LEVERS[c.lever].repertoire)
VALUED = Where("valuation on", lambda s, c: s.measurement.valuation)


@dataclass(frozen=True)
class Series:
    """A quantity recorded every step for each platform or collective it applies to.

    A series exists only where it is defined (``applies``: hit rates on ratings tasks).
    """

    name: str
    per: Per
    unit: str
    meaning: str
    read: Callable[[World, Any], float]
    applies: Where = ALWAYS


@dataclass(frozen=True)
class Outcome:
    """An end-of-run scalar for each platform or collective it applies to.

    An outcome exists only where it is defined (``applies``: signal success for signal
    levers, the receiver's lift for collectives that redirect data). Where it exists but
    a run leaves it undefined (leverage when the target's model in the twin does not
    beat the naive baseline), it is NaN, an empty cell in outcomes.csv, never 0, and
    ``empty`` says when and why (the report shows it beside the dash). ``bounds`` are
    the values it can take by construction (``None``: open on that side); signed
    outcomes (effects, leverage, changes) are open unless a share bounds them, and
    sweep figures and summaries clip intervals only at these bounds.
    """

    name: str
    per: Per
    unit: str
    meaning: str
    compute: Callable[[World, Any, pd.DataFrame], float]
    applies: Where = ALWAYS
    empty: str = ""
    bounds: tuple[float | None, float | None] = (None, None)


# The bounds an outcome can take by construction.
UNIT_RANGE = (0.0, 1.0)  # a share, a probability, a 0/1 flag
SIGNED_SHARE = (-1.0, 1.0)  # the difference of two shares
AT_MOST_ONE = (None, 1.0)  # a score: accuracy, R^2 or 1 - RMSE/4, never above 1
NON_NEGATIVE = (0.0, None)  # counts, costs and payments


def _users_on(model: World, p: Any) -> float:
    return float(np.count_nonzero(model.users.platform == p.index))


def _effect(name: str) -> Callable[[World, Any], float]:
    return lambda m, c: float(getattr(c.effects, name))


SERIES: tuple[Series, ...] = (
    Series("quality", "platform", "score", "Held-out quality of the platform's model.",
           lambda m, p: p.quality),
    Series("hit_rate", "platform", "share",
           "Hit rate at 10 on the held-out ranking probe: share of held-out liked items "
           "ranked in the top 10 among 100 unrated ones (ratings tasks).",
           lambda m, p: p.hit_rate, RANKED),
    Series("users", "platform", "users", "Users on the platform.", _users_on),
    Series("share", "platform", "share", "Market share: users on it / all users.",
           lambda m, p: _users_on(m, p) / m.n_users),
    Series("revenue", "platform", "utility / step",
           "What users paid and the model earned this step, net of costs.",
           lambda m, p: p.revenue),
    Series("data", "platform", "samples", "Samples in the platform's pool.",
           lambda m, p: float(len(p.pool))),
    Series("new_data", "platform", "samples", "Samples routed to it this step.",
           lambda m, p: float(p.new_samples)),
    Series("unlearning_cost", "platform", "samples", "Samples retrained for deletions, cumulative.",
           lambda m, p: float(p.unlearning_cost)),
    Series("filtered", "platform", "samples",
           "Samples its poison filter dropped, cumulative.",
           lambda m, p: float(p.filtered), FILTERS),
    Series("filter_quality_cost", "platform", "score",
           "Its quality in the twin with its poison filter off minus in the real world: "
           "what the filter cost it (signed; negative: the filter protected it).",
           lambda m, p: p.filter_quality_cost, MEASURED_FILTERS),
    Series("quality_without_interventions", "platform", "score",
           "Quality in the twin world without the scenario's interventions (policy "
           "changes, AI substitutes).",
           lambda m, p: twins.intervention_twin(m).platforms[p.index].quality, INTERVENED),
    Series("share_without_interventions", "platform", "share",
           "Market share in the twin world without the scenario's interventions.",
           lambda m, p: _users_on(twins.intervention_twin(m), p) / m.n_users, INTERVENED),
    Series("new_data_without_interventions", "platform", "samples",
           "Samples routed to it this step in the twin world without the scenario's "
           "interventions.",
           lambda m, p: float(twins.intervention_twin(m).platforms[p.index].new_samples),
           INTERVENED),
    Series("members", "collective", "share", "Share of users who are members.",
           lambda m, c: float(c.members.mean())),
    Series("participation", "collective", "share", "Share of users acting in the campaign.",
           lambda m, c: c.participation),
    Series("turnout", "collective", "share", "Share of members acting.",
           lambda m, c: c.turnout),
    Series("stopping", "collective", "share",
           "Share of users protesting by stopping: leaving the target for no platform.",
           lambda m, c: float(c.tactic_share[Tactic.STOP]), PROTESTS),
    Series("switching", "collective", "share",
           "Share of users protesting by switching to the best other platform.",
           lambda m, c: float(c.tactic_share[Tactic.SWITCH]), PROTESTS),
    Series("withholding", "collective", "share",
           "Share of users protesting by withholding their data while using the target.",
           lambda m, c: float(c.tactic_share[Tactic.WITHHOLD]), PROTESTS),
    Series("active", "collective", "0/1", "Whether the campaign is running.",
           lambda m, c: float(c.active)),
    Series("twin_quality", "collective", "score",
           "The target's quality in the twin world, where the campaign never ran.",
           _effect("twin_quality"), MEASURED),
    Series("quality_effect", "collective", "score",
           "The target's quality in the twin minus in the real world (signed).",
           _effect("quality_change"), MEASURED),
    Series("twin_hit_rate", "collective", "share",
           "The target's hit rate at 10 in the twin world (ratings tasks).",
           _effect("twin_hit_rate"), MEASURED_RANKED),
    Series("hit_rate_effect", "collective", "share",
           "The target's hit rate at 10 in the twin minus in the real world (signed; "
           "ratings tasks).",
           _effect("hit_rate_change"), MEASURED_RANKED),
    Series("leverage", "collective", "share of gap",
           "Quality effect over the twin's gap above the naive baseline: the majority "
           "class, or on ratings tasks the global mean rating (signed).",
           _effect("leverage"), MEASURED),
    Series("share_effect", "collective", "share",
           "The target's market share in the twin minus in the real world.",
           _effect("share"), MEASURED),
    Series("revenue_effect", "collective", "utility / step",
           "The target's revenue in the twin minus in the real world: its loss.",
           _effect("revenue"), MEASURED),
    Series("member_cost", "collective", "utility / step",
           "Members' payoff in the twin minus in the real world: what acting costs them.",
           _effect("member_cost"), MEASURED),
    Series("lift", "collective", "score",
           "The receiving platform's quality in the real world minus in the twin (CDC).",
           _effect("lift"), REDIRECTS),
    Series("dividend", "collective", "utility", "Dividend won by bargaining, cumulative.",
           lambda m, c: c.dividend),
    Series("signal_success", "collective", "share",
           "Share of triggered held-out points the target labels as the collective wants.",
           lambda m, c: c.signal_success, SIGNALS),
    Series("natural_success", "collective", "share",
           "The same share in the twin world, where nobody planted the signal.",
           lambda m, c: c.natural_success, MEASURED_SIGNALS),
    Series("signal_lift", "collective", "share",
           "Signal success minus natural success: the share of triggered held-out points "
           "the planting won over chance.",
           lambda m, c: c.signal_success - c.natural_success, MEASURED_SIGNALS),
    Series("target_rate", "collective", "share",
           "Share of the probe's raters (promoters left out) whose top 10 on the target "
           "platform holds the promoted item.",
           lambda m, c: c.target_rate, PROMOTES),
    Series("twin_target_rate", "collective", "share",
           "The same share in the twin world, where nobody promoted the item.",
           lambda m, c: c.twin_target_rate, MEASURED_PROMOTES),
)  # fmt: skip


def column(series: str, entity: str) -> str:
    """The model-table column of a series for one entity."""
    return f"{series}[{entity}]"


GROUP_TABLE = "group_quality"


def build_datacollector(model: World) -> mesa.DataCollector:
    """A DataCollector: a model reporter per series and entity, a table per group."""
    reporters: dict[str, Callable[[World], float]] = {}
    for s in SERIES:
        for entity in model.platforms if s.per == "platform" else model.collectives:
            if not s.applies(model.spec, entity.spec):
                continue
            reporters[column(s.name, entity.name)] = _bind(s.read, entity)
    return mesa.DataCollector(
        model_reporters=reporters,
        tables={GROUP_TABLE: ["step", "platform", "group", "quality"]},
    )


def collect(model: World) -> None:
    """Record the step: every series, and quality per platform and user group."""
    model.datacollector.collect(model)
    for p in model.platforms:
        for g, q in enumerate(p.group_quality):
            model.datacollector.add_table_row(
                GROUP_TABLE, {"step": model.steps, "platform": p.name, "group": g, "quality": q}
            )


def _bind(read: Callable, entity: Any) -> Callable[[World], float]:
    return lambda m: read(m, entity)


def _col(table: pd.DataFrame, series: str, name: str) -> pd.Series:
    return table[column(series, name)]


def _first_last(series: str) -> Callable:
    def delta(m: World, e: Any, table: pd.DataFrame) -> float:
        s = _col(table, series, e.name)
        return float(s.iloc[-1] - s.iloc[0])

    return delta


def _while_active(series: str) -> Callable:
    """Mean of a collective's series over the steps its campaign ran, where it is defined.

    0 if it never ran: the twin is then the real world and every effect is exactly 0.
    NaN if it ran but the series was undefined (NaN) at every one of those steps.
    """

    def mean(m: World, c: Any, table: pd.DataFrame) -> float:
        ran = _col(table, "active", c.name) > 0
        if not ran.any():
            return 0.0
        values = _col(table, series, c.name)[ran].dropna()
        return float(values.mean()) if len(values) else float("nan")

    return mean


def _last(series: str) -> Callable:
    """A collective's series at the last step (NaN where it is undefined there)."""

    def last(m: World, c: Any, table: pd.DataFrame) -> float:
        return float(_col(table, series, c.name).iloc[-1])

    return last


def _minus_twin(series: str) -> Callable:
    """A platform's series at the last step minus the same in the run without interventions."""

    def effect(m: World, p: Any, table: pd.DataFrame) -> float:
        real = _col(table, series, p.name).iloc[-1]
        return float(real - _col(table, f"{series}_without_interventions", p.name).iloc[-1])

    return effect


FINAL_STEPS = 5  # a "final" signal outcome averages the last steps: one step is noise


def _target_lift(m: World, c: Any, table: pd.DataFrame) -> float:
    """Promoted item's recommendation rate over its twin's (NaN when the twin's is 0)."""
    real = _tail_mean("target_rate", FINAL_STEPS)(m, c, table)
    twin = _tail_mean("twin_target_rate", FINAL_STEPS)(m, c, table)
    return real / twin if twin > 0 else float("nan")


def _tail_mean(series: str, steps: int) -> Callable:
    """Mean of a collective's series over the run's last ``steps`` steps (where defined)."""

    def mean(m: World, c: Any, table: pd.DataFrame) -> float:
        values = _col(table, series, c.name).iloc[1:].tail(steps).dropna()
        return float(values.mean()) if len(values) else float("nan")

    return mean


def _worst_group(m: World, c: Any, table: pd.DataFrame) -> float:
    """The largest per-group quality effect at the last step, signed (NaN: no groups)."""
    groups = np.asarray(c.effects.groups, float)
    return float(groups.max()) if groups.size else float("nan")


NO_GAP = (
    "when the target's model in the twin never beat the naive baseline while the "
    "campaign ran: there was no learned quality to take away"
)

OUTCOMES: tuple[Outcome, ...] = (
    Outcome("final_quality", "platform", "score", "Quality at the last step.",
            lambda m, p, t: float(_col(t, "quality", p.name).iloc[-1]), bounds=AT_MOST_ONE),
    Outcome("quality_change", "platform", "score", "Quality at the end minus at the start.",
            _first_last("quality")),
    Outcome("final_hit_rate", "platform", "share",
            "Hit rate at 10 at the last step (ratings tasks).",
            lambda m, p, t: float(_col(t, "hit_rate", p.name).iloc[-1]), RANKED, bounds=UNIT_RANGE),
    Outcome("final_share", "platform", "share", "Market share at the last step.",
            lambda m, p, t: float(_col(t, "share", p.name).iloc[-1]), bounds=UNIT_RANGE),
    Outcome("share_change", "platform", "share", "Market share at the end minus at the start.",
            _first_last("share"), bounds=SIGNED_SHARE),
    Outcome("mean_revenue", "platform", "utility / step", "Revenue per step over the run.",
            lambda m, p, t: float(_col(t, "revenue", p.name).iloc[1:].mean())),
    Outcome("data_received", "platform", "samples", "Samples routed to it over the run.",
            lambda m, p, t: float(p.received), bounds=NON_NEGATIVE),
    Outcome("unlearning_cost", "platform", "samples", "Samples retrained because of deletions.",
            lambda m, p, t: float(p.unlearning_cost), bounds=NON_NEGATIVE),
    Outcome("dividends_paid", "platform", "utility", "Dividends paid to collectives.",
            lambda m, p, t: float(p.dividends_paid), bounds=NON_NEGATIVE),
    Outcome("countermeasure_cost", "platform", "utility",
            "What filtering poison and incentives to stay cost the platform.",
            lambda m, p, t: float(p.countermeasure_cost), bounds=NON_NEGATIVE),
    Outcome("filter_quality_cost", "platform", "score",
            "Its quality at the last step with its poison filter off (a twin) minus on: "
            "the filter's collateral, net of the poison it kept out (signed).",
            lambda m, p, t: float(_col(t, "filter_quality_cost", p.name).iloc[-1]),
            MEASURED_FILTERS),
    Outcome("data_filtered", "platform", "samples",
            "Samples its poison filter dropped over the run.",
            lambda m, p, t: float(p.filtered), FILTERS, bounds=NON_NEGATIVE),
    Outcome("intervention_quality_effect", "platform", "score",
            "Quality at the last step minus in the twin without the scenario's "
            "interventions: what they changed (signed).",
            _minus_twin("quality"), INTERVENED),
    Outcome("intervention_share_effect", "platform", "share",
            "Market share at the last step minus in the twin without the scenario's "
            "interventions: what they changed (signed).",
            _minus_twin("share"), INTERVENED, bounds=SIGNED_SHARE),
    Outcome("intervention_data_effect", "platform", "samples",
            "Samples routed to it over the run minus in the twin without the scenario's "
            "interventions (signed).",
            lambda m, p, t: float(_col(t, "new_data", p.name).sum()
                                  - _col(t, "new_data_without_interventions", p.name).sum()),
            INTERVENED),
    Outcome("peak_participation", "collective", "share", "Highest share of users acting.",
            lambda m, c, t: float(_col(t, "participation", c.name).max()), bounds=UNIT_RANGE),
    Outcome("mean_leverage", "collective", "share of gap",
            "Mean leverage over the steps the campaign ran (signed).",
            _while_active("leverage"), MEASURED, NO_GAP),
    Outcome("final_leverage", "collective", "share of gap", "Leverage at the last step.",
            _last("leverage"), MEASURED,
            "when the target's model in the twin did not beat the naive baseline "
            "at the last step"),
    Outcome("quality_effect", "collective", "score",
            "Mean quality the campaign took from its target while it ran.",
            _while_active("quality_effect"), MEASURED),
    Outcome("hit_rate_effect", "collective", "share",
            "Mean hit rate at 10 the campaign took from its target while it ran.",
            _while_active("hit_rate_effect"), MEASURED_RANKED, bounds=SIGNED_SHARE),
    Outcome("share_effect", "collective", "share",
            "Mean market share the campaign took from its target while it ran.",
            _while_active("share_effect"), MEASURED, bounds=SIGNED_SHARE),
    Outcome("revenue_effect", "collective", "utility / step",
            "Mean revenue per step the campaign cost its target while it ran.",
            _while_active("revenue_effect"), MEASURED),
    Outcome("worst_group_effect", "collective", "score",
            "The largest quality effect on any user group at the last step (signed: "
            "negative when every group gained).",
            _worst_group, MEASURED_GROUPS),
    Outcome("lift", "collective", "score",
            "Mean quality the campaign gave the platform it redirects to, while it ran.",
            _while_active("lift"), REDIRECTS),
    Outcome("final_signal_success", "collective", "share", "Signal success at the last step.",
            _last("signal_success"), SIGNALS, bounds=UNIT_RANGE),
    Outcome("mean_signal_success", "collective", "share",
            "Mean signal success while the campaign ran.",
            _while_active("signal_success"), SIGNALS, bounds=UNIT_RANGE),
    Outcome("mean_signal_lift", "collective", "share",
            "Mean signal lift (success minus natural success) while the campaign ran.",
            _while_active("signal_lift"), MEASURED_SIGNALS, bounds=SIGNED_SHARE),
    Outcome("final_signal_lift", "collective", "share",
            f"Mean signal lift over the last {FINAL_STEPS} steps (one step's is noisy).",
            _tail_mean("signal_lift", FINAL_STEPS), MEASURED_SIGNALS, bounds=SIGNED_SHARE),
    Outcome("target_recommendation_rate", "collective", "share",
            f"Share of users whose top 10 holds the promoted item, over the last {FINAL_STEPS} "
            "steps (the probe's raters, promoters left out).",
            _tail_mean("target_rate", FINAL_STEPS), PROMOTES, bounds=UNIT_RANGE),
    Outcome("target_recommendation_lift", "collective", "ratio",
            "target_recommendation_rate over the same share in the twin world (1: no effect).",
            _target_lift, MEASURED_PROMOTES,
            empty="when the twin world never recommends the promoted item (a ratio to 0)",
            bounds=NON_NEGATIVE),
    Outcome("concession", "collective", "0/1", "Whether the target conceded the demand.",
            lambda m, c, t: float(c.concession), bounds=UNIT_RANGE),
    Outcome("dividend", "collective", "utility / step",
            "Dividend per step the target agreed to pay (0: none).",
            lambda m, c, t: c.dividend_rate),
    Outcome("dividend_total", "collective", "utility", "Dividends paid to it over the run.",
            lambda m, c, t: c.dividend),
    Outcome("member_cost", "collective", "utility / step",
            "Mean cost per step of the campaign to its members while it ran (twin minus "
            "real payoffs; negative: a gain).",
            _while_active("member_cost"), MEASURED),
    Outcome("member_cost_total", "collective", "utility",
            "What the campaign cost its members over the whole run (twin minus real "
            "payoffs).",
            lambda m, c, t: c.cost, MEASURED),
    Outcome("value", "collective", "score",
            "Shapley value of the collective's data over collectives (exact where cheap, "
            "else a Monte Carlo estimate: abm/valuation.py).",
            lambda m, c, t: c.value, VALUED),
)  # fmt: skip


def outcomes(model: World, table: pd.DataFrame) -> dict[str, float]:
    """Every declared outcome for every entity, as ``{"name[entity]": value}``."""
    out: dict[str, float] = {}
    for o in OUTCOMES:
        for entity in model.platforms if o.per == "platform" else model.collectives:
            if o.applies(model.spec, entity.spec):
                out[column(o.name, entity.name)] = float(o.compute(model, entity, table))
    return out


def outcome_names(scenario: Any) -> list[str]:
    """The outcome columns a scenario's run will produce (for sweeps and comparisons)."""
    return _columns(OUTCOMES, scenario)


def series_names(scenario: Any) -> list[str]:
    """The model-table columns a scenario's run will record (for calibration targets)."""
    return _columns(SERIES, scenario)


def _columns(declared: Any, scenario: Any) -> list[str]:
    """``name[entity]`` for each declared series or outcome where it exists in a scenario."""
    names = []
    for d in declared:
        entities = scenario.platforms if d.per == "platform" else scenario.collectives
        names += [column(d.name, e.name) for e in entities if d.applies(scenario, e)]
    return names


def agent_table(model: World) -> pd.DataFrame:
    """One row per user, read straight from the state arrays."""
    u = model.users
    data: dict[str, Any] = {
        "user": np.arange(model.n_users),
        "group": u.group,
        "platform": pd.Categorical.from_codes(u.platform, [p.name for p in model.platforms]),
        "action": pd.Categorical.from_codes(u.action, [a.name.lower() for a in Action]),
        "threshold": u.threshold,
        "contributed": u.contributed,
        "data_value": u.value,
        "dividend": u.dividend,
        "degree": model.degree.astype(np.int64),
    }
    for c in model.collectives:
        data[f"member[{c.name}]"] = u.member[:, c.index]
        data[f"acting[{c.name}]"] = u.acting[:, c.index]
    return pd.DataFrame(data)


def reference_markdown() -> str:
    """The outputs reference: every series and outcome, its unit, meaning and where it exists.

    ``abm outputs`` prints it; ``docs/outputs.md`` is generated from it.
    """
    lines = [
        "<!-- generated by `abm outputs > docs/outputs.md`; do not edit by hand -->",
        "# Outputs reference",
        "",
        "Columns are named `name[entity]`, the entity being a platform or a collective of the",
        "scenario. Series are the columns of `model.csv` (one row per step); outcomes are the",
        "columns of `outcomes.csv` (one value per run), which sweeps and comparisons read.",
        "A series or outcome exists only where it is defined (column *where*): a series",
        "that does not exist for a run is no column of its `model.csv`. An outcome that",
        "exists may still be undefined in a run (its meaning says when): it is then empty",
        "(a blank cell, NaN), never 0, and the report says why. Collective outcomes are per",
        "step (a level, or a mean per step while the campaign ran); cumulative totals end",
        "in `_total`.",
    ]
    head = ["", "| name | per | unit | where | meaning |", "|---|---|---|---|---|"]
    for title, table in (("Series (model.csv)", SERIES), ("Outcomes (outcomes.csv)", OUTCOMES)):
        lines += ["", f"## {title}", *head]
        for d in table:
            meaning = d.meaning + (f" Empty {d.empty}." if getattr(d, "empty", "") else "")
            lines.append(f"| `{d.name}` | {d.per} | {d.unit} | {d.applies.label} | {meaning} |")
    lines += ["", "## Bargaining rounds (bargaining.csv)", "",
              "One row per round (docs/model.md, Bargaining); the report's table shows the "
              "headers in words.", "",
              "| column | header | unit | meaning |", "|---|---|---|---|"]  # fmt: skip
    lines += [f"| `{c.name}` | {c.header} | {c.unit} | {c.meaning} |" for c in ROUND_TABLE]
    return "\n".join(lines)
