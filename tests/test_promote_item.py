"""The promote_item lever: a collective rates a target item highly beside popular ones.

Baumann & Mendler-Dünner (NeurIPS 2024) promote a song by placing it next to popular
songs in playlists; here members of a ratings task rate the target at the top of the
scale beside their own ratings of the most liked items, and the outcome is how often
the target item reaches users' top 10 against the twin world where nobody promotes it.
"""

from __future__ import annotations

import numpy as np

from abm import levers
from abm.learning.ranking import target_rate
from abm.runner import simulate
from tests.conftest import small

TARGET = 40  # a mid-catalogue item: recommended to a few users in the twin world


def promoters(size: float, seed: int = 0, item: int = TARGET, steps: int = 8):
    """400 raters of a 200-item ratings stream on one MF platform; ``size`` promote."""
    return small(
        task={"name": "ratings_stream", "n_samples": 2000,
              "stream": {"n_items": 200, "rank": 4, "n_test": 2000}},
        population={"n_users": 400, "samples_per_step": 3.0, "reconsider_rate": 0.0,
                    "threshold_mean": 0.0, "threshold_sd": 0.0},
        platforms=[{"name": "p", "learner": "mf", "initial_share": 1.0, "seed_data": 0,
                    "retrain": "full"}],
        collectives=[{"name": "c", "target": "p", "lever": "promote_item", "size": size,
                      "item": item, "start": 0}],
        measurement={"valuation": False},
        steps=steps,
        seed=seed,
    )  # fmt: skip


def own(raters, items):
    """A rater's own rating of an item, made up: 1 + (rater + item) % 3."""
    return 1.0 + (raters + items) % 3


def test_each_rater_sends_the_target_then_each_popular_item_once():
    sent = np.zeros(3, np.int64)
    X = np.array([[0, 9], [1, 9], [0, 8], [0, 7], [0, 6], [2, 5]])
    mask, X_new, y_new = levers.promote_item(X, 4, np.array([1, 2]), 5.0, sent, own)
    # Rater 0: target, 1, 2, then its own row; raters 1 and 2: the target.
    np.testing.assert_array_equal(mask, [True, True, True, True, False, True])
    np.testing.assert_array_equal(X_new, [[0, 4], [1, 4], [0, 1], [0, 2], [2, 4]])
    # The target at the top of the scale, popular items at the rater's own rating.
    np.testing.assert_array_equal(y_new, [5.0, 5.0, 2.0, 3.0, 5.0])
    np.testing.assert_array_equal(sent, [3, 1, 1])
    # The next step carries on where each rater stopped, never rating the target twice.
    mask, X_new, _ = levers.promote_item(np.array([[1, 3], [1, 3], [0, 3]]), 4,
                                         np.array([1, 2]), 5.0, sent, own)  # fmt: skip
    np.testing.assert_array_equal(X_new, [[1, 1], [1, 2]])
    np.testing.assert_array_equal(mask, [True, True, False])


def test_target_rate_counts_top_k_with_random_ties():
    scores = np.array([[3.0, 2.0, 1.0], [1.0, 2.0, 3.0], [2.0, 2.0, 2.0]])

    def predict(pairs):
        return scores[pairs[:, 0], pairs[:, 1]]

    # k = 1, item 0: first for rater 0, last for 1, tied three ways for 2.
    assert target_rate(predict, np.arange(3), 3, 0, k=1) == (1 + 0 + 1 / 3) / 3


def test_an_empty_collective_gives_exactly_the_twins_rate():
    result = simulate(promoters(0.0))
    o, series = result.outcomes, result.model_table
    np.testing.assert_array_equal(series["target_rate[c]"], series["twin_target_rate[c]"])
    assert o["target_recommendation_lift[c]"] == 1.0
    assert o["hit_rate_effect[c]"] == 0.0
    assert o["target_recommendation_rate[c]"] > 0  # the ratio is defined


def test_a_small_collective_raises_the_targets_recommendation_rate_versus_its_twin():
    lifts = [simulate(promoters(0.02, seed)).outcomes["target_recommendation_lift[c]"]
             for seed in range(3)]  # fmt: skip
    # 8 of 400 raters: the target reaches more users' top 10 than in the twin, every seed
    # (1.8 to 9.3 times as many on seeds 0-2).
    assert min(lifts) > 1.5, lifts
