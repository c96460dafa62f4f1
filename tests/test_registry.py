"""The registries: every entry complete, and every reader takes its vocabulary from them."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from matplotlib.markers import MarkerStyle

from abm.behaviour import Action
from abm.learning import Alteration, TaskKind
from abm.levers import LEVERS, Lever, LeverRule
from abm.scenario import Collective, schema_markdown
from abm.viz.network_view import ACTION_STYLE, _rgba

# Fields an entry may leave at their default (a lever without them is still complete).
OPTIONAL = {
    "home", "redirects", "deletes", "send", "alteration", "signal", "promote", "rate",
    "repertoire",
}  # fmt: skip


def test_every_lever_entry_fills_every_required_field():
    required = {f.name for f in dataclasses.fields(LeverRule)} - OPTIONAL
    for rule in LEVERS.values():
        for name in required:
            value = getattr(rule, name)
            assert value not in (None, "", frozenset()), f"lever {rule.id} lacks {name}"
        assert isinstance(rule.action, Action), rule.id
        MarkerStyle(rule.marker)  # a marker matplotlib draws
        _rgba(rule.colour)  # a colour matplotlib knows
        assert rule.tasks <= set(TaskKind), rule.id
        if rule.alteration is not None:
            code, alter = rule.alteration
            assert code in Alteration and code != Alteration.NONE and callable(alter)
            assert rule.home or rule.redirects, f"{rule.id} alters rows it sends nowhere"
        assert rule.send is None or callable(rule.send)


def test_the_schema_vocabulary_is_the_registry():
    assert [m.value for m in Lever] == list(LEVERS)
    assert Collective.model_fields["lever"].annotation is Lever
    # docs/schema.md lists exactly the registry's levers.
    row = next(r for r in schema_markdown().splitlines() if r.startswith("| `collectives[].lever`"))
    assert " \\| ".join(LEVERS) + " |" in row


def test_every_action_is_drawn_by_the_viewer():
    # A user not acting in a collective is drawn by its action; one acting, by its lever.
    by_levers = {rule.action for rule in LEVERS.values()}
    for action in Action:
        assert action in ACTION_STYLE or action in by_levers, f"{action.name} is never drawn"
    markers = {rule.marker for rule in LEVERS.values()} | {m for m, _ in ACTION_STYLE.values()}
    assert all(np.size(MarkerStyle(m).get_path().vertices) for m in markers - {"."})


def test_every_learner_builds_for_its_task_kinds_and_refuses_the_others():
    from abm.learning import LEARNERS, TASKS, LearnerName, TaskName, fits, load_task, make_learner

    assert list(LearnerName) == list(LEARNERS) and list(TaskName) == list(TASKS)
    rng = np.random.default_rng(0)
    names = {"classification": "wine", "ratings": "ratings"}
    loaded = {k: load_task(n, rng=rng, n_samples=300) for k, n in names.items()}
    for entry in LEARNERS.values():
        assert entry.words and entry.kinds <= set(TaskKind) and callable(entry.build)
        for kind, task in loaded.items():
            if kind in entry.kinds:
                assert fits(entry.name, task) is None and fits(entry.name, task.name) is None
                learner = make_learner(entry.name, task)
                assert hasattr(learner, "fit") and hasattr(learner, "score")
            else:
                reason = fits(entry.name, task.name)
                assert reason is not None and "needs a" in reason
                assert f"{task.name} is a {kind} task" in reason
    for kind in TaskKind:  # every task kind has a learner and a task
        assert any(kind in e.kinds for e in LEARNERS.values())
        assert any(t.kind is kind for t in TASKS.values())


def test_lever_fits_reads_the_levers_task_kinds():
    from abm.levers import lever_fits

    assert lever_fits("strike", "movielens") is None
    assert lever_fits("promote_item", "digits") == (
        "promote_item needs a ratings task: ratings, ratings_stream, movielens"
    )
    assert "needs a classification task" in lever_fits("poison_labels", "ratings")


def test_every_task_loads_through_its_entry_as_the_kind_it_declares(tmp_path):
    # load_task has no branch per task: each entry's loader builds it, and what it
    # builds is the entry's kind, with the classes or items the entry knows beforehand.
    import pandas as pd

    from abm.learning import TASKS, load_task

    table = tmp_path / "t.csv"
    pd.DataFrame(
        {"a": range(80), "b": [i % 7 for i in range(80)], "y": [i % 2 for i in range(80)]}
    ).to_csv(table, index=False)
    pd.read_csv(table).to_parquet(tmp_path / "t.parquet")
    ratings = tmp_path / "ratings.csv"
    rows = [(u, i, 1 + (u * i) % 5, u * 100 + i) for u in range(1, 21) for i in range(1, 16)]
    pd.DataFrame(rows, columns=["userId", "movieId", "rating", "timestamp"]).to_csv(
        ratings, index=False
    )
    paths = {"csv": table, "parquet": tmp_path / "t.parquet", "movielens": ratings}
    for name, entry in TASKS.items():
        assert callable(entry.load) and entry.needs_path == (name in paths)
        task = load_task(name, rng=np.random.default_rng(0), path=paths.get(name), n_samples=300,
                         label_column="y" if name in ("csv", "parquet") else None)  # fmt: skip
        assert task.name == name and task.kind == entry.kind, name
        if entry.classes is not None:
            assert task.n_classes == entry.classes, name
    with pytest.raises(ValueError, match="unknown task 'nope'"):
        load_task("nope", rng=np.random.default_rng(0))
