"""The throttle lever (docs/extending.md's worked example): members send a share of their rows."""

from __future__ import annotations

import numpy as np
import pytest

from abm.invariants import violations
from abm.model import LeverageModel
from tests.conftest import small

EVERYONE_ACTS = {
    "n_users": 300,
    "samples_per_step": 2.0,
    "threshold_mean": 0.0,
    "threshold_sd": 0.0,
}


def _throttled(rate: float, size: float = 0.5, lever: str = "throttle", steps: int = 6):
    collective = {"name": "t", "target": "incumbent", "lever": lever, "size": size, "rate": rate}
    return small(steps=steps, population=EVERYONE_ACTS, collectives=[collective])


def _run(scenario) -> tuple[LeverageModel, int]:
    """The model run to its end, and how many rows its acting members made."""
    model = LeverageModel(scenario=scenario)
    made = 0
    while model.running:
        before = model.users.contributed.copy()
        model.step()
        acting = model.users.actor == 0
        made += int((model.users.contributed - before)[acting].sum())
        for world in (model, *model.twins):
            assert violations(world) == [], f"step {model.t}"
    return model, made


def _sent(model: LeverageModel) -> int:
    """Rows the members sent while acting: in any pool, marked with their collective."""
    return sum(int((p.pool.collective == 0).sum()) for p in model.platforms)


@pytest.mark.parametrize("rate", [0.25, 0.7])
def test_members_send_about_rate_of_the_rows_they_make(rate):
    model, made = _run(_throttled(rate))
    sent = _sent(model)
    assert made > 1000  # members on the target act from step 0 and make rows every step
    # Binomial(made, rate): well within 4 standard deviations.
    assert abs(sent - rate * made) < 4 * np.sqrt(made * rate * (1 - rate)), (sent, made)
    assert model.collectives[0].effects.quality_change != 0.0  # the target learnt from fewer rows


def test_an_empty_collective_or_a_full_rate_changes_nothing_against_the_twin():
    for scenario in (_throttled(0.3, size=0.0), _throttled(1.0)):
        model, _ = _run(scenario)
        effects = model.collectives[0].effects
        assert effects.quality_change == 0.0 and effects.users == 0.0 and effects.revenue == 0.0
        twin = model.twins[0]
        for real, other in zip(model.platforms, twin.platforms, strict=True):
            assert real.quality == other.quality and len(real.pool) == len(other.pool)


def test_a_zero_rate_is_a_strike():
    throttle, made = _run(_throttled(0.0))
    strike, _ = _run(_throttled(0.0, lever="strike"))
    assert made > 1000 and _sent(throttle) == 0
    for a, b in zip(throttle.platforms, strike.platforms, strict=True):
        assert a.quality == b.quality and len(a.pool) == len(b.pool)
