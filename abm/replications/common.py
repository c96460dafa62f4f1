"""What every replication analysis shares: its result, its statistics, its seeds.

Modelling assumptions shared by all analyses (each analysis states its own on top):

* An analysis is ``analysis(path, fast, ablate) -> Result``: it reads its replication
  file (an experiment file through :func:`abm.replications.spec.load_experiment`, reduced
  to its ``fast`` block when asked, or a scenario file), runs it and compares it with the
  paper. The registry (:mod:`abm.replications.registry`) lists every analysis with its
  file and the mechanism it tests.
* Every random choice is spawned from the file's root seed (``numpy.random.SeedSequence``),
  so a file and ``--fast`` fix every number in the summary.
* Every obtained number is a mean over independent seeds (task splits or model runs) with
  a 95% Student-t interval. A *quantitative* check passes when the published number lies
  within the tolerance of that interval (``low - tol <= published <= high + tol``); a
  *directional* check passes when the published ordering holds with the interval of the
  paired difference above zero (significant at 95%).
* ``ablate=True`` reruns the same seeds with the replication's mechanism switched off;
  every check must then fail, or it would not be testing the mechanism.
* Normalised effects follow the papers: the share of the gap between a baseline (the naive,
  non-learning model, or the worst performance observed in the experiment when the paper
  normalises that way) and the full-data model.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from abm.intervals import mean_ci  # noqa: E402
from abm.learning import Task, load_task  # noqa: E402
from abm.replications.spec import Experiment  # noqa: E402

__all__ = [
    "About", "Result", "above", "cached_task", "ci_text", "digits01", "interval",
    "make_result", "near", "new_figure", "spawn_seeds", "values_text",
]  # fmt: skip


@dataclass
class Result:
    """One replication's outcome: a summary row, its figure and the numbers behind it.

    ``obtained_low``/``obtained_high`` bound the 95% interval of the headline number (the
    first number in ``obtained``) over ``seeds`` independent seeds. ``mechanism`` and
    ``ablated`` are filled by the runner from the registry entry.
    """

    name: str
    title: str
    check: str
    published: str
    obtained: str
    tolerance: str
    passed: bool
    obtained_low: float = float("nan")
    obtained_high: float = float("nan")
    seeds: int = 0
    mechanism: str = ""
    ablated: bool = False
    table: pd.DataFrame = field(default_factory=pd.DataFrame)
    figure: plt.Figure | None = None


class About(NamedTuple):
    """What a scenario-file replication is (an experiment file says it itself)."""

    name: str
    title: str
    check: str


def make_result(about: Experiment | About, head: tuple, **kw) -> Result:
    """The summary row; an experiment file's claim and criterion are its default words.

    Args:
        about: The experiment file, or what a scenario-file replication is.
        head: The headline number's ``(mean, low, high, n)``.
        **kw: The other :class:`Result` fields (published, obtained, tolerance, passed,
            table, figure).

    Returns:
        The result.
    """
    if isinstance(about, Experiment):
        kw.setdefault("published", about.stated(about.claim))
        kw.setdefault("tolerance", about.stated(about.criterion))
    return Result(about.name, about.title, about.check, obtained_low=head[1],
                  obtained_high=head[2], seeds=head[3], **kw)  # fmt: skip


def interval(values) -> tuple[float, float, float, int]:
    """Mean and 95% Student-t interval over seeds (NaNs dropped).

    Returns:
        ``(mean, low, high, n)``; low and high are NaN with fewer than two values.
    """
    v = np.asarray(values, dtype=float).ravel()
    v = v[np.isfinite(v)]
    return (*mean_ci(v), len(v))


def near(published: float, ci: tuple, tol: float) -> bool:
    """The published number lies within ``tol`` of the interval."""
    _, lo, hi, _ = ci
    return bool(lo - tol <= published <= hi + tol)


def above(ci: tuple, margin: float = 0.0) -> bool:
    """The interval lies wholly above ``margin`` (an ordering significant at 95%)."""
    return bool(ci[1] > margin)


def ci_text(ci: tuple, digits: int = 3) -> str:
    """``mean [low, high]`` of an :func:`interval`."""
    m, lo, hi, _ = ci
    return f"{m:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def values_text(values, digits: int = 3) -> str:
    """Numbers separated by spaces."""
    return " ".join(f"{v:.{digits}f}" for v in np.atleast_1d(values))


def spawn_seeds(seed: int, n: int) -> list[int]:
    """``n`` independent 32-bit seeds spawned from a root seed."""
    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(n)]


@lru_cache(maxsize=64)
def cached_task(name: str, seed: int, standardise: bool, test_size: float) -> Task:
    """A bundled task split by ``seed`` (cached: several replications share splits)."""
    return load_task(name, rng=np.random.default_rng(seed), standardise=standardise,
                     test_size=test_size)  # fmt: skip


def digits01(seed: int, test_size: float = 0.3) -> Task:
    """Digits with pixels scaled to [0, 1] (raw intensities / 16), as in Hardt et al."""
    t = cached_task("digits", seed, False, test_size)
    return dataclasses.replace(t, X_train=t.X_train / 16.0, X_test=t.X_test / 16.0)


def new_figure(title: str, ncols: int = 1, width: float = 5.5) -> tuple[plt.Figure, np.ndarray]:
    """A figure of ``ncols`` panels in one row, titled; returns it and its axes."""
    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, 4.0), squeeze=False)
    fig.suptitle(title, fontsize=10)
    return fig, axes[0]
