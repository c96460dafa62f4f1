"""Twin worlds: an empty campaign's twin is the real world; leverage comes from the pair."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from abm.model import LeverageModel
from abm.runner import simulate
from abm.scenario import Lever, load_scenario
from tests.conftest import small

ROOT = Path(__file__).resolve().parents[1]

EVERYONE_ACTS = {"threshold_mean": 0.0, "threshold_sd": 0.0}
REDIRECTING = {Lever.CDC, Lever.STRIKE_CDC}


def _with_empty(lever: Lever, retention: int | None, shards: int, retrain: str):
    """Two platforms; a real retroactive strike by others; an empty collective of ``lever``."""
    platform = {
        "retention": retention,
        "shards": shards,
        "retrain": retrain,
        "filter_poison": lever in (Lever.POISON_LABELS, Lever.PLANT_SIGNAL),
    }
    # Promoting an item needs a ratings task (and its recommender).
    ratings = lever is Lever.PROMOTE_ITEM
    task = {"name": "ratings_stream", "stream": {"n_items": 100}} if ratings else {}
    if ratings:
        platform["learner"] = "mf"
    empty = {
        "name": "empty",
        "target": "incumbent",
        "lever": lever,
        "size": 0.0,
        "start": 0,
        "redirect_to": "challenger" if lever in REDIRECTING else None,
    }
    return small(
        steps=6,
        **({"task": task} if task else {}),
        population={**EVERYONE_ACTS, "n_users": 120, "samples_per_step": 1.0},
        platforms=[{"name": "incumbent", "initial_share": 0.6, **platform},
                   {"name": "challenger", "initial_share": 0.4, **platform}],
        collectives=[empty, {"name": "others", "target": "incumbent", "lever": "retro_strike",
                             "size": 0.3, "start": 1}],
        policy={"right_to_delete": True},
        measurement={"valuation": False},
    )  # fmt: skip


def _same_world(a: LeverageModel, b: LeverageModel) -> None:
    assert np.array_equal(a.users.platform, b.users.platform)
    assert np.array_equal(a.users.action, b.users.action)
    for p, q in zip(a.platforms, b.platforms, strict=True):
        assert p.quality == q.quality and p.revenue == q.revenue
        # The same rows, by content (a stream task's twin reuses its real world's rows).
        X = a.task.X_train
        assert np.array_equal(p.pool.features(X), q.pool.features(X))
        assert np.array_equal(p.pool.contributor, q.pool.contributor)
        assert np.array_equal(p.pool.y, q.pool.y)
        for counter in ("deleted", "expired", "unlearning_cost"):
            assert getattr(p, counter) == getattr(q, counter)


@pytest.mark.parametrize("retrain", ["incremental", "full"])
@pytest.mark.parametrize("shards", [1, 3])
@pytest.mark.parametrize("retention", [None, 3])
@pytest.mark.parametrize("lever", list(Lever))
def test_an_empty_collectives_twin_is_the_real_world(lever, retention, shards, retrain):
    model = LeverageModel(scenario=_with_empty(lever, retention, shards, retrain))
    twin = model.twins[0]  # "empty" switched off; "others" strikes and deletes in both
    assert [c.off for c in twin.collectives] == [True, False]
    deleted = 0
    while model.running:
        model.step()
        _same_world(model, twin)
        e = model.collectives[0].effects
        assert (e.quality_change, e.share, e.users, e.revenue, e.member_cost) == (0, 0, 0, 0, 0)
        assert e.leverage == 0 or np.isnan(e.leverage)
        deleted = model.platforms[0].deleted
    assert deleted > 0  # the other collective's deletions ran through both worlds


def test_the_other_collectives_twin_differs_and_measures_its_strike():
    model = LeverageModel(scenario=_with_empty(Lever.STRIKE, None, 1, "incremental"))
    for _ in range(6):
        model.step()
    others = model.collectives[1]
    assert model.twins[1].platforms[0].deleted == 0  # in its twin nobody deleted
    assert others.effects.quality_change != 0 or others.effects.revenue != 0


def _reference(name: str, **updates):
    spec = load_scenario(ROOT / "scenarios" / f"{name}.yaml")
    raw = spec.model_dump(mode="json")
    raw.update(steps=20, measurement={"valuation": False})
    for key, value in updates.items():
        raw["collectives"][0][key] = value
    return type(spec).model_validate(raw)


def test_boycott_leverage_is_positive_and_grows_with_size():
    small_b = simulate(_reference("boycott", size=0.15)).outcomes
    large_b = simulate(_reference("boycott", size=0.6)).outcomes
    for key in ("share_effect[boycotters]", "revenue_effect[boycotters]"):
        assert 0 < small_b[key] < large_b[key], key
    assert large_b["member_cost[boycotters]"] > 0  # leaving costs the members service


def test_cdc_lifts_its_receiver_and_more_with_more_contributors():
    few = simulate(_reference("cdc_challenger", size=0.2)).outcomes
    many = simulate(_reference("cdc_challenger", size=0.4)).outcomes
    assert 0 < few["lift[contributors]"] < many["lift[contributors]"]
    assert "lift[contributors]" not in simulate(_reference("data_strike")).outcomes


def test_twins_off_measures_nothing_and_joint_runs_one_twin():
    spec = _with_empty(Lever.STRIKE, None, 1, "incremental")

    def twins(mode: str):
        return spec.model_copy(
            update={"measurement": spec.measurement.model_copy(update={"twins": mode})}
        )

    off, joint = twins("off"), twins("joint")
    assert LeverageModel(scenario=off).twins == []
    assert [[c.off for c in t.collectives] for t in LeverageModel(scenario=joint).twins] == [
        [True, True]
    ]
    assert "mean_leverage[empty]" not in simulate(off).outcomes


def test_no_outcome_is_nan_on_any_reference_scenario():
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        spec = load_scenario(path)
        spec = spec.model_copy(update={"steps": 8})
        outcomes = simulate(spec).outcomes
        bad = [k for k, v in outcomes.items() if not np.isfinite(v)]
        assert not bad, f"{path.name}: {bad}"


def _union(size: float, lever: str):
    return small(
        steps=16,
        population={**EVERYONE_ACTS, "n_users": 300, "samples_per_step": 1.0,
                    "reconsider_rate": 0.2},
        platforms=[{"name": "incumbent", "initial_share": 0.8},
                   {"name": "challenger", "initial_share": 0.2}],
        collectives=[{"name": "u", "target": "incumbent", "lever": lever, "size": size,
                      "start": 1, "demand": 1.0}],
        policy={"bargaining_rights": True, "bargaining_power": 0.5, "bargaining_every": 3},
        measurement={"valuation": False},
    )  # fmt: skip


def test_a_tiny_campaign_with_rights_never_wins_and_a_large_one_does():
    tiny = simulate(_union(0.02, "strike"))
    large = simulate(_union(0.7, "boycott"))
    assert len(tiny.bargaining) > 0 and set(tiny.bargaining.response) != {"concede"}
    assert tiny.outcomes["concession[u]"] == 0 and tiny.outcomes["dividend[u]"] == 0
    assert (tiny.bargaining.platform_loss < tiny.bargaining.demand).all()
    assert large.outcomes["concession[u]"] == 1 and large.outcomes["dividend[u]"] > 0
    won = large.bargaining[large.bargaining.response == "concede"].iloc[0]
    assert won.platform_loss >= won.demand and won.paid == won.demand


@pytest.mark.parametrize("lever", [Lever.STRIKE, Lever.RETRO_STRIKE, Lever.CDC])
@pytest.mark.parametrize(
    "data",
    [{"population": {"sampling": "without_replacement"}},
     {"task": {"name": "stream", "stream": {"n_features": 8, "n_classes": 4}}}],
)  # fmt: skip
def test_an_empty_twin_is_the_real_world_on_finite_and_fresh_data(lever, data):
    raw = _with_empty(lever, None, 1, "incremental").model_dump(mode="json")
    for key, value in data.items():
        raw[key] = {**raw[key], **value}
    model = LeverageModel(scenario=type(_with_empty(lever, None, 1, "full")).model_validate(raw))
    twin = model.twins[0]
    while model.running:
        model.step()
        _same_world(model, twin)
    assert (
        model.collectives[1].effects.quality_change != 0
        or model.collectives[1].effects.revenue != 0
    )


# ------------------------------------------------------- interventions without collectives


def _mandate(portability: float, **fields):
    """No collective; the incumbent raises its price at step 1, a mandate comes at step 3."""
    fields = {"steps": 7, "measurement": {"valuation": False}, **fields}
    return small(
        population={"n_users": 120, "switching_cost": 1.0, "reconsider_rate": 0.3},
        events=[{"at": 1, "action": "change_terms", "platform": "incumbent", "price": 0.5},
                {"at": 3, "action": "set_policy", "policy": {"portability": portability}}],
        **fields,
    )  # fmt: skip


def test_an_intervention_is_measured_against_the_run_without_it() -> None:
    model = LeverageModel(scenario=_mandate(1.0))
    (twin,) = model.twins
    # The twin drops the policy change and keeps the platform's own change of terms.
    assert [e.action.value for e in twin.spec.events] == ["change_terms"]
    while model.running:
        model.step()
    table = model.datacollector.get_model_vars_dataframe()
    share, without = table["share[incumbent]"], table["share_without_interventions[incumbent]"]
    # Lockstep with common random numbers: identical until the mandate (step 3) applies.
    assert share.iloc[:4].tolist() == without.iloc[:4].tolist()
    assert share.iloc[-1] < without.iloc[-1]  # users leave once they can take their data
    run = simulate(_mandate(1.0))
    effect = run.outcomes["intervention_share_effect[incumbent]"]
    assert effect == pytest.approx(share.iloc[-1] - without.iloc[-1]) and effect < 0


def test_an_intervention_that_changes_nothing_has_exactly_zero_effect() -> None:
    run = simulate(_mandate(0.0))  # "mandates" the portability the world already has
    for name in ("share", "quality", "data"):
        for p in ("incumbent", "challenger"):
            assert run.outcomes[f"intervention_{name}_effect[{p}]"] == 0.0
    table = run.model_table
    assert table["quality[incumbent]"].equals(table["quality_without_interventions[incumbent]"])


def test_the_intervention_twin_runs_only_without_collectives_and_with_twins_on() -> None:
    off = simulate(_mandate(1.0, measurement={"valuation": False, "twins": "off"}))
    assert not any("intervention" in k for k in off.outcomes)
    # The twin never changes the run it measures (what abm check relies on to skip it).
    on = simulate(_mandate(1.0)).outcomes
    assert {k: v for k, v in on.items() if "intervention" not in k} == off.outcomes
    spec = _mandate(1.0, collectives=[{"name": "c", "target": "incumbent", "size": 0.2}])
    model = LeverageModel(scenario=spec)
    assert [t.spec.events for t in model.twins] == [spec.events]  # the collective's twin
    assert not any("intervention" in c for c in model.datacollector.model_reporters)


def _copy_or_refit_scenario():
    """Three twins (two collectives and the joint one), SISA shards, a poison filter."""
    return small(
        steps=5,
        population={**EVERYONE_ACTS, "n_users": 150, "samples_per_step": 1.0},
        platforms=[
            {"name": "incumbent", "initial_share": 0.6, "shards": 3},
            {"name": "challenger", "initial_share": 0.4, "filter_poison": True},
        ],
        collectives=[
            {"name": "strikers", "target": "incumbent", "lever": "strike", "size": 0.3},
            {"name": "poisoners", "target": "challenger", "lever": "poison_labels",
             "size": 0.2},
        ],
        measurement={"valuation": False},
    )  # fmt: skip


def test_twins_copy_the_real_worlds_seeded_platforms_instead_of_refitting(monkeypatch):
    from abm.agents import Platform

    seeded = []
    original = Platform._seed_own
    monkeypatch.setattr(Platform, "_seed_own", lambda self: seeded.append(self) or original(self))
    model = LeverageModel(scenario=_copy_or_refit_scenario())
    assert len(model.twins) == 4  # per collective, joint, and the filter's
    assert seeded == model.platforms  # only the real world fitted its seed data
    X = model.task.X_test
    for twin in model.twins:
        for p, q in zip(model.platforms, twin.platforms, strict=True):
            assert q.quality == p.quality
            assert np.array_equal(q.trainer.predict(X), p.trainer.predict(X))
            # Copies, not shared state: the twin trains its own from here.
            assert q.trainer is not p.trainer and q.pool is not p.pool
            assert not np.shares_memory(q.pool.y, p.pool.y)


def test_a_run_whose_twins_copy_is_identical_to_one_whose_twins_refit(monkeypatch):
    from abm.agents import Platform

    scenario = _copy_or_refit_scenario()
    copied = simulate(scenario)
    monkeypatch.setattr(Platform, "_seeded_alike", lambda self, real: False)
    refitted = simulate(scenario)
    assert copied.model_table.equals(refitted.model_table)
    assert copied.bargaining.equals(refitted.bargaining)
    assert copied.outcomes.keys() == refitted.outcomes.keys()
    same = [
        a == b or (a != a and b != b)
        for a, b in zip(copied.outcomes.values(), refitted.outcomes.values(), strict=True)
    ]
    assert all(same)
