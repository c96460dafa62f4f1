"""Shared fixtures: small scenarios that run in well under a second."""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pytest  # noqa: E402

from abm.scenario import Scenario  # noqa: E402


def small(**fields) -> Scenario:
    """A small scenario (200 users, 12 steps) with field overrides."""
    base = {
        "name": "small",
        "seed": 7,
        "steps": 12,
        "population": {"n_users": 200, "samples_per_step": 1.0},
    }
    for key, value in fields.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return Scenario.model_validate(base)


@pytest.fixture
def small_scenario() -> Scenario:
    return small()


STRIKE_ALL = {
    "population": {
        "n_users": 200,
        "samples_per_step": 1.0,
        "threshold_mean": 0.0,
        "threshold_sd": 0.0,
    },
    "collectives": [
        {"name": "all", "target": "incumbent", "lever": "strike", "size": 1.0, "start": 2}
    ],
}
