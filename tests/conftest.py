"""Shared fixtures: small scenarios that run in well under a second."""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pytest  # noqa: E402
import yaml  # noqa: E402

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


# The base of the tiny sweeps in test_sweep*.py: 100 users, 3 steps, a strike that can
# redirect to the challenger.
TINY_SWEEP_BASE = """\
name: tiny
seed: 1
steps: 3
population: {n_users: 100, samples_per_step: 1.0}
network: {kind: watts_strogatz, mean_degree: 4}
task: {name: breast_cancer}
platforms:
  - {name: incumbent, initial_share: 0.7}
  - {name: challenger, initial_share: 0.3}
collectives:
  - {name: strikers, target: incumbent, lever: strike, redirect_to: challenger, size: 0.3}
"""


def write_sweep_file(folder, base_text: str = TINY_SWEEP_BASE, **fields):
    """Write ``base_text`` to ``folder/base.yaml`` and a sweep named tiny over it."""
    (folder / "base.yaml").write_text(base_text)
    path = folder / "sweep.yaml"
    spec = {"name": "tiny", "base": "base.yaml", **fields}
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path
