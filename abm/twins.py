"""Twin worlds: the counterfactual of a campaign, run in lockstep with common random numbers.

The leverage of a collective is what its campaign changes in the world. Its
counterfactual is a **twin world**: the same model (same scenario, same seed, the same
code path for routing, retention, deletions by others, shards, retrain mode and the
users' platform choices) in which that collective never launches, so its members act
as ordinary users. Twins step in lockstep with the real world; the leverage of a
collective is read off the pair every step (:func:`measure`).

**Common random numbers** (``abm/streams.py``): every draw of a step comes from a stream
named by what it is for, and draws over users are taken for every user whatever anyone
decided, so a twin differs from the real world only through the campaign: a twin of an
empty collective is the real world, number for number. Draws over all users are taken
once a step, by the real world, and read by its twins (:func:`uniforms`).

**Which twins** (``measurement.twins``): ``per_collective`` runs one twin per
collective (each collective's own attribution, up to :data:`MAX_PER_COLLECTIVE`) plus a
joint twin with every campaign off when there are several; ``joint`` runs the joint
twin only (every collective is measured against the world with no campaign);
``off`` runs none (no leverage, no bargaining).

**Interventions without collectives**: a scenario with no collective but with
interventions (events that change a policy or bring an AI substitute) runs one twin
without them (:func:`without_interventions`), stepped in lockstep the same way, so the
report can say what the policy or the shock changed and how fast. A platform's change
of its own terms (``change_terms``) is part of the world the intervention meets, and
stays on in that twin.

**Other collectives in a twin** run their own campaigns by the same rules, but do not
bargain: a campaign that the real world's bargaining ended ends in the twin at the same
step, with the same concession (:func:`follow`), so a twin differs from
the real world only by the collective it switches off.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from abm.bargaining import Effects, normalised_leverage
from abm.scenario import EventAction, Scenario, TwinMode
from abm.streams import Draw

if TYPE_CHECKING:
    from abm.agents import World

MAX_PER_COLLECTIVE = 5  # beyond this many collectives, per-collective twins cost too much


def uniforms(world: World, purpose: Draw, *key: int, rows: int = 0) -> np.ndarray:
    """One uniform per user (``rows`` of them if > 0) from this step's ``purpose`` stream.

    Every world draws the same numbers, so they are drawn once a step, by the first
    world to ask (the real one), and the others read them (read-only) from the setting
    they share as they step in lockstep.
    """
    drawn, at = world.setting.drawn, (world.t, purpose, key, rows)
    if at not in drawn:
        if any(t != world.t for t, *_ in drawn):
            drawn.clear()  # an earlier step's
        drawn[at] = world.draw(purpose, *key).random((max(rows, 1), world.n_users))
        drawn[at].flags.writeable = False
    return drawn[at] if rows else drawn[at][0]


def plan(spec: Scenario) -> list[frozenset[int]]:
    """The collectives switched off in each twin the scenario asks for.

    The joint twin (all off) comes last; with one collective it is that collective's
    own twin, so it is not run twice.
    """
    n = len(spec.collectives)
    mode = TwinMode(spec.measurement.twins)
    if n == 0 or mode is TwinMode.OFF:
        return []
    joint = frozenset(range(n))
    if mode is TwinMode.JOINT or n == 1 or n > MAX_PER_COLLECTIVE:
        return [joint]
    return [frozenset({i}) for i in range(n)] + [joint]


INTERVENTIONS = (EventAction.SET_POLICY, EventAction.AI_SUBSTITUTE)


def without_interventions(spec: Scenario) -> Scenario:
    """The scenario with its interventions (policy changes, AI substitutes) left out."""
    kept = [e for e in spec.events if e.action not in INTERVENTIONS]
    return spec.model_copy(update={"events": kept})


def measures_interventions(spec: Scenario) -> bool:
    """Whether a run of ``spec`` has a twin without its interventions (and no collective)."""
    return (
        not spec.collectives
        and TwinMode(spec.measurement.twins) is not TwinMode.OFF
        and any(e.action in INTERVENTIONS for e in spec.events)
    )


def build_all(real: World) -> tuple[list[World], dict[int, World]]:
    """Every twin the scenario asks for: per collective (:func:`plan`), or without events.

    After them comes one twin per platform that filters poison, with its filter off
    (:func:`unfiltered`); these are also returned by platform (``real.unfiltered``).
    """
    worlds = [build(real, off, spec) for off, spec in campaign_twins(real.spec)]
    filters = {p: unfiltered(real, p) for p in filter_plan(real.spec)}
    return worlds + list(filters.values()), filters


def campaign_twins(spec: Scenario) -> list[tuple[frozenset[int], Scenario | None]]:
    """Each campaign twin's collectives off, and its own scenario where it differs.

    A run with interventions and no collective has one twin without the interventions;
    otherwise one per entry of :func:`plan`, on the real world's scenario.
    """
    if measures_interventions(spec):
        return [(frozenset(), without_interventions(spec))]
    return [(off, None) for off in plan(spec)]


def filter_plan(spec: Scenario) -> list[int]:
    """The platforms whose poison filter is measured against a twin with it off."""
    if TwinMode(spec.measurement.twins) is TwinMode.OFF:
        return []
    return [i for i, p in enumerate(spec.platforms) if p.filter_poison]


def n_worlds(spec: Scenario) -> int:
    """How many worlds a run of ``spec`` steps: the real one and every twin of :func:`build_all`."""
    return 1 + len(campaign_twins(spec)) + len(filter_plan(spec))


def unfiltered(real: World, platform: int) -> World:
    """A twin of ``real`` in which ``platform`` keeps every row it receives (no filter).

    Everything else is the real world's, campaigns included: the twin differs only by
    the countermeasure, so what the filter cost (or saved) is read off the pair.
    """
    platforms = [
        p.model_copy(update={"filter_poison": False}) if i == platform else p
        for i, p in enumerate(real.spec.platforms)
    ]
    return build(real, frozenset(), real.spec.model_copy(update={"platforms": platforms}))


def intervention_twin(real: World) -> World:
    """The twin without interventions of a run that measures them (no collectives)."""
    return real.twins[0]


def build(real: World, off: frozenset[int], spec: Scenario | None = None) -> World:
    """A twin world of ``real`` in which the collectives ``off`` never launch.

    It is built by the model's own constructor, on ``real``'s setting and streams, from
    ``spec`` (the real world's scenario unless given: the scenario without the cause).
    A twin measures nothing itself: its real world measures against it.
    """
    spec = spec or real.spec
    quiet = spec.measurement.model_copy(update={"twins": TwinMode.OFF})
    return real.twin(spec.model_copy(update={"measurement": quiet}), off)


def follow(twin: World, real: World) -> None:
    """The twin ends the campaigns its real world's bargaining ended, the same way."""
    for mine, theirs in zip(twin.collectives, real.collectives, strict=True):
        if mine.off or mine.ended_reason or not theirs.ended_reason:
            continue
        if theirs.concession:
            mine.concede(theirs.dividend_rate)
        else:
            mine.stop(theirs.ended_reason)


def measure(real: World, twin: World, c_index: int) -> Effects:
    """The effects of collective ``c_index`` in ``real`` against its ``twin``."""
    c = real.collectives[c_index]
    p, q = real.platforms[c.target], twin.platforms[c.target]
    on_real = float(np.count_nonzero(real.users.platform == p.index))
    on_twin = float(np.count_nonzero(twin.users.platform == p.index))
    members = c.members
    # The loss by channel (``abm/bargaining.py``): quality on the users kept, users lost
    # at what each would have paid, and what is on the platform's books (list price
    # changes, costs), so revenue = v N dq + dN (p_twin + v q_twin) + booked.
    booked = on_real * (q.list_price - p.list_price) + (p.costs - q.costs)
    e = Effects(
        twin_quality=q.quality,
        quality_change=q.quality - p.quality,
        twin_hit_rate=q.hit_rate,
        hit_rate_change=q.hit_rate - p.hit_rate,
        leverage=normalised_leverage(p.quality, q.quality, real.naive_quality),
        share=(on_twin - on_real) / real.n_users,
        users=on_twin - on_real,
        revenue=q.revenue - p.revenue,
        member_cost=float(twin.payoffs()[members].sum() - real.payoffs()[members].sum()),
        groups=q.group_quality - p.group_quality,
        quality_se=p.quality_se,
        users_on=on_real,
        twin_price=q.list_price,
        booked=booked,
    )
    if c.redirect is not None:
        e.lift = real.platforms[c.redirect].quality - twin.platforms[c.redirect].quality
    return e


def measure_filters(real: World) -> None:
    """What each platform's poison filter cost it this step: its twin without minus with."""
    for p, twin in real.unfiltered.items():
        real.platforms[p].compare_unfiltered(twin.platforms[p].quality)


def measure_all(real: World) -> None:
    """Every collective's effects against its own twin (or the joint one), this step."""
    measure_filters(real)
    worlds = plan(real.spec)
    if real.real is not None:
        return  # a twin's signal and promotion are measured by its real world, on the pair
    for c in real.collectives:  # the signal's success is the real world's, twins or not
        c.measure_here()
    if not worlds:
        return
    for c in real.collectives:
        own = frozenset({c.index})
        # The joint twin is the last of the collectives' (filter twins come after).
        twin = real.twins[worlds.index(own) if own in worlds else len(worlds) - 1]
        c.record_effects(measure(real, twin, c.index), twin)
