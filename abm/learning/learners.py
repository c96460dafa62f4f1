"""Learners: the models platforms embed, retrained on the data they actually received.

Modelling assumption: a platform's model quality is a function only of the data in its
pool and of how it trains (a full refit from scratch, or incremental training that
continues from its current state on the newest data). Learners are pure: they take
explicit arrays and an explicit ``numpy.random.Generator``, know nothing of agents or
Mesa, and before they have seen any data they make the naive, non-learning prediction
(the majority class seen so far, or the global / item mean rating). The gap between a
learner and its naive baseline is the "personalisation gap" the data-leverage papers use
to normalise the effect of strikes and contributions.
"""

from __future__ import annotations

from typing import Literal, Protocol, Self, runtime_checkable

import numpy as np
import scipy.optimize
import scipy.sparse
from scipy.spatial import cKDTree

from abm.learning.task import Task

__all__ = [
    "GlobalMean",
    "ItemMean",
    "KNearestNeighbours",
    "Learner",
    "LogisticRegression",
    "MajorityClass",
    "MatrixFactorisation",
    "NearestCentroid",
    "leverage_baseline_for",
    "naive_learner_for",
]


@runtime_checkable
class Learner(Protocol):
    """What every embedded model offers a platform.

    Attributes:
        is_fitted: True once the learner has been trained on at least one sample.
    """

    is_fitted: bool

    def fit(self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> Self:
        """Refit from scratch on ``(X, y)``; the previous state is discarded."""
        ...

    def update(self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> Self:
        """Continue training from the current state on new data (``fit`` if unfitted)."""
        ...

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predict labels (or ratings); works before any fit (naive prediction)."""
        ...

    def score(self, X: np.ndarray, y: np.ndarray) -> float:
        """Quality on ``(X, y)``, higher is better."""
        ...


# --------------------------------------------------------------------------- helpers


def _accuracy(pred: np.ndarray, y: np.ndarray) -> float:
    if len(y) == 0:
        return float("nan")
    return float(np.mean(pred == y))


def _rating_quality(pred: np.ndarray, y: np.ndarray, rating_range: tuple[float, float]) -> float:
    """``1 - RMSE / (r_max - r_min)``: 1 is perfect, 0 is maximally wrong on average."""
    if len(y) == 0:
        return float("nan")
    rmse = float(np.sqrt(np.mean((np.asarray(pred, float) - np.asarray(y, float)) ** 2)))
    return 1.0 - rmse / float(rating_range[1] - rating_range[0])


def _as_labels(y: np.ndarray, n_classes: int) -> np.ndarray:
    y = np.asarray(y, dtype=np.int64).ravel()
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"labels must lie in [0, {n_classes}); got [{y.min()}, {y.max()}]")
    return y


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


# ------------------------------------------------------------------ naive baselines


class MajorityClass:
    """Predict the most frequent class seen so far (class 0 before any data).

    Args:
        n_classes: Number of classes of the task.
    """

    def __init__(self, n_classes: int) -> None:
        self.n_classes = int(n_classes)
        self.counts = np.zeros(self.n_classes, dtype=np.int64)
        self.is_fitted = False

    def fit(self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator | None = None) -> Self:
        """Count labels from scratch."""
        self.counts[:] = 0
        self.is_fitted = False
        return self.update(X, y, rng)

    def update(self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator | None = None) -> Self:
        """Add the new labels to the counts."""
        y = _as_labels(y, self.n_classes)
        self.counts += np.bincount(y, minlength=self.n_classes)
        self.is_fitted = bool(self.counts.sum() > 0)
        return self

    @property
    def majority(self) -> int:
        """The majority class so far (ties and no data: lowest index)."""
        return int(np.argmax(self.counts))

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class frequencies (uniform before any data), repeated for each row."""
        total = self.counts.sum()
        p = self.counts / total if total else np.full(self.n_classes, 1.0 / self.n_classes)
        return np.tile(p, (len(X), 1))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The majority class for every row."""
        return np.full(len(X), self.majority, dtype=np.int64)

    def score(self, X: np.ndarray, y: np.ndarray) -> float:
        """Accuracy."""
        return _accuracy(self.predict(X), np.asarray(y))


class ItemMean:
    """Predict an item's mean rating, falling back to the global mean (or mid-range).

    Args:
        n_items: Number of items (grown on demand if larger ids appear).
        rating_range: ``(r_min, r_max)`` of the rating scale.
        shrinkage: Pseudo-count pulling item means toward the global mean.
    """

    def __init__(
        self,
        n_items: int = 0,
        rating_range: tuple[float, float] = (1.0, 5.0),
        shrinkage: float = 0.0,
    ) -> None:
        self.rating_range = (float(rating_range[0]), float(rating_range[1]))
        self.shrinkage = float(shrinkage)
        self.sums = np.zeros(int(n_items))
        self.counts = np.zeros(int(n_items))
        self.is_fitted = False

    def _grow(self, n: int) -> None:
        if n > len(self.sums):
            self.sums = np.pad(self.sums, (0, n - len(self.sums)))
            self.counts = np.pad(self.counts, (0, n - len(self.counts)))

    @property
    def global_mean(self) -> float:
        """Mean of all ratings seen (mid-range before any data)."""
        total = self.counts.sum()
        return float(self.sums.sum() / total) if total else float(np.mean(self.rating_range))

    def fit(self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator | None = None) -> Self:
        """Recompute item means from scratch."""
        self.sums[:] = 0.0
        self.counts[:] = 0.0
        self.is_fitted = False
        return self.update(X, y, rng)

    def update(self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator | None = None) -> Self:
        """Add the new ratings to the running sums (exactly equal to a refit)."""
        X = np.asarray(X, dtype=np.int64).reshape(-1, 2)
        if len(X) == 0:
            return self
        items = X[:, 1]
        self._grow(int(items.max()) + 1)
        self.sums += np.bincount(items, weights=np.asarray(y, float), minlength=len(self.sums))
        self.counts += np.bincount(items, minlength=len(self.counts))
        self.is_fitted = True
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Shrunk item mean, or the global mean for unseen items."""
        X = np.asarray(X, dtype=np.int64).reshape(-1, 2)
        mu = self.global_mean
        items = X[:, 1]
        out = np.full(len(X), mu)
        known = items < len(self.counts)
        it = items[known]
        out[known] = (self.sums[it] + self.shrinkage * mu) / np.maximum(
            self.counts[it] + self.shrinkage, 1e-12
        )
        out[known] = np.where(self.counts[it] + self.shrinkage > 0, out[known], mu)
        return np.clip(out, *self.rating_range)

    def score(self, X: np.ndarray, y: np.ndarray) -> float:
        """``1 - RMSE / (r_max - r_min)``."""
        return _rating_quality(self.predict(X), np.asarray(y), self.rating_range)


class GlobalMean(ItemMean):
    """Predict the mean of every rating seen (mid-range before any data) for every pair.

    One number learned from the data, no parameter per item or rater: on a ratings task
    it is what the majority class is on a classification task.
    """

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The global mean rating for every row."""
        n = len(np.asarray(X, dtype=np.int64).reshape(-1, 2))
        return np.clip(np.full(n, self.global_mean), *self.rating_range)


# ------------------------------------------------------------- warm-started learners


class _WarmStarted:
    """A learner whose ``update`` continues training from its current state.

    Subclasses check their inputs (``_check``) and implement one training step on new
    data (``_continue``); ``update`` handles what they share: empty data changes nothing
    and an unfitted learner is ``fit`` instead.
    """

    is_fitted: bool

    def _check(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def fit(self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> Self:
        raise NotImplementedError

    def _continue(self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> None:
        raise NotImplementedError

    def update(self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> Self:
        """Train on new data from the current state (``fit`` if unfitted)."""
        X, y = self._check(X, y)
        if len(X) == 0:
            return self
        if not self.is_fitted:
            return self.fit(X, y, rng)
        self._continue(X, y, rng)
        return self


# ------------------------------------------------------------ logistic regression

# A warm-started refit's L-BFGS gradient tolerance: the loosest that keeps every
# reference task's quality within 1e-3 of a tight fit from zero (tested).
WARM_TOL = 1e-5


class LogisticRegression(_WarmStarted):
    """Multinomial (softmax) logistic regression with an L2 penalty on the weights.

    The objective is the mean cross-entropy plus ``l2 / (2 n) * ||W||^2``, i.e. the same
    optimum as scikit-learn's ``LogisticRegression(C=1/l2)`` (whose objective is this
    one times ``C * n``). With two classes the softmax's two weight vectors split the
    binomial weight vector in halves, so the penalty is doubled to keep the binomial
    optimum scikit-learn reports. Intercepts carry only a tiny penalty so that classes absent
    from the training data get a finite, very negative intercept instead of diverging.

    ``fit`` is a full refit from zero by L-BFGS. ``update`` depends on ``mode``:

    * ``"incremental"``: warm-started minibatch SGD over the new data only (``epochs``
      passes, shuffled by ``rng``), with weight decay ``l2 / n_seen`` where ``n_seen``
      counts every sample the model has been trained on.
    * ``"full"``: the model is not allowed to learn incrementally, so ``update`` is a
      full refit on exactly the arrays passed: the caller must pass the whole pool.

    Args:
        n_classes: Number of classes (labels are ``0..n_classes-1``).
        n_features: Number of input features.
        l2: Inverse of scikit-learn's ``C``.
        mode: ``"incremental"`` or ``"full"`` (see above).
        epochs: SGD passes over the new data per ``update``.
        lr: SGD step size.
        batch_size: SGD minibatch size.
        max_iter: L-BFGS iteration cap for ``fit``.
        tol: L-BFGS gradient tolerance of a fit from zero (the first fit).
        warm_start: A refit of a fitted learner starts from its current weights.
        warm_tol: L-BFGS gradient tolerance of a warm-started refit.
    """

    _BIAS_L2 = 1e-4
    # Batches smaller than this take proportionally smaller steps (see update).
    _MIN_BATCH = 32

    def __init__(
        self,
        n_classes: int,
        n_features: int,
        l2: float = 1.0,
        mode: Literal["incremental", "full"] = "incremental",
        epochs: int = 2,
        lr: float = 0.5,
        batch_size: int = 512,
        max_iter: int = 500,
        tol: float = 1e-6,
        warm_start: bool = True,
        warm_tol: float = WARM_TOL,
    ) -> None:
        if mode not in ("incremental", "full"):
            raise ValueError(f"mode must be 'incremental' or 'full', got {mode!r}")
        self.n_classes = int(n_classes)
        self.n_features = int(n_features)
        self.l2 = float(l2)
        self.mode = mode
        self.epochs = int(epochs)
        self.lr = float(lr)
        self.batch_size = int(batch_size)
        self.max_iter = int(max_iter)
        self.tol = float(tol)
        self.warm_start = bool(warm_start)
        self.warm_tol = float(warm_tol)
        self._reset()

    @property
    def _penalty(self) -> float:
        return self.l2 * (2.0 if self.n_classes == 2 else 1.0)

    def _reset(self) -> None:
        self.coef = np.zeros((self.n_features, self.n_classes))
        self.intercept = np.zeros(self.n_classes)
        self.class_counts = np.zeros(self.n_classes, dtype=np.int64)
        self.n_seen = 0
        self.is_fitted = False

    def _check(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        X = np.asarray(X, dtype=np.float64).reshape(-1, self.n_features)
        y = _as_labels(y, self.n_classes)
        if len(X) != len(y):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
        return X, y

    def _loss_grad(
        self, theta: np.ndarray, X: np.ndarray, Y: np.ndarray
    ) -> tuple[float, np.ndarray]:
        d, k = self.n_features, self.n_classes
        n = len(X)
        W = theta[: d * k].reshape(d, k)
        b = theta[d * k :]
        Z = X @ W + b
        zmax = Z.max(axis=1, keepdims=True)
        Z -= zmax
        expZ = np.exp(Z)
        sumexp = expZ.sum(axis=1, keepdims=True)
        loss = float(np.sum(np.log(sumexp)) - np.sum(Z * Y)) / n
        P = expZ / sumexp
        P -= Y
        P /= n
        lam = self._penalty / n
        gW = X.T @ P + lam * W
        gb = P.sum(axis=0) + self._BIAS_L2 * b
        loss += 0.5 * lam * float(np.sum(W * W)) + 0.5 * self._BIAS_L2 * float(b @ b)
        return loss, np.concatenate([gW.ravel(), gb])

    def fit(self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator | None = None) -> Self:
        """Full refit on exactly ``X, y`` by L-BFGS (deterministic; ``rng`` is unused).

        The first fit starts from zero; with ``warm_start`` a later one starts from the
        current weights and stops at ``warm_tol``: the objective is convex, so it reaches
        the same optimum in a few iterations (quality within 1e-3 of a tight fit from
        zero, tests/learning/test_warm_start.py). With no data the learner is reset to
        its unfitted, naive state.
        """
        X, y = self._check(X, y)
        warm = self.warm_start and self.is_fitted
        theta0 = np.concatenate([self.coef.ravel(), self.intercept]) if warm else None
        self._reset()
        if len(X) == 0:
            return self
        Y = np.zeros((len(y), self.n_classes))
        Y[np.arange(len(y)), y] = 1.0
        if theta0 is None:
            theta0 = np.zeros(self.n_features * self.n_classes + self.n_classes)
        res = scipy.optimize.minimize(
            self._loss_grad,
            theta0,
            args=(X, Y),
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": self.max_iter, "gtol": self.warm_tol if warm else self.tol},
        )
        d, k = self.n_features, self.n_classes
        self.coef = res.x[: d * k].reshape(d, k).copy()
        self.intercept = res.x[d * k :].copy()
        self.class_counts = np.bincount(y, minlength=k)
        self.n_seen = len(y)
        self.is_fitted = True
        return self

    def update(self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> Self:
        """Train on new data: SGD from the current state, or a full refit (``mode="full"``).

        Empty data leaves the state unchanged; an unfitted learner is ``fit``.
        """
        if self.mode == "full":
            return self.fit(X, y, rng)
        return super().update(X, y, rng)

    def _continue(self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> None:
        """Warm-started minibatch SGD over the new data (checked, non-empty)."""
        n = len(X)
        self.n_seen += n
        self.class_counts += np.bincount(y, minlength=self.n_classes)
        decay = np.float32(self._penalty / self.n_seen)
        lr = np.float32(self.lr)
        # SGD runs in float32 and class-major: logits as (n_classes, batch), so the
        # softmax reduces across a few long rows instead of many rows of n_classes
        # values, which numpy does several times faster.
        Wt = np.ascontiguousarray(self.coef.T, dtype=np.float32)
        b = self.intercept.astype(np.float32)[:, None]
        X32 = X.astype(np.float32)
        bs = max(1, self.batch_size)
        for _ in range(self.epochs):
            perm = rng.permutation(n)
            Xs, ys = X32[perm], y[perm]
            for start in range(0, n, bs):
                xb = Xs[start : start + bs]
                yb = ys[start : start + bs]
                Pt = Wt @ xb.T + b
                Pt -= Pt.max(axis=0)
                np.exp(Pt, out=Pt)
                Pt /= Pt.sum(axis=0)
                Pt[yb, np.arange(len(yb))] -= 1.0
                # A batch moves the weights in proportion to the evidence it carries:
                # a handful of samples must not undo what thousands taught.
                Pt /= np.float32(max(len(yb), self._MIN_BATCH))
                Wt -= lr * (Pt @ xb + decay * Wt)
                b -= lr * Pt.sum(axis=1, keepdims=True)
        self.coef = Wt.T.astype(np.float64)
        self.intercept = b[:, 0].astype(np.float64)

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Logits ``X @ W + b`` of shape ``(n, n_classes)``."""
        X = np.asarray(X, dtype=np.float64).reshape(-1, self.n_features)
        return X @ self.coef + self.intercept

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities; before any fit, the class frequencies seen (or uniform)."""
        if not self.is_fitted:
            return MajorityClass(self.n_classes).predict_proba(np.empty((len(X), 0)))
        return _softmax(self.decision_function(X))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Most probable class (class 0 before any fit)."""
        if not self.is_fitted:
            return np.full(len(X), int(np.argmax(self.class_counts)), dtype=np.int64)
        return np.argmax(self.decision_function(X), axis=1).astype(np.int64)

    def score(self, X: np.ndarray, y: np.ndarray) -> float:
        """Accuracy."""
        return _accuracy(self.predict(X), np.asarray(y))


# ---------------------------------------------------------------- nearest neighbours


class KNearestNeighbours:
    """k-nearest-neighbour classifier (Euclidean, majority vote, ties to lowest class).

    Args:
        n_classes: Number of classes.
        k: Number of neighbours.
    """

    def __init__(self, n_classes: int, k: int = 5) -> None:
        self.n_classes = int(n_classes)
        self.k = int(k)
        self.X = np.empty((0, 0))
        self.y = np.empty(0, dtype=np.int64)
        self._tree: cKDTree | None = None
        self.is_fitted = False

    def fit(self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator | None = None) -> Self:
        """Store the data (replacing anything stored before)."""
        X = np.asarray(X, dtype=np.float64)
        X = X.reshape(len(X), -1) if X.size else X.reshape(len(X), X.shape[-1] if X.ndim > 1 else 0)
        self.X = X.copy()
        self.y = _as_labels(y, self.n_classes).copy()
        self._tree = None
        self.is_fitted = len(self.y) > 0
        return self

    def update(self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator | None = None) -> Self:
        """Append the new data to the stored data."""
        if not self.is_fitted:
            return self.fit(X, y, rng)
        X = np.asarray(X, dtype=np.float64).reshape(-1, self.X.shape[1])
        if len(X) == 0:
            return self
        self.X = np.vstack([self.X, X])
        self.y = np.concatenate([self.y, _as_labels(y, self.n_classes)])
        self._tree = None
        return self

    def kneighbors(self, X: np.ndarray) -> np.ndarray:
        """Indices (into the stored data) of the k nearest stored points, nearest first."""
        if self._tree is None:
            self._tree = cKDTree(self.X)
        k = min(self.k, len(self.y))
        _, idx = self._tree.query(np.asarray(X, dtype=np.float64), k=k)
        return np.asarray(idx).reshape(len(X), k)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Majority label among the k nearest stored points (class 0 before any fit)."""
        if not self.is_fitted:
            return np.zeros(len(X), dtype=np.int64)
        if len(X) == 0:
            return np.empty(0, dtype=np.int64)
        labels = self.y[self.kneighbors(X)]
        votes = np.zeros((len(X), self.n_classes), dtype=np.int64)
        np.add.at(votes, (np.repeat(np.arange(len(X)), labels.shape[1]), labels.ravel()), 1)
        return np.argmax(votes, axis=1).astype(np.int64)

    def score(self, X: np.ndarray, y: np.ndarray) -> float:
        """Accuracy."""
        return _accuracy(self.predict(X), np.asarray(y))


class NearestCentroid:
    """Nearest-centroid classifier: each class's mean features; a point gets the nearest.

    Retraining is exact and cheap: the class sums and counts are all it keeps, so an
    update on new rows equals a refit on all of them.

    Args:
        n_classes: Number of classes.
    """

    def __init__(self, n_classes: int) -> None:
        self.n_classes = int(n_classes)
        self.sums = np.zeros((self.n_classes, 0))
        self.counts = np.zeros(self.n_classes, dtype=np.int64)
        self.is_fitted = False

    def fit(self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator | None = None) -> Self:
        """Class sums and counts from scratch."""
        self.counts[:] = 0
        self.sums = np.zeros((self.n_classes, np.shape(X)[-1]))
        self.is_fitted = False
        return self.update(X, y, rng)

    def update(self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator | None = None) -> Self:
        """Add the new rows to their classes' sums and counts."""
        X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
        if self.sums.shape[1] != X.shape[1]:
            return self.fit(X, y, rng)
        y = _as_labels(y, self.n_classes)
        np.add.at(self.sums, y, X)
        self.counts += np.bincount(y, minlength=self.n_classes)
        self.is_fitted = bool(self.counts.sum() > 0)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The class whose centroid is nearest (Euclidean; class 0 before any fit)."""
        X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
        if not self.is_fitted:
            return np.zeros(len(X), dtype=np.int64)
        seen = np.flatnonzero(self.counts)
        centroids = self.sums[seen] / self.counts[seen, None]
        d2 = (X * X).sum(axis=1)[:, None] - 2 * X @ centroids.T + (centroids**2).sum(axis=1)
        return seen[np.argmin(d2, axis=1)].astype(np.int64)

    def score(self, X: np.ndarray, y: np.ndarray) -> float:
        """Accuracy."""
        return _accuracy(self.predict(X), np.asarray(y))


# -------------------------------------------------------------- matrix factorisation


class MatrixFactorisation(_WarmStarted):
    """Biased matrix factorisation for ratings: ``mu + b_u + c_i + p_u . q_i``.

    ``fit`` runs alternating least squares (ALS, weighted-lambda regularisation: each
    user's or item's ridge penalty scales with its number of ratings), vectorised with
    sparse one-hot aggregation and batched solves. ``update`` continues from the current
    factors with minibatch SGD over the new ratings only. Raters or items never seen keep
    zero factors and biases, so they fall back to item bias / global mean. Predictions are
    clipped to the rating range.

    Args:
        n_users: Number of raters (rows of ``X[:, 0]``).
        n_items: Number of items (``X[:, 1]``).
        rank: Number of latent factors.
        l2: Ridge penalty (per rating).
        epochs: ALS sweeps in ``fit``.
        sgd_epochs: SGD passes in ``update``.
        lr: SGD step size.
        batch_size: SGD minibatch size.
        rating_range: ``(r_min, r_max)``.
    """

    def __init__(
        self,
        n_users: int,
        n_items: int,
        rank: int = 8,
        l2: float = 0.1,
        epochs: int = 10,
        sgd_epochs: int = 3,
        lr: float = 0.02,
        batch_size: int = 256,
        rating_range: tuple[float, float] = (1.0, 5.0),
    ) -> None:
        self.n_users = int(n_users)
        self.n_items = int(n_items)
        self.rank = int(rank)
        self.l2 = float(l2)
        self.epochs = int(epochs)
        self.sgd_epochs = int(sgd_epochs)
        self.lr = float(lr)
        self.batch_size = int(batch_size)
        self.rating_range = (float(rating_range[0]), float(rating_range[1]))
        self._reset()

    def _reset(self) -> None:
        self.P = np.zeros((self.n_users, self.rank))
        self.Q = np.zeros((self.n_items, self.rank))
        self.bu = np.zeros(self.n_users)
        self.bi = np.zeros(self.n_items)
        self.mu = float(np.mean(self.rating_range))
        self.n_seen = 0
        self.seen_u = np.zeros(self.n_users, bool)
        self.seen_i = np.zeros(self.n_items, bool)
        self.is_fitted = False

    def _check(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        X = np.asarray(X, dtype=np.int64).reshape(-1, 2)
        y = np.asarray(y, dtype=np.float64).ravel()
        if len(X) != len(y):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
        if len(X) and (X[:, 0].max() >= self.n_users or X[:, 1].max() >= self.n_items):
            raise ValueError("rater or item id out of range for this MatrixFactorisation")
        return X, y

    def _solve_side(
        self, own: np.ndarray, other_vec: np.ndarray, target: np.ndarray, n_own: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Ridge-solve ``[factors, bias]`` for every entity on one side, batched."""
        r1 = self.rank + 1
        Zt = np.vstack([other_vec.T, np.ones((1, len(target)))])  # (r+1, n), rows contiguous
        # Per-entity Gram matrices and right-hand sides by weighted bincounts: one pass
        # over the ratings per distinct entry, never an (n, (r+1)^2) array of outer products.
        G = np.empty((n_own, r1, r1))
        for a in range(r1):
            for b in range(a, r1):
                G[:, a, b] = np.bincount(own, weights=Zt[a] * Zt[b], minlength=n_own)
                G[:, b, a] = G[:, a, b]
        rhs = np.column_stack(
            [np.bincount(own, weights=Zt[a] * target, minlength=n_own) for a in range(r1)]
        )
        counts = np.bincount(own, minlength=n_own).astype(float)
        lam = self.l2 * np.maximum(counts, 1.0)
        G += lam[:, None, None] * np.eye(r1)[None]
        sol = np.linalg.solve(G, rhs[:, :, None])[:, :, 0]
        return sol[:, : self.rank], sol[:, self.rank]

    def fit(self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> Self:
        """Full refit by ALS from small random factors drawn from ``rng``."""
        X, y = self._check(X, y)
        self._reset()
        if len(X) == 0:
            return self
        u, i = X[:, 0], X[:, 1]
        self.mu = float(y.mean())
        self.Q = rng.normal(0.0, 0.1, size=(self.n_items, self.rank))
        seen_u = np.bincount(u, minlength=self.n_users) > 0
        seen_i = np.bincount(i, minlength=self.n_items) > 0
        for _ in range(self.epochs):
            self.P, self.bu = self._solve_side(u, self.Q[i], y - self.mu - self.bi[i], self.n_users)
            self.Q, self.bi = self._solve_side(i, self.P[u], y - self.mu - self.bu[u], self.n_items)
        # Entities without data are exactly zero, so they fall back to biases / mean.
        self.P[~seen_u] = 0.0
        self.bu[~seen_u] = 0.0
        self.Q[~seen_i] = 0.0
        self.bi[~seen_i] = 0.0
        self.seen_u, self.seen_i = seen_u, seen_i
        self.n_seen = len(y)
        self.is_fitted = True
        return self

    def _continue(self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> None:
        """Minibatch SGD on the new ratings, starting from the current factors."""
        n = len(X)
        # A rater or item met for the first time starts from small random factors, as
        # ALS starts: at exactly zero both its gradient and its partners' would vanish,
        # and it would never leave its bias.
        for ids, seen, F in (
            (X[:, 0], self.seen_u, self.P),
            (X[:, 1], self.seen_i, self.Q),
        ):
            new = np.unique(ids[~seen[ids]])
            if new.size:
                F[new] = rng.normal(0.0, 0.1, size=(new.size, self.rank))
                seen[new] = True
        # The global mean tracks all ratings seen, as a running average.
        self.mu = (self.mu * self.n_seen + float(y.sum())) / (self.n_seen + n)
        self.n_seen += n
        lr, lam = self.lr, self.l2
        for _ in range(self.sgd_epochs):
            perm = rng.permutation(n)
            for start in range(0, n, self.batch_size):
                idx = perm[start : start + self.batch_size]
                u, i = X[idx, 0], X[idx, 1]
                pu, qi = self.P[u], self.Q[i]
                err = y[idx] - (self.mu + self.bu[u] + self.bi[i] + np.sum(pu * qi, axis=1))
                np.add.at(self.bu, u, lr * (err - lam * self.bu[u]))
                np.add.at(self.bi, i, lr * (err - lam * self.bi[i]))
                np.add.at(self.P, u, lr * (err[:, None] * qi - lam * pu))
                np.add.at(self.Q, i, lr * (err[:, None] * pu - lam * qi))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted ratings, clipped to the rating range (mid-range before any fit)."""
        X = np.asarray(X, dtype=np.int64).reshape(-1, 2)
        u, i = X[:, 0], X[:, 1]
        pred = self.mu + self.bu[u] + self.bi[i] + np.sum(self.P[u] * self.Q[i], axis=1)
        return np.clip(pred, *self.rating_range)

    def score(self, X: np.ndarray, y: np.ndarray) -> float:
        """``1 - RMSE / (r_max - r_min)``."""
        return _rating_quality(self.predict(X), np.asarray(y), self.rating_range)


# ----------------------------------------------------------------------- baselines


def naive_learner_for(task: Task) -> Learner:
    """The non-learning baseline for a task: majority class, or item mean for ratings."""
    if task.kind == "ratings":
        return ItemMean(task.n_items, rating_range=task.rating_range)
    return MajorityClass(task.n_classes)


def leverage_baseline_for(task: Task) -> Learner:
    """The naive baseline a campaign's leverage is normalised against (``abm/twins.py``).

    The majority class, or on ratings tasks the global mean rating: one statistic of the
    training data, so that a personalised model beats it. The item mean, fitted on the
    whole training split, is no such floor: a platform's matrix factorisation trained on
    its share of sparse ratings often scores below it (on MovieLens a twin never beat
    it, leaving leverage undefined at every step). Learning curves keep
    :func:`naive_learner_for`, the baseline the published curves normalise by.
    """
    if task.kind == "ratings":
        return GlobalMean(task.n_items, rating_range=task.rating_range)
    return naive_learner_for(task)
