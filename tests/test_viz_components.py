"""Viewer components rendered with ``solara.render`` (as Mesa tests its own), and helpers."""

from __future__ import annotations

from pathlib import Path

import ipyvuetify as v
import ipywidgets as widgets
import numpy as np
import pandas as pd
import pytest
import solara
from mesa.visualization.solara_viz import UserInputs

from abm import runner
from abm.bargaining import ROUND_COLUMNS
from abm.behaviour import Action
from abm.model import LeverageModel
from abm.network import build_graph
from abm.scenario import Network, Population, ScenarioError, load_scenario, with_overrides
from abm.viz import app, plots
from abm.viz.network_view import LiveNetwork, compute_layout, layout_for
from abm.viz.params import VIEWER_CAPS, bounds, check_values, label, user_params

SMALL_A = """\
name: small_a
steps: 6
population:
  n_users: 60
  reconsider_rate: 0.35
collectives:
  - name: union
    target: incumbent
    size: 0.3
    start: 1
  - name: guild
    target: challenger
    lever: strike
    size: 0.1
"""
SMALL_B = """\
name: small_b
steps: 5
population:
  n_users: 80
  threshold_mean: 0.6
"""


@pytest.fixture(autouse=True)
def closed_pages(monkeypatch):
    """Close every page a test rendered: Mesa's step counter is global, and a page left
    open would re-render on every later test's Step (each test slower than the last)."""
    opened = []
    render = solara.render

    def tracked(*args, **kwargs):
        out = render(*args, **kwargs)
        opened.append(out[1])
        return out

    monkeypatch.setattr(solara, "render", tracked)
    yield
    for rc in opened:
        rc.close()


@pytest.fixture
def folder(tmp_path, monkeypatch):
    (tmp_path / "a.yaml").write_text(SMALL_A)
    (tmp_path / "b.yaml").write_text(SMALL_B)
    monkeypatch.setenv(app.SCENARIOS_ENV, str(tmp_path))
    monkeypatch.setenv(app.SCENARIO_ENV, str(tmp_path / "a.yaml"))
    return tmp_path


def slider(rc, label: str):
    return rc.find(v.Slider, label=label).widget


def test_slider_bounds_and_values_come_from_schema_and_scenario(folder):
    spec = load_scenario(folder / "a.yaml")
    changes = []
    _, rc = solara.render(
        UserInputs(user_params(spec), on_change=lambda k, x: changes.append((k, x))),
        handle_error=False,
    )
    rate = slider(rc, label("population.reconsider_rate"))
    field = Population.model_fields["reconsider_rate"]
    assert (rate.min, rate.max) == (field.metadata[0].ge, field.metadata[1].le) == (0.0, 1.0)
    assert rate.v_model == pytest.approx(0.35)  # the scenario's value, not the default 0.1
    users = slider(rc, label("population.n_users"))
    # The lowest grid point at or above the schema's bound, on a grid through the value.
    lo = bounds("population.n_users")[0]
    assert lo <= users.min < lo + users.step and (users.v_model - users.min) % users.step == 0
    # The schema sets no upper bound on users (memory decides): the viewer's cap does.
    assert bounds("population.n_users")[1] is None
    assert users.max <= VIEWER_CAPS["population.n_users"] and users.v_model == 60
    degree = slider(rc, label("network.mean_degree"))
    assert degree.min == Network.model_fields["mean_degree"].metadata[0].ge
    # One slider per collective field, by collective name; a campaign's start fits the run.
    assert slider(rc, label("collectives[union].size")).v_model == pytest.approx(0.3)
    assert slider(rc, label("collectives[guild].size")).v_model == pytest.approx(0.1)
    assert slider(rc, label("collectives[union].start")).max == spec.steps - 1
    assert rc.find(v.Checkbox, label=label("policy.bargaining_rights")).widget.v_model is False

    rate.v_model = 0.8
    users.v_model = 120
    assert ("population__reconsider_rate", 0.8) in changes
    assert ("population__n_users", 120) in changes


