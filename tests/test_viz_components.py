"""Viewer components rendered with ``solara.render`` (as Mesa tests its own), and helpers."""

from __future__ import annotations

from pathlib import Path

import ipyvuetify as v
import numpy as np
import pytest
import solara
from mesa.visualization.solara_viz import UserInputs

from abm.model import LeverageModel
from abm.network import build_graph
from abm.scenario import Network, Population, load_scenario
from abm.viz import app
from abm.viz.network_view import compute_layout, layout_for, network_figure
from abm.viz.params import bounds, label, user_params

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
    assert users.max <= bounds("population.n_users")[1] and users.v_model == 60
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


def test_network_figure_marks_actions_and_membership(folder):
    model = app.ViewerModel(scenario_file=str(folder / "a.yaml"))
    model.users.action[:5] = 1  # withholding
    fig = network_figure(model)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "platform: incumbent" in labels and "platform: challenger" in labels
    assert "striking (withholding)" in labels
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


def test_the_bargaining_panel_draws_each_round_at_its_model_table_step():
    from abm.viz.plots import LiveBargaining

    sc = load_scenario(Path(__file__).resolve().parents[1] / "scenarios" / "union_dividend.yaml")
    model = LeverageModel(scenario=sc.model_copy(update={"steps": 11}))
    live = LiveBargaining(model.datacollector.model_vars, model.bargaining_log, sc.steps)
    while model.running:
        model.step()
        live.png()  # a round in the log is drawn, not a KeyError
    assert model.bargaining_log, "the union bargained"
    drawn = np.vstack([p.get_offsets() for p in live.rounds.values() if len(p.get_offsets())])
    logged = [(r["step"], r["nash_dividend"]) for r in model.bargaining_log]
    assert sorted(map(tuple, drawn)) == sorted(logged)
