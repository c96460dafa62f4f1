"""A self-contained HTML report of one run, written for a policy analyst.

The report answers the scenario's question with what the run measured: leverage, the
change in each platform's model quality, market shares, participation, the bargaining
outcome, the value of each collective's data, and who paid what (members' cost of
acting; platforms' dividends, unlearning and countermeasures). Plots are embedded as
base64 PNGs and there is no script or external link, so the file reads offline and can
be mailed as is. Every number comes from the run's declared outcomes and tables; the
report computes nothing new.
"""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path

import pandas as pd

from abm.runner import RunResult
from abm.scenario import dump_scenario
from abm.viz import plots

STYLE = """
body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;color:#222;line-height:1.4}
h1{font-size:1.5em} h2{font-size:1.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0}
td,th{border-bottom:1px solid #ddd;padding:4px 10px;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.plots img{width:48%;margin:1%} .muted{color:#666} .question{font-size:1.1em}
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
    ("mean_signal_success", "signal success"),
    ("concession", "target conceded"),
    ("dividend", "dividend won"),
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
    return result.outcomes.get(f"{name}[{entity}]", float("nan"))


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
                fmt(_outcome(result, "member_cost", c.name)),
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
            f"step {c.start}: {c.name}'s campaign ({c.lever.value} on {c.target}) may launch{stop}"
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


def outcome_table(outcomes: dict[str, float]) -> str:
    """Every outcome as an HTML table, one row per outcome and entity."""
    rows = []
    for key, value in outcomes.items():
        name, _, entity = key.partition("[")
        rows.append([html.escape(entity.rstrip("]")), html.escape(name), fmt(value)])
    return _table(["who", "outcome", "value"], rows, numeric_from=2)


def render(result: RunResult) -> str:
    """The report as an HTML string."""
    s = result.scenario
    imgs = "".join(
        f'<img alt="{n}" src="{figure_png(result.model_table, n)}">'
        for n in plots.available(result.model_table)
    )
    bargaining = (
        result.bargaining.tail(40).to_html(index=False, float_format=lambda v: f"{v:.4g}")
        if len(result.bargaining)
        else "<p class=muted>No bargaining rounds.</p>"
    )
    policy = ", ".join(f"{k} = {v}" for k, v in s.policy.model_dump(mode="json").items())
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{html.escape(s.name)}</title><style>{STYLE}</style></head><body>
<h1>{html.escape(s.name)}</h1>
<p class=question><b>Question.</b> {html.escape(s.question or "(none stated)")}</p>
<p class=muted>{s.population.n_users} users, {len(s.platforms)} platforms,
{len(s.collectives)} collectives, {s.steps} steps, seed {result.seed}, task
{html.escape(s.task.name)}. Policy at the start: {html.escape(policy)}.</p>
<h2>Timeline</h2>{events_list(result)}
<h2>Key outcomes: platforms</h2>{platform_table(result)}
<h2>Key outcomes: collectives</h2>{collective_table(result)}
<p class=muted>Every effect is measured each step against the collective's twin world:
the same run, same seed and same random draws, with its campaign switched off. Effects
are twin minus real (what the campaign took from its target), signed, averaged over the
steps the campaign ran. Leverage is the quality taken as a share of the target's gap
over a naive baseline. Utility is the unit in which users choose platforms and pay
prices (quality minus price, per step). A dash means the outcome does not apply: lift
only for collectives that redirect data, signal success only for signal levers, values
only when valuation runs, effects only when twins run.</p>
<h2>Who paid what</h2>{cost_table(result)}
<h2>Over time</h2><div class=plots>{imgs}</div>
<h2>Bargaining rounds</h2>{bargaining}
<h2>All outcomes</h2>{outcome_table(result.outcomes)}
<h2>Scenario</h2><details><summary>the resolved scenario file</summary>
<pre>{html.escape(dump_scenario(s))}</pre></details>
</body></html>"""


def write_report(result: RunResult, path: Path) -> None:
    """Write the run's report to ``path``."""
    Path(path).write_text(render(result), encoding="utf-8")
