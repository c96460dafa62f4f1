"""Learning tasks and the slices of data each simulated user owns.

Modelling assumption: on a finite task the data platforms learn from is a fixed pool of
training examples (a bundled scikit-learn dataset, a synthetic generator, a user's file,
or MovieLens ratings) split once, with the run's rng, into a training split that users
own and a held-out test split on which platforms are evaluated. Each user owns a slice of
the training split. ``sampling="with_replacement"`` (the default) redraws from the slice,
so a user's data stream is stationary but repeats itself; ``"without_replacement"``
hands each row over once, by its owner, in a fixed random order, and a user whose slice
is used up has nothing more to give. A rater's history on a MovieLens task always
arrives once, in timestamp order. On a stream task (``abm.learning.stream``) users own
no rows at all: every contribution is a fresh draw from the user's own distribution,
appended to the task's training store as it is made.

Users differ as real users do: slices (or a stream user's class profile) can be i.i.d.,
skewed toward one favourite class per user, or shared by groups with a common class
profile (so a group's strike hurts recall of "its" classes most). In ratings tasks a user
is a rater and owns that rater's ratings. Features of classification tasks are
standardised with training-split statistics only, so nothing about the test split leaks
into training.

Common random numbers: which rows a user contributes never depends on which other users
contribute. A with-replacement draw takes one number from the run's generator per call
and derives each user's picks by hashing (that number, user, draw number); a
without-replacement draw and a stream draw take none (a user's cursor or counter says
which row comes next). Two worlds that differ only in who contributes therefore hand the
same user the same rows.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from abm.learning.movielens import _probe, movielens_task
from abm.learning.ratings_stream import RatingsStream, RatingsStreamParams
from abm.learning.stream import GaussianStream, StreamParams, _pair_keys
from abm.learning.task import Sampling, Task, TaskRequest, draw_seed, split

__all__ = [
    "Slices",
    "TaskShape",
    "assign_slices",
    "check_task_file",
    "draw_samples",
    "load_bundled",
    "load_movielens",
    "load_ratings",
    "load_ratings_stream",
    "load_stream",
    "load_synthetic",
    "load_table",
]


# ------------------------------------------------------------------------ loading


def _classification_task(
    name: str,
    X: np.ndarray,
    labels: np.ndarray,
    test_size: float,
    rng: np.random.Generator,
    feature_names: tuple[str, ...],
    standardise: bool = True,
) -> Task:
    X = np.asarray(X, dtype=np.float64)
    classes, y = np.unique(np.asarray(labels), return_inverse=True)
    y = y.astype(np.int64)
    train, test = split(len(y), y, test_size, rng)
    X_train, X_test = X[train], X[test]
    mean = X_train.mean(axis=0)
    scale = X_train.std(axis=0)
    scale[scale == 0] = 1.0
    if standardise:
        X_train = (X_train - mean) / scale
        X_test = (X_test - mean) / scale
    return Task(
        name=name,
        kind="classification",
        X_train=X_train,
        y_train=y[train],
        X_test=X_test,
        y_test=y[test],
        n_classes=len(classes),
        n_features=X.shape[1],
        feature_names=tuple(str(f) for f in feature_names),
        class_names=tuple(classes.tolist()),
        feature_mean=mean,
        feature_scale=scale,
    )


def _ratings_task(
    rng: np.random.Generator,
    test_size: float,
    n_samples: int,
    n_raters: int = 300,
    n_items: int = 200,
    rank: int = 4,
    noise: float = 0.5,
    discrete: bool = True,
    rating_range: tuple[float, float] = (1.0, 5.0),
) -> Task:
    """Raters with latent tastes, items with latent traits; ratings clipped to the range."""
    n_cells = n_raters * n_items
    n = min(int(n_samples), n_cells)
    cells = rng.choice(n_cells, size=n, replace=False)
    raters, items = np.divmod(cells, n_items)
    tastes = rng.normal(0.0, 1.0, size=(n_raters, rank))
    traits = rng.normal(0.0, 1.0, size=(n_items, rank)) / np.sqrt(rank)
    rater_bias = rng.normal(0.0, 0.4, size=n_raters)
    item_bias = rng.normal(0.0, 0.6, size=n_items)
    lo, hi = rating_range
    centre = (lo + hi) / 2.0
    raw = (
        centre
        + rater_bias[raters]
        + item_bias[items]
        + np.sum(tastes[raters] * traits[items], axis=1)
        + rng.normal(0.0, noise, size=n)
    )
    if discrete:
        raw = np.round(raw)
    ratings = np.clip(raw, lo, hi).astype(np.float64)
    X = np.column_stack([raters, items]).astype(np.int64)
    train, test = split(n, None, test_size, rng)
    # The hit-rate probe comes from its own stream, seeded from a copy of ``rng``, so
    # the run's generator (and every draw after the task) is what it was without it.
    probe_rng = np.random.default_rng([int(copy.deepcopy(rng).integers(2**63)), 0x9B0B])
    probe = _probe(raters, items, ratings, test, n_items, probe_rng, 4.0, 100, 1000, 10)
    return Task.from_ratings(
        "ratings",
        X,
        ratings,
        train,
        test,
        rating_range=(float(lo), float(hi)),
        n_raters=n_raters,
        n_items=n_items,
        ranking=probe,
    )


def _stream_task(rng: np.random.Generator, n_background: int, params: dict[str, Any]) -> Task:
    """A generative task: the held-out set and the platforms' starting rows, drawn once."""
    # The scenario's stream block also carries the ratings stream's own fields.
    only_ratings = set(RatingsStreamParams.__dataclass_fields__) - set(
        StreamParams.__dataclass_fields__
    )
    params = {k: v for k, v in params.items() if k not in only_ratings}
    stream = GaussianStream.create(StreamParams(**params), rng)
    X_test, y_test = stream.test_rows()
    X_bg, y_bg = stream.background_rows(n_background)
    p = stream.params
    return Task(
        name="stream",
        kind="classification",
        X_train=X_bg,
        y_train=y_bg,
        X_test=X_test,
        y_test=y_test,
        n_classes=p.n_classes,
        n_features=p.n_features,
        feature_names=tuple(f"x{j}" for j in range(p.n_features)),
        class_names=tuple(range(p.n_classes)),
        stream=stream,
    )