@pytest.mark.parametrize("path", sorted(Path(app._REPO_SCENARIOS).glob("*.yaml")), ids=str)
def test_every_slider_grid_contains_the_scenarios_value(path):
    # The browser snaps a value onto min + i * step and reports the snapped value back;
    # a grid that misses the value changes the scenario on Reset (1000 users -> 1002).
    spec = load_scenario(path)
    for name, p in user_params(spec).items():
        if isinstance(p, dict):
            continue
        steps = (p.value - p.min) / p.step
        assert abs(steps - round(steps)) < 1e-9, (name, p.value, p.min, p.step)
        assert p.min <= p.value <= p.max


def test_labels_are_the_schemas_meaning_and_unit():
    assert label("population.reconsider_rate") == (
        "Probability a user reconsiders its platform each step (probability / step)"
    )
    assert label("population.n_users") == "Number of users (agents)"  # unit already said
    assert label("collectives[strikers].size") == (
        "strikers: Initial share of users who are members"
    )
    assert label("network.rewire") == "Watts-Strogatz rewiring probability"


def test_slider_names_rebuild_the_scenario(folder):
    spec = load_scenario(folder / "a.yaml")
    values = {
        k: p["value"] if isinstance(p, dict) else p.value for k, p in user_params(spec).items()
    }
    values["collectives__union__size"] = 0.5
    model = app.ViewerModel(scenario_file=str(folder / "a.yaml"), **values)
    assert model.spec.collectives[0].size == 0.5
    assert model.users.member[:, 0].sum() == round(0.5 * 60)
    # Unchanged sliders reproduce the scenario's own run, step for step.
    values["collectives__union__size"] = 0.3
    viewer = app.ViewerModel(scenario_file=str(folder / "a.yaml"), **values)
    plain = LeverageModel(scenario=spec)
    for _ in range(3):
        viewer.step()
        plain.step()
    np.testing.assert_array_equal(viewer.users.platform, plain.users.platform)
    assert [p.quality for p in viewer.platforms] == [p.quality for p in plain.platforms]


def test_scenario_picker_lists_the_folder(folder):
    picked = []
    _, rc = solara.render(
        app.ScenarioPicker(str(folder / "a.yaml"), picked.append, folder), handle_error=False
    )
    select = rc.find(v.Select, label="scenario").widget
    assert select.items == ["a", "b"]
    assert select.v_model == "a"
    select.v_model = "b"
    assert picked == [str((folder / "b.yaml").resolve())]


@solara.component
def InLayout():
    with solara.AppLayout():
        app.Viewer()


def users_shown(rc) -> str:
    cells = rc.find(v.Html, tag="td").widgets
    texts = [c.children[0] for c in cells]
    return texts[texts.index("users") + 1]


def test_picking_a_scenario_rebuilds_model_and_sliders(folder):
    _, rc = solara.render(InLayout(), handle_error=False)
    assert users_shown(rc) == "60"
    assert slider(rc, label("population.n_users")).v_model == 60
    rc.find(v.Select, label="scenario").widget.v_model = "b"
    assert users_shown(rc) == "80"
    assert slider(rc, label("population.n_users")).v_model == 80
    assert slider(rc, label("population.threshold_mean")).v_model == pytest.approx(0.6)
    assert rc.find(v.Slider, label=label("collectives[union].size")).widgets == []  # b has none


def test_step_and_reset_with_slider_values(folder):
    _, rc = solara.render(InLayout(), handle_error=False)
    step = rc.find(v.Html, class_="abm-step")
    rc.find(v.Btn, children=["Step"]).widget.click()
    rc.find(v.Btn, children=["Step"]).widget.click()
    assert step.widget.children == ["Step 2"]
    slider(rc, label("population.n_users")).v_model = 40
    rc.find(v.Btn, children=["Reset"]).widget.click()
    assert rc.find(v.Html, class_="abm-step").widget.children == ["Step 0"]
    assert users_shown(rc) == "40"


def test_an_invalid_scenario_shows_one_line_instead_of_crashing(folder):
    (folder / "c.yaml").write_text("population:\n  n_users: 1\n")
    _, rc = solara.render(InLayout(), handle_error=False)
    rc.find(v.Select, label="scenario").widget.v_model = "c"
    alert = rc.find(v.Alert).widget
    assert "population.n_users" in str(alert.children)


