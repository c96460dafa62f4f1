"""The scenario schema: extends, --set overrides, the reference docs, and the event timeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from abm.model import LeverageModel
from abm.runner import simulate
from abm.scenario import (
    UNITS,
    Scenario,
    ScenarioError,
    load_scenario,
    schema_markdown,
    schema_rows,
    validate,
    with_overrides,
)

ROOT = Path(__file__).resolve().parents[1]

PARENT = """\
name: parent
steps: 12
population: {n_users: 150, samples_per_step: 1.0}
platforms:
  - {name: incumbent, initial_share: 0.7, price: 0.1}
  - {name: challenger, initial_share: 0.3}
collectives:
  - {name: union, target: incumbent, lever: strike, size: 0.3}
"""


@pytest.fixture
def family(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("")  # the project root: extends may reach it
    (tmp_path / "parent.yaml").write_text(PARENT)
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "child.yaml").write_text(
        "extends: ../parent.yaml\nname: child\n"
        "platforms: [{name: challenger, price: 0.5}, {name: commons, initial_share: 0.0}]\n"
        "collectives: [{name: union, size: 0.5}]\n"
    )
    (sub / "grandchild.yaml").write_text("extends: child.yaml\nname: grandchild\nsteps: 5\n")
    return tmp_path


# --------------------------------------------------------------------------- extends


def test_extends_merges_named_items_and_keeps_the_rest(family: Path) -> None:
    s = load_scenario(family / "sub" / "child.yaml")
    assert s.name == "child"
    assert [p.name for p in s.platforms] == ["incumbent", "challenger", "commons"]
    assert s.platforms[0].price == 0.1  # inherited untouched
    assert s.platforms[1].price == 0.5 and s.platforms[1].initial_share == 0.3  # merged
    assert s.collectives[0].size == 0.5 and s.collectives[0].lever.value == "strike"
    assert s.population.n_users == 150


def test_extends_chains_resolve_relative_to_each_file(family: Path) -> None:
    s = load_scenario(family / "sub" / "grandchild.yaml")
    assert (s.name, s.steps, s.platforms[1].price) == ("grandchild", 5, 0.5)


def test_extends_cycle_names_the_chain(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("extends: b.yaml\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n")
    with pytest.raises(
        ScenarioError, match=r"extends: no cycle of extends \(a.yaml -> b.yaml -> a.yaml\)"
    ):
        load_scenario(tmp_path / "a.yaml")


# --------------------------------------------------------------------------- --set


def test_set_addresses_platforms_and_collectives_by_name(family: Path) -> None:
    s = load_scenario(
        family / "parent.yaml",
        [
            "platforms.challenger.price=0.25",
            "collectives.union.lever=boycott",
            "collectives.union.signal.target=3",
            "population.n_users=120",
        ],
    )
    assert s.platforms[1].price == 0.25
    assert s.collectives[0].lever.value == "boycott"
    assert s.collectives[0].signal.target == 3
    assert s.population.n_users == 120


def test_set_creates_sections_from_defaults_and_parses_yaml_values(family: Path) -> None:
    s = load_scenario(
        family / "parent.yaml", ["policy.right_to_delete=true", "task.feature_columns=[a, b]"]
    )
    assert s.policy.right_to_delete is True
    assert s.policy.portability == 0.0  # the rest of the section keeps its defaults
    assert s.task.feature_columns == ["a", "b"]


def test_set_addresses_events_by_index(tmp_path: Path) -> None:
    (tmp_path / "e.yaml").write_text(
        PARENT + "events: [{at: 3, action: change_terms, platform: incumbent, price: 1.0}]\n"
    )
    s = load_scenario(tmp_path / "e.yaml", ["events.0.at=7"])
    assert s.events[0].at == 7


def test_set_after_extends_overrides_the_child(family: Path) -> None:
    s = load_scenario(family / "sub" / "child.yaml", ["collectives.union.size=0.1"])
    assert s.collectives[0].size == 0.1


def test_set_unknown_field_suggests_a_name(family: Path) -> None:
    with pytest.raises(ScenarioError, match="did you mean 'n_users'"):
        load_scenario(family / "parent.yaml", ["population.n_user=10"])


def test_with_overrides_validates_and_copies() -> None:
    base = Scenario()
    new = with_overrides(base, {"population.n_users": 123, "platforms.challenger.price": 0.4})
    assert new.population.n_users == 123 and new.platforms[1].price == 0.4
    assert base.population.n_users == 500  # the original is untouched
    with pytest.raises(ScenarioError, match="population.n_users"):
        with_overrides(base, {"population.n_users": -1})


def test_validate_rejects_non_mappings() -> None:
    with pytest.raises(ScenarioError, match="a mapping of scenario fields"):
        validate([1, 2], file="x.yaml")


# --------------------------------------------------------------------------- reference


def test_docs_schema_md_is_generated_from_the_schema() -> None:
    text = (ROOT / "docs" / "schema.md").read_text()
    assert text == schema_markdown() + "\n", "regenerate with: abm schema > docs/schema.md"


def test_every_field_has_a_meaning_and_every_number_a_unit_and_range() -> None:
    rows = schema_rows()
    assert len(rows) > 50
    for r in rows:
        assert r["meaning"], f"{r['field']} has no description"
        numeric = r["type"].split(" | ")[0] in ("int", "float")
        if numeric:
            assert r["unit"], f"{r['field']} has no unit in scenario.UNITS"
            if r["field"] not in ("events[].price",):
                assert r["range"], f"{r['field']} has no range"
    assert set(UNITS) <= {r["field"] for r in rows}, "UNITS names a field that does not exist"


def test_markdown_table_has_one_row_per_field() -> None:
    lines = [line for line in schema_markdown().splitlines() if line.startswith("| `")]
    assert len(lines) == len(schema_rows())
    assert all(line.count(" | ") == 5 for line in lines)  # | inside cells is escaped


# --------------------------------------------------------------------------- events

SMALL = {
    "name": "events",
    "seed": 5,
    "steps": 12,
    "population": {
        "n_users": 150,
        "samples_per_step": 1.0,
        "threshold_mean": 0.0,
        "threshold_sd": 0.0,
        "reconsider_rate": 0.5,
    },
}


def scenario(**fields) -> Scenario:
    return Scenario.model_validate({**SMALL, **fields})


def series(spec: Scenario, column: str) -> np.ndarray:
    return simulate(spec).model_table[column].to_numpy()


def test_launch_event_starts_a_campaign_at_its_step() -> None:
    union = [{"name": "union", "target": "incumbent", "size": 0.5, "start": 99}]
    without = series(scenario(collectives=union), "active[union]")
    launched = scenario(
        collectives=union, events=[{"at": 4, "action": "launch", "collective": "union"}]
    )
    active = series(launched, "active[union]")
    assert without.max() == 0
    # Row k of the table is the state after step k (row 0: before the first step, t = 0).
    assert active[:5].max() == 0 and active[5:].min() == 1
    participation = series(launched, "participation[union]")
    assert participation[:5].max() == 0 and participation[5:].min() > 0.2


def test_stop_event_ends_a_campaign_and_data_returns() -> None:
    union = [{"name": "union", "target": "incumbent", "size": 0.6}]
    running = scenario(collectives=union)
    stopped = scenario(
        collectives=union, events=[{"at": 5, "action": "stop", "collective": "union"}]
    )
    active = series(stopped, "active[union]")
    assert active[1:6].min() == 1 and active[6:].max() == 0
    assert series(stopped, "participation[union]")[6:].max() == 0
    new_running = series(running, "new_data[incumbent]")[7:].sum()
    new_stopped = series(stopped, "new_data[incumbent]")[7:].sum()
    assert new_stopped > 1.3 * new_running


def test_set_policy_event_changes_the_policy_at_its_step() -> None:
    spec = scenario(
        events=[
            {
                "at": 3,
                "action": "set_policy",
                "policy": {"right_to_delete": True, "portability": 0.5},
            }
        ]
    )
    model = LeverageModel(scenario=spec)
    seen = []
    for _ in range(5):
        model.step()
        seen.append((model.policy.right_to_delete, model.policy.portability))
    assert seen == [(False, 0.0)] * 3 + [(True, 0.5)] * 2


def test_right_to_delete_granted_by_event_lets_a_retroactive_strike_delete() -> None:
    union = [
        {"name": "union", "target": "incumbent", "lever": "retro_strike", "size": 0.5, "start": 4}
    ]
    grant = [{"at": 1, "action": "set_policy", "policy": {"right_to_delete": True}}]
    without = simulate(scenario(collectives=union)).outcomes
    with_right = simulate(scenario(collectives=union, events=grant)).outcomes
    assert without["unlearning_cost[incumbent]"] == 0
    assert with_right["unlearning_cost[incumbent]"] > 0
    assert with_right["data_received[incumbent]"] == pytest.approx(
        without["data_received[incumbent]"], rel=0.2
    )


def test_ai_substitute_event_cuts_contributions_to_its_platform() -> None:
    shock = [{"at": 4, "action": "ai_substitute", "platform": "incumbent", "quality": 1.0}]
    plain = series(scenario(), "new_data[incumbent]")
    hit = series(scenario(events=shock), "new_data[incumbent]")
    assert hit[:5].sum() == plain[:5].sum()  # same seed: identical until the shock
    assert hit[5:].sum() < 0.4 * plain[5:].sum()
    other_plain = series(scenario(), "new_data[challenger]")[5:].sum()
    other_hit = series(scenario(events=shock), "new_data[challenger]")[5:].sum()
    assert other_hit > 0.5 * other_plain  # the challenger's contributions are not cut


def test_ai_substitute_reach_scales_the_fall_and_zero_reach_changes_nothing() -> None:
    def shock(reach: float) -> list[dict]:
        return [{"at": 4, "action": "ai_substitute", "platform": "incumbent", "quality": 1.0,
                 "reach": reach}]  # fmt: skip

    plain = series(scenario(), "new_data[incumbent]")
    assert np.array_equal(series(scenario(events=shock(0.0)), "new_data[incumbent]"), plain)
    half = series(scenario(events=shock(0.5)), "new_data[incumbent]")[5:].sum()
    full = series(scenario(events=shock(1.0)), "new_data[incumbent]")[5:].sum()
    assert full < half < plain[5:].sum()  # adopters only: half the reach, a smaller fall


def test_change_terms_event_raises_the_price_and_users_leave() -> None:
    terms = [{"at": 2, "action": "change_terms", "platform": "incumbent", "price": 3.0}]
    plain = series(scenario(), "share[incumbent]")
    pricier = series(scenario(events=terms), "share[incumbent]")
    assert np.array_equal(plain[:3], pricier[:3])
    assert pricier[-1] < plain[-1] - 0.2
