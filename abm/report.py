"""A self-contained HTML report of one run, written for a policy analyst.

The report answers the scenario's question with what the run measured: leverage, the
change in each platform's model quality, market shares, participation, the bargaining
outcome, the value of each collective's data, and who paid what (members' cost of
acting; platforms' dividends, unlearning and countermeasures). Plots are embedded as
base64 SVG images and there is no script or external link, so the file reads offline and can
be mailed as is. Every number comes from the run's declared outcomes and tables; the
report computes nothing new.

It opens with one plain sentence per collective (or per platform when there is none)
answering the scenario's question: the number, its unit and, when replicates ran, its
95% interval. An outcome that does not apply is a dash, and the report says why.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import math
import re
from pathlib import Path
from typing import Any

import pandas as pd

from abm import twins
from abm.bargaining import ROUND_TABLE, holds_for
from abm.levers import LEVERS
from abm.metrics import FINAL_STEPS, OUTCOMES
from abm.runner import RunResult
from abm.scenario import EventAction, Scenario, dump_scenario
from abm.viz import series, svg
from abm.words import plural, possessive

STYLE = """
body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;color:#222;line-height:1.4}
h1{font-size:1.5em} h2{font-size:1.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0;max-width:100%}
td,th{border-bottom:1px solid #ddd;padding:4px 10px;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.plots img{width:48%;margin:1%} .muted{color:#666} .question,.answer{font-size:1.1em}
.changes{background:#fff6dd;padding:.4em .6em}
pre{background:#f6f6f6;padding:1em;overflow-x:auto;font-size:.85em}
"""

PLATFORM_COLUMNS = [
    # (outcome, header)
    ("quality_change", "quality change"),
    ("final_quality", "final quality"),
    ("final_share", "final market share"),
    ("share_change", "share change"),
    ("data_received", "samples received"),
]
COLLECTIVE_COLUMNS = [  # rows of the collectives table (one column per collective)
    ("peak_participation", "peak participation (share of users)"),
    ("mean_leverage", "mean leverage (share of the gap)"),
    ("quality_effect", "quality taken (score)"),
    ("share_effect", "market share taken"),
    ("revenue_effect", "revenue taken (utility per step)"),
    ("lift", "receiver's lift (score)"),
    ("mean_signal_lift", "signal lift over chance (share)"),
    ("concession", "target conceded"),
    ("dividend", "dividend won (utility per step)"),
    ("value", "value of its data (Shapley, score)"),
]


def fmt(value: float) -> str:
    """A number as shown in the report (4 significant digits, a dash for NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.4g}"


def _table(header: list[str], rows: list[list[str]], numeric_from: int = 1) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td class=num>{c}</td>" if i >= numeric_from else f"<td>{c}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _outcome(result: RunResult, name: str, entity: str) -> float:
    """An outcome's value: the mean over replicates when they ran (``result.extra``)."""
    summary = result.extra.get("summary")
    key = f"{name}[{entity}]"
    if summary is not None:
        row = summary[summary["outcome"] == key]
        return float(row["mean"].iloc[0]) if len(row) else float("nan")
    return result.outcomes.get(key, float("nan"))


def _interval(result: RunResult, key: str) -> tuple[float, float, float] | None:
    """(mean, low, high) of an outcome; the bounds are NaN for a single run."""
    summary = result.extra.get("summary")
    if summary is not None:
        row = summary[summary["outcome"] == key]
        if not len(row):
            return None
        r = row.iloc[0]
        return float(r["mean"]), float(r["low"]), float(r["high"])
    if key not in result.outcomes:
        return None
    return result.outcomes[key], math.nan, math.nan


UNITS = {o.name: o.unit for o in OUTCOMES}
OUTCOMES_BY_NAME = {o.name: o for o in OUTCOMES}


def _short(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.2g}" if abs(value) < 0.01 and value != 0 else f"{value:.3g}"


def _percent(value: float) -> str:
    v = 100 * value
    return f"{v:.0f}%" if abs(v) >= 10 or v == 0 else f"{v:.2g}%"


def _with_interval(value: tuple[float, float, float], percent: bool = False) -> str:
    """A number and, where replicates ran, its 95% interval, in words."""
    show = _percent if percent else _short
    mean, low, high = value
    text = show(mean)
    if not (math.isnan(low) or math.isnan(high)):
        text += f" (95% interval {show(low)} to {show(high)})"
    return text


def _dividend_clause(result: RunResult, name: str) -> str:
    s = result.scenario
    won = _interval(result, f"dividend[{name}]")
    conceded = _outcome(result, "concession", name)
    if won is not None and won[0] > 0:
        how = "the platform conceded" if conceded >= 1 else "in some replicates"
        log = result.bargaining
        mine = log[(log["collective"] == name) & (log["response"] == "concede")]
        if conceded >= 1 and "summary" not in result.extra and len(mine):
            # The headline verdict rests on an assumed constant: say how far it holds.
            r = mine.iloc[0]
            policy = _policy_at(result, int(r["step"]))
            ranges = holds_for("value_of_quality", float(r["flip_value_of_quality"]),
                               float(policy["value_of_quality"]), True)  # fmt: skip
            how += f" at step {int(r['step'])}, a verdict that holds for {ranges}"
        return f"it won a dividend of {_with_interval(won)} utility per step ({how})"
    if not s.policy.bargaining_rights:
        return "it won no dividend: no bargaining rights"
    if s.policy.bargaining_every == 0:
        return "it won no dividend: no bargaining rounds (policy.bargaining_every is 0)"
    log = result.bargaining
    mine = log[log["collective"] == name] if len(log) else log
    if not len(mine):
        return "it won no dividend: it never bargained (the campaign did not run long enough)"
    reason = re.sub(r"\s*\(credible loss .*$", "", str(mine.iloc[-1]["reason"]))  # numbers: below
    return f"it won no dividend: {reason}"


def _collective_answer(result: RunResult, c) -> str:
    s = result.scenario
    lever = LEVERS[c.lever].words
    who = f"The {lever} by {c.name} ({c.size:.0%} of users at the start)"
    if s.measurement.twins == "off":
        return (f"{who} was not measured against a twin world (measurement.twins is off); "
                f"{_dividend_clause(result, c.name)}.")  # fmt: skip
    quality = _interval(result, f"quality_effect[{c.name}]")
    leverage = _interval(result, f"mean_leverage[{c.name}]")
    verb = "took" if quality[0] >= 0 else "added"
    magnitude = tuple(abs(v) for v in quality) if quality[0] < 0 else quality
    if quality[0] < 0:
        magnitude = (magnitude[0], magnitude[2], magnitude[1])
    share = (
        f"{_with_interval(leverage, percent=True)} of its gap over a naive baseline"
        if leverage is not None and not math.isnan(leverage[0])
        else "a share of its gap over a naive baseline that is undefined (the model in "
        "the twin never beat that baseline)"
    )
    parts = [
        f"{who} {verb} {_with_interval(magnitude)} of the {possessive(c.target)} held-out "
        f"quality score, {share}"
    ]
    hit = _interval(result, f"hit_rate_effect[{c.name}]")  # ratings tasks only
    if hit is not None:
        taken = "took" if hit[0] >= 0 else "added"
        size = hit if hit[0] >= 0 else (-hit[0], -hit[2], -hit[1])
        parts[0] += (f"; it {taken} {_with_interval(size)} of its hit rate at 10 (the share "
                     "of held-out liked items ranked in the top 10)")  # fmt: skip
    if c.lever.value == "boycott":
        share = _interval(result, f"share_effect[{c.name}]")
        parts[0] += f", and {_with_interval(share, percent=True)} of its market share"
    lift = _interval(result, f"lift[{c.name}]")
    if lift is not None:
        parts.append(f"it lifted {possessive(c.redirect_to)} quality score by "
                     f"{_with_interval(lift)}")  # fmt: skip
    signal = _interval(result, f"mean_signal_lift[{c.name}]")
    final = _interval(result, f"final_signal_lift[{c.name}]")
    if signal is not None and final is not None:
        parts.append(f"its planting added {_with_interval(signal, percent=True)} of the "
                     "triggered held-out points to those labelled as it wants, over chance "
                     "(the twin's model, trained without it), while it ran, and "
                     f"{_with_interval(final, percent=True)} over the last {FINAL_STEPS} "
                     "steps")  # fmt: skip
    cost = _interval(result, f"member_cost_total[{c.name}]")
    if cost is not None:
        if cost[0] >= 0:
            parts.append(f"it cost its members {_with_interval(cost)} utility over the run")
        else:  # a negative cost is a gain (CDC members may gain)
            gain = (-cost[0], -cost[2], -cost[1])
            parts.append(f"its members gained {_with_interval(gain)} utility over the run")
    return "; ".join(parts) + "; " + _dividend_clause(result, c.name) + "."


def _platform_answer(result: RunResult, p) -> str:
    q = result.model_table.get(f"quality[{p.name}]")
    start = float(q.iloc[0]) if q is not None else math.nan
    final = _interval(result, f"final_quality[{p.name}]")
    share = _interval(result, f"final_share[{p.name}]")
    return (
        f"Over {plural(result.scenario.steps, 'step')}, {possessive(p.name)} held-out quality "
        f"score went from {_short(start)} to {_with_interval(final)}, and its market share ended "
        f"at {_with_interval(share, percent=True)}."
    )


def answers(result: RunResult) -> list[str]:
    """Plain sentences answering the question: one per collective, else per platform.

    A scenario without collectives but with interventions is answered against the same
    run without them (a twin world, ``abm/twins.py``), with how fast the market moved.
    """
    s = result.scenario
    if s.collectives:
        return [_collective_answer(result, c) for c in s.collectives]
    if twins.measures_interventions(s):
        said = [_intervention_answer(result, p) for p in s.platforms]
        return [*said, timing(result)] if asks_when(s.question) else said
    return [_platform_answer(result, p) for p in s.platforms]


WHEN = re.compile(r"\b(how (fast|quickly|soon|long)|when|how many steps)\b", re.IGNORECASE)


def asks_when(question: str) -> bool:
    """Whether a question asks about timing ("how fast?", "when?"): answered with times."""
    return bool(WHEN.search(question or ""))


def intervention_words(scenario: Scenario) -> str:
    """The scenario's interventions in words: ``portability = 1.0 from step 15``."""
    said = []
    for e in scenario.events:
        if e.action is EventAction.SET_POLICY:
            change = ", ".join(f"{k} = {v}" for k, v in (e.policy or {}).items())
            said.append(f"{change} from step {e.at}")
        elif e.action is EventAction.AI_SUBSTITUTE:
            said.append(f"an AI substitute for {e.platform} (quality {e.quality}) from step {e.at}")
    return "; ".join(said)


def _intervention_answer(result: RunResult, p) -> str:
    share = _interval(result, f"final_share[{p.name}]")
    moved = _interval(result, f"intervention_share_effect[{p.name}]")
    quality = _interval(result, f"final_quality[{p.name}]")
    changed = _interval(result, f"intervention_quality_effect[{p.name}]")
    data = _interval(result, f"data_received[{p.name}]")
    fewer = _interval(result, f"intervention_data_effect[{p.name}]")
    return (
        f"Against the same run without its interventions ({intervention_words(result.scenario)}),"
        f" {possessive(p.name)} market share ended at {_percent(share[0])} instead of "
        f"{_percent(share[0] - moved[0])} (a change of {_points(moved)}), its held-out "
        f"quality score at {_short(quality[0])} instead of {_short(quality[0] - changed[0])} "
        f"(a change of {_signed(changed)}), and it received {_short(data[0])} samples of "
        f"data instead of {_short(data[0] - fewer[0])} ({_signed(fewer)})."
    )


def _points(value: tuple[float, float, float]) -> str:
    """A signed change of share in percentage points, with its interval when there is one."""
    mean, low, high = (100 * v for v in value)
    text = f"{mean:+.3g} percentage points"
    if not (math.isnan(low) or math.isnan(high)):
        text += f", 95% interval {low:+.3g} to {high:+.3g}"
    return text


def _plus(value: float) -> str:
    return ("+" if value > 0 else "") + _short(value)


def _signed(value: tuple[float, float, float]) -> str:
    """A signed change (``+0.05``, ``-317``), with its interval when there is one."""
    mean, low, high = value
    text = _plus(mean)
    if not (math.isnan(low) or math.isnan(high)):
        text += f", 95% interval {_plus(low)} to {_plus(high)}"
    return text


def steps_to(effect: pd.Series, at: int, share: float) -> int | None:
    """Steps after step ``at`` until ``effect`` first reached ``share`` of its final value.

    ``effect`` is indexed by the model table's step (row ``r``: after ``r`` steps), so an
    event at step ``at`` shows first in row ``at + 1``: one step after it. ``None`` when
    the final value is 0 (nothing moved).
    """
    final = float(effect.iloc[-1])
    if final == 0:
        return None
    after = effect[effect.index > at]
    reached = after[after / final >= share]
    return int(reached.index[0]) - at if len(reached) else None


def timing(result: RunResult) -> str:
    """How fast the interventions moved the market, read off the per-step shares.

    For the platform whose share they moved most: the steps after the first intervention
    until half and nine tenths of the final difference from the run without them had
    appeared, and the step its share crossed half of the market, if it did.
    """
    s, table = result.scenario, result.model_table
    at = min(e.at for e in s.events if e.action in twins.INTERVENTIONS)
    effects = {
        p.name: table[f"share[{p.name}]"] - table[f"share_without_interventions[{p.name}]"]
        for p in s.platforms
    }
    name = max(effects, key=lambda n: abs(effects[n].iloc[-1]))
    half, most = steps_to(effects[name], at, 0.5), steps_to(effects[name], at, 0.9)
    which = " (replicate 0)" if "summary" in result.extra else ""
    if half is None:
        return (f"How fast: the interventions moved no platform's market share{which}; the "
                "run ends with the same shares as the run without them.")  # fmt: skip
    text = (
        f"How fast{which}: {possessive(name)} market share had moved half of its final "
        f"difference from the run without interventions {plural(half, 'step')} after the "
        f"first one (step {at}), and nine tenths of it after "
        f"{plural(most, 'step') if most is not None else 'the last step'}"
    )
    share = table[f"share[{name}]"]
    side = (share > 0.5)[share.index >= at]
    flips = side[side != side.iloc[0]]
    if len(flips):
        way = "fell below" if side.iloc[0] else "rose above"
        text += (f"; its share {way} half of the market "
                 f"{plural(int(flips.index[0]) - at, 'step')} after it")  # fmt: skip
    return text + "."


def why_undefined(result: RunResult, name: str, c) -> str:
    """Why a collective outcome has no value (a dash in the tables)."""
    s = result.scenario
    key = f"{name}[{c.name}]"
    declared = OUTCOMES_BY_NAME.get(name)
    if declared is not None and declared.empty and _interval(result, key) is not None:
        return f"undefined in this run: empty {declared.empty}"  # exists, but NaN
    signals = ("mean_signal_success", "final_signal_success", "mean_signal_lift",
               "final_signal_lift")  # fmt: skip
    if name in signals and not LEVERS[c.lever].signal:
        return "its lever plants no signal"
    if s.measurement.twins == "off" and name not in ("value",):
        return "twin worlds are off (measurement.twins: off)"
    if name == "lift":
        return "no lift: the collective redirects no data"
    if name == "value":
        if not s.measurement.valuation:
            return "valuation is off (measurement.valuation: false)"
    return "not measured in this run"


def platform_table(result: RunResult) -> str:
    """One row per platform: quality (start, end, change), share, data."""
    rows = []
    for p in result.scenario.platforms:
        start = result.model_table.get(f"quality[{p.name}]")
        first = float(start.iloc[0]) if start is not None else float("nan")
        cells = [html.escape(p.name), fmt(first)]
        cells += [fmt(_outcome(result, name, p.name)) for name, _ in PLATFORM_COLUMNS]
        rows.append(cells)
    header = ["platform", "initial quality", *[h for _, h in PLATFORM_COLUMNS]]
    return _table(header, rows)


def bargaining_outcome(result: RunResult, collective: str) -> str:
    """The collective's last bargaining response and its reason, in words."""
    log = result.bargaining
    if not len(log) or collective not in set(log["collective"]):
        return "no bargaining round"
    mine = log[log["collective"] == collective]
    last = mine.iloc[-1]
    rounds = len(mine)
    return f"{last['response']} after {plural(rounds, 'round')}: {last['reason']}"


def collective_table(result: RunResult) -> str:
    """One column per collective, one row per outcome (so many outcomes fit a page)."""
    collectives = result.scenario.collectives
    rows = [["lever", *(html.escape(f"{c.lever.value} on {c.target}") for c in collectives)]]
    for name, header in COLLECTIVE_COLUMNS:
        rows.append([header, *(fmt(_outcome(result, name, c.name)) for c in collectives)])
    table = _table(["", *(html.escape(c.name) for c in collectives)], rows)
    notes = []
    for c in result.scenario.collectives:
        missing = [
            f"{h.split(' (')[0]} ({why_undefined(result, n, c)})"
            for n, h in COLLECTIVE_COLUMNS
            if math.isnan(_outcome(result, n, c.name))
        ]
        if missing:
            notes.append(f"for {c.name}: " + "; ".join(missing))
    if notes:
        table += ("<p class=muted>A dash means the outcome does not apply or is undefined "
                  "in this run: " + html.escape(". ".join(notes)) + ".</p>")  # fmt: skip
    outcomes = "".join(
        f"<li><b>{html.escape(c.name)}</b>: {html.escape(bargaining_outcome(result, c.name))}</li>"
        for c in result.scenario.collectives
    )
    return f"{table}<p><b>Bargaining outcome.</b></p><ul>{outcomes}</ul>"


TWIN_NOTE = """<p class=muted>Every effect is measured each step against the collective's
twin world: the same run, same seed and same random draws, with its campaign switched
off. Effects are twin minus real (what the campaign took from its target), signed,
averaged over the steps the campaign ran. Leverage is the quality taken as a share of
the target's gap over a naive baseline.</p>"""

INTERVENTION_NOTE = """<p class=muted>The run is measured each step against its twin
world without its interventions (policy changes, AI substitutes): the same run, same
seed and same random draws, with those events left out; a platform's change of its own
terms stays in both. Differences are this run minus the twin (what the interventions
changed), signed, at the last step (samples: over the run).</p>"""


def counterfactual_section(result: RunResult) -> str:
    """What the run is measured against: collectives' twins, or the run without interventions."""
    s = result.scenario
    if s.collectives:
        return f"<h2>Key outcomes: collectives</h2>{collective_table(result)}{TWIN_NOTE}"
    if twins.measures_interventions(s):
        return (f"<h2>Against the same run without its interventions</h2>"
                f"{intervention_table(result)}{INTERVENTION_NOTE}")  # fmt: skip
    return "<h2>Key outcomes: collectives</h2><p class=muted>No collectives in this scenario.</p>"


INTERVENTION_ROWS = [
    # (outcome at the end, effect outcome, what)
    ("final_share", "intervention_share_effect", "market share"),
    ("final_quality", "intervention_quality_effect", "quality"),
    ("data_received", "intervention_data_effect", "samples received"),
]


def intervention_table(result: RunResult) -> str:
    """Per platform: share, quality and data with and without the interventions."""
    rows = []
    for p in result.scenario.platforms:
        for final, effect, what in INTERVENTION_ROWS:
            real, moved = _outcome(result, final, p.name), _outcome(result, effect, p.name)
            rows.append([html.escape(p.name), what, fmt(real), fmt(real - moved), fmt(moved)])
    header = ["platform", "outcome", "this run", "without interventions", "difference"]
    return _table(header, rows, numeric_from=2)


def cost_table(result: RunResult) -> str:
    """Who paid what: members' cost of acting; platforms' dividends, unlearning, filters."""
    rows = []
    for c in result.scenario.collectives:
        rows.append(
            [
                f"members of {html.escape(c.name)}",
                "cost of acting (service or quality forgone)",
                "utility",
                fmt(_outcome(result, "member_cost_total", c.name)),
            ]
        )
    for p in result.scenario.platforms:
        for name, what, unit in (
            ("dividends_paid", "dividends paid to collectives", "utility"),
            ("unlearning_cost", "retraining for deletions", "samples retrained"),
            ("countermeasure_cost", "filtering suspected poison", "utility"),
            (
                "filter_quality_cost",
                "quality its own poison filter cost it at the end "
                "(filter off minus on; negative: the filter protected it)",
                "score",
            ),
        ):
            if name == "filter_quality_cost" and _interval(result, f"{name}[{p.name}]") is None:
                continue  # no filter, or no twin to measure it against
            rows.append(
                [
                    f"platform {html.escape(p.name)}",
                    what,
                    unit,
                    fmt(_outcome(result, name, p.name)),
                ]
            )
    return _table(["who", "paid for", "unit", "amount"], rows, numeric_from=3)


def events_list(result: RunResult) -> str:
    """The scenario's timeline of events, in words."""
    s = result.scenario
    items = []
    for c in s.collectives:
        stop = f", stops at step {c.stop} at the latest" if c.stop is not None else ""
        items.append(
            f"step {c.start}: {possessive(c.name)} campaign ({c.lever.value} on {c.target})"
            f" may launch{stop}"
        )
    for e in sorted(s.events, key=lambda e: e.at):
        what = e.action.value
        if e.collective:
            what += f" {e.collective}"
        if e.platform:
            what += f" on {e.platform}"
        if e.policy:
            what += " " + ", ".join(f"{k} = {v}" for k, v in e.policy.items())
        if e.action.value == "ai_substitute":
            what += f" (the substitute's quality {e.quality})"
        if e.price is not None:
            what += f" (price {e.price})"
        items.append(f"step {e.at}: {what}")
    if not items:
        return "<p class=muted>No campaigns or events.</p>"
    return "<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>"


def outcome_table(result: RunResult) -> str:
    """Every outcome with its unit; mean and 95% interval when replicates ran."""
    summary = result.extra.get("summary")
    rows = []
    if summary is not None:
        for r in summary.itertuples():
            name, _, entity = r.outcome.partition("[")
            rows.append([html.escape(entity.rstrip("]")), html.escape(name),
                         html.escape(r.unit), fmt(r.mean), fmt(r.low), fmt(r.high)])  # fmt: skip
        header = ["who", "outcome", "unit", "mean", "95% low", "95% high"]
        return _table(header, rows, numeric_from=3)
    for key, value in result.outcomes.items():
        name, _, entity = key.partition("[")
        rows.append([html.escape(entity.rstrip("]")), html.escape(name),
                     html.escape(UNITS.get(name, "")), fmt(value)])  # fmt: skip
    return _table(["who", "outcome", "unit", "value"], rows, numeric_from=3)


def _policy_at(result: RunResult, step: int) -> dict:
    """The policy in force during model-table ``step`` (events at index < step applied)."""
    policy = result.scenario.policy.model_dump()
    for e in sorted(result.scenario.events, key=lambda e: e.at):
        if e.action.value == "set_policy" and e.at < step and e.policy:
            policy.update(e.policy)
    return policy


def verdict(result: RunResult, rounds: pd.DataFrame) -> str:
    """A collective's bargaining verdict in words, with the range over which it holds."""
    conceded = rounds[rounds["response"] == "concede"]
    r = conceded.iloc[0] if len(conceded) else rounds.iloc[-1]
    policy, won = _policy_at(result, int(r["step"])), bool(len(conceded))
    ranges = " and ".join(
        holds_for(name, float(r[f"flip_{name}"]), float(policy[name]), won)
        for name in ("value_of_quality", "bargaining_power")
    )
    if won:
        return (f"conceded at step {int(r['step'])} ({fmt(r['paid'])}/step); holds for "
                f"{ranges}")  # fmt: skip
    n = len(rounds)
    return (f"no concession in {plural(n, 'round')}; at the last (step {int(r['step'])}) "
            f"the platform would have conceded for {ranges}")  # fmt: skip


# The rounds' columns in two tables, so that each fits a 1280 px page: what was at stake,
# then what was decided. Both start with the round's step and collective.
ROUND_TABLES = (
    ("step", "collective", "platform", "leverage", "quality_effect", "quality_resolution",
     "users_lost", "users_resolution", "platform_loss", "member_cost"),
    ("step", "collective", "demand", "nash_dividend", "paid", "response",
     "flip_value_of_quality", "flip_bargaining_power"),
)  # fmt: skip


def _rounds_table(log: pd.DataFrame, names: tuple[str, ...]) -> str:
    shown = [c for name in names for c in ROUND_TABLE if c.name == name]
    words = [c for c in shown if c.unit in ("", "step")]
    rows = [
        [html.escape(str(r[c.name])) if c in words else fmt(r[c.name]) for c in shown]
        for _, r in log.iterrows()
    ]
    header = [c.header if c in words else f"{c.header} ({c.unit})" for c in shown]
    return _table(header, rows, numeric_from=sum(c.name != "response" for c in words))


def bargaining_section(result: RunResult) -> str:
    """Each collective's verdict with its range, then the rounds' numbers and last reasons."""
    log = result.bargaining
    if not len(log):
        return "<p class=muted>No bargaining rounds.</p>"
    verdicts = "".join(
        f"<li><b>{html.escape(str(name))}</b>: {html.escape(verdict(result, rows))}</li>"
        for name, rows in log.groupby("collective", sort=False)
    )
    table = "".join(_rounds_table(log.tail(40), names) for names in ROUND_TABLES)
    reasons = "".join(
        f"<li><b>{html.escape(name)}</b>, step {int(rows.iloc[-1]['step'])}: "
        f"{html.escape(str(rows.iloc[-1]['reason']))}</li>"
        for name, rows in log.groupby("collective", sort=False)
    )
    return (f"<p><b>Verdicts</b> (seed {result.seed}), each with the range of the assumed "
            f"constants over which it holds (docs/model.md, Bargaining):</p><ul>{verdicts}</ul>"
            f"{table}<p class=muted>Steps are model.csv steps. The platform bargains on the "
            "loss it can tell from its own measurement noise: the quality taken and users "
            "lost count only beyond their noise (+/-). A dash in a flip column: no value of "
            "that constant changes the round's verdict.</p>"
            f"<p><b>The last round's reason.</b></p><ul>{reasons}</ul>")  # fmt: skip


def _figure(result: RunResult, name: str, figure_dir: Path | None) -> str:
    """A plot as an SVG data URI: the run folder's file when it is there, else drawn."""
    path = Path(figure_dir) / f"{name}.svg" if figure_dir is not None else None
    if path is not None and path.is_file():
        data = path.read_bytes()
    else:
        data = svg.series_svg(result.model_table, name).encode()
    return "data:image/svg+xml;base64," + base64.b64encode(data).decode()


def asked_about(question: str, before: Any, after: Any) -> str | None:
    """``asked about 30% of its users; this run: 40%`` when the question names ``before``.

    A share between 0 and 1 is looked for as a percentage (``0.3`` as ``30%``, with the
    words ``of ...`` that follow it), any other number or a name as itself.
    """
    if isinstance(before, bool) or isinstance(after, bool) or before is None or after is None:
        return None
    if isinstance(before, int | float) and isinstance(after, int | float):
        if 0 <= before <= 1 and 0 <= after <= 1:
            said = re.search(rf"(?<![\d.]){_percent(before)}(?: of (?:its |the |all )?\w+)?",
                             question)  # fmt: skip
            if said:
                return f"asked about {said.group(0)}; this run: {_percent(after)}"
        said = re.search(rf"(?<![\d.]){re.escape(f'{before:g}')}(?![\d.%])", question)
        return f"asked about {before:g}; this run: {after:g}" if said else None
    if isinstance(before, str) and re.search(rf"\b{re.escape(before)}\b", question):
        return f"asked about {before}; this run: {after}"
    return None


def changes_note(result: RunResult) -> str:
    """What this run changed from its file, next to the question it changes."""
    changes = result.extra.get("changes") or []
    if not changes:
        return ""
    question = result.scenario.question or ""
    asked = [a for _, before, after in changes if (a := asked_about(question, before, after))]
    listed = "; ".join(f"{path}: {_shown(a)} in the file, {_shown(b)} in this run"
                       for path, a, b in changes)  # fmt: skip
    lead = f"<b>{html.escape(asked[0][0].upper() + '; '.join(asked)[1:])}.</b> " if asked else ""
    return f"<p class=changes>{lead}This run differs from its file: {html.escape(listed)}.</p>"


def _shown(value: Any) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= 60 else text[:57] + "..."


def seed_words(result: RunResult) -> str:
    """``seed 42``; with replicates, the scenario's seed and how many were spawned from it."""
    seeds = result.extra.get("seeds")
    if seeds is None:
        return f"seed {result.seed}"
    return f"seed {result.extra['root_seed']} ({plural(len(seeds), 'replicate')} spawned from it)"


def seeds_note(result: RunResult) -> str:
    """Where replicate seeds come from, and each one (empty for a single run)."""
    seeds = result.extra.get("seeds")
    if seeds is None:
        return ""
    root = result.extra["root_seed"]
    listed = ", ".join(f"{r}: {seed}" for r, seed in enumerate(seeds))
    return (
        f"<p class=muted>{plural(len(seeds), 'replicate')} of the scenario's seed {root}: "
        f"replicate r ran with seed child r of numpy's SeedSequence({root}) (the seeds <code>abm "
        f"compare</code> and sweeps give replicate r), so none ran with {root} itself. "
        "Numbers are means over replicates with 95% intervals (Student t); the plots show "
        f"replicate 0. Seeds by replicate (files in <code>runs/seed&lt;seed&gt;/</code>): "
        f"{listed}.</p>"
    )


def render(result: RunResult, figure_dir: Path | None = None) -> str:
    """The report as an HTML string (``figure_dir``: a folder holding the run's plots)."""
    s = result.scenario
    imgs = "".join(
        f'<img alt="{n}" src="{_figure(result, n, figure_dir)}">'
        for n in series.available(result.model_table)
    )
    bargaining = bargaining_section(result)
    answer = "".join(f"<p class=answer>{html.escape(a)}</p>" for a in answers(result))
    replicated = seeds_note(result)
    policy = ", ".join(f"{k} = {v}" for k, v in s.policy.model_dump(mode="json").items())
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{html.escape(s.name)}</title><style>{STYLE}</style></head><body>
<h1>{html.escape(s.name)}</h1>
<p class=question><b>Question.</b> {html.escape(s.question or "(none stated)")}</p>
{changes_note(result)}
{answer}
<p class=muted>Units: quality is a held-out score from 0 to 1; <b>utility</b> is the unit
in which users choose platforms and pay prices (quality minus price, per step), so a
platform's revenue, a member's cost and a dividend are all in utility.</p>
{replicated}
<p class=muted>{plural(s.population.n_users, "user")}, {plural(len(s.platforms), "platform")},
{plural(len(s.collectives), "collective")}, {plural(s.steps, "step")}, {seed_words(result)}, task
{html.escape(s.task.name)}. Policy at the start: {html.escape(policy)}.</p>
<h2>Timeline</h2>{events_list(result)}
<h2>Key outcomes: platforms</h2>{platform_table(result)}
{counterfactual_section(result)}
<h2>Who paid what</h2>{cost_table(result)}
<h2>Over time</h2><div class=plots>{imgs}</div>
<h2>Bargaining rounds</h2>{bargaining}
<h2>All outcomes</h2>{outcome_table(result)}
<h2>Scenario</h2><details><summary>the resolved scenario file</summary>
<pre>{html.escape(dump_scenario(s))}</pre></details>
</body></html>"""


def with_replicates(result: RunResult, summary: pd.DataFrame, seeds: list[int]) -> RunResult:
    """Replicate 0's result carrying the replicates' summary and seeds (read by the report)."""
    extra = {**result.extra, "summary": summary, "seeds": seeds}
    extra.setdefault("root_seed", result.scenario.seed)
    return dataclasses.replace(result, extra=extra)


def write_report(
    result: RunResult,
    path: Path,
    summary: pd.DataFrame | None = None,
    seeds: list[int] | None = None,
) -> None:
    """Write the run's report to ``path``.

    Args:
        result: The run (with replicates: replicate 0, whose plots the report shows).
        path: Where to write the HTML file.
        summary: With replicates, every outcome's mean and 95% interval.
        seeds: With replicates, each replicate's seed, in order.
    """
    path = Path(path)
    figure_dir = path.parent
    if summary is not None:
        result = with_replicates(result, summary, seeds or [result.seed])
        figure_dir = path.parent / "runs" / f"seed{result.seed}"
    Path(path).write_text(render(result, figure_dir), encoding="utf-8")