def test_layout_is_cached_deterministic_and_subsampled():
    adj, _ = build_graph(Network(), 1500, np.random.default_rng(3))
    first = layout_for(adj)
    assert layout_for(adj) is first  # computed once, reused
    assert first.nodes.size == 1000 and first.pos.shape == (1000, 2)
    assert first.pos.min() >= 0.0 and first.pos.max() <= 1.0
    again = compute_layout(adj)
    np.testing.assert_array_equal(again.nodes, first.nodes)
    np.testing.assert_allclose(again.pos, first.pos)
    small, _ = build_graph(Network(), 200, np.random.default_rng(3))
    assert layout_for(small).nodes.size == 200


def test_network_panel_marks_actions_and_membership(folder):
    model = app.ViewerModel(scenario_file=str(folder / "a.yaml"))
    model.users.action[:5] = Action.WITHHOLD  # five members of union strike
    model.users.actor[:5] = 0
    live = LiveNetwork(model)
    live.update()
    fig = live.figure
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "platform: incumbent" in labels and "platform: challenger" in labels
    assert "acting: strike" in labels
    assert "member of union (strike)" in labels and "member of guild (strike)" in labels
    drawn = [c for c in fig.axes[0].collections[1:] if len(c.get_offsets())]
    markers = {c.get_paths()[0].vertices.shape for c in drawn}
    assert len(markers) == 2  # circles for contributing, crosses for striking


def test_reset_with_slider_values_the_schema_refuses_keeps_the_scenario_and_says_why(
    folder, monkeypatch
):
    # An event at step 4 needs at least 5 steps; the steps slider goes down to 1.
    (folder / "e.yaml").write_text(
        SMALL_B + "events:\n  - {at: 4, action: ai_substitute, platform: incumbent}\n"
    )
    monkeypatch.setenv(app.SCENARIO_ENV, str(folder / "e.yaml"))
    _, rc = solara.render(InLayout(), handle_error=False)
    assert not rc.find(v.Alert).widgets
    slider(rc, label("steps")).v_model = 2
    rc.find(v.Btn, children=["Reset"]).widget.click()
    assert rc.find(v.Html, class_="abm-step").widget.children == ["Step 0"]
    notice = rc.find(v.Alert).widget
    assert "events[0].at" in str(notice.children)
    assert users_shown(rc) == "80"  # the scenario as written


def test_reset_after_picking_another_scenario_rebuilds_that_scenario(folder, monkeypatch):
    built = []
    init = app.ViewerModel.__init__

    def record(self, **kwargs):
        init(self, **kwargs)
        built.append(self)

    monkeypatch.setattr(app.ViewerModel, "__init__", record)
    _, rc = solara.render(InLayout(), handle_error=False)
    rc.find(v.Select, label="scenario").widget.v_model = "b"
    slider(rc, label("population.n_users")).v_model = 40
    rc.find(v.Btn, children=["Reset"]).widget.click()
    assert users_shown(rc) == "40"
    # The rest of the rebuilt model is scenario b's, not the schema's defaults.
    spec = built[-1].spec
    assert (spec.name, spec.steps, spec.population.threshold_mean) == ("small_b", 5, 0.6)


# --------------------------------------------------------------------------- to the end


def panels(rc) -> dict[str, bytes]:
    """The pictures on the page, by panel class (``abm-network``, ``abm-plot-quality``, ...)."""
    out = {}
    for w in rc.find(widgets.Image).widgets:
        names = [c for c in w._dom_classes if c == "abm-network" or c.startswith("abm-plot-")]
        for name in names:
            assert name not in out, f"two {name} panels"
            out[name] = bytes(w.value)
    return out


def expected_panels(spec) -> set[str]:
    names = {"abm-network", *(f"abm-plot-{n}" for n in app.series_for(spec))}
    return names | ({"abm-plot-bargaining"} if spec.collectives else set())


def errors_shown(rc) -> list[str]:
    return [str(a.children) for a in rc.find(v.Alert).widgets if a.type == "error"]


