"""The levers: one registry entry per lever, and the pure data transforms they apply.

``LEVERS`` holds everything about a lever (``LeverRule``): its name, words, how the
viewer draws it, where its members' data goes, its hooks and the tasks it works on;
the scenario schema, routing, reports, metrics and the viewer read it (adding a lever
is adding an entry: docs/extending.md). This module sits at the bottom of the model's
layers: it imports only ``abm.behaviour`` and the learning layer's light registries.

The transforms take arrays and an explicit ``rng``; inputs are never modified in place.
Which users act is decided elsewhere (``abm.behaviour`` and the model's phases): a
function here receives only the rows the acting users make.

Modelling assumptions:

* **Label flipping** (poisoning to degrade): a share ``rate`` of the rows, chosen
  uniformly, get a wrong label, either uniformly among the other classes or, for a
  targeted attack, a fixed ``target`` class.
* **Feature noise**: a share ``rate`` of the rows get Gaussian noise whose standard
  deviation is ``scale`` times each feature's standard deviation, so one ``scale`` means
  the same on any data set.
* **Signal planting** (algorithmic collective action, Hardt et al. 2023; BadNets):
  the signal ``g(x)`` sets a fixed set of features (a pixel patch on ``digits``) to a
  value. *Feature-label* planting sets the signal and relabels to the target class;
  *feature-only* planting leaves labels alone, so only members whose label already is
  the target plant (others would teach the model the opposite). A signal on features
  that are rarely near that value in natural data competes with little natural
  evidence, so it needs a smaller collective (Hardt et al.'s condition
  ``alpha p*(x) >= (1 - alpha) p0(x) [max_y P0(y|x) - P0(y*|x)]``).
* **Coordination noise**: each member applies the signal correctly with probability
  ``1 - noise``; otherwise, with equal chance, it applies a random subset of the
  signal's features or the signal shifted by one feature index (a misaligned patch).
* **Erasing** (a platform countermeasure): signal features are reset to their typical
  (median) value in reference data, which removes the signal and some natural
  information with it.
* **Item promotion** (Baumann & Mendler-Dünner, NeurIPS 2024, who place a target song
  next to popular songs in playlists): on a ratings task, a member's next rows become a
  top-of-scale rating of the target item and then its own ratings of each of the
  ``POPULAR`` items most liked (rated 4 of 5 stars or more) in the platforms' starting
  data, once each (a platform keeps one rating per pair); its other rows are sent as
  they were, as a playlist keeps its other songs. A member's own rating of a popular
  item is the stream's (every rating is known there) or, on a fixed table, the item's
  mean rating in the starting data rounded to whole stars: inflating them would raise
  the member's learnt bias and explain its target rating away. The rows rewritten stand
  for the member's own (it rates what it would have rated less), so the collective
  sends no more data than its members would.
* **Throttling** (a partial strike): an acting member sends each row it makes with
  probability ``rate`` (independently, from its collective's own random stream); the
  rows it keeps back go nowhere, as a striker's do.
* **Success** is the share of clean held-out points not of the target class that the
  model labels as the target once the signal is added.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from abm.behaviour import Action
from abm.learning.pool import Alteration
from abm.learning.registry import TASKS, tasks_of
from abm.learning.task import TaskKind

__all__ = [
    "LEVERS",
    "Lever",
    "LeverRule",
    "Trigger",
    "add_feature_noise",
    "apply_trigger",
    "choose_trigger",
    "erase_signal",
    "flip_labels",
    "lever_fits",
    "near_value",
    "plant_signal",
    "popular_items",
    "promote_item",
    "rarity",
    "signal_success",
]


def _choose_rows(n: int, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Boolean mask of exactly ``round(rate * n)`` rows chosen uniformly."""
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate must be in [0, 1], got {rate}")
    mask = np.zeros(n, dtype=bool)
    mask[rng.choice(n, size=int(round(rate * n)), replace=False)] = True
    return mask


