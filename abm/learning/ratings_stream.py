"""A ratings stream: users with latent tastes rate items they have not rated before.

Modelling assumption: every user is a rater with a latent taste vector and a bias; every
item of a catalogue of ``n_items`` has latent traits and a bias, all drawn once. A rating
is ``centre + b_u + c_i + taste_u . trait_i + noise * z`` rounded to whole stars and
clipped to the scale, with ``z`` fixed per (user, item) pair. User ``u`` rates the
catalogue in its own pseudo-random order (an affine permutation ``(a_u k + b_u) mod
n_items``), so its ``k``-th contribution is a new item and a pure function of (seed,
``u``, ``k``), as on the classification stream. The last 20% of each user's order is
reserved: the held-out set takes pairs from its last half and the platforms' starting
ratings from the half before, so no pair a user contributes is ever held out; a user who
has rated the other 80% has nothing more to give.

Cold start is real: a platform knows nothing of a user until that user's first rating
reaches it, and held-out pairs cover all users, so a user who never contributed is
predicted from item biases and the global mean alone. Because the held-out set names
users, the task is completed by ``assign_slices`` once the number of users is known.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import gcd

import numpy as np

from abm.learning.ranking import RankingProbe
from abm.learning.stream import _hash32, _pair_keys

__all__ = ["RatingsStream", "RatingsStreamParams"]

_TEST, _BACKGROUND, _TASTE, _ORDER, _NOISE = 0x7E57, 0xBAC6, 0x7A57, 0x0DE2, 0x0015
_PROBE = 0x9B0B


def _normals(key: np.ndarray, d: int) -> np.ndarray:
    """``(n, d)`` standard normals from one 32-bit key per row (Box-Muller, 16-bit)."""
    half = (d + 1) // 2
    cols = _pair_keys(0x2468ACE, np.arange(half), np.zeros(half, np.int64))
    z = _hash32(key[:, None] ^ cols[None, :])
    u1 = ((z >> np.uint32(16)).astype(np.float64) + 0.5) * 2.0**-16
    angle = (z & np.uint32(0xFFFF)).astype(np.float64) * (2 * np.pi / 2**16)
    r = np.sqrt(-2.0 * np.log(u1))
    return np.hstack([r * np.cos(angle), r * np.sin(angle)])[:, :d]


@dataclass(frozen=True)
class RatingsStreamParams:
    """Parameters of a ratings stream.

    Attributes:
        n_items: Size of the catalogue.
        rank: Dimension of tastes and traits.
        noise: Standard deviation of a rating's noise (before rounding).
        n_test: Held-out ratings.
    """

    n_items: int = 1000
    rank: int = 4
    noise: float = 0.5
    n_test: int = 5000

    def __post_init__(self) -> None:
        if self.n_items < 10 or self.rank < 1 or self.noise < 0 or self.n_test < 1:
            raise ValueError(f"invalid ratings stream parameters: {self}")


@dataclass(eq=False)
class RatingsStream:
    """The generator behind a ratings stream task.

    Attributes:
        params: Its parameters.
        seed: 32-bit seed of the counter-based draws.
        traits: ``(n_items, rank)`` item traits.
        item_bias: ``(n_items,)`` item biases.
        rating_range: The star scale.
        n_background: Starting ratings made for the platforms (``task.n_samples``).
    """

    params: RatingsStreamParams
    seed: int
    traits: np.ndarray = field(repr=False)
    item_bias: np.ndarray = field(repr=False)
    rating_range: tuple[float, float] = (1.0, 5.0)
    n_background: int = 2000
    _coprime: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), repr=False)

    @classmethod
    def create(cls, params: RatingsStreamParams, rng: np.random.Generator) -> RatingsStream:
        """Draw the catalogue with ``rng``."""
        seed = int(rng.integers(0, 2**32))
        traits = rng.standard_normal((params.n_items, params.rank)) / np.sqrt(params.rank)
        item_bias = rng.normal(0.0, 0.6, params.n_items)
        n = params.n_items
        coprime = np.array([a for a in range(1, n) if gcd(a, n) == 1], np.int64)
        return cls(params, seed, traits, item_bias, _coprime=coprime)

    @property
    def contributable(self) -> int:
        """Items each user can rate before it runs dry (80% of the catalogue)."""
        return self.params.n_items - 2 * self._reserve

    @property
    def _reserve(self) -> int:
        return max(1, self.params.n_items // 10)

    def _key(self, salt: int, who: np.ndarray, k: np.ndarray) -> np.ndarray:
        return _pair_keys(_hash32(np.uint32((self.seed ^ salt) & 0xFFFFFFFF)), who, k)

    def item_at(self, users: np.ndarray, position: np.ndarray) -> np.ndarray:
        """The item at ``position`` in each user's rating order."""
        zero = np.zeros(len(users), np.int64)
        h = self._key(_ORDER, users, zero).astype(np.int64)
        a = self._coprime[h % len(self._coprime)]
        b = self._key(_ORDER + 1, users, zero).astype(np.int64) % self.params.n_items
        return (a * np.asarray(position, np.int64) + b) % self.params.n_items

    def rate(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Each user's rating of each item (fixed per pair)."""
        p = self.params
        users = np.asarray(users, np.int64)
        zero = np.zeros(len(users), np.int64)
        taste = _normals(self._key(_TASTE, users, zero), p.rank + 1)
        z = _normals(self._key(_NOISE, users, items), 1)[:, 0]
        lo, hi = self.rating_range
        raw = (
            (lo + hi) / 2
            + 0.4 * taste[:, p.rank]
            + self.item_bias[items]
            + np.sum(taste[:, : p.rank] * self.traits[items], axis=1)
            + p.noise * z
        )
        return np.clip(np.round(raw), lo, hi)

    def contributions(self, users: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(X, y)`` of each user's ``k``-th rating: ``X`` holds (rater, item) pairs."""
        items = self.item_at(users, k)
        return np.column_stack([users, items]).astype(np.int64), self.rate(users, items)

    def _reserved_slots(self, n_users: int, n: int, salt: int) -> tuple[np.ndarray, np.ndarray]:
        j = np.arange(n)
        users = self._key(salt, j, np.zeros(n, np.int64)).astype(np.int64) % n_users
        slot = self._key(salt + 1, j, np.zeros(n, np.int64)).astype(np.int64) % self._reserve
        return users, slot

    def reserved(
        self, n_users: int, n: int, salt: int, offset: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """``n`` pairs from the reserved tail of random users' orders."""
        users, slot = self._reserved_slots(n_users, n, salt)
        position = self.params.n_items - 1 - offset - slot
        items = self.item_at(users, position)
        return np.column_stack([users, items]).astype(np.int64), self.rate(users, items)

    def probe(
        self,
        n_users: int,
        like_threshold: float = 4.0,
        n_negatives: int = 100,
        n_probe: int = 1000,
        k: int = 10,
    ) -> RankingProbe | None:
        """The hit-rate probe: held-out liked ratings, each with items its rater dislikes.

        Liked items are the held-out ratings of at least ``like_threshold`` stars (the
        first ``n_probe`` of them). Each is ranked against ``n_negatives`` items from its
        rater's held-out tenth, which no platform ever receives from that rater, that
        the rater would rate below ``like_threshold``: Cremonesi et al.'s assumption that
        unrated items are irrelevant, made true, since every rating here is known.
        Negatives are distinct when the rater has enough of them (among up to 1,024
        candidates), else repeated. Made by counter-based hashes like the held-out set,
        so nothing is drawn from the run's generator.
        """
        users, slot = self._reserved_slots(n_users, self.params.n_test, _TEST)
        top = self.params.n_items - 1
        liked_items = self.item_at(users, top - slot)
        liked = np.flatnonzero(self.rate(users, liked_items) >= like_threshold)[:n_probe]
        others = self._reserve - 1
        if len(liked) == 0 or others < 1:
            return None
        users, slot, liked_items = users[liked], slot[liked], liked_items[liked]
        n, c = len(liked), min(others, 1024)
        rows = np.repeat(np.arange(n), c)
        if others <= 4096:  # a random order of every other slot: argsort of hashed keys
            keys = self._key(_PROBE, rows, np.tile(np.arange(others), n)).reshape(n, others)
            j = np.argsort(keys, axis=1)[:, :c].astype(np.int64)
        else:  # a large catalogue: candidates with replacement
            j = self._key(_PROBE + 1, rows, np.tile(np.arange(c), n)).astype(np.int64) % others
            j = j.reshape(n, c)
        j += j >= slot[:, None]  # skip the liked item's own slot
        cand = self.item_at(np.repeat(users, c), np.repeat(top, n * c) - j.ravel())
        disliked = (self.rate(np.repeat(users, c), cand) < like_threshold).reshape(n, c)
        cand = cand.reshape(n, c)
        order = np.argsort(~disliked, axis=1, kind="stable")  # disliked first, still random
        count = disliked.sum(axis=1)
        ok = count > 0
        col = np.arange(int(n_negatives))[None, :] % np.maximum(count, 1)[:, None]
        neg = np.take_along_axis(np.take_along_axis(cand, order, axis=1), col, axis=1)
        items = np.column_stack([liked_items, neg])[ok]
        return RankingProbe(rater=users[ok], items=items, k=k)

    def held_out(self, n_users: int) -> tuple[np.ndarray, np.ndarray]:
        """The held-out ratings: the last tenth of random users' orders."""
        return self.reserved(n_users, self.params.n_test, _TEST, 0)

    def background(self, n_users: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Platforms' starting ratings: the tenth before the held-out one."""
        return self.reserved(n_users, n, _BACKGROUND, self._reserve)