def on_grid(control, near: int) -> int:
    """A value of a slider's grid (``min + i * step``) near ``near``."""
    return int(control.min + control.step * max(1, round((near - control.min) / control.step)))


@pytest.mark.slow
@pytest.mark.parametrize(
    "path", sorted(Path(app._REPO_SCENARIOS).glob("*.yaml")), ids=lambda p: p.stem
)
def test_every_reference_scenario_steps_to_its_last_step_in_the_viewer(path, monkeypatch):
    # The page as a user drives it: the scenario opened, the users slider moved down
    # (a small population keeps this fast; the code path is Reset's), Reset, then Step
    # until Mesa disables it. Any exception in a panel fails the test (handle_error=False).
    monkeypatch.setenv(app.SCENARIOS_ENV, str(app._REPO_SCENARIOS))
    monkeypatch.setenv(app.SCENARIO_ENV, str(path))
    spec = load_scenario(path)
    _, rc = solara.render(InLayout(), handle_error=False)
    users = slider(rc, label("population.n_users"))
    small = on_grid(users, 60)
    users.v_model = small
    rc.find(v.Btn, children=["Reset"]).widget.click()
    assert users_shown(rc) == str(small) and not rc.find(v.Alert).widgets
    first = panels(rc)
    assert set(first) == expected_panels(spec)

    step = rc.find(v.Btn, children=["Step"]).widget
    clicks = 0
    while not step.disabled and clicks <= spec.steps:
        step.click()
        clicks += 1
    assert clicks == spec.steps  # Mesa stops at the scenario's last step, not before
    assert rc.find(v.Html, class_="abm-step").widget.children == [f"Step {spec.steps}"]
    assert errors_shown(rc) == []
    last = panels(rc)
    assert set(last) == expected_panels(spec)
    for name, picture in last.items():
        assert picture.startswith(b"\x89PNG"), name
        assert picture != first[name], f"{name} was not redrawn"


def test_a_concession_is_drawn_and_counted_in_the_viewer(monkeypatch):
    # union_dividend's union wins a concession: the rounds' table columns
    # (abm.bargaining.ROUND_COLUMNS) reach the bargaining panel and the key numbers.
    path = Path(app._REPO_SCENARIOS) / "union_dividend.yaml"
    monkeypatch.setenv(app.SCENARIO_ENV, str(path))
    built = []
    init = app.ViewerModel.__init__

    def record(self, **kwargs):
        init(self, **kwargs)
        built.append(self)

    monkeypatch.setattr(app.ViewerModel, "__init__", record)
    _, rc = solara.render(InLayout(), handle_error=False)
    step = rc.find(v.Btn, children=["Step"]).widget
    while not step.disabled:
        step.click()
    rounds = built[-1].bargaining_log
    assert any(r["response"] == "concede" for r in rounds)
    cells = [c.children[0] for c in rc.find(v.Html, tag="td").widgets]
    won = float(cells[cells.index("union: dividend won") + 1])
    assert won > 0
    # The panel plots each round's Nash dividend and demand, as the table records them.
    conceded = plots.round_points(rounds, "concede")
    expected = [(r["step"], r["nash_dividend"]) for r in rounds if r["response"] == "concede"]
    np.testing.assert_allclose(conceded, expected)
    np.testing.assert_allclose(
        plots.round_points(rounds, None), [(r["step"], r["demand"]) for r in rounds]
    )


def test_the_bargaining_panel_reads_only_columns_the_rounds_have():
    assert set(plots.ROUND_READS) <= set(ROUND_COLUMNS)
    # Columns the rounds may gain never change what is drawn.
    row = {c: "x" for c in ROUND_COLUMNS} | {
        plots.ROUND_STEP: 4, plots.ROUND_RESPONSE: "concede",
        plots.ROUND_OFFER: 1.2, plots.ROUND_DEMAND: 1.0,
    }  # fmt: skip
    wider = {**row, "a_new_column": 99.0}
    # A round is drawn at its step, a model-table step (bargaining.csv records it so).
    np.testing.assert_array_equal(plots.round_points([wider], "concede"), [[4, 1.2]])
    np.testing.assert_array_equal(plots.round_points([row], None), [[4, 1.0]])
    assert plots.round_points([row], "ignore").shape == (0, 2)
    table = pd.DataFrame({"dividend[u]": [0.0, 0.0, 1.0, 2.0]})
    np.testing.assert_array_equal(plots.dividend_paid(table["dividend[u]"]), [0, 0, 1, 1])
    # The live panel draws the wider round and labels each response and the demand.
    panel = plots.LiveBargaining({"dividend[u]": list(table["dividend[u]"])}, [wider], 4)
    assert panel.png().startswith(b"\x89PNG")
    np.testing.assert_array_equal(panel.rounds["concede"].get_offsets(), [[4, 1.2]])
    labels = [t.get_text() for t in panel.ax.get_legend().get_texts()]
    assert "round: concede" in labels and "round: demand" in labels


