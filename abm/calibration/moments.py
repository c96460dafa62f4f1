"""Simulated moments: what one candidate run yields, measured beside its twin world.

:class:`Moments` is the model as a function for the sweep engine (``Sweep.measure``):
given a candidate scenario, a seed and a number of steps, it runs the real world and,
when a moment reads the twin, the twin world on the same seed (the candidate with the
cause switched off, :func:`~abm.calibration.spec.twin_scenario`), and returns every
quantity of the calibration by name. Because every draw comes from a stream named by
(seed, step, purpose) (``abm/streams.py``), the twin differs from the real world only
through the cause: with an empty cause a ratio is exactly 1 and a difference exactly 0.

An undefined number (a ratio whose twin value is 0) is NaN, never 0, and the candidate
is then left out of the fit with that reason.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from abm.calibration.spec import Quantity, VersusTwin, twin_scenario
from abm.scenario import Scenario


@dataclass(frozen=True)
class Moments:
    """Measure a calibration's quantities on one run (and its twin); picklable for workers."""

    quantities: tuple[Quantity, ...]
    twin: tuple[tuple[str, Any], ...]  # the twin's overrides, as pairs (hashable, ordered)

    def __call__(self, scenario: Scenario, seed: int, steps: int | None) -> dict[str, float]:
        """Every quantity of one candidate run, by label."""
        from abm.runner import simulate

        real = simulate(scenario, seed=seed, steps=steps)
        twin_table, twin_outcomes = None, None
        if any(q.vs_twin is not VersusTwin.NONE for q in self.quantities):
            twin_table, twin_outcomes = _twin(twin_scenario(scenario, dict(self.twin)), seed, steps)
        return {
            q.label: measure(q, real.model_table, real.outcomes, twin_table, twin_outcomes)
            for q in self.quantities
        }


# Twins already run in this process, by (twin scenario, seed, steps). Candidates that
# differ only in fields the twin overrides (the substitute's quality, when the twin
# releases none) share their twin; a run is a function of its scenario and seed, so a
# remembered twin is the twin that would be run again.
_TWINS: dict[str, tuple[pd.DataFrame, dict[str, float]]] = {}
MAX_TWINS = 1024


def _twin(
    scenario: Scenario, seed: int, steps: int | None
) -> tuple[pd.DataFrame, dict[str, float]]:
    from abm.runner import simulate

    text = json.dumps([scenario.model_dump(mode="json"), seed, steps], sort_keys=True)
    key = hashlib.sha256(text.encode()).hexdigest()
    if key not in _TWINS:
        if len(_TWINS) >= MAX_TWINS:
            _TWINS.pop(next(iter(_TWINS)))  # the oldest
        run = simulate(scenario, seed=seed, steps=steps)
        _TWINS[key] = (run.model_table, run.outcomes)
    return _TWINS[key]


def measure(
    q: Quantity,
    table: pd.DataFrame,
    outcomes: dict[str, float],
    twin_table: pd.DataFrame | None = None,
    twin_outcomes: dict[str, float] | None = None,
) -> float:
    """One quantity from a run's series table and outcomes (and its twin's, if it reads it)."""
    real = _value(q, table, outcomes)
    if q.vs_twin is VersusTwin.NONE:
        return real
    twin = _value(q, twin_table, twin_outcomes)
    if q.vs_twin is VersusTwin.DIFFERENCE:
        return real - twin
    return real / twin if twin != 0 else math.nan  # a ratio to nothing is undefined


def _value(q: Quantity, table: pd.DataFrame, outcomes: dict[str, float]) -> float:
    if q.outcome is not None:
        return float(outcomes.get(q.outcome, math.nan))
    column = table[q.series]
    if q.at is not None:
        return float(column.loc[q.at])
    first, last = q.mean
    return float(column.loc[first:last].mean())