def flip_labels(
    y: np.ndarray,
    rate: float,
    n_classes: int,
    rng: np.random.Generator,
    target: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Give a share of rows a wrong label.

    Args:
        y: Integer labels, shape (n,).
        rate: Share of rows to flip, in [0, 1] (exactly ``round(rate * n)`` rows).
        n_classes: Number of classes (labels are ``0..n_classes-1``).
        rng: Random source.
        target: If given, flipped rows get this label and are chosen among rows not
            already labelled ``target``; otherwise each gets a uniformly random other
            class.

    Returns:
        ``(y_new, mask)``: the new labels and a boolean mask of the flipped rows (every
        masked row's label differs from the original).
    """
    y = np.asarray(y)
    y_new = y.copy()
    if target is None:
        mask = _choose_rows(len(y), rate, rng)
        # Adding 1..n_classes-1 modulo n_classes is uniform over the other classes.
        y_new[mask] = (y[mask] + rng.integers(1, n_classes, size=mask.sum())) % n_classes
        return y_new, mask
    candidates = np.flatnonzero(y != target)
    n_flip = min(int(round(rate * len(y))), len(candidates))
    mask = np.zeros(len(y), dtype=bool)
    mask[rng.choice(candidates, size=n_flip, replace=False)] = True
    y_new[mask] = target
    return y_new, mask


def add_feature_noise(
    X: np.ndarray, rate: float, scale: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Add Gaussian noise to the features of a share of rows.

    Args:
        X: Features, shape (n, d).
        rate: Share of rows to corrupt, in [0, 1].
        scale: Noise standard deviation in units of each feature's standard deviation
            in ``X`` (constant features stay constant).
        rng: Random source.

    Returns:
        ``(X_new, mask)``: corrupted features and a boolean mask of the noised rows.
    """
    X = np.asarray(X, dtype=float)
    mask = _choose_rows(len(X), rate, rng)
    X_new = X.copy()
    std = X.std(axis=0) if len(X) else np.zeros(X.shape[1:])
    X_new[mask] += rng.normal(size=(int(mask.sum()), *X.shape[1:])) * (scale * std)
    return X_new, mask


@dataclass(frozen=True)
class Trigger:
    """A signal: these feature indices are set to ``value``.

    Attributes:
        features: Column indices of the signal (e.g. pixels of a patch).
        value: The value written into those columns (e.g. a fully-on pixel), one for
            all or one per feature (e.g. a fully-on pixel in standardised units).
    """

    features: tuple[int, ...]
    value: float | tuple[float, ...]

    @property
    def values(self) -> np.ndarray:
        """The value written into each of ``features``, as an array."""
        return np.broadcast_to(np.asarray(self.value, dtype=float), (len(self.features),))

    def __post_init__(self) -> None:
        if len(self.features) == 0:
            raise ValueError("a trigger needs at least one feature")
        object.__setattr__(self, "features", tuple(int(f) for f in self.features))


def near_value(X: np.ndarray, value: float, atol: float | None = None) -> np.ndarray:
    """Elementwise: is ``X`` within ``atol`` of ``value``?

    Args:
        X: Any array.
        value: Reference value.
        atol: Tolerance; default a quarter of ``X``'s range (e.g. a digits pixel counts
            as "on" at 12 or more out of 16).

    Returns:
        Boolean array shaped like ``X``.
    """
    X = np.asarray(X, dtype=float)
    if atol is None:
        atol = 0.25 * float(X.max() - X.min()) if X.size else 0.0
    return np.abs(X - value) <= atol


def rarity(trigger: Trigger, X: np.ndarray, atol: float | None = None) -> float:
    """How often the trigger's features are naturally near its value.

    Args:
        trigger: The signal.
        X: Natural (clean) data, shape (n, d).
        atol: Tolerance, as in :func:`near_value` (computed over all of ``X``).

    Returns:
        Mean over rows and trigger features of "feature is near the trigger value", in
        [0, 1]: low means a rare signal that a small collective can own.
    """
    X = np.asarray(X, dtype=float)
    if atol is None:
        atol = 0.25 * float(X.max() - X.min())
    return float(near_value(X[:, list(trigger.features)], trigger.value, atol).mean())


def choose_trigger(X: np.ndarray, n_pixels: int, rare: bool, value: float | None = None) -> Trigger:
    """Pick a signal on the features that are least (or most) often near ``value``.

    Args:
        X: Natural data, shape (n, d).
        n_pixels: Number of features in the signal.
        rare: True for rarely-on features (an easy signal), False for commonly-on ones.
        value: Trigger value; default the maximum of ``X`` (a fully-on pixel).

    Returns:
        The :class:`Trigger`; ties break towards lower feature indices.
    """
    X = np.asarray(X, dtype=float)
    if value is None:
        value = float(X.max())
    freq = near_value(X, value).mean(axis=0)
    order = np.argsort(freq if rare else -freq, kind="stable")
    return Trigger(features=tuple(sorted(int(f) for f in order[:n_pixels])), value=value)


def apply_trigger(X: np.ndarray, trigger: Trigger) -> np.ndarray:
    """Return a copy of ``X`` with the signal set on every row."""
    X_new = np.array(X, dtype=float, copy=True)
    X_new[:, list(trigger.features)] = trigger.values
    return X_new


def plant_signal(
    X: np.ndarray,
    y: np.ndarray,
    trigger: Trigger,
    target: int,
    rng: np.random.Generator,
    feature_only: bool = False,
    noise: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Plant the signal in a collective's rows.

    Args:
        X: The collective members' features, shape (n, d).
        y: Their labels, shape (n,).
        trigger: The signal.
        target: The label the collective wants signalled inputs to get.
        rng: Random source (used only for coordination noise).
        feature_only: If True, only rows already labelled ``target`` plant and labels
            are untouched; otherwise every row plants and is relabelled ``target``.
        noise: Probability that a member applies the signal wrongly (a random subset of
            its features, or the signal shifted by one feature index).

    Returns:
        ``(X_new, y_new, mask)`` where ``mask`` marks the rows that planted (correctly
        or not).
    """
    X_new = np.array(X, dtype=float, copy=True)
    y = np.asarray(y)
    y_new = y.copy()
    n, d = X_new.shape
    mask = (y == target) if feature_only else np.ones(n, dtype=bool)
    features = np.array(trigger.features)
    rows = np.flatnonzero(mask)
    wrong = rng.random(len(rows)) < noise
    values = trigger.values
    X_new[np.ix_(rows[~wrong], features)] = values
    for row in rows[wrong]:
        if rng.random() < 0.5:
            # A partial patch: each feature kept with probability 1/2.
            keep = rng.random(len(features)) < 0.5
            X_new[row, features[keep]] = values[keep]
        else:
            shift = rng.choice([-1, 1])
            X_new[row, (features + shift) % d] = values
    if not feature_only:
        y_new[mask] = target
    return X_new, y_new, mask


def erase_signal(
    X: np.ndarray,
    trigger: Trigger,
    reference_X: np.ndarray,
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """Reset the signal's features to their typical (median) value in reference data.

    Args:
        X: Data possibly carrying the signal, shape (n, d).
        trigger: The signal to erase.
        reference_X: Clean data that defines typical values.
        rows: Optional boolean mask or indices of rows to clean; default every row.

    Returns:
        A cleaned copy of ``X``.
    """
    X_new = np.array(X, dtype=float, copy=True)
    features = list(trigger.features)
    typical = np.median(np.asarray(reference_X, dtype=float)[:, features], axis=0)
    selected = np.arange(len(X_new)) if rows is None else np.asarray(rows)
    if selected.dtype == bool:
        selected = np.flatnonzero(selected)
    X_new[np.ix_(selected, features)] = typical
    return X_new


def signal_success(
    predict: Callable[[np.ndarray], np.ndarray],
    X_test: np.ndarray,
    y_test: np.ndarray,
    trigger: Trigger,
    target: int,
) -> float:
    """Success of a planted signal (Hardt et al., 2023).

    Args:
        predict: The trained model's label prediction function.
        X_test: Clean held-out features.
        y_test: Their labels.
        trigger: The signal.
        target: The collective's target label.

    Returns:
        Share of held-out points not of class ``target`` that, once they carry the
        signal, the model labels ``target`` (0 if there are none).
    """
    others = np.asarray(y_test) != target
    if not others.any():
        return 0.0
    signalled = apply_trigger(np.asarray(X_test)[others], trigger)
    return float(np.mean(np.asarray(predict(signalled)) == target))


POPULAR = 10  # popular items a promoting member rates alongside the target


def popular_items(
    items: np.ndarray, ratings: np.ndarray, n_items: int, liked: float, k: int = POPULAR
) -> np.ndarray:
    """The ``k`` items liked (rated ``liked`` or more) most often (ties: lower indices).

    Likes, not ratings, count: a playlist holds songs its owner likes, and on a
    catalogue every rater works through (a ratings stream) every item is rated as often.
    """
    likes = np.asarray(items, np.int64)[np.asarray(ratings) >= liked]
    counts = np.bincount(likes, minlength=n_items)
    return np.argsort(-counts, kind="stable")[:k]


def promote_item(
    X: np.ndarray,
    target: int,
    popular: np.ndarray,
    top: float,
    sent: np.ndarray,
    rate: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rewrite a rater's next rows as a top rating of the target, then popular items.

    Args:
        X: ``(n, 2)`` (rater, item) rows the members send, in order.
        target: The item promoted.
        popular: The popular items paired with it.
        top: The top of the rating scale.
        sent: Per rater, how many promotional ratings it has sent so far (0 to
            ``1 + len(popular)``). Updated in place: the collective's memory.
        rate: The rater's own rating of each (rater, popular item) pair.

    Returns:
        ``(mask, X_new, y_new)``: the rows rewritten and their new (rater, item) and
        rating. A rater's promotional sequence is the target (at ``top``) then each
        popular item (at its own rating), once each; its rows after that are sent as
        they were.
    """
    X = np.asarray(X, dtype=np.int64)
    sequence = np.concatenate([[target], np.asarray(popular, np.int64)])
    raters = X[:, 0]
    order = np.argsort(raters, kind="stable")
    _, starts, counts = np.unique(raters[order], return_index=True, return_counts=True)
    rank = np.empty(len(X), np.int64)
    rank[order] = np.arange(len(X)) - np.repeat(starts, counts)  # row's place among its rater's
    position = sent[raters] + rank
    mask = position < len(sequence)
    np.add.at(sent, raters[mask], 1)
    X_new = X[mask].copy()
    X_new[:, 1] = sequence[position[mask]]
    y_new = np.full(len(X_new), float(top))
    other = X_new[:, 1] != target
    y_new[other] = rate(X_new[other, 0], X_new[other, 1])
    return mask, X_new, y_new


# ---------------------------------------------------------------------------- the levers
@dataclass(frozen=True)
class Promotion:
    """What promoting an item needs: the item, its popular companions, the scale's top."""

    target: int
    popular: np.ndarray
    top: float
    sent: np.ndarray  # per rater: promotional ratings sent so far (the collective's memory)
    rate: Callable[[np.ndarray, np.ndarray], np.ndarray]  # a rater's own rating of an item


@dataclass(frozen=True)
class Alter:
    """What a lever's alteration needs besides the rows: the collective and the task."""

    rate: float  # share of a member's rows altered
    n_classes: int
    trigger: Trigger | None  # the collective's signal (signal levers)
    signal_target: int
    signal_noise: float
    reference_X: np.ndarray  # clean training features (typical values for erasing)
    promotion: Promotion | None = None  # the collective's promotion (promote_item)


# An alteration: (features, labels, context, rng) -> (rows altered, their X, their y).
Alterer = Callable[
    [np.ndarray, np.ndarray, Alter, np.random.Generator],
    tuple[np.ndarray, np.ndarray, np.ndarray],
]


def _flip(X: np.ndarray, y: np.ndarray, a: Alter, rng: np.random.Generator):
    y_new, mask = flip_labels(y, a.rate, a.n_classes, rng)
    return mask, X[mask], y_new[mask]


def _noise(X: np.ndarray, y: np.ndarray, a: Alter, rng: np.random.Generator):
    X_new, mask = add_feature_noise(X, a.rate, 1.0, rng)
    return mask, X_new[mask], y[mask]


def _erase(X: np.ndarray, y: np.ndarray, a: Alter, rng: np.random.Generator):
    mask = rng.random(len(X)) < a.rate
    return mask, erase_signal(X[mask], a.trigger, a.reference_X), y[mask]


def _planter(feature_only: bool) -> Alterer:
    def plant(X: np.ndarray, y: np.ndarray, a: Alter, rng: np.random.Generator):
        X_new, y_new, mask = plant_signal(
            X, y, a.trigger, a.signal_target, rng, feature_only=feature_only,
            noise=a.signal_noise,
        )  # fmt: skip
        mask &= rng.random(len(X)) < a.rate
        return mask, X_new[mask], y_new[mask]

    return plant


def _throttle(n: int, a: Alter, rng: np.random.Generator) -> np.ndarray:
    """Each of a member's rows is sent with probability ``rate`` (throttle)."""
    return rng.random(n) < a.rate


def _promote(X: np.ndarray, y: np.ndarray, a: Alter, rng: np.random.Generator):
    p = a.promotion
    return promote_item(X, p.target, p.popular, p.top, p.sent, p.rate)


# A send hook: (rows' count, context, rng) -> mask of the rows a member sends at all.
Sender = Callable[[int, Alter, np.random.Generator], np.ndarray]

CLASSIFICATION, RATINGS = TaskKind.CLASSIFICATION, TaskKind.RATINGS
ANY_TASK = frozenset(TaskKind)


@dataclass(frozen=True)
class LeverRule:
    """One lever, whole: adding a lever is adding one entry to ``LEVERS``.

    The scenario schema's ``Lever`` vocabulary, docs/schema.md's table of levers, the
    routing phase, reports, metrics and the viewer all read these entries.

    Attributes:
        id: The lever's name in scenario files (``collectives[].lever``).
        words: What reports call it ("the strike by ...").
        action: The Action members take when they act (``Action.BOYCOTT`` also leaves
            the platform; the others say what the agent table records).
        marker: How the viewer draws acting members (a matplotlib marker).
        colour: The colour the viewer fills acting members with.
        home: The rows acting members send reach their home platform.
        redirects: They reach ``redirect_to`` (which the lever then needs).
        deletes: Members ask the target to delete their past data (needs a right to
            delete).
        send: Which of an acting member's rows it sends at all (``None``: all of them);
            the others go nowhere.
        alteration: How members' rows are altered before delivery (``None``: sent as
            made), with the pool's provenance code for such rows.
        signal: Success is the planted signal's success (Hardt et al.).
        promote: Success is how often the target item is recommended (ratings tasks).
        tasks: The task kinds it works on.
        rate: What ``collectives[].rate`` means for it (``None``: not read).
        repertoire: Each member moved to act picks its own tactic (Li et al., CSCW 2019:
            ``behaviour.Tactic``, ``Collective.actions``): it stops (boycotts), switches
            (moves to its best other platform and contributes there), withholds (stays
            and sends nothing) or stays (does not act). ``action`` is then only the
            default; ``home`` applies to the members whose tactic contributes.
    """

    id: str
    words: str
    action: Action
    marker: str
    colour: str
    home: bool = False
    redirects: bool = False
    deletes: bool = False
    send: Sender | None = None
    alteration: tuple[Alteration, Alterer] | None = None
    signal: bool = False
    promote: bool = False
    tasks: frozenset[TaskKind] = ANY_TASK
    rate: str | None = None
    repertoire: bool = False


def _registry(*rules: LeverRule) -> dict[str, LeverRule]:
    """The levers by id (ids are unique)."""
    out = {r.id: r for r in rules}
    if len(out) != len(rules):
        raise ValueError("two levers share an id")
    return out


_ALTERED = "share of a member's rows altered"
LEVERS: dict[str, LeverRule] = _registry(
    LeverRule("strike", "strike", Action.WITHHOLD, "X", "#d62728"),
    LeverRule(
        "retro_strike", "strike with deletion of past data", Action.WITHHOLD, "X", "#8c2d04",
        deletes=True,
    ),
    LeverRule("boycott", "boycott", Action.BOYCOTT, "v", "#7f7f7f"),
    LeverRule(
        "cdc", "conscious data contribution", Action.REDIRECT, ">", "#2ca02c",
        home=True, redirects=True,
    ),
    LeverRule(
        "strike_cdc", "strike with conscious data contribution", Action.REDIRECT, ">",
        "#006d2c", redirects=True,
    ),
    LeverRule(
        "poison_labels", "label poisoning", Action.POISON, "P", "#9467bd", home=True,
        alteration=(Alteration.LABEL_FLIP, _flip), tasks=frozenset({CLASSIFICATION}),
        rate=_ALTERED,
    ),
    LeverRule(
        "poison_noise", "noise poisoning", Action.POISON, "P", "#6a51a3", home=True,
        alteration=(Alteration.FEATURE_NOISE, _noise), tasks=frozenset({CLASSIFICATION}),
        rate=_ALTERED,
    ),
    LeverRule(
        "plant_signal", "signal planting", Action.PLANT, "*", "#e6550d", home=True,
        alteration=(Alteration.SIGNAL_PLANTED, _planter(False)), signal=True,
        tasks=frozenset({CLASSIFICATION}), rate=_ALTERED,
    ),
    LeverRule(
        "plant_feature_only", "feature-only signal planting", Action.PLANT, "*", "#fd8d3c",
        home=True, alteration=(Alteration.SIGNAL_PLANTED, _planter(True)), signal=True,
        tasks=frozenset({CLASSIFICATION}), rate=_ALTERED,
    ),
    LeverRule(
        "erase_signal", "signal erasure", Action.PLANT, "D", "#17becf", home=True,
        alteration=(Alteration.SIGNAL_ERASED, _erase), signal=True,
        tasks=frozenset({CLASSIFICATION}), rate=_ALTERED,
    ),
    LeverRule(
        "throttle", "throttling", Action.WITHHOLD, "s", "#ff7f0e", home=True, send=_throttle,
        rate="share of a member's rows sent (the rest go nowhere)",
    ),
    LeverRule(
        "promote_item", "item promotion", Action.PLANT, "^", "#bcbd22", home=True,
        alteration=(Alteration.ITEM_PROMOTED, _promote), promote=True,
        tasks=frozenset({RATINGS}),
    ),
    LeverRule(
        "protest", "protest", Action.WITHHOLD, "s", "#e377c2", home=True, repertoire=True,
    ),
)  # fmt: skip

# The scenario schema's vocabulary of levers, generated from the registry.
Lever = StrEnum("Lever", {r.id.upper(): r.id for r in LEVERS.values()})
Lever.__doc__ = "What a collective does with its members' data (one member per ``LEVERS`` entry)."


def lever_fits(lever: str, task: str) -> str | None:
    """Why ``lever`` does not work on ``task`` (a task's name), or None when it does.

    Poisoning and signals alter features and class labels, so they need a classification
    task; promoting an item needs ratings: each lever's entry lists its task kinds.
    """
    kinds = LEVERS[str(lever)].tasks
    if TASKS[str(task)].kind in kinds:
        return None
    return f"{lever} needs a {' or '.join(sorted(kinds))} task: {', '.join(tasks_of(kinds))}"