# --------------------------------------------------------------------------- hostile values


def test_slider_values_beyond_their_controls_are_refused_on_the_server(folder):
    # The page's sliders stop at 5,000 users, but a value comes back over the websocket:
    # one set to 200,000 (what a hostile page sent) is refused with a message on Reset.
    _, rc = solara.render(InLayout(), handle_error=False)
    slider(rc, label("population.n_users")).v_model = 200_000
    slider(rc, label("population.reconsider_rate")).v_model = 0.5  # within range: applied
    rc.find(v.Btn, children=["Reset"]).widget.click()
    assert users_shown(rc) == "60"  # the scenario's own
    notice = str(rc.find(v.Alert).widget.children)
    assert "population.n_users" in notice and "5,000" in notice and "200,000" in notice
    assert "refused" in notice


def test_check_values_refuses_what_no_slider_could_send(folder):
    spec = load_scenario(folder / "a.yaml")
    good = {"population__n_users": 120, "policy__bargaining_rights": True, "steps": 6.0}
    accepted, refused = check_values(spec, good)
    assert refused == [] and accepted == {**good, "steps": 6}
    assert isinstance(accepted["steps"], int)
    bad = {
        "population__n_users": 200_000,
        "population__reconsider_rate": float("nan"),
        "population__threshold_mean": "0.5\x1b]52;c;x\x07",
        "steps": 2.5,
        "policy__bargaining_rights": "yes",
        "collectives__union__size": -0.1,
        "population__n_users_typo\n": 3,
    }
    accepted, refused = check_values(spec, bad)
    assert accepted == {}
    assert len(refused) == len(bad)
    text = "\n".join(refused)
    assert "\x1b" not in text and "0.5" not in text.split("threshold_mean")[1].split("\n")[0]
    assert "typo" not in text  # a name the page made up is counted, never echoed
    assert "whole" in text and "true or false" in text


def test_a_rebuild_goes_through_the_memory_estimate(folder, monkeypatch):
    # With a machine that fits the scenario's 60 users but not 5,000, Reset with the
    # slider at 5,000 keeps the scenario and says why, before building anything.
    spec = load_scenario(folder / "a.yaml")
    small = runner.memory_estimate(spec)
    big = runner.memory_estimate(with_overrides(spec, {"population.n_users": 5000}))
    assert big > small
    monkeypatch.setattr(runner, "memory_limit", lambda: (small + big) // 2)
    _, rc = solara.render(InLayout(), handle_error=False)
    slider(rc, label("population.n_users")).v_model = 5000
    built = []
    monkeypatch.setattr(app.LeverageModel, "__init__", _recording(built))
    rc.find(v.Btn, children=["Reset"]).widget.click()
    assert [m.spec.population.n_users for m in built] == [60]
    notice = str(rc.find(v.Alert).widget.children)
    assert "memory" in notice and "not applied" in notice
    # A scenario that does not fit as written is one line on the page, not a model.
    monkeypatch.setattr(runner, "memory_limit", lambda: small // 2)
    with pytest.raises(ScenarioError, match="memory"):
        app.ViewerModel(scenario_file=str(folder / "a.yaml"))


def _recording(built: list):
    init = app.LeverageModel.__init__

    def record(self, **kwargs):
        init(self, **kwargs)
        if self.real is None:  # its twins are built through the same constructor
            built.append(self)

    return record
