"""The reference scenarios: documented, small, valid, and each runs with invariants intact."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from abm.cli import app
from abm.invariants import violations
from abm.model import LeverageModel
from abm.scenario import Lever, load_scenario

FOLDER = Path(__file__).resolve().parents[1] / "scenarios"
FILES = sorted(FOLDER.glob("*.yaml"))

REQUIRED = {
    "baseline",
    "data_strike",
    "boycott",
    "retro_strike_delete",
    "cdc_challenger",
    "strike_cdc",
    "poisoning",
    "signal_planting",
    "conflicting_collectives",
    "ai_substitute",
    "union_dividend",
    "portability_mandate",
}


def test_the_library_has_every_reference_scenario() -> None:
    assert len(FILES) >= 12
    assert REQUIRED <= {f.stem for f in FILES}


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_scenario_is_documented_and_small(path: Path) -> None:
    text = path.read_text()
    header = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        header.append(line)
    comment = "\n".join(header)
    assert header, f"{path.name} must open with a comment"
    for word in ("Question:", "Follows:", "Look at:"):
        assert word in comment, f"{path.name}: the opening comment lacks '{word}'"
    spec = load_scenario(path)
    assert spec.question.strip(), f"{path.name} must set question:"
    assert spec.name == path.stem
    assert spec.population.n_users <= 1000 and spec.steps <= 40


def test_the_library_covers_the_levers_and_policies() -> None:
    specs = [load_scenario(f) for f in FILES]
    levers = {c.lever for s in specs for c in s.collectives}
    assert {
        Lever.STRIKE,
        Lever.BOYCOTT,
        Lever.RETRO_STRIKE,
        Lever.CDC,
        Lever.STRIKE_CDC,
        Lever.POISON_LABELS,
        Lever.PLANT_SIGNAL,
    } <= levers
    assert any(s.policy.bargaining_rights for s in specs)
    assert any(s.policy.right_to_delete for s in specs)
    actions = {e.action.value for s in specs for e in s.events}
    assert {"ai_substitute", "set_policy", "change_terms"} <= actions
    assert any(len(s.collectives) >= 2 for s in specs)


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_scenario_runs_with_invariants_at_every_step(path: Path) -> None:
    spec = load_scenario(path).model_copy(update={"steps": 3})
    model = LeverageModel(scenario=spec)
    assert violations(model) == []
    for _ in range(3):
        model.step()
        assert violations(model) == [], path.name
        shares = np.bincount(model.users.platform + 1, minlength=len(model.platforms) + 1)
        assert shares.sum() == model.n_users
        for p in model.platforms:
            assert len(p.pool) == p.received - p.deleted - p.expired - p.filtered
            assert 0.0 <= p.quality <= 1.0
    assert not model.running


def test_abm_list_shows_every_scenario_with_its_question() -> None:
    result = CliRunner().invoke(app, ["list", str(FOLDER)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    for f in FILES:
        question = load_scenario(f).question.strip()
        assert any(line.startswith(f.stem) and question in line for line in lines), f.stem
