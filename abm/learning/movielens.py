"""MovieLens ratings files as a task: every rater is a user, ratings arrive in time order.

Modelling assumption: the data-strike papers measured leverage on real raters' histories,
so a MovieLens task keeps them: each rater of the file is one simulated user (or, with
fewer users than raters, several raters make one user), a random ``test_size`` share of
all ratings is held out, and each rater hands over the rest of its history once, in
timestamp order (ties in file order), so a platform meets new raters and new items
exactly when they first appear (cold start is real). Platforms are scored by RMSE and by
hit rate at ``k`` as in Cremonesi et al. (2010) and Vincent et al. (2019): a held-out
rating of at least ``like_threshold`` stars is a liked item, ranked by predicted rating
among ``n_negatives`` items its rater never rated (drawn uniformly, with replacement);
a hit is a rank below ``k``, ties broken at random (in expectation). Baselines: item
mean (RMSE) and most popular (hit rate).

The three formats, recognised from the first line (nothing is downloaded: get the files
from https://grouplens.org/datasets/movielens/ and never commit them):

* ``u.data`` (100K): tab-separated ``user item rating timestamp``, no header;
* ``ratings.dat`` (1M, 10M): ``UserID::MovieID::Rating::Timestamp``, no header;
* ``ratings.csv`` (20M, 25M, latest): header ``userId,movieId,rating,timestamp``,
  half-star ratings.

A malformed file raises a one-line ``ValueError`` naming the file, the line and what was
expected, never the line's content. A UTF-8 byte-order mark at the start is skipped.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from abm.learning.learners import ItemMean
from abm.learning.ranking import RankingProbe, hit_rate
from abm.learning.task import Task, split

__all__ = [
    "FORMATS",
    "MostPopular",
    "Ratings",
    "movielens_task",
    "ratings_report",
    "read_ratings",
    "rmse",
]

FORMATS = {
    "u.data": "user<TAB>item<TAB>rating<TAB>timestamp",
    "ratings.dat": "UserID::MovieID::Rating::Timestamp",
    "ratings.csv": "userId,movieId,rating,timestamp",
}
_CSV_HEADER = ["userId", "movieId", "rating", "timestamp"]
_RATING_RANGE = (0.5, 5.0)


@dataclass(frozen=True)
class Ratings:
    """The raw content of a ratings file, in file order.

    Attributes:
        rater: Rater ids as in the file.
        item: Item ids as in the file.
        rating: Ratings (stars).
        timestamp: Unix timestamps.
        fmt: Which format the file was in (a key of ``FORMATS``).
    """

    rater: np.ndarray
    item: np.ndarray
    rating: np.ndarray
    timestamp: np.ndarray
    fmt: str


def _sniff(path: Path) -> tuple[str, str, int]:
    """(format, separator, header lines) from the first line (a UTF-8 BOM is skipped)."""
    with path.open("rb") as f:
        first = f.readline(4096).decode("utf-8-sig", errors="replace").rstrip("\r\n")
    if not first.strip():
        raise ValueError(f"{path}:1: empty line where MovieLens ratings were expected")
    if first.replace(" ", "").lower().startswith("userid,"):
        if [c.strip() for c in first.split(",")] != _CSV_HEADER:
            raise ValueError(f"{path}:1: expected the header {FORMATS['ratings.csv']!r}")
        return "ratings.csv", ",", 1
    if "::" in first:
        return "ratings.dat", "::", 0
    if "\t" in first:
        return "u.data", "\t", 0
    # The line itself is never shown: the file could be anything (docs/security.md).
    raise ValueError(
        f"{path}:1: a MovieLens ratings file (u.data: {FORMATS['u.data']}, ratings.dat:"
        f" {FORMATS['ratings.dat']}, or ratings.csv with the header {FORMATS['ratings.csv']})"
    )


def _check_line(fields: list[str], half_stars: bool) -> str | None:
    """Why a split line is not a rating (None when it is)."""
    if len(fields) != 4:
        return f"{len(fields)} fields instead of 4"
    try:
        int(fields[0]), int(fields[1]), int(fields[3])
    except ValueError:
        return "user, item and timestamp must be integers"
    try:
        r = float(fields[2])
    except ValueError:
        return "the rating is not a number"
    lo, hi = _RATING_RANGE if half_stars else (1.0, 5.0)
    if not lo <= r <= hi or not float(r * 2).is_integer():
        return f"a rating outside {lo:g}..{hi:g} in {'half ' if half_stars else ''}stars"
    return None


def _first_bad_line(path: Path, fmt: str, sep: str, header: int) -> ValueError:
    """Scan line by line (only after the fast parser failed) for the first bad line."""
    with path.open("r", encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, start=1):
            if lineno <= header:
                continue
            text = line.rstrip("\r\n").removeprefix("\ufeff")
            why = _check_line(text.split(sep), fmt == "ratings.csv")
            if why is not None:  # what is wrong with the line, never the line
                return ValueError(f"{path}:{lineno}: {why}; expected {FORMATS[fmt]!r}")
    return ValueError(f"{path}: could not be read as {fmt} ({FORMATS[fmt]})")


def read_ratings(path: str | Path) -> Ratings:
    """Read a MovieLens ratings file in any of the three formats.

    Raises:
        ValueError: Missing file, unknown format, or a malformed line (one line naming
            the file and the line number).
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"ratings file not found: {path}")
    fmt, sep, header = _sniff(path)
    names = ["rater", "item", "rating", "timestamp"]
    try:
        if fmt == "ratings.dat":
            # '::' would need pandas' slow Python engine: make it one tab instead.
            source: Any = io.BytesIO(path.read_bytes().replace(b"::", b"\t"))
            sep = "\t"
        else:
            source = path
        df = pd.read_csv(
            source, sep=sep, header=None, names=names, skiprows=header, engine="c",
            dtype={"rater": np.int64, "item": np.int64, "rating": np.float64,
                   "timestamp": np.int64},
            skip_blank_lines=False,
        )  # fmt: skip
    except (ValueError, pd.errors.ParserError):
        raise _first_bad_line(path, fmt, "::" if fmt == "ratings.dat" else sep, header) from None
    if df.isna().to_numpy().any() or len(df) == 0:
        if len(df) == 0:
            raise ValueError(f"{path}: no ratings after the header")
        raise _first_bad_line(path, fmt, "::" if fmt == "ratings.dat" else sep, header)
    rating = df["rating"].to_numpy()
    lo, hi = _RATING_RANGE if fmt == "ratings.csv" else (1.0, 5.0)
    bad = (rating < lo) | (rating > hi) | (rating * 2 != np.round(rating * 2))
    if bad.any():
        raise _first_bad_line(path, fmt, "::" if fmt == "ratings.dat" else sep, header)
    return Ratings(
        rater=df["rater"].to_numpy(),
        item=df["item"].to_numpy(),
        rating=rating,
        timestamp=df["timestamp"].to_numpy(),
        fmt=fmt,
    )


