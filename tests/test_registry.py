"""The registries: every entry complete, and every reader takes its vocabulary from them."""

from __future__ import annotations

import dataclasses

import numpy as np
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
