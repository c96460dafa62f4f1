"""MovieLens files: the three formats, one-line errors, MF vs baselines, raters as users.

Every file here is written by the tests (synthetic low-rank ratings in the exact layout
of each format); no MovieLens data is read or committed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from abm.learning import (
    ItemMean,
    MatrixFactorisation,
    MostPopular,
    RankingProbe,
    assign_slices,
    draw_samples,
    hit_rate,
    load_task,
    ratings_report,
    rmse,
)
from abm.learning.movielens import read_ratings
from abm.model import LeverageModel
from abm.runner import simulate
from tests.conftest import small

FILES = {"u.data": "u.data", "ratings.dat": "ratings.dat", "ratings.csv": "ratings.csv"}


def low_rank_ratings(
    n_raters: int = 120,
    n_items: int = 150,
    per_rater: int = 60,
    rank: int = 3,
    seed: int = 0,
    taste: float = 0.0,
):
    """Ratings ``mu + b_u + c_i + p_u . q_i + noise`` on the half-star scale, with times.

    Which items a rater rates follows their popularity, times ``exp(taste * p_u . q_i)``
    when ``taste`` is positive: raters rate more of what suits them, as on MovieLens, so
    what a rater left unrated is mostly what it would not like. ``taste=0`` draws exactly
    the file it drew before the parameter existed.
    """
    rng = np.random.default_rng(seed)
    P = rng.normal(0, 1, (n_raters, rank))
    Q = rng.normal(0, 1, (n_items, rank)) / np.sqrt(rank) * 1.2
    bu, bi = rng.normal(0, 0.3, n_raters), rng.normal(0, 0.5, n_items)
    popularity = rng.dirichlet(np.full(n_items, 0.7))
    rows = []
    for u in range(n_raters):
        p = popularity
        if taste:
            p = popularity * np.exp(taste * (Q @ P[u]))
            p = p / p.sum()
        items = rng.choice(n_items, size=per_rater, replace=False, p=p)
        r = 3.4 + bu[u] + bi[items] + Q[items] @ P[u] + rng.normal(0, 0.3, per_rater)
        t = 880_000_000 + np.sort(rng.integers(0, 10_000_000, per_rater))
        rows += zip([u] * per_rater, items, r, t, strict=True)
    rows = [rows[i] for i in rng.permutation(len(rows))]  # files are not in time order
    return rows


def write(path: Path, fmt: str, rows, half_stars: bool = True) -> Path:
    """Write ``rows`` (user, item, rating, time) exactly as MovieLens does in ``fmt``."""
    lines = []
    for u, i, r, t in rows:
        stars = np.clip(np.round(r * 2) / 2, 0.5, 5.0) if half_stars else np.clip(round(r), 1, 5)
        uid, iid = u + 1, i * 3 + 1  # ids start at 1 and have gaps, as in the real files
        if fmt == "u.data":
            lines.append(f"{uid}\t{iid}\t{int(stars)}\t{t}")
        elif fmt == "ratings.dat":
            lines.append(f"{uid}::{iid}::{int(stars)}::{t}")
        else:
            lines.append(f"{uid},{iid},{stars:.1f},{t}")
    header = "userId,movieId,rating,timestamp\n" if fmt == "ratings.csv" else ""
    path.write_text(header + "\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def rows():
    return low_rank_ratings()


@pytest.fixture(scope="module")
def files(tmp_path_factory, rows):
    d = tmp_path_factory.mktemp("ml")
    return {fmt: write(d / name, fmt, rows, half_stars=fmt == "ratings.csv")
            for fmt, name in FILES.items()}  # fmt: skip


@pytest.mark.parametrize("fmt", sorted(FILES))
def test_each_format_reads_the_same_ratings(files, rows, fmt):
    raw = read_ratings(files[fmt])
    assert raw.fmt == fmt and len(raw.rating) == len(rows)
    assert raw.rater.min() == 1 and raw.item.min() == 1
    if fmt == "ratings.csv":
        assert np.any(raw.rating % 1 == 0.5)  # half stars survive
    else:
        assert set(np.unique(raw.rating)) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    t = load_task("movielens", rng=np.random.default_rng(0), path=files[fmt], test_size=0.2)
    assert t.kind == "ratings" and t.ordered
    assert t.n_raters == 120 and t.n_items == len(np.unique(raw.item))
    assert t.n_train + t.n_test == len(rows)
    assert t.rating_range == ((0.5, 5.0) if fmt == "ratings.csv" else (1.0, 5.0))


def test_u_data_and_ratings_dat_give_identical_tasks(files):
    a = load_task("movielens", rng=np.random.default_rng(1), path=files["u.data"])
    b = load_task("movielens", rng=np.random.default_rng(1), path=files["ratings.dat"])
    np.testing.assert_array_equal(a.X_train, b.X_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)


CSV = "userId,movieId,rating,timestamp\n"
BAD = {
    "five fields": ("u.data", "1\t2\t3\t880000000\n4\t5\t3\t880000001\t9\n", 2),
    "three fields": ("ratings.dat", "1::2::3::880000000\n1::3::4::8\n2::5::3\n", 3),
    "not a number": ("u.data", "1\t2\t3\t880000000\n1\tx\t3\t880000001\n", 2),
    "rating out of range": ("ratings.csv", CSV + "1,2,3.5,8\n1,3,7,9\n", 3),
    "quarter stars": ("ratings.csv", CSV + "1,2,3.25,8\n", 2),
    "wrong header": ("ratings.csv", "userId,itemId,rating,timestamp\n1,2,3,8\n", 1),
    "not movielens": ("u.data", "user item rating time\n1 2 3 4\n", 1),
    "empty": ("u.data", "\n", 1),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_files_get_one_line_naming_file_and_line(tmp_path, case):
    name, text, line = BAD[case]
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ValueError) as err:
        load_task("movielens", rng=np.random.default_rng(0), path=path)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"{path}:{line}:"), message


def test_missing_file_and_missing_path(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        load_task("movielens", rng=np.random.default_rng(0), path=tmp_path / "nope.dat")
    with pytest.raises(ValueError, match="task.path"):
        load_task("movielens", rng=np.random.default_rng(0))


def test_mf_beats_item_mean_on_rmse_and_hit_rate(files):
    t = load_task("movielens", rng=np.random.default_rng(0), path=files["ratings.csv"])
    mf = MatrixFactorisation(t.n_raters, t.n_items, rank=4, l2=0.05, epochs=15)
    mf.fit(t.X_train, t.y_train, np.random.default_rng(0))
    report = ratings_report(mf, t)
    assert report["rmse"] < report["item_mean_rmse"] - 0.1, report
    chance = t.ranking.k / t.ranking.items.shape[1]
    assert report["hit_rate"] > max(report["item_mean_hit_rate"], chance) + 0.1, report
    # In this file which items get rated follows popularity alone, so most-popular is a
    # strong ranking baseline (as on real data, Cremonesi et al. 2010); it must beat chance.
    assert report["most_popular_hit_rate"] > chance + 0.1
    assert report["rmse"] == pytest.approx(rmse(mf, t.X_test, t.y_test))


def test_hit_rate_breaks_ties_at_random_in_expectation():
    probe = RankingProbe(rater=np.array([0, 0]), items=np.arange(42).reshape(2, 21), k=10)
    constant = ItemMean(50)  # never fitted: every item gets the same prediction
    assert hit_rate(constant, probe) == pytest.approx(10 / 21)
    pop = MostPopular(50).fit(np.array([[0, 0], [0, 0], [0, 21]]), np.zeros(3))
    assert hit_rate(pop, probe) == pytest.approx(1.0)  # liked items are the popular ones
    assert np.isnan(hit_rate(pop, None))


def test_probe_items_were_never_rated_by_their_rater(files):
    t = load_task("movielens", rng=np.random.default_rng(0), path=files["u.data"])
    rated = {(int(u), int(i)) for u, i in np.vstack([t.X_train, t.X_test])}
    probe = t.ranking
    assert len(probe.rater) > 100
    for r, items in zip(probe.rater[:50], probe.items[:50], strict=True):
        assert (int(r), int(items[0])) in rated
        assert not any((int(r), int(i)) in rated for i in items[1:])


def test_each_rater_is_a_user_and_history_arrives_in_time_order(files):
    t = load_task("movielens", rng=np.random.default_rng(0), path=files["ratings.dat"])
    s = assign_slices(t, t.n_raters, rng=np.random.default_rng(0))
    assert s.sampling == "without_replacement"  # a history arrives once
    for u in range(0, t.n_raters, 17):
        assert len(np.unique(t.X_train[s.owned(u), 0])) == 1
    users = np.arange(t.n_raters)
    first = draw_samples(s, users, np.minimum(3, s.remaining(users)), np.random.default_rng(0))
    rest = draw_samples(s, users, s.remaining(users), np.random.default_rng(0))
    assert len(first) + len(rest) == t.n_train
    # Training rows are stored in time order, so a user's rows come in increasing index.
    assert np.all(np.diff(s.owned(5)) > 0)
    with pytest.raises(ValueError, match="set n_users to at most 120"):
        assign_slices(t, 121, rng=np.random.default_rng(0))


def test_movielens_scenario_runs_with_mf_and_rates_each_rating_once(files):
    sc = small(
        task={"name": "movielens", "path": str(files["u.data"])},
        population={"n_users": 120, "samples_per_step": 3.0},
        platforms=[
            {"name": "incumbent", "learner": "mf", "initial_share": 0.7, "seed_data": 200},
            {"name": "challenger", "learner": "mf", "initial_share": 0.3, "seed_data": 200},
        ],
        steps=5,
    )
    model = LeverageModel(scenario=sc)
    while model.running:
        model.step()
    rows = np.concatenate([p.pool.sample[p.pool.contributor >= 0] for p in model.platforms])
    assert len(rows) > 0 and len(np.unique(rows)) == len(rows)
    assert all(np.isfinite(p.quality) for p in model.platforms)
    with pytest.raises(ValueError, match="raters"):
        LeverageModel(scenario=small(task={"name": "movielens", "path": str(files["u.data"])},
                                     population={"n_users": 500}))  # fmt: skip


def item_driven_ratings(n_raters: int = 150, n_items: int = 300, per_rater: int = 40):
    """Ratings driven by items (strong item effects, weak personal taste) with times.

    As on MovieLens, the item means fitted on every training rating beat the matrix
    factorisation a platform trains on its share of them: against that baseline a
    twin has no gap and leverage would be undefined at every step.
    """
    rng = np.random.default_rng(0)
    bi, bu = rng.normal(0, 0.9, n_items), rng.normal(0, 0.3, n_raters)
    P, Q = rng.normal(0, 1, (n_raters, 2)), rng.normal(0, 0.25, (n_items, 2))
    popularity = rng.dirichlet(np.full(n_items, 0.5))
    rows = []
    for u in range(n_raters):
        items = rng.choice(n_items, size=per_rater, replace=False, p=popularity)
        r = 3.5 + bu[u] + bi[items] + Q[items] @ P[u] + rng.normal(0, 0.6, per_rater)
        t = 1_500_000_000 + np.sort(rng.integers(0, 10_000_000, per_rater))
        rows += zip([u] * per_rater, items, r, t, strict=True)
    return rows


def _strike_on(path: Path, size: float):
    return small(
        task={"name": "movielens", "path": str(path)},
        population={"n_users": 150, "samples_per_step": 4.0, "reconsider_rate": 0.0,
                    "threshold_mean": 0.0, "threshold_sd": 0.0},
        platforms=[{"name": "incumbent", "learner": "mf", "initial_share": 0.7, "seed_data": 0},
                   {"name": "challenger", "learner": "mf", "initial_share": 0.3, "seed_data": 0}],
        collectives=[{"name": "c", "target": "incumbent", "lever": "strike", "size": size,
                      "start": 0}],
        steps=10,
        measurement={"valuation": False},
    )  # fmt: skip


def test_a_strike_on_movielens_has_finite_positive_leverage_and_an_empty_one_zero(tmp_path):
    path = write(tmp_path / "ratings.csv", "ratings.csv", item_driven_ratings())
    half, empty = simulate(_strike_on(path, 0.5)), simulate(_strike_on(path, 0.0))
    for name in ("mean_leverage[c]", "final_leverage[c]"):
        assert np.isfinite(half.outcomes[name]) and half.outcomes[name] > 0, name
        assert empty.outcomes[name] == 0.0, name
    assert half.outcomes["quality_effect[c]"] > 0
    # The file is one where the item means beat the twin's model at every step, so
    # leverage against them would be undefined: the global mean is the floor.
    task = LeverageModel(scenario=_strike_on(path, 0.5)).task
    item_mean = ItemMean(task.n_items, rating_range=task.rating_range)
    item_mean.fit(task.X_train, task.y_train)
    twin = half.model_table["twin_quality[c]"].iloc[1:]
    assert (twin < item_mean.score(task.X_test, task.y_test)).all()
