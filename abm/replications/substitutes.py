"""An AI substitute drains a commons: the size and shape of the decline.

Modelling assumption: nothing is calibrated. Adopters of the substitute (the reach per
month, from the scenario file's sources) ask it instead of contributing to the commons;
its quality is the commons' own in the week before the release. The fall in weekly
contributions is measured against the twin world without the substitute (same seed),
with the paper's difference in differences beside it (del Rio-Chanona et al., PNAS Nexus 2024).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from abm.replications.common import (
    About,
    Result,
    above,
    ci_text,
    interval,
    make_result,
    near,
    new_figure,
    spawn_seeds,
)
from abm.scenario import Scenario, load_scenario

AI_PUBLISHED_MEAN = 0.16  # mean fall in weekly posts over the post-release period
AI_PUBLISHED_LATE = 0.25  # the fall about six months after the release
AI_TOLERANCE = 0.05
AI_WINDOW = 26  # weekly steps after the release (six months)
AI_PHASE_WEEKS = 4  # the first and the last month of the window, for the gap's growth
AI_SEEDS, AI_SEEDS_FAST = 10, 5
AI_BETTER = 0.05  # out of sample: a substitute this much better (a topic with more data)


def _ai_events(spec: Scenario) -> list[int]:
    """Indices of the ``ai_substitute`` events (the adoption curve, one per month)."""
    return [i for i, e in enumerate(spec.events) if e.action.value == "ai_substitute"]


def _ai_world(spec: Scenario, quality: float | None, seed: int) -> pd.DataFrame:
    """The model table with the substitute at ``quality`` (None: no substitute at all)."""
    from abm.runner import simulate

    ai = set(_ai_events(spec))
    events = [e if i not in ai else e.model_copy(update={"quality": quality})
              for i, e in enumerate(spec.events) if quality is not None or i not in ai]  # fmt: skip
    return simulate(spec.model_copy(update={"events": events}), seed=seed).model_table


def _ai_seed(spec: Scenario, seed: int, ablate: bool) -> dict:
    """One seed: the twin without the substitute, the world with it, and a better one.

    The substitute's quality is the commons' quality in the week before the release (read
    from the twin, whose past is the same world's). The weekly fall is one minus the
    commons' new data over the twin's, same seed; the paper's estimator (a difference in
    differences against the control platform inside the world) is kept beside it.
    """
    commons = spec.events[_ai_events(spec)[0]].platform
    control = next(p.name for p in spec.platforms if p.name != commons)
    at = spec.events[_ai_events(spec)[0]].at
    twin = _ai_world(spec, None, seed)
    parity = float(twin[f"quality[{commons}]"].loc[at - 1])
    world = twin if ablate else _ai_world(spec, parity, seed)
    better = twin if ablate else _ai_world(spec, min(parity + AI_BETTER, 1.0), seed)
    # The release at step ``at`` first shows in the table's row ``at + 1``.
    weeks = slice(at + 1, at + AI_WINDOW)
    new, base = world[f"new_data[{commons}]"].loc[weeks], twin[f"new_data[{commons}]"].loc[weeks]
    early = slice(at + 1, at + AI_PHASE_WEEKS)
    late = slice(at + AI_WINDOW - AI_PHASE_WEEKS + 1, at + AI_WINDOW)
    pre = slice(at - 9, at)
    did = (new.sum() / world[f"new_data[{control}]"].loc[weeks].sum()) / (
        world[f"new_data[{commons}]"].loc[pre].sum() / world[f"new_data[{control}]"].loc[pre].sum()
    )
    q = f"quality[{commons}]"
    return {
        "seed": seed, "parity_quality": parity,
        "fall_mean": 1.0 - new.sum() / base.sum(),
        "fall_first_month": 1.0 - new.loc[early].sum() / base.loc[early].sum(),
        "fall_six_months": 1.0 - new.loc[late].sum() / base.loc[late].sum(),
        "fall_better": 1.0 - better[f"new_data[{commons}]"].loc[weeks].sum() / base.sum(),
        "did_vs_control": 1.0 - did,
        "quality_effect": float((world[q].loc[weeks] - twin[q].loc[weeks]).mean()),
        "weekly": (1.0 - new / base).to_numpy(), "week": np.arange(1, AI_WINDOW + 1),
        "world": world, "twin": twin, "commons": commons,
    }  # fmt: skip


def _ai_figure(runs: list[dict], at: int) -> Figure:
    """Weekly fall against the twin (mean and band over seeds) and one seed's flows."""
    fig, (ax, bx) = new_figure(
        "Contributions to the commons fall after an AI substitute appears", 2
    )
    weekly = np.array([r["weekly"] for r in runs])
    ax.plot(runs[0]["week"], weekly.mean(axis=0), label="simulated (mean over seeds)")
    low, high = np.percentile(weekly, [2.5, 97.5], axis=0)
    ax.fill_between(runs[0]["week"], low, high, alpha=0.2, label="seeds, 2.5-97.5%")
    ax.axhline(AI_PUBLISHED_MEAN, color="grey", ls="--", label="published mean (16%)")
    ax.plot([AI_WINDOW], [AI_PUBLISHED_LATE], "kx", label="published at six months (25%)")
    ax.set(xlabel="weeks after the release", ylabel="fall in weekly contributions vs twin")
    ax.legend(fontsize=8)
    name = runs[0]["commons"]
    for table, style, label in ((runs[0]["world"], "-", "with substitute"),
                                (runs[0]["twin"], "--", "twin without")):  # fmt: skip
        bx.plot(table.index, table[f"new_data[{name}]"].rolling(3, min_periods=1).mean(), style,
                label=label)  # fmt: skip
    bx.axvline(at, color="grey", lw=0.8)
    bx.set(xlabel="week", ylabel=f"new samples per week at {name} (3-week mean)")
    bx.legend(fontsize=8)
    return fig