def ratings_shape(path: str | Path) -> tuple[int, int, int]:
    """(ratings, raters, items) of a ratings file, as :func:`movielens_task` counts them.

    Read whole, so validation refuses before a run what the file cannot give (more
    users than raters, an item it lacks); cached while the file is unchanged.

    Raises:
        ValueError: As :func:`read_ratings`.
    """
    path = Path(path)
    info = path.stat()
    return _ratings_shape(str(path.resolve()), info.st_mtime_ns, info.st_size)


@functools.lru_cache(maxsize=4)
def _ratings_shape(path: str, mtime: int, size: int) -> tuple[int, int, int]:
    raw = read_ratings(path)
    return len(raw.rating), len(np.unique(raw.rater)), len(np.unique(raw.item))


# ------------------------------------------------------------------ ranking probe


def _probe(
    rater: np.ndarray,
    item: np.ndarray,
    rating: np.ndarray,
    test: np.ndarray,
    n_items: int,
    rng: np.random.Generator,
    like_threshold: float,
    n_negatives: int,
    n_probe: int,
    k: int,
) -> RankingProbe | None:
    liked = test[rating[test] >= like_threshold]
    if len(liked) == 0 or n_items < 2:
        return None
    liked = np.sort(rng.permutation(liked)[: min(n_probe, len(liked))])
    # Every (rater, item) in the file, sorted by rater then item. Within rater r's block,
    # t = item - (position in block) counts the unrated items below each rated one, so
    # the j-th unrated item of r is j + #{t <= j}: uniform draws without rejection.
    n_raters = int(rater.max()) + 1
    keys = np.sort(rater * n_items + item)
    keys = keys[np.concatenate([[True], keys[1:] != keys[:-1]])]  # a rating repeated: once
    r_of_key = keys // n_items
    start = np.searchsorted(r_of_key, np.arange(n_raters + 1))
    t = keys - r_of_key * n_items - (np.arange(len(keys)) - start[r_of_key])
    t_global = r_of_key * n_items + t  # non-decreasing
    n_rated = np.diff(start)
    r_probe = rater[liked]
    free = n_items - n_rated[r_probe]
    ok = free >= 1
    liked, r_probe, free = liked[ok], r_probe[ok], free[ok]
    j = np.floor(rng.random((len(liked), n_negatives)) * free[:, None]).astype(np.int64)
    below = np.searchsorted(t_global, r_probe[:, None] * n_items + j, side="right")
    neg = j + below - start[r_probe][:, None]
    items = np.column_stack([item[liked], neg])
    return RankingProbe(rater=r_probe, items=items, k=k)


