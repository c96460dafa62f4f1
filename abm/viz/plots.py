"""Matplotlib figures of a run's series: the viewer's live panels and figures on request.

Each function takes the per-step model table (columns ``series[entity]``) and returns
a Figure. Which lines a panel draws is :mod:`abm.viz.series`'s, shared with the run
folder's SVG figures (:mod:`abm.viz.svg`), which a run writes without matplotlib.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from abm.viz.series import PLOTS  # noqa: E402
from abm.words import possessive  # noqa: E402


def close(fig: Figure) -> None:
    """Release a figure's memory."""
    plt.close(fig)


RESPONSE_MARKERS = {
    "ignore": ("x", "#7f7f7f"),
    "negotiate": ("o", "#1f77b4"),
    "concede": ("*", "#2ca02c"),
}

# The bargaining table's columns this panel reads, by role. They are names from
# :data:`abm.bargaining.ROUND_COLUMNS` (a test checks it), read by name from each row,
# so columns added to the rounds never move what is drawn.
ROUND_STEP, ROUND_RESPONSE = "step", "response"
ROUND_OFFER, ROUND_DEMAND = "nash_dividend", "demand"
ROUND_READS = (ROUND_STEP, ROUND_RESPONSE, ROUND_OFFER, ROUND_DEMAND)
BARGAINING_TITLE = "Bargaining: Nash dividend per round vs demand"
BARGAINING_YLABEL = "dividend (utility / step)"


def round_points(rounds: list[dict] | pd.DataFrame, response: str | None) -> np.ndarray:
    """``(x, y)`` points of the rounds with one platform ``response`` (``None``: the demands).

    ``x`` is the round's step, a model-table step (``bargaining.csv`` records each round
    at the step under which model.csv records it); ``y`` the round's Nash dividend, or
    its demand when ``response`` is ``None``. Rows missing a number are left out.
    """
    rows = rounds.to_dict("records") if isinstance(rounds, pd.DataFrame) else rounds
    column = ROUND_DEMAND if response is None else ROUND_OFFER
    points = [
        (float(r[ROUND_STEP]), float(r[column]))
        for r in rows
        if (response is None or r.get(ROUND_RESPONSE) == response)
        and r.get(ROUND_STEP) is not None
        and r.get(column) is not None
    ]
    out = np.array(points, dtype=float).reshape(-1, 2)
    return out[np.isfinite(out).all(axis=1)]


def dividend_paid(cumulative: np.ndarray) -> np.ndarray:
    """Dividend paid per step from the cumulative dividend won (utility / step)."""
    y = np.asarray(cumulative, dtype=float)
    return np.diff(y, prepend=0.0) if y.size else y


# --------------------------------------------------------------------------- live panels
#
# The viewer redraws a panel every step. A fresh figure per step spends nearly all its
# time on what does not change (axes, ticks, labels, legend, layout), so a live panel
# draws those once into a background and per step restores it and draws only its
# data artists (matplotlib "blitting"). The background is redrawn only when the data
# leaves the axes' limits or the run passes the planned number of steps.


def png(rgba: np.ndarray) -> bytes:
    """Encode an RGBA buffer as PNG (fast compression: the browser gets it at once)."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(rgba)).save(buf, format="png", compress_level=1)
    return buf.getvalue()


class Blitter:
    """A figure whose static parts are drawn once; :meth:`png` redraws only animated artists.

    Args:
        fig: The figure (not registered with pyplot). Artists that change between
            frames must be created with ``animated=True``.
        dpi: Pixels per inch of the frames.
    """

    def __init__(self, fig: Figure, dpi: int = 90):
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        fig.set_dpi(dpi)
        self.fig = fig
        self.canvas = FigureCanvasAgg(fig)
        self._background = None
        self.full_draws = 0  # how often the static parts were drawn (for tests)

    def invalidate(self) -> None:
        """Redraw the static parts on the next frame (limits or legend changed)."""
        self._background = None

    def png(self) -> bytes:
        """The current frame as PNG bytes."""
        if self._background is None:
            self.canvas.draw()  # draws everything not animated
            self._background = self.canvas.copy_from_bbox(self.fig.bbox)
            self.full_draws += 1
        else:
            self.canvas.restore_region(self._background)
        renderer = self.canvas.get_renderer()
        for ax in self.fig.axes:
            for artist in sorted(_animated(ax), key=lambda a: a.get_zorder()):
                if artist.get_visible():
                    artist.draw(renderer)
        return png(self.canvas.buffer_rgba())


def _animated(ax) -> list:
    return [a for a in (*ax.lines, *ax.collections, *ax.texts) if a.get_animated()]


def _legend(ax) -> None:
    """A legend below the axes: static (drawn once), and never crossed by the data."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(handles, labels, fontsize=7, frameon=False, loc="upper center",
                  bbox_to_anchor=(0.5, -0.2), ncol=min(len(handles), 3))  # fmt: skip


