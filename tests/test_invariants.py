"""Each invariant catches a fault planted in an otherwise sound run (a mutation test)."""

from __future__ import annotations

import numpy as np
import pytest

from abm.behaviour import Action
from abm.invariants import violations
from abm.learning import Alteration
from abm.model import LeverageModel
from tests.conftest import small


def _model() -> LeverageModel:
    model = LeverageModel(
        scenario=small(
            steps=4,
            population={"n_users": 200, "threshold_mean": 0.0, "threshold_sd": 0.0},
            collectives=[{"name": "c", "target": "incumbent", "lever": "retro_strike",
                          "size": 0.4, "start": 1}],
            policy={"right_to_delete": True},
            measurement={"valuation": False},
        )
    )  # fmt: skip
    for _ in range(3):
        model.step()
    assert violations(model) == [] and model.collectives[0].active
    return model


def _on_platform_user(m: LeverageModel) -> int:
    return int(np.flatnonzero(m.users.platform >= 0)[0])


FAULTS = {
    "platform index out of range": lambda m: m.users.platform.__setitem__(0, 7),
    "a user on no platform contributes": lambda m: (
        m.users.platform.__setitem__(0, -1), m.users.action.__setitem__(0, Action.CONTRIBUTE)
    ),
    "a user on a platform is idle": lambda m: m.users.action.__setitem__(
        _on_platform_user(m), Action.IDLE
    ),
    "routed minus removed": lambda m: setattr(m.platforms[0], "filtered", 1),
    "bookkeeping disagrees": lambda m: setattr(m.platforms[1].pool, "n_added", 0),
    "made by no user": lambda m: m.platforms[1].pool.contributor.__setitem__(0, m.n_users + 3),
    "rows from the future": lambda m: m.platforms[1].pool.step.__setitem__(0, m.t + 5),
    "altered row sent by no collective": lambda m: m.platforms[1].pool.alteration.__setitem__(
        0, Alteration.LABEL_FLIP
    ),
    "deleted members still have rows": lambda m: m.platforms[0].pool.contributor.__setitem__(
        -1, int(np.flatnonzero(m.collectives[0].erased & m.collectives[0].acting)[0])
    ),
    "a non-member is acting": lambda m: m.users.acting.__setitem__(
        (int(np.flatnonzero(~m.users.member[:, 0])[0]), 0), True
    ),
    "not running": lambda m: m.collectives[0].stop("planted") or m.users.acting.__setitem__(
        (int(np.flatnonzero(m.users.member[:, 0])[0]), 0), True
    ),
    "runs in the twin": lambda m: setattr(m.collectives[0], "off", True),
}  # fmt: skip


@pytest.mark.parametrize("fault", list(FAULTS))
def test_each_invariant_catches_its_planted_fault(fault):
    model = _model()
    FAULTS[fault](model)
    found = violations(model)
    assert any(fault in v for v in found), found
