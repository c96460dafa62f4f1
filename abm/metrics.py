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

from abm.behaviour import Action

if TYPE_CHECKING:
    from abm.model import LeverageModel

Per = Literal["platform", "collective"]


@dataclass(frozen=True)
class Series:
    """A quantity recorded every step for each platform or collective."""

    name: str
    per: Per
    unit: str
    meaning: str
    read: Callable[[LeverageModel, Any], float]


@dataclass(frozen=True)
class Outcome:
    """An end-of-run scalar for each platform or collective."""

    name: str
    per: Per
    unit: str
    meaning: str
    compute: Callable[[LeverageModel, Any, pd.DataFrame], float]


def _users_on(model: LeverageModel, p: Any) -> float:
    return float(np.count_nonzero(model.users.platform == p.index))


SERIES: tuple[Series, ...] = (
    Series("quality", "platform", "score", "Held-out quality of the platform's model.",
           lambda m, p: p.quality),
    Series("users", "platform", "users", "Users on the platform.", _users_on),
    Series("share", "platform", "share", "Market share: users on it / all users.",
           lambda m, p: _users_on(m, p) / m.n_users),
    Series("data", "platform", "samples", "Samples in the platform's pool.",
           lambda m, p: float(len(p.pool))),
    Series("new_data", "platform", "samples", "Samples routed to it this step.",
           lambda m, p: float(p.new_samples)),
    Series("unlearning_cost", "platform", "samples", "Samples retrained for deletions, cumulative.",
           lambda m, p: float(p.unlearning_cost)),
    Series("members", "collective", "share", "Share of users who are members.",
           lambda m, c: float(c.members.mean())),
    Series("participation", "collective", "share", "Share of users acting in the campaign.",
           lambda m, c: c.participation),
    Series("turnout", "collective", "share", "Share of members acting.",
           lambda m, c: c.turnout),
    Series("active", "collective", "0/1", "Whether the campaign is running.",
           lambda m, c: float(c.active)),
    Series("counterfactual_quality", "collective", "score",
           "Quality the target would have had with the collective contributing normally.",
           lambda m, c: c.shadow.quality if c.shadow is not None else float("nan")),
    Series("leverage", "collective", "share of gap",
           "Share of the target's gap over the naive baseline the action removes.",
           lambda m, c: c.leverage),
    Series("dividend", "collective", "utility", "Dividend won by bargaining, cumulative.",
           lambda m, c: c.dividend),
    Series("signal_success", "collective", "share",
           "Share of triggered held-out points the target labels as the collective wants.",
           lambda m, c: c.signal_success),
)  # fmt: skip


def column(series: str, entity: str) -> str:
    """The model-table column of a series for one entity."""
    return f"{series}[{entity}]"


GROUP_TABLE = "group_quality"


def build_datacollector(model: LeverageModel) -> mesa.DataCollector:
    """A DataCollector: a model reporter per series and entity, a table per group."""
    reporters: dict[str, Callable[[LeverageModel], float]] = {}
    for s in SERIES:
        for entity in model.platforms if s.per == "platform" else model.collectives:
            reporters[column(s.name, entity.name)] = _bind(s.read, entity)
    return mesa.DataCollector(
        model_reporters=reporters,
        tables={GROUP_TABLE: ["step", "platform", "group", "quality"]},
    )


def collect(model: LeverageModel) -> None:
    """Record the step: every series, and quality per platform and user group."""
    model.datacollector.collect(model)
    for p in model.platforms:
        for g, q in enumerate(p.group_quality):
            model.datacollector.add_table_row(
                GROUP_TABLE, {"step": model.steps, "platform": p.name, "group": g, "quality": q}
            )


def _bind(read: Callable, entity: Any) -> Callable[[LeverageModel], float]:
    return lambda m: read(m, entity)


def _col(table: pd.DataFrame, series: str, name: str) -> pd.Series:
    return table[column(series, name)]


def _first_last(series: str) -> Callable:
    def delta(m: LeverageModel, e: Any, table: pd.DataFrame) -> float:
        s = _col(table, series, e.name)
        return float(s.iloc[-1] - s.iloc[0])

    return delta


OUTCOMES: tuple[Outcome, ...] = (
    Outcome("final_quality", "platform", "score", "Quality at the last step.",
            lambda m, p, t: float(_col(t, "quality", p.name).iloc[-1])),
    Outcome("quality_change", "platform", "score", "Quality at the end minus at the start.",
            _first_last("quality")),
    Outcome("final_share", "platform", "share", "Market share at the last step.",
            lambda m, p, t: float(_col(t, "share", p.name).iloc[-1])),
    Outcome("share_change", "platform", "share", "Market share at the end minus at the start.",
            _first_last("share")),
    Outcome("data_received", "platform", "samples", "Samples routed to it over the run.",
            lambda m, p, t: float(p.received)),
    Outcome("unlearning_cost", "platform", "samples", "Samples retrained because of deletions.",
            lambda m, p, t: float(p.unlearning_cost)),
    Outcome("dividends_paid", "platform", "utility", "Dividends conceded to collectives.",
            lambda m, p, t: float(p.dividends_paid)),
    Outcome("countermeasure_cost", "platform", "utility",
            "What filtering poison and incentives to stay cost the platform.",
            lambda m, p, t: float(p.countermeasure_cost)),
    Outcome("peak_participation", "collective", "share", "Highest share of users acting.",
            lambda m, c, t: float(_col(t, "participation", c.name).max())),
    Outcome("mean_leverage", "collective", "share of gap",
            "Mean measured leverage over the steps it was measured while active.",
            lambda m, c, t: _mean_active_leverage(t, c.name)),
    Outcome("final_leverage", "collective", "share of gap", "Last measured leverage.",
            lambda m, c, t: float(c.leverage)),
    Outcome("concession", "collective", "0/1", "Whether the target conceded the demand.",
            lambda m, c, t: float(c.concession)),
    Outcome("dividend", "collective", "utility", "Dividend won.", lambda m, c, t: c.dividend),
    Outcome("member_cost", "collective", "utility", "What acting cost the members, cumulative.",
            lambda m, c, t: c.cost),
    Outcome("value", "collective", "score",
            "Shapley value of the collective's data (exact, over collectives).",
            lambda m, c, t: c.value),
)  # fmt: skip


def _mean_active_leverage(table: pd.DataFrame, name: str) -> float:
    lev = _col(table, "leverage", name)
    active = _col(table, "active", name) > 0
    values = lev[active].dropna()
    return float(values.mean()) if len(values) else float("nan")


def outcomes(model: LeverageModel, table: pd.DataFrame) -> dict[str, float]:
    """Every declared outcome for every entity, as ``{"name[entity]": value}``."""
    out: dict[str, float] = {}
    for o in OUTCOMES:
        for entity in model.platforms if o.per == "platform" else model.collectives:
            out[column(o.name, entity.name)] = float(o.compute(model, entity, table))
    return out


def outcome_names(scenario: Any) -> list[str]:
    """The outcome columns a scenario's run will produce (for sweeps and comparisons)."""
    names = []
    for o in OUTCOMES:
        entities = scenario.platforms if o.per == "platform" else scenario.collectives
        names += [column(o.name, e.name) for e in entities]
    return names


def agent_table(model: LeverageModel) -> pd.DataFrame:
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
