"""Golden values: reference scenarios, pinned by seed, give their recorded outcomes.

A deliberate change to the model that moves these numbers updates the recorded file in
the same commit and says why. Regenerate with:

    .venv/bin/python -m tests.test_golden
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from abm.runner import simulate
from abm.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
RECORDED = Path(__file__).with_name("golden") / "outcomes.json"
CASES = {"data_strike": 12, "strike_cdc": 12, "poisoning": 8}  # scenario -> steps


def outcomes(name: str) -> dict[str, float]:
    result = simulate(load_scenario(ROOT / "scenarios" / f"{name}.yaml"), steps=CASES[name])
    return {k: round(v, 10) for k, v in result.outcomes.items()}


@pytest.mark.parametrize("name", sorted(CASES))
def test_reference_scenario_reproduces_its_recorded_outcomes(name):
    recorded = json.loads(RECORDED.read_text())[name]
    obtained = outcomes(name)
    assert obtained.keys() == recorded.keys()
    for key, value in recorded.items():
        both_nan = value is None and math.isnan(obtained[key])
        assert both_nan or obtained[key] == pytest.approx(value, abs=1e-9), key


if __name__ == "__main__":
    data = {
        name: {k: (None if math.isnan(v) else v) for k, v in outcomes(name).items()}
        for name in sorted(CASES)
    }
    RECORDED.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"wrote {RECORDED}")