def _ratings_stream_task(
    rng: np.random.Generator, n_background: int, params: dict[str, Any]
) -> Task:
    """A ratings stream: the catalogue now; raters and held-out set in ``assign_slices``."""
    # The scenario's stream block also carries the classification stream's fields.
    only_classes = set(StreamParams.__dataclass_fields__) - set(
        RatingsStreamParams.__dataclass_fields__
    )
    params = {k: v for k, v in params.items() if k not in only_classes}
    stream = RatingsStream.create(RatingsStreamParams(**params), rng)
    stream.n_background = n_background
    return Task(
        name="ratings_stream",
        kind="ratings",
        X_train=np.zeros((0, 2), np.int64),
        y_train=np.zeros(0),
        X_test=np.zeros((0, 2), np.int64),
        y_test=np.zeros(0),
        n_features=2,
        rating_range=stream.rating_range,
        n_raters=0,
        n_items=stream.params.n_items,
        feature_names=("rater", "item"),
        stream=stream,
    )


def _bundled_table(name: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Features, labels and feature names of a dataset bundled with scikit-learn."""
    from sklearn import datasets

    loader = {
        "digits": datasets.load_digits,
        "breast_cancer": datasets.load_breast_cancer,
        "wine": datasets.load_wine,
    }[name]
    bunch = loader()
    names = getattr(bunch, "feature_names", [f"x{j}" for j in range(bunch.data.shape[1])])
    return bunch.data, bunch.target, tuple(names)


def _synthetic_table(
    rng: np.random.Generator, n_samples: int, params: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """A ``make_classification`` table seeded from the run's generator."""
    from sklearn.datasets import make_classification

    opts = {"n_features": 20, "n_informative": 10, "n_classes": 2, **params}
    X, y = make_classification(n_samples=n_samples, random_state=draw_seed(rng), **opts)
    return X, y, tuple(f"x{j}" for j in range(X.shape[1]))


def _read_table(
    name: str,
    path: str | Path | None,
    feature_columns: list[str] | None,
    label_column: str | None,
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    if path is None:
        raise ValueError(f"task {name!r} needs a path to the data file")
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"data file not found: {path}")
    df = _read_frame(name, path)
    feature_columns = _columns(name, path, list(df.columns), feature_columns, label_column)
    try:
        X = df[list(feature_columns)].to_numpy(dtype=np.float64)
    except (ValueError, TypeError):  # pandas would quote the cell
        raise ValueError(f"{path}: numbers in the feature columns") from None
    if np.isnan(X).any():
        raise ValueError(f"feature columns of {path} contain missing values")
    return X, df[label_column].to_numpy(), tuple(feature_columns)


def _columns(
    name: str, path: Path, have: list, feature_columns: list[str] | None, label_column: str | None
) -> list[str]:
    """The feature columns, once the file's header is known to hold every column asked for.

    Column names are the file's bytes: a message names the file and counts its columns,
    and shows only the names the scenario asked for (docs/security.md).
    """
    if label_column is None:
        raise ValueError(f"task {name!r} needs label_column ({path} has {len(have)} columns)")
    if feature_columns is None:
        feature_columns = [c for c in have if c != label_column]
    if label_column in feature_columns:  # the model would read the answer off its input
        raise ValueError(f"label column {label_column!r} is also a feature column")
    missing = [c for c in [*feature_columns, label_column] if c not in have]
    if missing:
        raise ValueError(
            f"{path}: columns named {missing} (the file has {len(have)} columns, none so named)"
        )
    return list(feature_columns)


# Rows of the tables bundled with scikit-learn (a test checks them against the loaders).
BUNDLED_ROWS = {"digits": 1797, "breast_cancer": 569, "wine": 178}


@dataclass(frozen=True)
class TaskShape:
    """What validation can know of a task's data before the run loads it.

    Attributes:
        rows: Rows (labelled examples or ratings) the train/test split divides.
        classes: Number of classes (None for ratings).
        smallest: Rows of the rarest class (stratified split when >= 2).
        raters: Distinct raters of a rater-history task (MovieLens), else None.
        items: Distinct items of a ratings file, else None.
    """

    rows: int
    classes: int | None = None
    smallest: int = 2
    raters: int | None = None
    items: int | None = None


def check_task_file(
    name: str, path: str | Path, feature_columns: list[str] | None, label_column: str | None
) -> TaskShape | None:
    """Check, without building the task, that a data file can be read as that task.

    A csv or parquet file's header must hold the columns asked for, and its label column
    is read to count rows and classes; a MovieLens file is read whole (cached) to count
    its ratings, raters and items. None for tasks read from no file.

    Raises:
        ValueError: One line naming the file and what was expected, never its content.
    """
    path = Path(path)
    if name == "movielens":
        from abm.learning.movielens import ratings_shape

        rows, raters, items = ratings_shape(path)
        return TaskShape(rows, raters=raters, items=items)
    if name not in ("csv", "parquet"):
        return None
    _columns(name, path, _header(name, path), feature_columns, label_column)
    import pandas as pd

    try:
        if name == "csv":
            labels = pd.read_csv(path, usecols=[label_column], encoding="utf-8-sig")
        else:
            labels = pd.read_parquet(path, columns=[label_column])
    except Exception as err:  # noqa: BLE001 - any reader error: not such a file, no content
        raise ValueError(f"{path}: a readable label column ({type(err).__name__})") from None
    counts = labels.iloc[:, 0].value_counts()
    return TaskShape(len(labels), int(len(counts)), int(counts.min()) if len(counts) else 0)


def _header(name: str, path: Path) -> list:
    """The column names of a csv (its header line) or parquet file (its schema)."""
    try:
        if name == "csv":
            import pandas as pd

            return list(pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns)
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    except Exception as err:  # noqa: BLE001 - any reader error: not such a file, no content
        kind = "a CSV file (UTF-8, a header line)" if name == "csv" else "a Parquet file"
        raise ValueError(f"{path}: {kind} ({type(err).__name__})") from None


def _read_frame(name: str, path: Path):
    """The table of a csv or parquet file; a file that is not one is one line, no content."""
    import pandas as pd

    try:
        if name == "csv":
            return pd.read_csv(path, encoding="utf-8-sig")
        return pd.read_parquet(path)
    except (ValueError, UnicodeDecodeError, OSError, pd.errors.ParserError) as err:
        kind = "a CSV file (UTF-8, a header line)" if name == "csv" else "a Parquet file"
        raise ValueError(f"{path}: {kind} ({type(err).__name__})") from None


def load_bundled(r: TaskRequest) -> Task:
    """One of scikit-learn's bundled tables (digits, breast_cancer, wine)."""
    X, labels, names = _bundled_table(r.name)
    return _classification_task(r.name, X, labels, r.test_size, r.rng, names, r.standardise)


def load_synthetic(r: TaskRequest) -> Task:
    """``make_classification`` (2,000 rows unless ``n_samples``; ``params`` passed on)."""
    X, labels, names = _synthetic_table(r.rng, int(r.n_samples or 2000), r.params)
    return _classification_task(r.name, X, labels, r.test_size, r.rng, names, r.standardise)


def load_table(r: TaskRequest) -> Task:
    """A labelled table in a CSV or Parquet file (``path``, its columns)."""
    X, labels, names = _read_table(r.name, r.path, r.feature_columns, r.label_column)
    return _classification_task(r.name, X, labels, r.test_size, r.rng, names, r.standardise)


def load_ratings(r: TaskRequest) -> Task:
    """Generated low-rank ratings (20,000 unless ``n_samples``; ``params`` passed on)."""
    return _ratings_task(r.rng, r.test_size, int(r.n_samples or 20000), **r.params)


def load_stream(r: TaskRequest) -> Task:
    """Fresh draws from Gaussian class mixtures; platforms start with ``n_samples`` rows."""
    return _stream_task(r.rng, int(r.n_samples or 2000), r.stream)


def load_ratings_stream(r: TaskRequest) -> Task:
    """Fresh ratings from latent tastes; platforms start with ``n_samples`` ratings."""
    return _ratings_stream_task(r.rng, int(r.n_samples or 2000), r.stream)


def load_movielens(r: TaskRequest) -> Task:
    """MovieLens ratings in rater time order (``path``: u.data, ratings.dat or ratings.csv)."""
    if r.path is None:
        raise ValueError("task 'movielens' needs task.path: a u.data, ratings.dat or ratings.csv")
    return movielens_task(r.path, rng=r.rng, test_size=r.test_size, **r.params)


# ------------------------------------------------------------------------- slices


@dataclass(frozen=True)
class StreamUsers:
    """What a stream task needs to know about each user to make its next row.

    Attributes:
        class_cdf: Cumulative class profiles, one row per profile ``(P, n_classes)``.
        profile: Each user's profile row.
        group: Each user's data group (selects the shifted class means).
        made: Rows each user has made so far (its counter ``k``).
    """

    class_cdf: np.ndarray
    profile: np.ndarray
    group: np.ndarray
    made: np.ndarray


@dataclass(frozen=True, eq=False)
class Slices:
    """Which training samples each user owns, in CSR form, and how they are handed over.

    User ``u`` owns ``order[offsets[u]:offsets[u + 1]]`` (indices into ``task.X_train``);
    every user of a finite task owns at least one sample, and a sample may be owned by
    several users when there are more users than samples. Users of a stream task own
    nothing in advance: ``stream_users`` makes their rows as they contribute.

    Attributes:
        order: Training-sample indices sorted by owner (in hand-over order within a user).
        offsets: ``n_users + 1`` offsets into ``order``.
        favourite: Each user's favourite class (-1 when not applicable).
        sampling: "with_replacement" or "without_replacement".
        used: Rows each user has handed over so far (without replacement: its cursor).
        task: The task (a stream task's store receives the fresh rows).
        stream_users: Per-user state of a stream task.
    """

    order: np.ndarray
    offsets: np.ndarray
    favourite: np.ndarray
    sampling: str = "with_replacement"
    used: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    task: Task | None = field(default=None, repr=False)
    stream_users: StreamUsers | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.sampling not in Sampling:
            raise ValueError(
                f"sampling must be one of {', '.join(Sampling)}, got {self.sampling!r}"
            )
        if len(self.used) != self.n_users:
            object.__setattr__(self, "used", np.zeros(self.n_users, np.int64))

    @property
    def n_users(self) -> int:
        """Number of users."""
        return len(self.offsets) - 1

    @property
    def sizes(self) -> np.ndarray:
        """Number of samples each user owns."""
        return np.diff(self.offsets)

    @property
    def finite(self) -> bool:
        """True when each row is handed over once (without replacement, or a history)."""
        return self.stream_users is None and self.sampling == "without_replacement"

    def owned(self, user: int) -> np.ndarray:
        """Training-sample indices owned by one user."""
        return self.order[self.offsets[user] : self.offsets[user + 1]]

    def owners(self) -> np.ndarray:
        """Owner of each entry of ``order``."""
        return np.repeat(np.arange(self.n_users), self.sizes)

    def remaining(self, users: np.ndarray) -> np.ndarray:
        """How many more rows each of ``users`` can contribute (huge when unlimited)."""
        users = np.asarray(users, dtype=np.int64)
        if self.task is not None and isinstance(self.task.stream, RatingsStream):
            return self.task.stream.contributable - self.stream_users.made[users]
        if not self.finite:
            return np.full(len(users), np.iinfo(np.int64).max // 4, np.int64)
        return self.sizes[users] - self.used[users]

    def class_mix(self, groups: np.ndarray, n_classes: int) -> np.ndarray:
        """Each group's class mix ``(n_groups, n_classes)``: owned rows, or stream profiles."""
        groups = np.asarray(groups, dtype=np.int64)
        n_groups = int(groups.max()) + 1 if len(groups) else 0
        mix = np.zeros((n_groups, n_classes))
        if self.stream_users is not None:
            su = self.stream_users
            pdf = np.diff(su.class_cdf, axis=1, prepend=0.0)
            np.add.at(mix, groups, pdf[su.profile])
        elif self.task is not None:
            owner_group = groups[self.owners()]
            np.add.at(mix, (owner_group, self.task.y_train[self.order]), 1.0)
        return mix / np.maximum(mix.sum(axis=1, keepdims=True), 1.0)


def _pick_within(
    members_sorted: np.ndarray,
    starts: np.ndarray,
    counts: np.ndarray,
    bucket: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """For each entry's bucket, a uniformly random member of that bucket (vectorised)."""
    pos = starts[bucket] + np.floor(rng.random(len(bucket)) * counts[bucket]).astype(np.int64)
    return members_sorted[pos]


def _bucketed(keys: np.ndarray, n_buckets: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Members sorted by bucket, each bucket's start and size."""
    members = np.argsort(keys, kind="stable")
    counts = np.bincount(keys, minlength=n_buckets)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return members, starts, counts


def _to_slices(
    samples: np.ndarray, owner: np.ndarray, n_users: int, favourite: np.ndarray
) -> Slices:
    idx = np.argsort(owner, kind="stable")
    counts = np.bincount(owner, minlength=n_users)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return Slices(order=samples[idx].astype(np.int64), offsets=offsets, favourite=favourite)


def assign_slices(
    task: Task,
    n_users: int,
    *,
    heterogeneity: Literal["iid", "class", "group"] = "iid",
    groups: np.ndarray | None = None,
    concentration: float = 0.8,
    rng: np.random.Generator,
    sampling: Literal["with_replacement", "without_replacement"] = "with_replacement",
) -> Slices:
    """Give every user a slice of the training split (or, on a stream, a distribution).

    * ``"iid"``: a random partition (near-equal sizes).
    * ``"class"``: each user has a favourite class (its group id modulo the number of
      classes when ``groups`` is given, else random); each sample goes, with probability
      ``concentration``, to a random user favouring its class, otherwise to any user.
    * ``"group"``: each group has a class profile ``concentration * Dirichlet(0.5) +
      (1 - concentration) * uniform``; a sample of class ``k`` goes to group ``g`` with
      probability proportional to ``profile_g[k] * |g|`` and then to a random member.
      Without ``groups``, users get one of ``n_classes`` random groups.

    Users left without a sample receive one drawn by the same rule. For ratings tasks
    each user is a rater (users are spread over raters with a random map; when there are
    more users than raters, several users share a rater) and owns its ratings; on a
    MovieLens task there may not be more users than raters, and a user's ratings are
    handed over in timestamp order, once.

    On a stream task users own no rows: a user's class profile follows the same three
    rules (uniform; ``concentration`` on the favourite class; its group's profile) and its
    data group is its group id modulo the stream's ``n_groups`` (random without
    ``groups``).

    Args:
        task: The task.
        n_users: Number of users.
        heterogeneity: "iid", "class" or "group".
        groups: Group id per user (length ``n_users``), optional.
        concentration: Strength of the skew, in ``[0, 1]``.
        rng: Generator.
        sampling: "with_replacement" (redraw from the slice) or "without_replacement"
            (each row once, in a random order fixed here). Ignored by stream tasks.

    Returns:
        The slices.
    """
    if sampling not in Sampling:
        raise ValueError(f"sampling must be one of {', '.join(Sampling)}, got {sampling!r}")
    base = _assign(task, _Users(n_users, heterogeneity, groups, concentration), rng)
    if base.stream_users is not None:
        return base
    order = base.order
    if task.ordered:
        sampling = "without_replacement"  # a history arrives once, in order
    elif sampling == "without_replacement":
        # Each user hands its rows over in its own random order.
        order = order[np.lexsort((rng.random(len(order)), base.owners()))]
    return Slices(order, base.offsets, base.favourite, sampling=sampling, task=task)


@dataclass
class _Users:
    """Who the slices are for, checked once: how many users and how their data is skewed."""

    n: int
    heterogeneity: str
    groups: np.ndarray | None
    concentration: float

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError("n_users must be at least 1")
        if not 0.0 <= self.concentration <= 1.0:
            raise ValueError(f"concentration must be in [0, 1], got {self.concentration}")
        if self.groups is not None:
            self.groups = np.asarray(self.groups, dtype=np.int64)
            if len(self.groups) != self.n:
                raise ValueError(f"groups has length {len(self.groups)}, expected n_users={self.n}")


def _assign(task: Task, users: _Users, rng: np.random.Generator) -> Slices:
    if isinstance(task.stream, RatingsStream):
        return _ratings_stream_slices(task, users.n)
    if task.stream is not None:
        return _stream_slices(task, users, rng)
    if task.kind == "ratings":
        return _rater_slices(task, users.n, rng)
    if users.heterogeneity == "iid":
        return _iid_slices(task.n_train, users.n, rng)
    if users.heterogeneity not in ("class", "group"):
        raise ValueError(f"unknown heterogeneity {users.heterogeneity!r}; valid: iid, class, group")
    groups = users.groups
    if groups is None:  # random groups, as many as classes
        groups = rng.integers(0, task.n_classes, size=users.n)
    if users.heterogeneity == "class":
        return _class_slices(task, groups % task.n_classes, users.concentration, rng)
    return _group_slices(task, np.unique(groups, return_inverse=True)[1], users.concentration, rng)


def _with_lonely(
    samples: np.ndarray,
    owner: np.ndarray,
    n_users: int,
    pick: Callable[[np.ndarray], np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """Give each user left without a sample one more, chosen by ``pick(lonely users)``."""
    lonely = np.flatnonzero(np.bincount(owner, minlength=n_users) == 0)
    if len(lonely):
        samples = np.concatenate([samples, pick(lonely)])
        owner = np.concatenate([owner, lonely])
    return samples, owner


def _iid_slices(n: int, n_users: int, rng: np.random.Generator) -> Slices:
    """A random partition into near-equal slices (with more users than rows, repeats)."""
    no_fav = np.full(n_users, -1, dtype=np.int64)
    perm = rng.permutation(n)
    if n_users <= n:
        owner = np.empty(n, dtype=np.int64)
        bounds = (np.arange(n_users + 1) * n) // n_users
        owner[perm] = np.repeat(np.arange(n_users), np.diff(bounds))
        return _to_slices(np.arange(n), owner, n_users, no_fav)
    extra = rng.integers(0, n, size=n_users - n)
    samples = np.concatenate([perm, extra])
    owner = rng.permutation(n_users)
    return _to_slices(samples, owner, n_users, no_fav)


def _class_slices(
    task: Task, fav: np.ndarray, concentration: float, rng: np.random.Generator
) -> Slices:
    """Users favour a class (``fav``); a sample goes to a fan of its class w.p. concentration."""
    y, K, n, n_users = task.y_train, task.n_classes, task.n_train, len(fav)
    members, starts, counts = _bucketed(fav, K)
    owner = rng.integers(0, n_users, size=n)
    skew = (rng.random(n) < concentration) & (counts[y] > 0)
    owner[skew] = _pick_within(members, starts, counts, y[skew], rng)

    def pick(lonely: np.ndarray) -> np.ndarray:
        # From the left-out user's favourite class with probability ``concentration``,
        # so the skew holds for tiny slices too.
        by_class, c_starts, c_counts = _bucketed(y, K)
        lf = fav[lonely]
        use_fav = (rng.random(len(lonely)) < concentration) & (c_counts[lf] > 0)
        extra = rng.integers(0, n, size=len(lonely))
        extra[use_fav] = _pick_within(by_class, c_starts, c_counts, lf[use_fav], rng)
        return extra

    samples, owner = _with_lonely(np.arange(n), owner, n_users, pick)
    return _to_slices(samples, owner, n_users, fav.astype(np.int64))


def _group_slices(
    task: Task, g: np.ndarray, concentration: float, rng: np.random.Generator
) -> Slices:
    """Groups ``g`` share a class profile; a sample goes to a group by it, then a member."""
    y, K, n, n_users = task.y_train, task.n_classes, task.n_train, len(g)
    G = int(g.max()) + 1
    profile = concentration * rng.dirichlet(np.full(K, 0.5), size=G) + (1 - concentration) / K
    sizes = np.bincount(g, minlength=G).astype(float)
    weight = profile * sizes[:, None]  # (G, K)
    cdf = np.cumsum(weight / weight.sum(axis=0, keepdims=True), axis=0)  # P(group | class)
    members, starts, counts = _bucketed(g, G)
    u = rng.random(n)
    grp = np.empty(n, dtype=np.int64)
    for k in np.unique(y):
        sel = y == k
        grp[sel] = np.minimum(np.searchsorted(cdf[:, k], u[sel], side="right"), G - 1)
    owner = _pick_within(members, starts, counts, grp, rng)

    def pick(lonely: np.ndarray) -> np.ndarray:
        # A left-out user draws a class from its group's profile, then a sample of it.
        by_class, c_starts, c_counts = _bucketed(y, K)
        pcdf = np.cumsum(profile * (np.bincount(y, minlength=K) > 0), axis=1)
        pcdf /= pcdf[:, -1:]
        cls = (rng.random(len(lonely))[:, None] > pcdf[g[lonely]]).sum(axis=1)
        return _pick_within(by_class, c_starts, c_counts, np.minimum(cls, K - 1), rng)

    samples, owner = _with_lonely(np.arange(n), owner, n_users, pick)
    fav = np.argmax(profile, axis=1)[g].astype(np.int64)
    return _to_slices(samples, owner, n_users, fav)


def _stream_slices(task: Task, users: _Users, rng: np.random.Generator) -> Slices:
    """Stream users: a class profile and a data group each, no rows."""
    assert task.stream is not None
    n_users, heterogeneity, groups, concentration = (
        users.n, users.heterogeneity, users.groups, users.concentration
    )  # fmt: skip
    K, G = task.n_classes, task.stream.params.n_groups
    uniform = np.full(K, 1.0 / K)
    if heterogeneity == "iid":
        profiles, profile = uniform[None], np.zeros(n_users, np.int64)
        fav = np.full(n_users, -1, np.int64)
    elif heterogeneity == "class":
        profile = groups % K if groups is not None else rng.integers(0, K, size=n_users)
        profiles = concentration * np.eye(K) + (1 - concentration) * uniform
        fav = profile.astype(np.int64)
    elif heterogeneity == "group":
        if groups is None:
            groups = rng.integers(0, K, size=n_users)
        _, profile = np.unique(groups, return_inverse=True)
        n_profiles = int(profile.max()) + 1
        profiles = (
            concentration * rng.dirichlet(np.full(K, 0.5), size=n_profiles)
            + (1 - concentration) * uniform
        )
        fav = np.argmax(profiles, axis=1)[profile].astype(np.int64)
    else:
        raise ValueError(f"unknown heterogeneity {heterogeneity!r}; valid: iid, class, group")
    data_group = groups % G if groups is not None else rng.integers(0, G, size=n_users)
    cdf = np.cumsum(profiles, axis=1)
    cdf[:, -1] = 1.0
    users = StreamUsers(
        class_cdf=cdf,
        profile=np.asarray(profile, np.int64),
        group=np.asarray(data_group, np.int64),
        made=np.zeros(n_users, np.int64),
    )
    return Slices(
        order=np.zeros(0, np.int64),
        offsets=np.zeros(n_users + 1, np.int64),
        favourite=fav,
        task=task,
        stream_users=users,
    )


def _ratings_stream_slices(task: Task, n_users: int) -> Slices:
    """Every user is a rater; the held-out set and starting ratings are made here, once."""
    stream = task.stream
    assert isinstance(stream, RatingsStream)
    if task.n_raters == 0:
        task.n_raters = n_users
        task.X_test, task.y_test = stream.held_out(n_users)
        task.ranking = stream.probe(n_users)
        task.append_rows(*stream.background(n_users, stream.n_background))
    elif task.n_raters != n_users:
        raise ValueError(
            f"this ratings stream task was completed for {task.n_raters} users, not {n_users}"
        )
    one = np.zeros(n_users, np.int64)
    users = StreamUsers(class_cdf=np.ones((1, 1)), profile=one, group=one.copy(), made=one.copy())
    return Slices(
        order=np.zeros(0, np.int64),
        offsets=np.zeros(n_users + 1, np.int64),
        favourite=np.full(n_users, -1, np.int64),
        task=task,
        stream_users=users,
    )


def _rater_slices(task: Task, n_users: int, rng: np.random.Generator) -> Slices:
    """Users are raters: each user owns all training ratings of its rater(s)."""
    R = task.n_raters
    if task.ordered and n_users > R:
        raise ValueError(
            f"task {task.name!r} has {R} raters but population.n_users is {n_users}: "
            f"each user is one or more raters, so set n_users to at most {R} "
            f"({R} makes each rater one user)"
        )
    raters = task.X_train[:, 0]
    if n_users <= R:
        rater_owner = rng.permutation(R) % n_users  # several raters per user
        owner = rater_owner[raters]
        samples = np.arange(task.n_train)
    else:
        # More users than raters: user u shares rater user_rater[u] with others.
        user_rater = np.concatenate([rng.permutation(R), rng.integers(0, R, n_users - R)])
        by_rater, r_starts, r_counts = _bucketed(raters, R)
        reps = r_counts[user_rater]
        owner = np.repeat(np.arange(n_users), reps)
        pos = np.repeat(r_starts[user_rater], reps) + (
            np.arange(reps.sum()) - np.repeat(np.cumsum(reps) - reps, reps)
        )
        samples = by_rater[pos]
    samples, owner = _with_lonely(
        samples, owner, n_users, lambda lonely: rng.integers(0, task.n_train, size=len(lonely))
    )
    return _to_slices(samples, owner, n_users, np.full(n_users, -1, dtype=np.int64))


def _draw_numbers(users: np.ndarray, counts: np.ndarray, used: np.ndarray) -> np.ndarray:
    """Each drawn row's number in its user's sequence: ``used[u], used[u] + 1, ...``.

    A user listed more than once continues where its previous entry stopped.
    """
    n = int(counts.sum())
    within = np.arange(n, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    start = used[users].copy()
    if len(users) > 1 and not np.all(np.diff(users) > 0):
        # Repeated users: add the counts of the same user's earlier entries.
        perm = np.argsort(users, kind="stable")
        us, cs = users[perm], counts[perm]
        before = np.cumsum(cs) - cs
        new_run = np.concatenate([[True], us[1:] != us[:-1]])
        run_start = np.maximum.accumulate(np.where(new_run, np.arange(len(us)), 0))
        prior = np.empty_like(before)
        prior[perm] = before - before[run_start]
        start += prior
    return np.repeat(start, counts) + within


def _fresh_rows(
    slices: Slices, users: np.ndarray, counts: np.ndarray, rep: np.ndarray
) -> np.ndarray:
    """A stream task's next fresh rows of ``users`` (``rep``: each row's user)."""
    su, task = slices.stream_users, slices.task
    assert su is not None and task is not None and task.stream is not None
    k = _draw_numbers(users, counts, su.made)
    stream = task.stream
    if isinstance(stream, RatingsStream):
        if np.any(counts > slices.remaining(users)):
            raise ValueError("a user was asked for more ratings than it has items left")
        make = stream.contributions
    else:

        def make(who: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return stream.rows(who, k, su.group[who], su.class_cdf[su.profile[who]])

    idx = task.stream_rows(rep, k, make)
    np.add.at(su.made, users, counts)
    return idx


def draw_samples(
    slices: Slices, users: np.ndarray, counts: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Hand over ``counts[j]`` rows made by ``users[j]``; return their training indices.

    * with replacement: uniform picks from the user's slice;
    * without replacement: the user's next rows in its hand-over order (``counts`` may
      not exceed ``slices.remaining(users)``);
    * stream task: the user's next fresh rows, appended to the task's store (rows the
      last call made, as a real world's before its twin's in lockstep, are reused:
      ``Task.stream_rows``).

    The picks of a user never depend on which other users draw (see the module
    docstring): with replacement one number is taken from ``rng`` per call, otherwise
    none. Fully vectorised.

    Args:
        slices: The users' slices.
        users: User ids (int array).
        counts: Number of samples per user (non-negative int array, same length).
        rng: Generator.

    Returns:
        Training-sample indices, grouped by user in the order of ``users``.

    Raises:
        ValueError: Shapes differ, or a user is asked for more rows than it has left.
    """
    users = np.asarray(users, dtype=np.int64)
    counts = np.asarray(counts, dtype=np.int64)
    if users.shape != counts.shape:
        raise ValueError("users and counts must have the same shape")
    rep = np.repeat(users, counts)
    if slices.stream_users is not None:
        return _fresh_rows(slices, users, counts, rep)
    start = slices.offsets[rep]
    if slices.finite:
        if np.any(counts > slices.remaining(users)):
            raise ValueError("a user was asked for more rows than it has left (see remaining)")
        pick = start + _draw_numbers(users, counts, slices.used)
        np.add.at(slices.used, users, counts)
        return slices.order[pick]
    size = slices.offsets[rep + 1] - start
    salt = int(rng.integers(0, 2**32))
    k = _draw_numbers(users, counts, np.zeros(slices.n_users, np.int64))
    h = _pair_keys(salt, rep, k)
    pick = start + ((h.astype(np.uint64) * size.astype(np.uint64)) >> np.uint64(32)).astype(
        np.int64
    )
    np.add.at(slices.used, users, counts)
    return slices.order[pick]