def nice_limits(lo: float, hi: float, grid: float = 0.05) -> tuple[float, float]:
    """``[lo, hi]`` widened to multiples of ``grid`` (and by one grid step when flat)."""
    low = float(np.floor(lo / grid) * grid)
    high = float(np.ceil(hi / grid) * grid)
    if high - low < grid:
        high = low + grid
    return round(low, 10), round(high, 10)


def _ffill(values: np.ndarray) -> np.ndarray:
    """Carry the last measured value forward over NaNs (a counterfactual measured every k steps)."""
    idx = np.where(np.isnan(values), 0, np.arange(values.size))
    np.maximum.accumulate(idx, out=idx)
    out = values[idx]
    return out


class LiveSeries:
    """One :data:`PLOTS` panel of a running model, updated in place each step.

    Args:
        columns: The model's per-step columns (``datacollector.model_vars``): a mapping
            from ``series[entity]`` to the list of recorded values.
        name: A key of :data:`PLOTS`.
        horizon: The planned number of steps (the x axis spans it from the start).
        figsize: Figure size in inches.
    """

    def __init__(
        self,
        columns: dict[str, list],
        name: str,
        horizon: int,
        figsize: tuple[float, float] = (4.8, 3.0),
    ):
        series, title, ylabel = PLOTS[name]
        self.columns, self.name = columns, name
        self.floor_zero = name != "quality"
        fig = Figure(figsize=figsize)
        fig.subplots_adjust(left=0.14, right=0.98, bottom=0.32, top=0.9)
        self.ax = ax = fig.add_subplot()
        self.lines: list[tuple[str, object, bool]] = []  # (column, line, carry forward)
        for i, entity in enumerate(_entities(columns, series)):
            (line,) = ax.plot([], [], lw=1.8, color=f"C{i}", label=entity, animated=True)
            self.lines.append((f"{series}[{entity}]", line, False))
        if name == "quality":
            for i, entity in enumerate(_entities(columns, "twin_quality")):
                (line,) = ax.plot([], [], ls="--", lw=1.2, color=f"C{i}", animated=True,
                                  label=f"without {possessive(entity)} action")  # fmt: skip
                self.lines.append((f"twin_quality[{entity}]", line, True))
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("step", fontsize=9)
        ax.set_ylabel(ylabel, fontsize=9)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
        _legend(ax)
        self.xmax = max(int(horizon), 1)
        self.ylim = (0.0, 0.05) if self.floor_zero else (0.0, 1.0)
        ax.set_xlim(0, self.xmax)
        ax.set_ylim(*self.ylim)
        self.blit = Blitter(fig)

    def png(self) -> bytes:
        """The panel at the model's current step."""
        lo, hi = np.inf, -np.inf
        n = 0
        for col, line, carry in self.lines:
            y = np.asarray(self.columns[col], dtype=float)
            if carry:
                y = _ffill(y)
            n = y.size
            line.set_data(np.arange(y.size), y)
            finite = y[np.isfinite(y)]
            if finite.size:
                lo, hi = min(lo, finite.min()), max(hi, finite.max())
        if n - 1 > self.xmax:  # stepped past the plan: double the axis
            while n - 1 > self.xmax:
                self.xmax *= 2
            self.ax.set_xlim(0, self.xmax)
            self.blit.invalidate()
        first = self.blit.full_draws == 0
        if np.isfinite(lo) and (first or lo < self.ylim[0] or hi > self.ylim[1]):
            low, high = nice_limits(lo, hi)
            if self.floor_zero:
                low = min(low, 0.0)
            # Limits only widen, so the background is redrawn rarely.
            new = (low, high) if first else (min(low, self.ylim[0]), max(high, self.ylim[1]))
            if new != self.ylim:
                self.ylim = new
                self.ax.set_ylim(*new)
                self.blit.invalidate()
        return self.blit.png()


