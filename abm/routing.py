"""Routing: users make this step's data and send it where their actions say.

Users make data in the routing phase; levers alter some rows (poisoned labels, noise, a
planted or erased signal); each row is then delivered to the pools its owner's action
names. Rows keep who made them, in which collective they acted and how they were
altered (``abm.learning.Contributions``), so deletion, valuation and the pool invariant
are exact.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.special

from abm import behaviour, levers
from abm.behaviour import NO_PLATFORM, Action
from abm.learning import Contributions, draw_samples
from abm.streams import Draw

if TYPE_CHECKING:
    from abm.agents import Collective, World


def poisson_counts(uniforms: np.ndarray, mean: float) -> np.ndarray:
    """Poisson(``mean``) counts, one per uniform, by inverting the distribution function.

    One uniform per user makes the count a function of that user's draw alone (common
    random numbers), and is several times cheaper than ``Generator.poisson``.
    """
    cdf = scipy.special.pdtr(np.arange(int(mean + 12 * np.sqrt(mean)) + 12), mean)
    counts = np.zeros(uniforms.size, np.int64)
    some = np.flatnonzero(uniforms >= cdf[0])  # most users make nothing at a low mean
    counts[some] = np.searchsorted(cdf, uniforms[some], side="right")
    return counts


def route(model: World) -> None:
    """Users make data and send it where their action says, with provenance.

    Every user's count is drawn whatever it decided, and a user's rows depend only on
    (seed, user, draw number), whoever else contributes (common random numbers).
    """
    u, n = model.users, model.n_users
    counts = poisson_counts(model.uniforms(Draw.DATA), model.spec.population.samples_per_step)
    producers = np.flatnonzero((counts > 0) & (u.platform >= 0))
    counts = np.minimum(counts[producers], model.slices.remaining(producers))
    sample = draw_samples(model.slices, producers, counts, model.draw(Draw.DATA, 1))
    owner = np.repeat(producers, counts)
    u.contributed += np.bincount(owner, minlength=n)
    batch = Contributions(model.task, sample, owner, u.actor[owner], model.t)
    home = u.platform[owner]

    # Alter what poisoning and planting members send, per collective.
    for c in model.collectives:
        rows = np.flatnonzero(batch.actor == c.index)
        if c.rule.alteration is not None and rows.size:
            _alter(model, c, batch, rows)
    batch.seal()

    # Destinations, as each acting member's lever says: home, redirect_to, or nowhere.
    to_home = batch.actor < 0  # members not acting contribute as everyone else does
    redirect = np.full(owner.size, NO_PLATFORM, np.int32)
    for c in model.collectives:
        mine = batch.actor == c.index
        # A repertoire's members act by their own tactic: only switchers contribute.
        sends = mine & (u.action[owner] == Action.CONTRIBUTE) if c.rule.repertoire else mine
        to_home |= sends & c.rule.home
        if c.redirect is not None:
            redirect[mine] = c.redirect
        if c.rule.send is not None and mine.any():
            unsent = _unsent(model, c, np.flatnonzero(mine))
            to_home[unsent], redirect[unsent] = False, NO_PLATFORM
    # Where an AI substitute answers, some users ask it instead of the platform (one
    # draw per user and step, taken only once a substitute exists: the same in every world).
    asked = None
    for p in model.platforms:
        if p.substitute is not None:
            rationality = model.spec.population.rationality
            # Only adopters (a share ``reach``) weigh the substitute against the platform.
            away = p.substitute_reach * behaviour.asks_substitute(
                p.substitute, p.quality, rationality
            )
            if asked is None:
                asked = model.uniforms(Draw.SUBSTITUTE)[owner]
            to_home &= ~((home == p.index) & (asked < away))
    for p in model.platforms:
        p.receive(batch, np.flatnonzero((to_home & (home == p.index)) | (redirect == p.index)))


def _context(model: World, c: Collective) -> levers.Alter:
    """What a collective's lever hooks need besides the rows."""
    spec, task = c.spec, model.task
    return levers.Alter(
        rate=spec.rate, n_classes=task.n_classes,
        trigger=c.trigger if c.rule.signal else None,
        signal_target=spec.signal.target, signal_noise=spec.signal.noise,
        reference_X=task.X_train, promotion=c.promotion if c.rule.promote else None,
    )  # fmt: skip


def _alter(model: World, c: Collective, batch: Contributions, rows: np.ndarray) -> None:
    """Apply a collective's alteration lever to its acting members' rows."""
    code, alter = c.rule.alteration
    X, y = model.task.X_train[batch.sample[rows]], batch.y_sent[rows]
    mask, X_new, y_new = alter(X, y, _context(model, c), model.draw(Draw.ALTER, c.index))
    batch.alter(rows[mask], code, X_new, y_new)


def _unsent(model: World, c: Collective, rows: np.ndarray) -> np.ndarray:
    """The acting members' rows its lever keeps back (they go nowhere)."""
    sent = c.rule.send(rows.size, _context(model, c), model.draw(Draw.SEND, c.index))
    return rows[~sent]
