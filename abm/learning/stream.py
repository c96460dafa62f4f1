"""Generative data streams: classification data that does not run out.

Modelling assumption: on a stream task a user's data is not a share of a finite table but
draws from the user's own distribution, so every contribution is new information and a
strike withholds information, not duplicates. The population is a class-conditional
Gaussian mixture. Data group ``g`` (users are spread over ``n_groups`` groups) has, for
class ``c`` and mixture component ``m``, the mean

    mean[g, c, m] = centre[c, m] + shift * offset[g, c, m],

with ``centre`` and ``offset`` drawn once, each row of norm about ``separation`` and 1.
A user draws class ``c`` from its own class profile (uniform, or skewed toward a
favourite class or its group's classes, as on finite tasks), component ``m`` uniformly,
then ``x = mean[g, c, m] + noise * z`` with ``z ~ N(0, I)``; with probability
``label_noise`` it reports a uniformly random label instead of ``c``. With one
component per class and no shift the Bayes classifier is linear, so the logistic
learner is well specified and keeps improving with data until it reaches the Bayes rate.

Counter-based randomness: user ``u``'s ``k``-th contribution is a pure function of
(the task's seed, ``u``, ``k``), computed from a hash of the three; the held-out set is
drawn the same way from its own key space. What one user makes therefore never depends
on what other users do, nor on how many numbers the run's generator has produced: two
worlds that differ only in who contributes see the same fresh data from the same user.
Uniforms carry 16 bits (Box-Muller normals are cut at 4.85 sd); a row's 32-bit key
repeats with probability about ``n / 2**33`` among ``n`` rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["GaussianStream", "StreamParams"]

_TEST_SALT = 0x5EED7E57
_BACKGROUND_SALT = 0x0BAC6D00


def _hash32(x: np.ndarray) -> np.ndarray:
    """A well-mixed 32-bit integer hash (Wellons' lowbias32), vectorised."""
    x = np.asarray(x, dtype=np.uint32)
    with np.errstate(over="ignore"):  # multiplication modulo 2**32 is the point
        x = x ^ (x >> np.uint32(16))
        x = x * np.uint32(0x7FEB352D)
        x = x ^ (x >> np.uint32(15))
        x = x * np.uint32(0x846CA68B)
        x = x ^ (x >> np.uint32(16))
    return x


def _pair_keys(salt: int | np.uint32, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """One 32-bit key per ``(a, b)`` pair: ``hash(hash(a ^ salt) + b * golden)``.

    Mixing ``a`` first and adding ``b`` scaled by the golden ratio keeps the pair order:
    ``(a, b)`` and ``(b, a)`` get unrelated keys.
    """
    salt = np.uint32(int(salt) & 0xFFFFFFFF)
    ha = _hash32(np.asarray(a, dtype=np.int64).astype(np.uint32) ^ salt)
    with np.errstate(over="ignore"):
        hb = np.asarray(b, dtype=np.int64).astype(np.uint32) * np.uint32(0x9E3779B9)
    with np.errstate(over="ignore"):
        return _hash32(ha + hb)


def _row_keys(seed: int, salt: int, who: np.ndarray, k: np.ndarray) -> np.ndarray:
    """One 32-bit key per row from (seed, salt, who, k)."""
    return _pair_keys(_hash32(np.uint32((seed ^ salt) & 0xFFFFFFFF)), who, k)


@dataclass(frozen=True)
class StreamParams:
    """Parameters of a generative stream (see the module docstring).

    Attributes:
        n_features: Dimension of ``x``.
        n_classes: Number of classes.
        components: Gaussian components per class (1: linear Bayes boundary).
        separation: Typical norm of a class centre (larger: easier task).
        noise: Standard deviation of the within-component noise.
        shift: Size of the between-group shift of the class means.
        n_groups: Number of data groups users are spread over.
        label_noise: Probability a contribution carries a uniformly random label.
        n_test: Size of the held-out set.
    """

    n_features: int = 64
    n_classes: int = 20
    components: int = 1
    separation: float = 3.5
    noise: float = 1.0
    shift: float = 0.5
    n_groups: int = 4
    label_noise: float = 0.0
    n_test: int = 5000

    def __post_init__(self) -> None:
        checks = {
            "n_features": self.n_features >= 1,
            "n_classes": self.n_classes >= 2,
            "components": self.components >= 1,
            "separation": self.separation >= 0,
            "noise": self.noise > 0,
            "shift": self.shift >= 0,
            "n_groups": self.n_groups >= 1,
            "label_noise": 0.0 <= self.label_noise <= 1.0,
            "n_test": self.n_test >= 1,
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"invalid stream parameter(s): {', '.join(bad)} ({self})")


@dataclass(eq=False)
class GaussianStream:
    """The generator behind a stream task: centres, group offsets and a seed.

    Attributes:
        params: The stream's parameters.
        seed: 32-bit seed of the counter-based draws.
        means: ``(n_groups, n_classes, components, n_features)`` component means.
    """

    params: StreamParams
    seed: int
    means: np.ndarray = field(repr=False)

    @classmethod
    def create(cls, params: StreamParams, rng: np.random.Generator) -> GaussianStream:
        """Draw the centres and group offsets with ``rng`` (one seed, then a fixed order)."""
        p = params
        seed = int(rng.integers(0, 2**32))
        shape = (p.n_classes, p.components, p.n_features)
        centre = rng.standard_normal(shape) * (p.separation / np.sqrt(p.n_features))
        offset = rng.standard_normal((p.n_groups, *shape)) / np.sqrt(p.n_features)
        means = (centre[None] + p.shift * offset).astype(np.float32)
        return cls(params=p, seed=seed, means=means)

    def rows(
        self,
        who: np.ndarray,
        k: np.ndarray,
        group: np.ndarray,
        class_cdf: np.ndarray,
        salt: int = 0,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rows number ``k`` of the sources ``who`` (users, or test/background rows).

        Args:
            who: Source id per row (a user id, or a row number for held-out rows).
            k: The source's contribution counter per row.
            group: Data group per row.
            class_cdf: Cumulative class profile per row, ``(n, n_classes)``.
            salt: Key space (users 0, held-out and background rows their own).

        Returns:
            ``(X, y)``: float32 features ``(n, n_features)`` and int64 labels.
        """
        p = self.params
        n = len(who)
        key = _row_keys(self.seed, salt, who, k)
        # Uniforms for class, component and label noise, then the normals.
        half = (p.n_features + 1) // 2
        cols = _pair_keys(0x1234567, np.arange(half + 2), np.zeros(half + 2, np.int64))
        z = _hash32(key[:, None] ^ cols[None, :])
        meta = z[:, half:]
        u_class = (meta[:, 0] >> np.uint32(8)).astype(np.float64) * 2.0**-24
        u_comp = (meta[:, 0] & np.uint32(0xFF)).astype(np.int64)
        u_flip = (meta[:, 1] >> np.uint32(8)).astype(np.float64) * 2.0**-24
        flip_to = (meta[:, 1] & np.uint32(0xFF)).astype(np.int64) % p.n_classes
        y = (u_class[:, None] >= class_cdf).sum(axis=1)
        y = np.minimum(y, p.n_classes - 1).astype(np.int64)
        comp = u_comp % p.components
        z = z[:, :half]
        u1 = ((z >> np.uint32(16)).astype(np.float32) + np.float32(0.5)) * np.float32(2.0**-16)
        angle = (z & np.uint32(0xFFFF)).astype(np.float32) * np.float32(2 * np.pi / 2**16)
        r = np.sqrt(np.float32(-2.0) * np.log(u1)) * np.float32(p.noise)
        X = np.empty((n, 2 * half), dtype=np.float32)
        np.multiply(r, np.cos(angle), out=X[:, :half])
        np.multiply(r, np.sin(angle), out=X[:, half:])
        X = X[:, : p.n_features]
        X += self.means[np.asarray(group, dtype=np.int64), y, comp]
        if p.label_noise > 0:
            flip = u_flip < p.label_noise
            y = np.where(flip, flip_to, y)
        return np.ascontiguousarray(X), y

    def bayes_accuracy(self, X: np.ndarray, y: np.ndarray) -> float:
        """Accuracy on ``(X, y)`` of the Bayes classifier of the whole population.

        Groups are equally likely and unknown to the classifier; classes are uniform;
        label noise is ignored (it lowers every classifier alike).
        """
        p = self.params
        X = np.asarray(X, dtype=np.float64)
        means = self.means.astype(np.float64).reshape(-1, p.n_features)  # (G*K*M, d)
        d2 = (X**2).sum(1)[:, None] - 2 * X @ means.T + (means**2).sum(1)[None, :]
        logp = (-0.5 * d2 / p.noise**2).reshape(len(X), p.n_groups, p.n_classes, p.components)
        m = logp.max(axis=(1, 3), keepdims=True)
        score = np.log(np.exp(logp - m).sum(axis=(1, 3))) + m[:, 0, :, 0]
        return float(np.mean(score.argmax(axis=1) == np.asarray(y)))

    def uniform_rows(self, n: int, salt: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` rows of the whole population: groups in turn, classes uniform."""
        p = self.params
        idx = np.arange(n)
        cdf = np.tile(np.arange(1, p.n_classes + 1) / p.n_classes, (n, 1))
        return self.rows(idx, np.zeros(n, np.int64), idx % p.n_groups, cdf, salt=salt)

    def test_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """The held-out set, drawn once from the whole population."""
        return self.uniform_rows(self.params.n_test, _TEST_SALT)

    def background_rows(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` rows that belong to no user (what platforms start with)."""
        return self.uniform_rows(n, _BACKGROUND_SALT)
