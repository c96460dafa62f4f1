"""Leverage in the agent-based model: who a strike hurts, which lever closes most gap.

Modelling assumption: a campaign's effect is measured by the model itself (a run with
the collective against a control run without it, or the twin world in lockstep, same
seed), so these replications test the simulator's mechanics (routing, retraining per
group, the receiver's lift) rather than a learning curve. Vincent & Hecht (CSCW 2021)
for strike plus CDC; Vincent, Hecht & Sen (WWW 2019) for the group strike.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from abm.replications.common import (
    About,
    Result,
    above,
    ci_text,
    interval,
    make_result,
    new_figure,
    spawn_seeds,
)
from abm.scenario import Lever, Scenario, load_scenario

GROUP_STRIKE_SEEDS = 12
GROUP_STRIKE_SEEDS_FAST = 6


@lru_cache(maxsize=64)
def _group_quality(scenario_json: str, seed: int) -> pd.DataFrame:
    """Per-group quality of one run (cached: the ablated run reuses the control arm)."""
    from abm.runner import simulate

    return simulate(Scenario.model_validate_json(scenario_json), seed=seed).groups


def group_strike(path: Path, fast: bool, ablate: bool) -> Result:
    """One group (whose data favours one class) strikes: whose quality falls most?"""
    spec = load_scenario(path)
    group = spec.collectives[0].group
    control = spec.model_copy(update={"collectives": [], "name": f"{spec.name}_control"})
    arms = (("strike", control if ablate else spec), ("control", control))
    n = GROUP_STRIKE_SEEDS_FAST if fast else GROUP_STRIKE_SEEDS
    rows = []
    for s in spawn_seeds(spec.seed, n):
        for arm, scenario in arms:
            g = _group_quality(scenario.model_dump_json(), s)
            last = g[(g.step == g.step.max()) & (g.platform == spec.collectives[0].target)]
            rows += [{"seed": s, "arm": arm, "group": int(r.group), "quality": r.quality}
                     for r in last.itertuples()]  # fmt: skip
    per = pd.DataFrame(rows).pivot_table(index=["seed", "group"], columns="arm",
                                         values="quality")  # fmt: skip
    drop = (per.control - per.strike).unstack("group")
    own = interval(drop[group])
    margin = interval(drop[group] - drop.drop(columns=group).max(axis=1))
    table = pd.DataFrame({"group": drop.columns, "drop": drop.mean().values})
    fig, (ax,) = new_figure(spec.question or spec.name)
    ax.bar(table.group, table["drop"], color=["C3" if g == group else "C0" for g in table.group])
    ax.set(xlabel="user group", ylabel="quality lost vs the same seeds without a strike")
    return make_result(
        About("group_strike", "A homogeneous group's strike hurts that group most",
               "directional"), margin,
        published="strikes by a homogeneous group hurt that group most",
        obtained=f"striking group's loss minus the largest other group's {ci_text(margin)}; its "
        f"own loss {ci_text(own)}",
        tolerance="that margin > 0 (95%)",
        passed=above(margin) and above(own), table=table, figure=fig,
    )  # fmt: skip


STRIKE_CDC_SEEDS, STRIKE_CDC_SEEDS_FAST = 64, 4
STRIKE_CDC_LEVERS = ("strike", "cdc", "strike_cdc")


@lru_cache(maxsize=64)
def _gap_closed(scenario_json: str, seed: int) -> float:
    """Incumbent's quality effect plus the challenger's lift against the twin world."""
    from abm.runner import simulate

    spec = Scenario.model_validate_json(scenario_json)
    if not spec.collectives:  # an empty campaign's twin is the real world: no effect
        return 0.0
    name = spec.collectives[0].name
    out = simulate(spec, seed=seed).outcomes
    lift = out.get(f"lift[{name}]", 0.0)
    return float(out[f"quality_effect[{name}]"] + (lift if np.isfinite(lift) else 0.0))


def strike_plus_cdc(path: Path, fast: bool, ablate: bool) -> Result:
    """The same collective strikes, contributes (CDC), or both: which closes most gap?

    Effects come from the model's twin worlds (same seed, the collective acting as
    ordinary users): the incumbent's quality effect (twin minus real) plus the
    challenger's lift (real minus twin), averaged while the campaign runs. Both must
    beat each lever alone, paired by seed, at 95%. Ablated, the collective does not act.
    """
    spec = load_scenario(path)
    base = spec.collectives[0]
    n = STRIKE_CDC_SEEDS_FAST if fast else STRIKE_CDC_SEEDS
    rows = []
    for s in spawn_seeds(spec.seed, n):
        row = {"seed": s}
        for lever in STRIKE_CDC_LEVERS:
            c = base.model_copy(update={"lever": Lever(lever)})
            variant = spec.model_copy(update={"collectives": [] if ablate else [c]})
            row[lever] = _gap_closed(variant.model_dump_json(), s)
        rows.append(row)
    table = pd.DataFrame(rows)
    vs_cdc = interval(table.strike_cdc - table.cdc)
    vs_strike = interval(table.strike_cdc - table.strike)
    cis = {lever: interval(table[lever]) for lever in STRIKE_CDC_LEVERS}
    fig, (ax,) = new_figure(spec.question or spec.name)
    means = [c[0] for c in cis.values()]
    errors = [[c[0] - c[1] for c in cis.values()], [c[2] - c[0] for c in cis.values()]]
    ax.bar(list(cis), means, yerr=errors)
    ax.set(ylabel="gap closed: incumbent's quality effect + challenger's lift")
    return make_result(
        About("strike_plus_cdc", "Strike plus CDC is the strongest lever", "directional"),
        vs_cdc,
        published="strike plus CDC together is the strongest lever (vs CDC alone, strike alone)",
        obtained=f"both minus CDC alone {ci_text(vs_cdc)}; both minus strike alone "
        f"{ci_text(vs_strike)}; gap closed: "
        + ", ".join(f"{k} {ci_text(v)}" for k, v in cis.items()),
        tolerance="both differences > 0 (95%)",
        passed=above(vs_cdc) and above(vs_strike), table=table, figure=fig,
    )  # fmt: skip