def _entities(columns: dict[str, list], series: str) -> list[str]:
    prefix = f"{series}["
    return [c[len(prefix) : -1] for c in columns if c.startswith(prefix)]


class LiveBargaining:
    """The bargaining panel of a running model, updated in place.

    Per round a marker at the Nash dividend, shaped by the platform's response (ignore,
    negotiate, concede), and a dash at the demand; lines for the dividend each collective
    is paid per step (utility per step).

    Args:
        columns: The model's per-step columns (``datacollector.model_vars``).
        log: The model's bargaining rounds (``model.bargaining_log``), read each frame.
        horizon: The planned number of steps.
        figsize: Figure size in inches.
    """

    def __init__(
        self,
        columns: dict[str, list],
        log: list[dict],
        horizon: int,
        figsize: tuple[float, float] = (4.8, 3.0),
    ):
        self.columns, self.log = columns, log
        fig = Figure(figsize=figsize)
        fig.subplots_adjust(left=0.14, right=0.98, bottom=0.32, top=0.9)
        self.ax = ax = fig.add_subplot()
        self.lines = []
        for i, entity in enumerate(_entities(columns, "dividend")):
            (line,) = ax.plot([], [], lw=1.8, color=f"C{i}", animated=True,
                              label=f"{entity}: dividend paid")  # fmt: skip
            self.lines.append((f"dividend[{entity}]", line))
        self.rounds = {
            None: ax.scatter(np.empty(0), np.empty(0), marker="_", c="#d62728", s=80,
                             zorder=3, label="round: demand", animated=True)
        }  # fmt: skip
        for response, (marker, colour) in RESPONSE_MARKERS.items():
            self.rounds[response] = ax.scatter(
                np.empty(0), np.empty(0), marker=marker, c=colour, s=40, zorder=3,
                label=f"round: {response}", animated=True,
            )  # fmt: skip
        self.empty = ax.text(0.5, 0.5, "no bargaining round yet", transform=ax.transAxes,
                             ha="center", va="center", color="#7f7f7f", animated=True)  # fmt: skip
        ax.set_title(BARGAINING_TITLE, fontsize=10)
        ax.set_xlabel("step", fontsize=9)
        ax.set_ylabel(BARGAINING_YLABEL, fontsize=9)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
        _legend(ax)
        self.xmax = max(int(horizon), 1)
        self.ytop = 1.0
        ax.set_xlim(0, self.xmax)
        ax.set_ylim(0, self.ytop)
        self.blit = Blitter(fig)

    def png(self) -> bytes:
        """The panel at the model's current step."""
        top, n = 0.0, 0
        for col, line in self.lines:
            y = dividend_paid(np.asarray(self.columns[col], dtype=float))
            n = y.size
            line.set_data(np.arange(y.size), y)
            if np.isfinite(y).any():
                top = max(top, float(np.nanmax(y)))
        for response, points in self.rounds.items():
            pts = round_points(self.log, response)
            points.set_offsets(pts)
            if len(pts):
                top = max(top, float(pts[:, 1].max()))
        self.empty.set_visible(not self.log)
        if n - 1 > self.xmax:
            while n - 1 > self.xmax:
                self.xmax *= 2
            self.ax.set_xlim(0, self.xmax)
            self.blit.invalidate()
        if top > self.ytop:
            self.ytop = nice_limits(0.0, top * 1.1, grid=10 ** np.floor(np.log10(top)))[1]
            self.ax.set_ylim(0, self.ytop)
            self.blit.invalidate()
        return self.blit.png()
