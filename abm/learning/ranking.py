"""Ranking evaluation of a recommender: held-out liked items against unrated ones.

Hit rate at k (Cremonesi et al., 2010), as the data-strike papers scored recommenders:
each probe is a rater's held-out liked item ranked among items the rater did not rate;
a hit is the liked item in the top k. A target item's recommendation rate (Baumann &
Mendler-Dünner, 2024) is the share of raters whose top k over the whole catalogue
holds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["RankingProbe", "hit_rate", "target_rate"]


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


def target_rate(predict: Any, raters: np.ndarray, n_items: int, item: int, k: int = 10) -> float:
    """Share of ``raters`` whose top ``k`` of the catalogue holds ``item`` (random ties).

    Every item is scored for every rater (items a rater has rated are not removed: a
    platform may show them again). Ties count as in :func:`hit_rate`, so a rater with
    ``g`` items above the target and ``t`` tied with it counts
    ``clip((k - g) / (t + 1), 0, 1)``. NaN without raters.
    """
    raters = np.asarray(raters, np.int64)
    if raters.size == 0:
        return float("nan")
    pairs = np.column_stack([np.repeat(raters, n_items), np.tile(np.arange(n_items), raters.size)])
    scores = np.asarray(predict(pairs), float).reshape(raters.size, n_items)
    own = scores[:, item : item + 1]
    greater = (scores > own).sum(axis=1)
    ties = (scores == own).sum(axis=1) - 1
    return float(np.mean(np.clip((k - greater) / (ties + 1), 0.0, 1.0)))
