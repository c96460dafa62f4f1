"""Ranking evaluation of a recommender: held-out liked items against unrated ones.

Hit rate at k (Cremonesi et al., 2010), as the data-strike papers scored recommenders:
each probe is a rater's held-out liked item ranked among items the rater did not rate;
a hit is the liked item in the top k.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["RankingProbe", "hit_rate"]


@dataclass(frozen=True)
class RankingProbe:
    """Held-out liked items, each with items its rater never rated.

    Attributes:
        rater: ``(P,)`` rater per probe.
        items: ``(P, 1 + n_negatives)`` items; column 0 is the liked item.
        k: Cut-off of the hit rate.
    """

    rater: np.ndarray
    items: np.ndarray
    k: int = 10

    def pairs(self) -> np.ndarray:
        """``(P * (1 + n_negatives), 2)`` (rater, item) pairs, row-major."""
        r = np.repeat(self.rater, self.items.shape[1])
        return np.column_stack([r, self.items.ravel()])


def hit_rate(learner: Any, probe: RankingProbe | None) -> float:
    """Share of probes whose liked item ranks in the top ``k`` (random tie-breaking).

    Items are ranked by ``learner.predict`` on (rater, item) pairs. With ``g`` negatives
    scored above the liked item and ``t`` tied with it, a random order of the ties
    gives a hit with probability ``clip((k - g) / (t + 1), 0, 1)``.
    """
    if probe is None or len(probe.rater) == 0:
        return float("nan")
    scores = np.asarray(learner.predict(probe.pairs()), float).reshape(probe.items.shape)
    pos, neg = scores[:, :1], scores[:, 1:]
    greater = (neg > pos).sum(axis=1)
    ties = (neg == pos).sum(axis=1)
    return float(np.mean(np.clip((probe.k - greater) / (ties + 1), 0.0, 1.0)))
