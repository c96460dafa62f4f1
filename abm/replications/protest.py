"""Protest users (Li et al., CSCW 2019): who boycotts, and how protesters protest.

Modelling assumptions: a boycotter weighs the ties it loses by leaving against the best
alternative platform (``exit_cost_weight``); the scenario is rerun on the same seeds at
several tie weights and with the alternative removed (``protest_users``). A protester
picks stop, withhold, switch or stay by the ties it keeps on each platform, the
alternative and the outside option (``behaviour.tactic_values``); the reference
scenario's share and tactic order are compared with the survey's over seeds, the share
against the survey's own sampling interval (``protest_repertoire``).
"""

from __future__ import annotations

import math
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
from abm.scenario import Scenario, load_scenario, with_overrides

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


# ------------------------------------------------------------ protest repertoires

REPERTOIRE_SEEDS = 20  # the fast mode too: a run takes well under a second
REPERTOIRE_WINDOW = 10  # last steps averaged: the campaign settles within 10 of its start
SURVEY_SHARE, SURVEY_N = 0.30, 463  # Li et al. (CSCW 2019): protesting at least one company
TACTICS = ("stopping", "withholding", "switching")  # the survey's order, most common first
# Other settings the order is rerun at (full mode): the assumed constants it rests on.
REPERTOIRE_SENSITIVITY = (
    ("protest.relief", 0.3), ("protest.relief", 0.5),
    ("population.switching_cost", 0.3), ("population.switching_cost", 0.7),
)  # fmt: skip


def wilson_interval(p: float, n: int, z: float = 1.959964) -> tuple[float, float]:
    """The 95% Wilson score interval of a share ``p`` observed in a sample of ``n``."""
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


@lru_cache(maxsize=256)
def _repertoire(scenario_json: str, seed: int) -> tuple[float, ...]:
    """The share of all users protesting, then by tactic, over the run's last steps."""
    from abm.runner import simulate

    spec = Scenario.model_validate_json(scenario_json)
    name = spec.collectives[0].name
    late = simulate(spec, seed=seed).model_table.iloc[-REPERTOIRE_WINDOW:]
    return tuple(float(late[f"{k}[{name}]"].mean()) for k in ("participation", *TACTICS))


def _repertoire_table(spec: Scenario, seeds: list[int]) -> pd.DataFrame:
    world = spec.model_dump_json()
    rows = [(s, *_repertoire(world, s)) for s in seeds]
    return pd.DataFrame(rows, columns=["seed", "share", *TACTICS])


def _in_order(table: pd.DataFrame) -> tuple[bool, tuple, tuple]:
    """Stopping > withholding > switching, each difference > 0 at 95% (paired seeds)."""
    first = interval(table.stopping - table.withholding)
    second = interval(table.withholding - table.switching)
    return above(first) and above(second), first, second


def _order_elsewhere(spec: Scenario, seeds: list[int]) -> list[tuple[str, bool]]:
    """Whether the order holds with each assumed constant moved (``REPERTOIRE_SENSITIVITY``)."""
    name = spec.collectives[0].name
    out = []
    for setting, value in REPERTOIRE_SENSITIVITY:
        path = f"collectives.{name}.{setting}" if setting.startswith("protest.") else setting
        moved = _repertoire_table(with_overrides(spec, {path: value}), seeds)
        out.append((f"{setting.split('.')[-1]} {value}", _in_order(moved)[0]))
    return out


def protest_repertoire(path: Path, fast: bool, ablate: bool) -> Result:
    """The share who protest and the mix of their tactics, against the survey.

    The reference scenario (every user a member of a protest against the dominant
    platform) is run on independent seeds; the share of all users protesting, averaged
    over the last steps, must have its 95% interval inside the survey's 95% sampling
    interval (Wilson, n = 463), and stopping > withholding > switching must hold with
    each paired difference > 0 at 95%. In full mode the order is rerun at other values
    of the two assumed constants it rests on (withholding's relief, the switching cost).
    Ablated, ties are not weighed (``network_weight`` 0).
    """
    # No twin: the shares are the real world's, and a twin never changes them (common
    # random numbers), it would only cost a second world per run.
    spec = with_overrides(load_scenario(path), {"measurement.twins": "off"})
    if ablate:
        spec = with_overrides(spec, {"population.network_weight": 0.0})
    seeds = spawn_seeds(spec.seed, REPERTOIRE_SEEDS)
    table = _repertoire_table(spec, seeds)
    share = interval(table.share)
    low, high = wilson_interval(SURVEY_SHARE, SURVEY_N)
    inside = bool(low <= share[1] and share[2] <= high)
    ordered, first, second = _in_order(table)
    mix = {k: interval(table[k]) for k in TACTICS}
    checks = [] if fast or ablate else _order_elsewhere(spec, seeds)
    return make_result(
        About("protest_repertoire",
               "Protest repertoires: how many protest, and how (stop > withhold > switch)",
               "quantitative"), share,
        published=f"{SURVEY_SHARE:.0%} of respondents protested at least one of five large "
        f"technology companies (95% sampling interval {low:.3f}-{high:.3f} at n = "
        f"{SURVEY_N}); stopping use was the most common tactic, then blocking ads and "
        "tracking, ahead of switching (order only: the shares are not recorded)",
        obtained=f"share protesting {ci_text(share)}; stopping {ci_text(mix['stopping'])}, "
        f"withholding {ci_text(mix['withholding'])}, switching {ci_text(mix['switching'])}; "
        f"stopping minus withholding {ci_text(first)}, withholding minus switching "
        f"{ci_text(second)}" + "".join(
            f"; order at {label}: {'holds' if ok else 'fails'}" for label, ok in checks),
        tolerance="the share's interval inside the survey's; both differences > 0 (95%)",
        passed=inside and ordered, table=table, figure=_repertoire_figure(mix, share, low, high),
    )  # fmt: skip


def _repertoire_figure(mix: dict, share: tuple, low: float, high: float):
    fig, (ax,) = new_figure("Protest repertoires: the share who protest, by tactic")
    names = ["all tactics", *mix]
    cis = [share, *mix.values()]
    ax.bar(names, [c[0] for c in cis], yerr=[[c[0] - c[1] for c in cis],
           [c[2] - c[0] for c in cis]], color=["C0", "C3", "C1", "C2"], capsize=4)  # fmt: skip
    ax.axhspan(low, high, color="0.85", zorder=0, label="survey: 30%, 95% sampling interval")
    ax.set(ylabel="share of all users (mean over seeds, 95% CI)")
    ax.legend(fontsize=8)
    return fig
