"""Protest users: who boycotts, by the weight of social ties and the alternatives.

Modelling assumption: a boycotter weighs the ties it loses by leaving against the best
alternative platform (``exit_cost_weight``); the scenario is rerun on the same seeds at
several tie weights and with the alternative removed (Li et al., CSCW 2019).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

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
from abm.scenario import Scenario, load_scenario

PROTEST_SEEDS, PROTEST_SEEDS_FAST = 8, 4
PROTEST_WEIGHTS, PROTEST_WEIGHTS_FAST = (0.1, 0.25, 0.5, 0.75, 1.0), (0.1, 1.0)


@lru_cache(maxsize=128)
def _boycott_share(scenario_json: str, seed: int) -> float:
    """Share of the collective's members boycotting, averaged while the campaign runs."""
    from abm.runner import simulate

    spec = Scenario.model_validate_json(scenario_json)
    c = spec.collectives[0]
    table = simulate(spec, seed=seed).model_table
    return float(table[f"turnout[{c.name}]"].iloc[c.start + 1 :].mean())


def _protest_world(spec: Scenario, weight: float, alternative: bool, ablate: bool) -> str:
    """The scenario at a tie weight, with or without the alternative platform (as JSON)."""
    pop = spec.population.model_copy(
        update={"network_weight": weight, "exit_cost_weight": 0.0 if ablate else 1.0}
    )
    target = spec.collectives[0].target
    alone = [p.model_copy(update={"initial_share": 1.0}) for p in spec.platforms
             if p.name == target]  # fmt: skip
    platforms = list(spec.platforms) if alternative else alone
    return spec.model_copy(update={"population": pop, "platforms": platforms}).model_dump_json()


def protest_users(path: Path, fast: bool, ablate: bool) -> Result:
    """The share of members who boycott, by tie weight and with or without an alternative.

    The scenario is rerun on the same seeds at several ``network_weight`` values (with the
    alternative platform) and, at the file's own weight, with the alternative removed
    (every user on the target). The share at the lowest weight minus the share at the
    highest, and with the alternative minus without it, must both be > 0 at 95%.
    Ablated, members ignore the cost of leaving (``exit_cost_weight`` 0).
    """
    spec = load_scenario(path)
    weights = PROTEST_WEIGHTS_FAST if fast else PROTEST_WEIGHTS
    base_w = spec.population.network_weight
    rows = []
    for s in spawn_seeds(spec.seed, PROTEST_SEEDS_FAST if fast else PROTEST_SEEDS):
        row = {"seed": s, "no_alternative": _boycott_share(
            _protest_world(spec, base_w, False, ablate), s)}  # fmt: skip
        for w in sorted({*weights, base_w}):
            row[w] = _boycott_share(_protest_world(spec, w, True, ablate), s)
        rows.append(row)
    table = pd.DataFrame(rows)
    ties = interval(table[weights[0]] - table[weights[-1]])
    alt = interval(table[base_w] - table.no_alternative)
    cis = {w: interval(table[w]) for w in sorted({*weights, base_w})}
    fig, (ax,) = new_figure("Protest users: who boycotts, by tie weight and alternative")
    ax.errorbar(list(cis), [c[0] for c in cis.values()], yerr=[[c[0] - c[1] for c in
                cis.values()], [c[2] - c[0] for c in cis.values()]], fmt="o-",
                label="with an alternative platform (95% CI)")  # fmt: skip
    none = interval(table.no_alternative)
    ax.errorbar([base_w], [none[0]], yerr=[[none[0] - none[1]], [none[2] - none[0]]], fmt="s",
                color="C3", label="no alternative platform")  # fmt: skip
    ax.set(xlabel="network_weight (utility of social ties)", ylabel="share of members boycotting")
    ax.legend(fontsize=8)
    return make_result(
        About("protest_users", "Protest users: ties and no alternative hold boycotters back",
               "directional"), ties,
        published="the share who boycott falls as the weight of social ties rises and when "
        "no alternative platform exists",
        obtained=f"share at weight {weights[0]} minus at {weights[-1]} {ci_text(ties)}; with an "
        f"alternative minus without (weight {base_w}) {ci_text(alt)}; share by weight: "
        + ", ".join(f"{w} {ci_text(c)}" for w, c in cis.items())
        + f"; no alternative {ci_text(none)}",
        tolerance="both differences > 0 (95%)",
        passed=above(ties) and above(alt), table=table.rename(columns=str), figure=fig,
    )  # fmt: skip
