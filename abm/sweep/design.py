"""Design points and replicate seeds, all derived from one root seed.

Points: a full grid (the product of every factor's levels, the first factor varying
slowest), independent uniform draws, a Latin hypercube (scipy's ``qmc``), or Saltelli's
scheme for Sobol indices (SALib). A factor given as levels is categorical in sampled
designs: a uniform draw u in [0, 1) picks level ``floor(u * k)``. A range over an
integer field is rounded to the nearest integer.

Seeds: replicate ``r`` gets ``SeedSequence(root).spawn(R)[r]`` (common random numbers:
the same network, data split and draws at every point, so differences between points
are the factors' doing), or with independent seeding the point's own child
``SeedSequence(root).spawn(R)[r].spawn(P)[p]``. Spawned children depend only on their
index, so adding replicates later keeps every existing run's seed. The design's own
draws use the root sequence itself, which no replicate seed shares.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from abm.runner import spawn_seed


class Design(StrEnum):
    """How the points of a sweep are chosen."""

    GRID = "grid"  # the full factorial of every factor's levels
    RANDOM = "random"  # independent uniform draws
    LATIN_HYPERCUBE = "latin_hypercube"  # one draw per stratum of every factor
    SOBOL = "sobol"  # Saltelli's scheme (SALib), for Sobol sensitivity indices


class Seeding(StrEnum):
    """How replicate seeds are shared between design points."""

    COMMON = "common"  # replicate r uses the same seed at every point (common random numbers)
    INDEPENDENT = "independent"  # every (point, replicate) gets its own seed


@dataclass(frozen=True)
class Factor:
    """One varied field: its path, and either its levels or its range."""

    path: str
    levels: tuple[Any, ...] | None = None
    low: float | None = None
    high: float | None = None
    integer: bool = False  # the field is an int: sampled values are rounded

    @property
    def is_range(self) -> bool:
        """Whether the factor is continuous (sampled in [low, high])."""
        return self.levels is None


def make_points(
    factors: list[Factor],
    design: Design,
    samples: int | None,
    root: int,
    second_order: bool = False,
) -> list[dict[str, Any]]:
    """The design's points, each a ``{field path: value}`` override mapping.

    Args:
        factors: The varied fields.
        design: How to choose points.
        samples: Number of points (random, LHS) or Saltelli's base sample N (sobol).
        root: The sweep's root seed.
        second_order: Sobol only: also sample for second-order indices.

    Returns:
        The points, in a fixed order (their index is the point id).
    """
    if design is Design.GRID:
        return [
            {f.path: v for f, v in zip(factors, combo, strict=True)}
            for combo in itertools.product(*(f.levels for f in factors))
        ]
    if design is Design.SOBOL:
        from SALib.sample import sobol

        raw = sobol.sample(
            sobol_problem(factors), samples, calc_second_order=second_order, seed=root
        )
        unit = np.column_stack([_to_unit(f, raw[:, j]) for j, f in enumerate(factors)])
    else:
        rng = np.random.default_rng(np.random.SeedSequence(root))
        if design is Design.RANDOM:
            unit = rng.random((samples, len(factors)))
        else:
            from scipy.stats import qmc

            unit = qmc.LatinHypercube(d=len(factors), rng=rng).random(samples)
    return [{f.path: _from_unit(f, u[j]) for j, f in enumerate(factors)} for u in unit]


def sobol_problem(factors: list[Factor]) -> dict[str, Any]:
    """SALib's problem definition: ranges as they are, levels as [0, k)."""
    return {
        "num_vars": len(factors),
        "names": [f.path for f in factors],
        "bounds": [[f.low, f.high] if f.is_range else [0.0, float(len(f.levels))] for f in factors],
    }


def _to_unit(f: Factor, values: np.ndarray) -> np.ndarray:
    if f.is_range:
        return (values - f.low) / (f.high - f.low)
    return values / len(f.levels)


def _from_unit(f: Factor, u: float) -> Any:
    if not f.is_range:
        return f.levels[min(int(u * len(f.levels)), len(f.levels) - 1)]
    value = f.low + float(u) * (f.high - f.low)
    if f.integer:
        return int(min(max(round(value), np.ceil(f.low)), np.floor(f.high)))
    return float(min(max(value, f.low), f.high))


def seed_for(root: int, point: int, replicate: int, seeding: Seeding) -> int:
    """The scenario seed of one run (a non-negative 63-bit integer)."""
    if seeding is Seeding.INDEPENDENT:
        return spawn_seed(root, replicate, point)
    return spawn_seed(root, replicate)


def run_id(point: int, replicate: int) -> str:
    """A run's id; ids sort in (point, replicate) order."""
    return f"p{point:07d}-r{replicate:05d}"


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: a point, a replicate and its seed."""

    run_id: str
    point: int
    replicate: int
    seed: int
    overrides: dict[str, Any]


def runs(
    points: list[dict[str, Any]], replicates: int, root: int, seeding: Seeding
) -> Iterator[RunSpec]:
    """Every run of a sweep, lazily, in run-id order."""
    # Common seeds depend on the replicate only: spawn each once, not once per point.
    common = [seed_for(root, 0, r, seeding) for r in range(replicates)]
    for p, overrides in enumerate(points):
        for r in range(replicates):
            seed = common[r] if seeding is Seeding.COMMON else seed_for(root, p, r, seeding)
            yield RunSpec(run_id(p, r), p, r, seed, overrides)


# Memory the ``abm sweep`` process needs, apart from the runs themselves: the design's
# points (a mapping each, validated one at a time), the ids of finished runs, and the
# summary, which holds one float per run and outcome (with the point) about 4 times
# over while grouping. Measured with a 20,000-point grid; points dominate before runs
# start, runs at the end.
BYTES_FIXED = 300 * 2**20
BYTES_PER_POINT = 600
BYTES_PER_VALUE = 150
BYTES_PER_RUN = 100  # plus BYTES_PER_RUN_VALUE per outcome kept and two ids
BYTES_PER_RUN_VALUE = 32
# Run ids are p<7 digits>-r<5 digits>, so that they sort in (point, replicate) order.
MAX_POINTS = 10_000_000


def n_points(levels: list[int], design: Design, samples: int | None, second_order: bool) -> int:
    """Points a design will have, without making them.

    Args:
        levels: Number of levels of each factor (grid; ignored otherwise).
        design: The design.
        samples: Points (random, LHS) or Saltelli's base sample N (sobol).
        second_order: Sobol only: second-order indices too.
    """
    if design is Design.GRID:
        return math.prod(levels)
    if design is Design.SOBOL:
        d = len(levels)
        return samples * (2 * d + 2 if second_order else d + 2)
    return samples


def layout_bytes(points: int, runs: int, factors: int, outcomes: int) -> int:
    """Memory the sweep's own process needs for ``points`` x replicates = ``runs``."""
    per_point = BYTES_PER_POINT + BYTES_PER_VALUE * factors
    per_run = BYTES_PER_RUN + BYTES_PER_RUN_VALUE * (outcomes + 2)
    return BYTES_FIXED + points * per_point + runs * per_run
