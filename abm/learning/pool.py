"""A platform's data pool with provenance, and sharded (SISA) training for unlearning.

Modelling assumption: a platform keeps every sample it received together with who
contributed it, when, under which collective and whether it was altered (label flip,
feature noise, a planted or erased signal). Provenance makes deletion exact: deleting a
contributor removes precisely the rows it contributed, so "the pool equals what was
routed to it minus what was deleted" is an invariant. Samples are stored by reference to
the task's training split; only altered rows keep their own feature vectors, so a pool of
millions of rows costs a few dozen bytes per row. Unlearning with SISA (Bourtoule et
al., 2021) partitions rows into shards by contributor, so deleting a contributor retrains
only its shard; the number of samples retrained is the cost of unlearning.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from abm.learning.learners import Learner

__all__ = ["Alteration", "DataPool", "ShardedTrainer"]


class Alteration(IntEnum):
    """How a contributed row differs from the clean sample it stands for."""

    NONE = 0
    LABEL_FLIP = 1
    FEATURE_NOISE = 2
    SIGNAL_PLANTED = 3
    SIGNAL_ERASED = 4
    ITEM_PROMOTED = 5


_COLUMNS: dict[str, type] = {
    "sample": np.int64,
    "y": np.float64,
    "contributor": np.int64,
    "step": np.int32,
    "collective": np.int32,
    "alteration": np.int8,
    "_feat": np.int64,  # row into the side array of altered features, -1 if clean
}


class _Column:
    """A read-only view on one column of a pool's live rows (its first ``len(pool)``)."""

    def __init__(self, doc: str):
        self.__doc__ = doc

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, pool: DataPool | None, owner: type | None = None) -> Any:
        return self if pool is None else pool._cols[self.name][: pool._n]

    def __set__(self, pool: DataPool, value: Any) -> None:
        raise AttributeError(f"the pool's {self.name} column is read-only")


