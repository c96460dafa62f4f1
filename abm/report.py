"""A self-contained HTML report of one run, written for a policy analyst.

The report answers the scenario's question with what the run measured: leverage, the
change in each platform's model quality, market shares, participation, the bargaining
outcome, the value of each collective's data, and who paid what (members' cost of
acting; platforms' dividends, unlearning and countermeasures). Plots are embedded as
base64 PNGs and there is no script or external link, so the file reads offline and can
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
import io
import math
import re
from pathlib import Path

import pandas as pd

from abm.levers import LEVERS
from abm.metrics import FINAL_STEPS, OUTCOMES
from abm.runner import RunResult
from abm.scenario import dump_scenario
from abm.viz import plots

STYLE = """
body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;color:#222;line-height:1.4}
h1{font-size:1.5em} h2{font-size:1.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0}
td,th{border-bottom:1px solid #ddd;padding:4px 10px;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.plots img{width:48%;margin:1%} .muted{color:#666} .question,.answer{font-size:1.1em}
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
COLLECTIVE_COLUMNS = [
    ("peak_participation", "peak participation"),
    ("mean_leverage", "mean leverage (share of gap)"),
    ("quality_effect", "quality taken"),
    ("share_effect", "share taken"),
    ("revenue_effect", "revenue taken / step"),
    ("lift", "receiver's lift"),
    ("mean_signal_lift", "signal lift over chance"),
    ("concession", "target conceded"),
    ("dividend", "dividend won / step"),
    ("value", "value of its data (Shapley)"),
]


def figure_png(table: pd.DataFrame, name: str) -> str:
    """A plot of the run as a base64 PNG data URI."""
    fig = plots.series_figure(table, name)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plots.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


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

LEVER_WORDS = {
    "strike": "strike",
    "retro_strike": "strike with deletion of past data",
    "boycott": "boycott",
    "cdc": "conscious data contribution",
    "strike_cdc": "strike with conscious data contribution",
    "poison_labels": "label poisoning",
    "poison_noise": "noise poisoning",
    "plant_signal": "signal planting",
    "plant_feature_only": "feature-only signal planting",
    "erase_signal": "signal erasure",
}


def possessive(name: str) -> str:
    """``strikers`` -> ``strikers'``, ``union`` -> ``union's``."""
    return f"{name}'" if name.endswith("s") else f"{name}'s"


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
        return f"it won a dividend of {_with_interval(won)} utility per step ({how})"
    if not s.policy.bargaining_rights:
        return "it won no dividend: no bargaining rights"
    if s.policy.bargaining_every == 0:
        return "it won no dividend: no bargaining rounds (policy.bargaining_every is 0)"
    log = result.bargaining
    mine = log[log["collective"] == name] if len(log) else log
    if not len(mine):
        return "it won no dividend: it never bargained (the campaign did not run long enough)"
    reason = re.sub(r"\s*\(loss .*$", "", str(mine.iloc[-1]["reason"]))  # numbers: below
    return f"it won no dividend: {reason}"


def _collective_answer(result: RunResult, c) -> str:
    s = result.scenario
    lever = LEVER_WORDS.get(c.lever.value, c.lever.value)
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
        f"Over {result.scenario.steps} steps, {possessive(p.name)} held-out quality score "
        f"went from {_short(start)} to {_with_interval(final)}, and its market share ended "
        f"at {_with_interval(share, percent=True)}."
    )


def answers(result: RunResult) -> list[str]:
    """One plain sentence per collective (or per platform without any) answering the question."""
    s = result.scenario
    if s.collectives:
        return [_collective_answer(result, c) for c in s.collectives]
    return [_platform_answer(result, p) for p in s.platforms]


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
        return "more than 5 collectives: exact Shapley over collectives is not run"
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
    return f"{last['response']} after {rounds} round{'s' * (rounds != 1)}: {last['reason']}"


def collective_table(result: RunResult) -> str:
    """One row per collective: lever, participation, leverage, bargaining, value."""
    if not result.scenario.collectives:
        return "<p class=muted>No collectives in this scenario.</p>"
    rows = []
    for c in result.scenario.collectives:
        cells = [html.escape(c.name), html.escape(f"{c.lever.value} on {c.target}")]
        cells += [fmt(_outcome(result, name, c.name)) for name, _ in COLLECTIVE_COLUMNS]
        rows.append(cells)
    header = ["collective", "lever", *[h for _, h in COLLECTIVE_COLUMNS]]
    table = _table(header, rows, numeric_from=2)
    notes = []
    for c in result.scenario.collectives:
        missing = [
            f"{h} ({why_undefined(result, n, c)})"
            for n, h in COLLECTIVE_COLUMNS
            if math.isnan(_outcome(result, n, c.name))
        ]
        if missing:
            notes.append(f"for {c.name}: " + "; ".join(missing))
    if notes:
        table += ("<p class=muted>A dash means the outcome does not apply: "
                  + html.escape(". ".join(notes)) + ".</p>")  # fmt: skip
    outcomes = "".join(
        f"<li><b>{html.escape(c.name)}</b>: {html.escape(bargaining_outcome(result, c.name))}</li>"
        for c in result.scenario.collectives
    )
    return f"{table}<p><b>Bargaining outcome.</b></p><ul>{outcomes}</ul>"


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
        ):
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


