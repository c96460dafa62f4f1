"""Poison filtering: loss-based data sanitisation with a threshold calibrated on trusted data.

Modelling assumption: a platform that pays to filter suspected poison scores each
incoming row by its **loss under the platform's current model** (cross-entropy of the
label it was sent with; squared error of a rating) and drops the rows whose loss is
too high to be clean. This is the loss-based sanitisation defence of the
data-poisoning literature (Steinhardt, Koh & Liang, "Certified defenses for data
poisoning attacks", NeurIPS 2017; Koh, Steinhardt & Liang, "Stronger data poisoning
attacks break data sanitization defenses", Machine Learning 111, 2022, the "loss
defense"; Paudice et al., "Label sanitization against label flipping poisoning
attacks", ECML 2018, for label flips): a flipped label is one the model finds
unlikely.

**The threshold.** How unlikely is too unlikely is set on data the platform trusts:
a calibration sample of its own rows (``filter_calibration``, drawn with its seed data
from the same source and never trained on). Each step the current model scores them,
and the threshold is their split-conformal quantile at level ``1 - filter_drop``
(Vovk, Gammerman & Shafer, *Algorithmic Learning in a Random World*, 2005; Bates et
al., "Testing for outliers with conformal p-values", Annals of Statistics 51, 2023):
the ``ceil((n + 1)(1 - alpha))``-th smallest of the ``n`` calibration losses. A clean
row exchangeable with the calibration rows then exceeds it with probability at most
``alpha``: the filter drops at most ``filter_drop`` of clean data, whatever the model.
With too few calibration rows for that level the threshold is infinite and nothing is
dropped. Users' data can differ from the platform's own (by group and class mix), so
the bound holds for data like the platform's; the run measures the real collateral
against a twin with the filter off (``filter_quality_cost``).

A model that was never trained filters nothing: it has no view of what is unlikely. A
learner without class probabilities (k-nearest neighbours) is scored by its vote, a 0/1
loss: when more than ``filter_drop`` of the trusted rows are misclassified, the
threshold is the top loss and nothing is dropped (ties are kept, never guessed at).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["LossFilter", "conformal_threshold", "row_losses"]

_FLOOR = 1e-12  # probabilities below this count as this (a finite loss for a zero vote)


def _class_probabilities(model: Any, X: np.ndarray, n_classes: int) -> np.ndarray:
    """``P(class | x)`` under ``model``: its own probabilities, shards' mean, or its vote."""
    if hasattr(model, "predict_proba"):
        return np.asarray(model.predict_proba(X), float)
    learners = getattr(model, "learners", None)  # a SISA trainer: the fitted shards' mean
    if learners is not None:
        fitted = [m for m in learners if m.is_fitted] or learners[:1]
        return np.mean([_class_probabilities(m, X, n_classes) for m in fitted], axis=0)
    votes = np.zeros((len(X), n_classes))
    votes[np.arange(len(X)), np.asarray(model.predict(X), np.int64)] = 1.0
    return votes


def row_losses(model: Any, X: np.ndarray, y: np.ndarray, kind: str, n_classes: int) -> np.ndarray:
    """Each row's loss under ``model``: cross-entropy of its label, or squared rating error.

    Args:
        model: A fitted learner (or SISA trainer).
        X: Features (or ``(rater, item)`` pairs).
        y: The labels (ratings) the rows carry.
        kind: The task's kind, ``"classification"`` or ``"ratings"``.
        n_classes: Number of classes (classification).

    Returns:
        One non-negative loss per row.
    """
    if kind == "ratings":
        return (np.asarray(model.predict(X), float) - np.asarray(y, float)) ** 2
    proba = _class_probabilities(model, X, n_classes)
    chosen = proba[np.arange(len(y)), np.asarray(y, np.int64)]
    return -np.log(np.clip(chosen, _FLOOR, 1.0))


def conformal_threshold(calibration: np.ndarray, alpha: float) -> float:
    """The split-conformal quantile: a clean row's loss exceeds it with probability <= alpha.

    Args:
        calibration: Losses of trusted rows the model was not trained on.
        alpha: The share of clean rows the filter may drop, in [0, 1].

    Returns:
        The ``ceil((n + 1)(1 - alpha))``-th smallest loss; ``inf`` when that rank
        exceeds ``n`` (too few trusted rows for ``alpha``, or ``alpha = 0``).
    """
    n = len(calibration)
    rank = math.ceil((n + 1) * (1.0 - alpha))
    if rank > n or n == 0:
        return math.inf
    return float(np.partition(np.asarray(calibration, float), max(rank, 1) - 1)[max(rank, 1) - 1])


@dataclass
class LossFilter:
    """A platform's poison filter: trusted calibration rows and the share it may drop.

    Attributes:
        X: Features of the trusted calibration rows.
        y: Their labels (ratings).
        alpha: Share of clean rows the filter may drop (``filter_drop``).
        kind: The task's kind.
        n_classes: Number of classes (classification).
    """

    X: np.ndarray
    y: np.ndarray
    alpha: float
    kind: str
    n_classes: int = 0

    def threshold(self, model: Any) -> float:
        """This step's loss threshold under ``model``, from the calibration rows."""
        return conformal_threshold(
            row_losses(model, self.X, self.y, self.kind, self.n_classes), self.alpha
        )

    def suspect(self, model: Any, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Boolean mask of the rows ``(X, y)`` whose loss under ``model`` is above threshold."""
        if not len(y) or not getattr(model, "is_fitted", False):
            return np.zeros(len(y), bool)
        limit = self.threshold(model)
        if math.isinf(limit):
            return np.zeros(len(y), bool)
        return row_losses(model, X, y, self.kind, self.n_classes) > limit