def rmse(learner: Any, X: np.ndarray, y: np.ndarray) -> float:
    """Root mean squared error of ``learner.predict`` on ``(X, y)``."""
    pred = np.asarray(learner.predict(X), float)
    return float(np.sqrt(np.mean((pred - np.asarray(y, float)) ** 2)))


class MostPopular:
    """Ranking baseline: an item's score is its number of training ratings.

    Its ``predict`` returns those scores (not ratings), so it is meant for ``hit_rate``.

    Args:
        n_items: Number of items.
    """

    def __init__(self, n_items: int) -> None:
        self.counts = np.zeros(int(n_items))
        self.is_fitted = False

    def fit(self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator | None = None):
        """Count from scratch."""
        self.counts[:] = 0.0
        return self.update(X, y, rng)

    def update(self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator | None = None):
        """Add the new ratings' items to the counts."""
        X = np.asarray(X, np.int64).reshape(-1, 2)
        self.counts += np.bincount(X[:, 1], minlength=len(self.counts))[: len(self.counts)]
        self.is_fitted = bool(self.counts.sum() > 0)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Popularity of each pair's item."""
        return self.counts[np.asarray(X, np.int64).reshape(-1, 2)[:, 1]]

    def score(self, X: np.ndarray, y: np.ndarray) -> float:
        """Not a rating predictor: NaN."""
        return float("nan")


def ratings_report(
    learner: Any, task: Task, X_train: np.ndarray | None = None, y_train: np.ndarray | None = None
) -> dict[str, float]:
    """RMSE and hit rate of ``learner`` next to the item-mean and most-popular baselines.

    The baselines are fitted on ``(X_train, y_train)`` (default: the whole training
    split), which should be the data the learner saw.
    """
    X_train = task.X_train if X_train is None else X_train
    y_train = task.y_train if y_train is None else y_train
    item_mean = ItemMean(task.n_items, rating_range=task.rating_range).fit(X_train, y_train)
    popular = MostPopular(task.n_items).fit(X_train, y_train)
    return {
        "rmse": rmse(learner, task.X_test, task.y_test),
        "hit_rate": hit_rate(learner, task.ranking),
        "item_mean_rmse": rmse(item_mean, task.X_test, task.y_test),
        "item_mean_hit_rate": hit_rate(item_mean, task.ranking),
        "most_popular_hit_rate": hit_rate(popular, task.ranking),
    }


# ------------------------------------------------------------------------- task


def movielens_task(
    path: str | Path,
    *,
    rng: np.random.Generator,
    test_size: float = 0.25,
    like_threshold: float = 4.0,
    n_negatives: int = 100,
    n_probe: int = 1000,
    k: int = 10,
) -> Task:
    """A ratings task from a MovieLens file (see the module docstring).

    Raters and items are renumbered ``0..R-1`` and ``0..I-1`` in increasing file id.

    Args:
        path: A ``u.data``, ``ratings.dat`` or ``ratings.csv`` file.
        rng: Generator for the split and the ranking probe.
        test_size: Share of ratings held out.
        like_threshold: Stars from which a held-out rating counts as liked.
        n_negatives: Unrated items each liked item is ranked against.
        n_probe: At most this many liked items are probed.
        k: Cut-off of the hit rate.

    Returns:
        A ratings task with ``ordered=True`` (training rows in timestamp order) and a
        ``ranking`` probe.
    """
    raw = read_ratings(path)
    when = np.argsort(raw.timestamp, kind="stable")
    raters, rater = np.unique(raw.rater[when], return_inverse=True)
    items, item = np.unique(raw.item[when], return_inverse=True)
    rating = raw.rating[when]
    X = np.column_stack([rater, item]).astype(np.int64)
    train, test = split(len(rating), None, test_size, rng)
    probe = _probe(
        rater, item, rating, test, len(items), rng, like_threshold, n_negatives, n_probe, k
    )
    lo = 0.5 if raw.fmt == "ratings.csv" else 1.0
    return Task.from_ratings(
        "movielens",
        X,
        rating,
        train,
        test,
        rating_range=(lo, 5.0),
        n_raters=len(raters),
        n_items=len(items),
        ranking=probe,
        ordered=True,
    )
