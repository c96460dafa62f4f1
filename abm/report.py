"""A self-contained HTML report of one run: the question, key outcomes, and the plots.

Plots are embedded as base64 PNGs, so the file reads offline and can be mailed as is.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import pandas as pd

from abm.runner import RunResult
from abm.viz import plots

STYLE = """
body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;color:#222}
h1{font-size:1.5em} table{border-collapse:collapse;margin:1em 0}
td,th{border-bottom:1px solid #ddd;padding:4px 10px;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.plots img{width:48%;margin:1%} .muted{color:#666}
"""


def figure_png(table: pd.DataFrame, name: str) -> str:
    """A plot of the run as a base64 PNG data URI."""
    fig = plots.series_figure(table, name)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plots.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def outcome_table(outcomes: dict[str, float]) -> str:
    """Outcomes as an HTML table, one row per outcome and entity."""
    rows = []
    for key, value in outcomes.items():
        name, _, entity = key.partition("[")
        shown = "—" if value != value else f"{value:.4f}"
        rows.append(
            f"<tr><td>{html.escape(entity.rstrip(']'))}</td><td>{html.escape(name)}</td>"
            f"<td class=num>{shown}</td></tr>"
        )
    return "<table><tr><th>who</th><th>outcome</th><th>value</th></tr>" + "".join(rows) + "</table>"


def render(result: RunResult) -> str:
    """The report as an HTML string."""
    s = result.scenario
    imgs = "".join(
        f'<img alt="{n}" src="{figure_png(result.model_table, n)}">'
        for n in plots.available(result.model_table)
    )
    bargaining = (
        result.bargaining.to_html(index=False, float_format=lambda v: f"{v:.4f}")
        if len(result.bargaining)
        else "<p class=muted>No bargaining rounds.</p>"
    )
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>{html.escape(s.name)}</title><style>{STYLE}</style></head><body>
<h1>{html.escape(s.name)}</h1>
<p><b>Question.</b> {html.escape(s.question or "(none stated)")}</p>
<p class=muted>{s.population.n_users} users, {len(s.platforms)} platforms,
{len(s.collectives)} collectives, {s.steps} steps, seed {result.seed}, task {s.task.name}.</p>
<h2>Key outcomes</h2>{outcome_table(result.outcomes)}
<h2>Over time</h2><div class=plots>{imgs}</div>
<h2>Bargaining</h2>{bargaining}
</body></html>"""


def write_report(result: RunResult, path: Path) -> None:
    """Write the run's report to ``path``."""
    Path(path).write_text(render(result))