class DataPool:
    """Columnar, growable store of contributed rows with provenance.

    Args:
        label_dtype: dtype of stored labels (int64 for classes, float64 for ratings).
        capacity: Initial capacity (rows); grows by doubling.

    Attributes:
        n_added: Rows ever added.
        n_deleted: Rows removed by ``delete``.
        n_expired: Rows removed by ``expire``.
    """

    def __init__(self, label_dtype: type | np.dtype = np.int64, capacity: int = 1024) -> None:
        cap = max(1, int(capacity))
        self._cols = {name: np.empty(cap, dtype=dt) for name, dt in _COLUMNS.items()}
        self._cols["y"] = np.empty(cap, dtype=label_dtype)
        self._n = 0
        self._feats = np.empty((0, 0))
        self._n_feats = 0
        self.n_added = 0
        self.n_deleted = 0
        self.n_expired = 0

    # ---------------------------------------------------------------- views
    def __len__(self) -> int:
        return self._n

    sample = _Column("Index of each live row into ``task.X_train``.")
    y = _Column("Label (or rating) of each live row, as contributed (possibly altered).")
    contributor = _Column("User id of each live row's contributor.")
    step = _Column("Step at which each live row was contributed.")
    collective = _Column("Collective the row was contributed under (-1 for none).")
    alteration = _Column("``Alteration`` code of each live row.")

    @property
    def capacity(self) -> int:
        """Rows the pool can hold before it next grows."""
        return len(self._cols["sample"])

    # ---------------------------------------------------------------- writes
    def _reserve(self, extra: int) -> None:
        need = self._n + extra
        cap = self.capacity
        if need <= cap:
            return
        while cap < need:
            cap *= 2
        for name, col in self._cols.items():
            new = np.empty(cap, dtype=col.dtype)
            new[: self._n] = col[: self._n]
            self._cols[name] = new

    def _reserve_feats(self, rows: np.ndarray) -> None:
        need = self._n_feats + len(rows)
        if self._feats.shape[1] != rows.shape[1]:
            if self._n_feats:
                raise ValueError("altered feature rows changed width")
            self._feats = np.empty((max(16, need), rows.shape[1]))
        elif need > len(self._feats):
            cap = max(16, len(self._feats))
            while cap < need:
                cap *= 2
            new = np.empty((cap, self._feats.shape[1]), dtype=self._feats.dtype)
            new[: self._n_feats] = self._feats[: self._n_feats]
            self._feats = new

    def add(
        self,
        sample: np.ndarray,
        y: np.ndarray,
        contributor: np.ndarray,
        step: int | np.ndarray,
        collective: int | np.ndarray = -1,
        alteration: int | np.ndarray = Alteration.NONE,
        X_altered: np.ndarray | None = None,
    ) -> None:
        """Append rows; scalars are broadcast.

        Args:
            sample: Training-sample indices.
            y: Labels as contributed.
            contributor: Contributor user ids.
            step: Step(s) of contribution.
            collective: Collective id(s), -1 for none.
            alteration: ``Alteration`` code(s).
            X_altered: Feature rows for the rows whose alteration is not NONE, in order
                (``(n_altered, n_features)``), or None to keep the clean features.
        """
        sample = np.asarray(sample, dtype=np.int64).ravel()
        n = len(sample)
        cols = {
            "sample": sample,
            "y": np.broadcast_to(np.asarray(y), (n,)),
            "contributor": np.broadcast_to(np.asarray(contributor), (n,)),
            "step": np.broadcast_to(np.asarray(step), (n,)),
            "collective": np.broadcast_to(np.asarray(collective), (n,)),
            "alteration": np.broadcast_to(np.asarray(alteration), (n,)),
        }
        if n == 0:
            return
        feat = np.full(n, -1, dtype=np.int64)
        if X_altered is not None:
            altered = np.flatnonzero(cols["alteration"] != Alteration.NONE)
            X_altered = np.atleast_2d(np.asarray(X_altered, dtype=np.float64))
            if len(altered) == 0 and X_altered.size == 0:
                X_altered = X_altered.reshape(0, max(1, X_altered.shape[-1]))
            if len(X_altered) != len(altered):
                raise ValueError(
                    f"X_altered has {len(X_altered)} rows for {len(altered)} altered rows"
                )
            if len(altered):
                self._reserve_feats(X_altered)
                feat[altered] = self._n_feats + np.arange(len(altered))
                self._feats[self._n_feats : self._n_feats + len(altered)] = X_altered
                self._n_feats += len(altered)
        self._reserve(n)
        s = slice(self._n, self._n + n)
        for name, values in cols.items():
            self._cols[name][s] = values
        self._cols["_feat"][s] = feat
        self._n += n
        self.n_added += n

    def _keep(self, keep: np.ndarray) -> int:
        """Compact the pool to the rows where ``keep`` is True; return rows removed."""
        removed = int(self._n - keep.sum())
        if removed == 0:
            return 0
        m = int(keep.sum())
        for col in self._cols.values():
            col[:m] = col[: self._n][keep]
        self._n = m
        # Compact the side array of altered features so memory follows the live rows.
        feat = self._cols["_feat"][:m]
        has = feat >= 0
        if self._n_feats:
            self._feats[: int(has.sum())] = self._feats[feat[has]]
            feat[has] = np.arange(int(has.sum()))
            self._n_feats = int(has.sum())
        return removed

    def delete(
        self,
        *,
        contributors: np.ndarray | None = None,
        collective: int | np.ndarray | None = None,
    ) -> int:
        """Delete exactly the rows of the given contributors and/or collective(s).

        Args:
            contributors: User ids whose rows are deleted.
            collective: Collective id(s) whose rows are deleted.

        Returns:
            Number of rows removed.
        """
        mask = self.rows_of(contributors=contributors, collective=collective)
        removed = self._keep(~mask)
        self.n_deleted += removed
        return removed

    def rows_of(
        self,
        *,
        contributors: np.ndarray | None = None,
        collective: int | np.ndarray | None = None,
    ) -> np.ndarray:
        """Mask of live rows contributed by ``contributors`` or under ``collective``."""
        mask = np.zeros(self._n, dtype=bool)
        if contributors is not None:
            mask |= np.isin(self.contributor, np.asarray(contributors, dtype=np.int64))
        if collective is not None:
            mask |= np.isin(self.collective, np.atleast_1d(np.asarray(collective)))
        return mask

    def expire(self, current_step: int, retention: int) -> int:
        """Drop rows older than ``retention`` steps (kept: ``step > current - retention``).

        Returns:
            Number of rows removed.
        """
        keep = self.step > current_step - retention
        removed = self._keep(keep)
        self.n_expired += removed
        return removed

    # ----------------------------------------------------------------- reads
    def features(self, X_train: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Features of the live rows: ``X_train[sample]`` with altered rows substituted.

        Args:
            X_train: The task's training features.
            rows: Optional mask or index array selecting live rows.
        """
        sample = self.sample
        feat = self._cols["_feat"][: self._n]
        if rows is not None:
            sample, feat = sample[rows], feat[rows]
        X = np.asarray(X_train)[sample]
        has = feat >= 0
        if has.any():
            X = X.astype(np.result_type(X.dtype, self._feats.dtype), copy=False)
            X[has] = self._feats[feat[has]]
        return X


def _hash64(x: np.ndarray, salt: int) -> np.ndarray:
    """SplitMix64 finaliser: a seeded, well-mixed hash of integer ids."""
    z = x.astype(np.uint64) ^ np.uint64(salt)
    with np.errstate(over="ignore"):
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return z


class ShardedTrainer:
    """SISA training: one learner per shard of contributors, aggregated at prediction.

    Rows go to shard ``hash(contributor, salt) % n_shards`` (the salt is drawn from the
    rng), so all of a contributor's rows live in one shard and deleting it retrains only
    that shard.

    Args:
        n_shards: Number of shards.
        make_learner: Zero-argument factory for a fresh learner.
        rng: Generator for the shard salt.
        aggregate: "vote" (majority of shard predictions), "proba" (argmax of averaged
            ``predict_proba``) or "mean" (averaged predictions, for ratings).

    Attributes:
        samples_trained: Rows used in all training, cumulative.
        samples_retrained: Rows used in retraining after deletions, cumulative.
        shards_retrained: Shard retrains after deletions, cumulative.
    """

    def __init__(
        self,
        n_shards: int,
        make_learner: Callable[[], Learner],
        rng: np.random.Generator,
        aggregate: str = "vote",
    ) -> None:
        if n_shards < 1:
            raise ValueError("n_shards must be at least 1")
        if aggregate not in ("vote", "proba", "mean"):
            raise ValueError(f"aggregate must be vote, proba or mean, got {aggregate!r}")
        self.n_shards = int(n_shards)
        self.make_learner = make_learner
        self.aggregate = aggregate
        self.salt = int(rng.integers(0, 2**63 - 1))
        self.learners: list[Learner] = [make_learner() for _ in range(self.n_shards)]
        self.samples_trained = 0
        self.samples_retrained = 0
        self.shards_retrained = 0

    @property
    def is_fitted(self) -> bool:
        """True if any shard has been trained."""
        return any(m.is_fitted for m in self.learners)

    def shard_of(self, contributors: np.ndarray) -> np.ndarray:
        """Shard of each contributor id."""
        h = _hash64(np.asarray(contributors, dtype=np.int64), self.salt)
        return (h % np.uint64(self.n_shards)).astype(np.int64)

    def _train_shards(
        self, pool: DataPool, X_train: np.ndarray, shards: np.ndarray, rng: np.random.Generator
    ) -> int:
        shard = self.shard_of(pool.contributor)
        X = pool.features(X_train)
        y = pool.y
        used = 0
        for s in shards:
            rows = shard == s
            # A learner that warm-starts refits from its weights; others start afresh.
            learner = self.learners[s]
            learner = learner if getattr(learner, "warm_start", False) else self.make_learner()
            self.learners[s] = learner.fit(X[rows], y[rows], rng)
            used += int(rows.sum())
        return used

    def fit(self, pool: DataPool, X_train: np.ndarray, rng: np.random.Generator) -> ShardedTrainer:
        """Train every shard from scratch on its rows of the pool."""
        self.samples_trained += self._train_shards(pool, X_train, np.arange(self.n_shards), rng)
        return self

    def delete(
        self,
        pool: DataPool,
        X_train: np.ndarray,
        rng: np.random.Generator,
        *,
        contributors: np.ndarray | None = None,
        collective: int | np.ndarray | None = None,
    ) -> int:
        """Delete rows from the pool and retrain only the shards that held them.

        Returns:
            Number of rows removed.
        """
        mask = pool.rows_of(contributors=contributors, collective=collective)
        affected = np.unique(self.shard_of(pool.contributor[mask]))
        removed = pool.delete(contributors=contributors, collective=collective)
        if removed:
            used = self._train_shards(pool, X_train, affected, rng)
            self.samples_retrained += used
            self.samples_trained += used
            self.shards_retrained += len(affected)
        return removed

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Aggregate the fitted shards' predictions (unfitted shards abstain)."""
        fitted = [m for m in self.learners if m.is_fitted] or self.learners[:1]
        if not len(X):  # nothing asked (a poison filter with no calibration rows)
            return np.zeros(0, np.float64 if self.aggregate == "mean" else np.int64)
        if self.aggregate == "mean":
            return np.mean([m.predict(X) for m in fitted], axis=0)
        if self.aggregate == "proba":
            proba = np.mean([m.predict_proba(X) for m in fitted], axis=0)  # type: ignore[attr-defined]
            return np.argmax(proba, axis=1).astype(np.int64)
        preds = np.stack([m.predict(X) for m in fitted]).astype(np.int64)
        n_classes = int(getattr(fitted[0], "n_classes", preds.max() + 1))
        votes = np.zeros((len(X), n_classes), dtype=np.int64)
        for p in preds:
            votes[np.arange(len(X)), p] += 1
        return np.argmax(votes, axis=1).astype(np.int64)

    def score(self, X: np.ndarray, y: np.ndarray) -> float:
        """Accuracy (vote / proba) or ``1 - RMSE / range`` via the first learner (mean)."""
        if self.aggregate == "mean":
            from abm.learning.learners import _rating_quality

            rr = getattr(self.learners[0], "rating_range", (1.0, 5.0))
            return _rating_quality(self.predict(X), np.asarray(y), rr)
        return float(np.mean(self.predict(X) == np.asarray(y)))
