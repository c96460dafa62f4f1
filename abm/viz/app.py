"""The browser viewer: step through a scenario in Mesa's SolaraViz.

Run it with ``abm viz [SCENARIO.yaml]`` or ``solara run abm/viz/app.py``; the scenario
file comes from the ``ABM_VIZ_SCENARIO`` environment variable (default: the data
strike, else the baseline, else the schema's defaults).

The assumption: the viewer only *watches* the model. It never draws from the model's
rng, so a scenario and a seed step through exactly the run ``abm run`` records. What
can be changed is derived from the schema (:mod:`abm.viz.params`): a scenario picker
over ``scenarios/*.yaml`` and sliders whose bounds are the schema's constraints and
whose values start at the chosen scenario's; Mesa's Reset rebuilds the model from the
scenario file with the slider values as overrides. Only matplotlib draws (Mesa's
``backend="matplotlib"`` path), and no component needs KaTeX, so the page loads fully
offline with the pinned ``solara-assets``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import solara
from mesa.visualization import SolaraViz
from mesa.visualization.utils import update_counter

from abm.agents import User
from abm.model import LeverageModel
from abm.preflight import preflight
from abm.scenario import Scenario, ScenarioError, load_scenario, with_overrides
from abm.scenario.paths import keyword_overrides
from abm.viz import plots
from abm.viz.network_view import LiveNetwork
from abm.viz.params import check_values, scenario_files, user_params
from abm.viz.server import SCENARIO_ENV

SCENARIOS_ENV = "ABM_VIZ_SCENARIOS"
_REPO_SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


class ViewerModel(LeverageModel):
    """A LeverageModel built from a scenario *file*, so Mesa's Reset can rebuild it.

    Every build goes through :func:`viewer_scenario`: slider values outside their
    controls are refused, and the memory estimate is checked before anything is built.

    Args:
        scenario_file: The scenario YAML ("" for the schema's defaults).
        rng: Seed or generator; defaults to the scenario's seed.
        scenario: Ignored unless it is an :class:`abm.scenario.Scenario`. Mesa's Reset
            passes its own experimental ``Scenario`` object here; ours comes from the file.
        **overrides: Slider values, as ``population__n_users=...`` paths.

    Raises:
        ScenarioError: The scenario as written does not fit in memory.
    """

    default_file = ""  # set per scenario by :func:`viewer_model`

    def __init__(
        self,
        *,
        scenario_file: str | None = None,
        rng: Any = None,
        scenario: Any = None,
        **overrides: Any,
    ):
        scenario_file = self.default_file if scenario_file is None else scenario_file
        if isinstance(scenario, Scenario):
            spec = scenario
        else:
            spec = load_scenario(scenario_file) if scenario_file else Scenario()
        self.scenario_file = scenario_file
        spec, self.notice = viewer_scenario(spec, scenario_file, overrides)
        super().__init__(scenario=spec, rng=rng)


def viewer_scenario(spec: Scenario, file: str, values: dict[str, Any]) -> tuple[Scenario, str]:
    """The scenario a (re)build runs, and a one-line notice of what was not applied.

    Slider values come from the page, so they are checked against the controls the page
    was given (:func:`abm.viz.params.check_values`); those accepted are applied as
    overrides, and the result must pass the schema and the pre-run check
    (:func:`abm.preflight.preflight`: memory, data files, learners for the task, ...), as
    ``abm run`` does. A rebuild either refuses keeps the scenario as written and says why.

    Raises:
        ScenarioError: The scenario as written does not pass the pre-run check.
    """
    accepted, refused = check_values(spec, values)
    notes = []
    if refused:
        notes.append("slider values refused, the scenario's kept: " + "; ".join(refused))
    resolved = spec
    if accepted:
        try:
            resolved = with_overrides(spec, keyword_overrides(accepted))
            preflight(resolved, file or None, agents=True)
        except ScenarioError as err:
            # e.g. fewer steps than an event needs, or more users than memory allows.
            notes.append(f"slider values not applied: {err.field}: {err.expected}")
            resolved = spec
    if resolved is spec:
        preflight(spec, file or None, agents=True)
    return resolved, " ".join(notes)


@functools.cache
def viewer_model(scenario_file: str) -> type[ViewerModel]:
    """The model class for one scenario file.

    Mesa's Reset rebuilds the model as ``type(model)(**parameters)`` and, once the page
    has switched scenarios, passes only the sliders that changed; the class itself must
    therefore know which file to open.
    """
    return type("ViewerModel", (ViewerModel,), {"default_file": scenario_file})


def scenarios_folder() -> Path:
    """The folder the picker lists: $ABM_VIZ_SCENARIOS, ./scenarios, or the project's."""
    if os.environ.get(SCENARIOS_ENV):
        return Path(os.environ[SCENARIOS_ENV])
    local = Path("scenarios")
    return local if local.is_dir() else _REPO_SCENARIOS


def initial_scenario_file() -> str:
    """The scenario to open: $ABM_VIZ_SCENARIO, else data_strike, else baseline, else ""."""
    chosen = os.environ.get(SCENARIO_ENV, "")
    if chosen:
        return chosen
    folder = scenarios_folder()
    for name in ("data_strike.yaml", "baseline.yaml"):
        if (folder / name).is_file():
            return str(folder / name)
    return ""


def picker_choices(folder: Path, current: str) -> dict[str, str]:
    """Picker label (file stem) -> path, for the folder's scenarios and the current file."""
    choices = {Path(p).stem: str(Path(p).resolve()) for p in scenario_files(folder)}
    if current and _same_file(current) not in choices.values():
        stem = Path(current).stem
        choices = {stem if stem not in choices else current: _same_file(current), **choices}
    return choices


def _same_file(path: str) -> str:
    return str(Path(path).resolve())


# --------------------------------------------------------------------------- drawing


# Each panel keeps one live figure per model (a new model on Reset gets new ones) and
# per step redraws only its data (:class:`abm.viz.plots.Blitter`). Only the Dashboard
# subscribes to Mesa's step counter and hands it down as ``frame`` (a changed argument
# is what makes a panel render again), so a Step is one render pass over the panels.


@solara.component
def NetworkView(model: LeverageModel, frame: int = 0) -> None:
    """The social network by community: platform colours, members ringed, actions marked."""
    live = solara.use_memo(lambda: LiveNetwork(model), [model])
    solara.Image(live.png(), width="100%", classes=["abm-network"])


def make_series_view(name: str) -> Callable:
    """A component drawing one :data:`abm.viz.plots.PLOTS` panel of the running model."""

    @solara.component
    def SeriesView(model: LeverageModel, frame: int = 0) -> None:
        live = solara.use_memo(
            lambda: plots.LiveSeries(model.datacollector.model_vars, name, model.spec.steps),
            [model],
        )
        solara.Image(live.png(), width="100%", classes=["abm-plot", f"abm-plot-{name}"])

    SeriesView.__name__ = f"SeriesView_{name}"
    return SeriesView


@solara.component
def BargainingView(model: LeverageModel, frame: int = 0) -> None:
    """Dividends won and each bargaining round's response."""
    live = solara.use_memo(
        lambda: plots.LiveBargaining(
            model.datacollector.model_vars, model.bargaining_log, model.spec.steps
        ),
        [model],
    )
    solara.Image(live.png(), width="100%", classes=["abm-plot", "abm-plot-bargaining"])


def key_numbers(model: LeverageModel) -> list[tuple[str, str]]:
    """The current step's key numbers as (label, text) rows."""
    rows = [("step", str(model.steps)), ("users", str(model.n_users))]
    users = model.agents_by_type[User]  # the users as Mesa agents (views on the arrays)
    on = users.groupby("platform").count()
    for p in model.platforms:
        share = on.get(p.index, 0) / len(users)
        rows.append((f"{p.name}: quality", f"{p.quality:.3f}"))
        rows.append((f"{p.name}: market share", f"{share:.1%}"))
    for c in model.collectives:
        status = "running" if c.active else (c.ended_reason or "not started")
        rows.append((f"{c.name}: campaign", f"{c.spec.lever.value} on {c.spec.target}, {status}"))
        rows.append((f"{c.name}: participation", f"{c.participation:.1%} of users"))
        rows.append((f"{c.name}: turnout", f"{c.turnout:.1%} of members"))
        e = c.effects
        if e.twin_quality == e.twin_quality:
            rows.append((f"{c.name}: target quality without action", f"{e.twin_quality:.3f}"))
        lev = "not measured yet" if e.leverage != e.leverage else f"{e.leverage:.3f}"
        rows.append((f"{c.name}: leverage", lev))
        rows.append((f"{c.name}: dividend won", f"{c.dividend:.2f}"))
    return rows


@solara.component
def KeyNumbers(model: LeverageModel, frame: int = 0) -> None:
    """A panel of the current step's key numbers."""
    rows = key_numbers(model)
    with solara.Column(classes=["abm-numbers"], style={"padding": "8px"}):
        solara.Text(f"Step {model.steps}", classes=["abm-step"], style={"font-size": "1.4em"})
        if getattr(model, "notice", ""):
            solara.Warning(model.notice)
        solara.v.Html(
            tag="table",
            style_="border-collapse: collapse; font-size: 0.95em",
            children=[
                solara.v.Html(
                    tag="tr",
                    children=[
                        solara.v.Html(tag="td", style_="padding: 2px 12px 2px 0", children=[k]),
                        solara.v.Html(tag="td", style_="font-weight: 600", children=[v]),
                    ],
                )
                for k, v in rows[1:]
            ],
        )


def series_for(spec: Scenario) -> list[str]:
    """The series panels shown for a scenario (collective panels only with collectives)."""
    names = ["quality", "market_share"]
    if spec.collectives:
        names += ["participation", "leverage"]
    return names


@solara.component
def Dashboard(model: solara.Reactive, spec: Scenario) -> None:
    """The panels, laid out so the network, key numbers and bargaining fit one screen.

    Network on the left; on the right the bargaining panel (when there are collectives)
    above the key numbers; the series panels in a row below.
    """
    frame = update_counter.get()  # the one subscriber: one render pass per step
    current = model.value
    with solara.Div(classes=["abm-dashboard"], style=_TOP_ROW):
        with solara.Div():
            NetworkView(current, frame)
        with solara.Div():
            if spec.collectives:
                BargainingView(current, frame)
            KeyNumbers(current, frame)
    with solara.Div(style=_SERIES_ROW):
        for name in series_for(spec):
            with solara.Div():
                make_series_view_cached(name)(current, frame)


make_series_view_cached = functools.cache(make_series_view)

_TOP_ROW = "display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 8px"
_SERIES_ROW = (
    "display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 8px"
)
# Slider values always visible (Vuetify shows a slider's value only while dragging), and
# the schema's long labels above their slider instead of squeezing it.
_CSS = """
.abm-dashboard > div > div { height: auto !important; }
.v-input__slider { margin-top: 26px; }
.v-input__slider .v-input__slot { flex-wrap: wrap; }
.v-input__slider .v-input__slot > .v-label { flex: 1 0 100%; white-space: normal;
    margin-bottom: 34px; font-size: 0.85em; height: auto; line-height: 1.25; }
.v-input__slider .v-slider__thumb-label-container { display: block !important; }
.v-slider__thumb-label { font-size: 0.7em; }
"""


# --------------------------------------------------------------------------- the page


@solara.component
def ScenarioPicker(current: str, on_pick: Callable[[str], None], folder: Path) -> None:
    """A select listing the scenario files of ``folder``."""
    choices = picker_choices(folder, current)
    label = next((k for k, v in choices.items() if current and v == _same_file(current)), None)
    solara.Select(
        "scenario",
        values=list(choices),
        value=label,
        on_value=lambda stem: on_pick(choices[stem]),
        classes=["abm-scenario-picker"],
    )


@solara.component
def Viewer() -> None:
    """The page: a scenario picker over SolaraViz for the chosen scenario."""
    file, set_file = solara.use_state(initial_scenario_file())

    def build() -> tuple[Any, Any, str]:
        try:
            spec = load_scenario(file) if file else Scenario()
            return spec, viewer_model(file)(scenario_file=file, scenario=spec), ""
        except (ScenarioError, ValueError) as err:
            return None, None, str(err)

    spec, model, error = solara.use_memo(build, [file])
    with solara.Sidebar():
        with solara.Card("Scenario"):
            ScenarioPicker(file, set_file, scenarios_folder())
            if spec is not None and spec.question:
                solara.Text(spec.question, style={"font-size": "0.9em"})
    if error:
        solara.Error(error)
        return
    ScenarioView(file, spec, model).key(f"viz-{file}")


@solara.component
def ScenarioView(file: str, spec: Scenario, initial: LeverageModel) -> None:
    """Mesa's controls (sidebar) and our dashboard, sharing one reactive model.

    SolaraViz gets no components: its tabbed grid would put a "Page 0" tab and fixed
    cells around panels that this page lays out itself.
    """
    model = solara.use_reactive(initial)
    title = f"Data leverage: {spec.name}"
    solara.Title(title)
    solara.Style(_CSS)
    params = {"scenario_file": file, **user_params(spec)}
    SolaraViz(model, components=[], model_params=params, name=title)
    Dashboard(model, spec)


page = Viewer()