def ai_substitute(path: Path, fast: bool, ablate: bool) -> Result:
    """The fall in weekly contributions against a twin without the substitute: size, shape.

    Nothing is calibrated: the adoption curve (``reach`` per month) is in the scenario
    file with its sources, and the substitute's quality is the commons' own in the week
    before the release. Checks: the mean fall over the 26 weeks after the release near
    16% and the fall in the last month near 25% (each published number within the
    tolerance of its interval over seeds), the gap growing (last month minus first month
    > 0 at 95%), and, out of sample, a better substitute drawing more away (paired > 0).
    Ablated, no substitute is released: the world is its twin and every fall is 0.
    """
    spec = load_scenario(path)
    if not _ai_events(spec):
        raise ValueError(f"{path}: events: an ai_substitute event")
    at = spec.events[_ai_events(spec)[0]].at
    if at < 10 or at + AI_WINDOW > spec.steps:
        raise ValueError(f"{path}: steps: at least {at + AI_WINDOW} (and the release at >= 10)")
    seeds = spawn_seeds(spec.seed, AI_SEEDS_FAST if fast else AI_SEEDS)
    runs = [_ai_seed(spec, s, ablate) for s in seeds]
    table = pd.DataFrame([{k: v for k, v in r.items() if np.isscalar(v) and k != "commons"}
                          for r in runs])  # fmt: skip
    mean, late = interval(table.fall_mean), interval(table.fall_six_months)
    grows = interval(table.fall_six_months - table.fall_first_month)
    more = interval(table.fall_better - table.fall_mean)
    did, behind = interval(table.did_vs_control), interval(table.quality_effect)
    sized = near(AI_PUBLISHED_MEAN, mean, AI_TOLERANCE) and near(
        AI_PUBLISHED_LATE, late, AI_TOLERANCE
    )
    ok = sized and above(grows) and above(more)
    return make_result(
        About("ai_substitute", "An AI substitute drains a commons: size and shape of the decline",
               "quantitative"), mean,
        published=f"weekly posts fall {AI_PUBLISHED_MEAN:.0%} on average over the post period "
        f"(difference in differences), about {AI_PUBLISHED_LATE:.0%} six months after; the gap "
        "grows; larger where the substitute is better",
        obtained=f"vs twin, no parameter tuned: mean fall {ci_text(mean)}; last month "
        f"{ci_text(late)}; "
        f"last minus first month {ci_text(grows)}; a substitute {AI_BETTER} better: larger by "
        f"{ci_text(more)}; within-world DiD vs control {ci_text(did)}; commons' quality vs twin "
        f"{ci_text(behind, 4)}",
        tolerance=f"{AI_PUBLISHED_MEAN} and {AI_PUBLISHED_LATE} each within {AI_TOLERANCE} of "
        "its interval; growth and the better substitute's extra fall > 0 (95%)",
        passed=bool(ok), table=table, figure=_ai_figure(runs, at),
    )  # fmt: skip
