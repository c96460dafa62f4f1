"""One step's data on its way from users to platforms: a row per sample, with provenance.

Rows keep who made them, in which collective they acted and how levers altered them,
so the pools they are delivered to (``DataPool``) can delete, value and account for
them exactly. Routing (``abm/routing.py``) makes the rows and decides where they go.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from abm.learning.pool import Alteration, DataPool


class Contributions:
    """One step's data: a row per sample a user made, with its provenance.

    Rows start as clean copies of the users' training samples; levers then alter some
    (``alter``), and the rows are delivered to pools (``add_to``). Only altered rows
    carry features of their own.
    """

    def __init__(
        self, task: Any, sample: np.ndarray, owner: np.ndarray, actor: np.ndarray, step: int
    ):
        self.task, self.step = task, step
        self.sample, self.owner, self.actor = sample, owner, actor
        self.y = task.y_train[sample]
        self.y_sent = self.y.copy()
        self.alteration = np.zeros(sample.size, np.int8)
        self._altered: list[tuple[np.ndarray, np.ndarray]] = []
        self._slot = np.full(sample.size, -1, np.int64)  # row -> its altered features
        self._X = np.zeros((0, task.X_train.shape[1]))

    def alter(self, rows: np.ndarray, how: Alteration, X: np.ndarray, y: np.ndarray | None = None):
        """Mark ``rows`` as altered, with the features (and labels) they are sent with."""
        self.alteration[rows] = how
        if y is not None:
            self.y_sent[rows] = y
        self._altered.append((rows, X))

    def seal(self) -> None:
        """Gather the altered features once all levers have run."""
        if self._altered:
            rows = np.concatenate([r for r, _ in self._altered])
            self._X = np.concatenate([x for _, x in self._altered])
            self._slot[rows] = np.arange(rows.size)

    def features(self, rows: np.ndarray) -> np.ndarray:
        """Features of ``rows`` as sent."""
        X = self.task.X_train[self.sample[rows]]
        slot = self._slot[rows]
        if (slot >= 0).any():
            X[slot >= 0] = self._X[slot[slot >= 0]]
        return X

    def add_to(self, pool: DataPool, rows: np.ndarray) -> None:
        """Append ``rows`` to a pool as sent."""
        slot = self._slot[rows]
        pool.add(
            self.sample[rows],
            self.y_sent[rows],
            self.owner[rows],
            self.step,
            self.actor[rows],
            self.alteration[rows],
            self._X[slot[slot >= 0]] if (slot >= 0).any() else None,
        )