def bargaining_section(result: RunResult) -> str:
    """The rounds' numbers as a table (utility per step), each collective's last reason below."""
    log = result.bargaining
    if not len(log):
        return "<p class=muted>No bargaining rounds.</p>"
    numbers = log.drop(columns=["reason"], errors="ignore").tail(40)
    table = numbers.to_html(index=False, float_format=lambda v: f"{v:.4g}")
    reasons = "".join(
        f"<li><b>{html.escape(name)}</b>, step {int(rows.iloc[-1]['step'])}: "
        f"{html.escape(str(rows.iloc[-1]['reason']))}</li>"
        for name, rows in log.groupby("collective", sort=False)
    )
    return (f"{table}<p class=muted>Losses, costs, demands and dividends in utility per "
            f"step.</p><p><b>The last round's reason.</b></p><ul>{reasons}</ul>")  # fmt: skip


def _png(result: RunResult, name: str, png_dir: Path | None) -> str:
    """A plot as a data URI: the run folder's PNG when it is there (drawn once), else drawn."""
    path = Path(png_dir) / f"{name}.png" if png_dir is not None else None
    if path is not None and path.is_file():
        return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()
    return figure_png(result.model_table, name)


def seed_words(result: RunResult) -> str:
    """``seed 42``; with replicates, the scenario's seed and how many were spawned from it."""
    seeds = result.extra.get("seeds")
    if seeds is None:
        return f"seed {result.seed}"
    return f"seed {result.extra['root_seed']} ({len(seeds)} replicates spawned from it)"


def seeds_note(result: RunResult) -> str:
    """Where replicate seeds come from, and each one (empty for a single run)."""
    seeds = result.extra.get("seeds")
    if seeds is None:
        return ""
    root = result.extra["root_seed"]
    listed = ", ".join(f"{r}: {seed}" for r, seed in enumerate(seeds))
    return (
        f"<p class=muted>{len(seeds)} replicates of the scenario's seed {root}: replicate r "
        f"ran with seed child r of numpy's SeedSequence({root}) (the seeds <code>abm "
        f"compare</code> and sweeps give replicate r), so none ran with {root} itself. "
        "Numbers are means over replicates with 95% intervals (Student t); the plots show "
        f"replicate 0. Seeds by replicate (files in <code>runs/seed&lt;seed&gt;/</code>): "
        f"{listed}.</p>"
    )


def render(result: RunResult, png_dir: Path | None = None) -> str:
    """The report as an HTML string (``png_dir``: a folder holding the run's plots)."""
    s = result.scenario
    imgs = "".join(
        f'<img alt="{n}" src="{_png(result, n, png_dir)}">'
        for n in plots.available(result.model_table)
    )
    bargaining = bargaining_section(result)
    answer = "".join(f"<p class=answer>{html.escape(a)}</p>" for a in answers(result))
    replicated = seeds_note(result)
    policy = ", ".join(f"{k} = {v}" for k, v in s.policy.model_dump(mode="json").items())
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{html.escape(s.name)}</title><style>{STYLE}</style></head><body>
<h1>{html.escape(s.name)}</h1>
<p class=question><b>Question.</b> {html.escape(s.question or "(none stated)")}</p>
{answer}
<p class=muted>Units: quality is a held-out score from 0 to 1; <b>utility</b> is the unit
in which users choose platforms and pay prices (quality minus price, per step), so a
platform's revenue, a member's cost and a dividend are all in utility.</p>
{replicated}
<p class=muted>{s.population.n_users} users, {len(s.platforms)} platforms,
{len(s.collectives)} collectives, {s.steps} steps, {seed_words(result)}, task
{html.escape(s.task.name)}. Policy at the start: {html.escape(policy)}.</p>
<h2>Timeline</h2>{events_list(result)}
<h2>Key outcomes: platforms</h2>{platform_table(result)}
<h2>Key outcomes: collectives</h2>{collective_table(result)}
<p class=muted>Every effect is measured each step against the collective's twin world:
the same run, same seed and same random draws, with its campaign switched off. Effects
are twin minus real (what the campaign took from its target), signed, averaged over the
steps the campaign ran. Leverage is the quality taken as a share of the target's gap
over a naive baseline.</p>
<h2>Who paid what</h2>{cost_table(result)}
<h2>Over time</h2><div class=plots>{imgs}</div>
<h2>Bargaining rounds</h2>{bargaining}
<h2>All outcomes</h2>{outcome_table(result)}
<h2>Scenario</h2><details><summary>the resolved scenario file</summary>
<pre>{html.escape(dump_scenario(s))}</pre></details>
</body></html>"""


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
    png_dir = path.parent
    if summary is not None:
        extra = {**result.extra, "summary": summary, "seeds": seeds or [result.seed]}
        extra.setdefault("root_seed", result.scenario.seed)
        result = dataclasses.replace(result, extra=extra)
        png_dir = path.parent / "runs" / f"seed{result.seed}"
    Path(path).write_text(render(result, png_dir), encoding="utf-8")
